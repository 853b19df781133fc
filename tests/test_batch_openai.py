"""The OpenAI Batch API path against the loopback server: submit, status, collect, 50 requests."""

from __future__ import annotations

import json

import pytest
from conftest import ledger_state
from openai_batch_api import BatchAPI

from workbench import Workbench
from workbench.pricing import PriceTable


@pytest.fixture
def batch_api(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-batch")
    return BatchAPI(openai_server, polls_to_complete=2, fail_lines={7})


@pytest.fixture
def fifty(tmp_path):
    rows = [f"product {i}" if i != 30 else "a forbidden product" for i in range(50)]
    path = tmp_path / "fifty.csv"
    path.write_text("subject,quality\n" + "".join(f"{row},low\n" for row in rows))
    return path


@pytest.mark.slow
def test_fifty_requests_round_trip_through_the_batch_api(root, openai_server, batch_api, fifty, cli):
    Workbench(root).wallet.topup(40)
    base = ["--base-url", openai_server.base_url]
    code, out, _ = cli(*base, "batch", "plan", str(fifty), "--backend", "openai", "--via", "openai-batch")
    # 50 low images at the Batch API's half price: 0.30 credits each (it was 1 credit for $0.004).
    assert "images     50 in 50 jobs" in out and "cost       15 credits" in out and "Batch API" in out

    code, out, err = cli(*base, "batch", "submit", str(fifty), "--batch-id", "fifty")
    assert code == 0, err
    assert "50 requests sent to the OpenAI Batch API as batch_" in out
    assert openai_server.counts == {"/v1/files": 1, "/v1/batches": 1}  # no image was asked for one by one
    lines = batch_api.contents[next(iter(batch_api.files))].decode().splitlines()
    first = json.loads(lines[0])
    assert first["url"] == "/v1/images/generations" and first["body"]["model"] == "gpt-image-2"
    assert first["body"]["size"] == "1024x1024" and first["body"]["quality"] == "low"
    assert "sk-test" not in "".join(lines)
    assert Workbench(root).runs(batch_id="fifty").empty

    code, out, _ = cli(*base, "batch", "status", "fifty")
    assert out.strip() == "batch fifty: in_progress, 0 of 50 done, 0 failed"

    code, out, err = cli(*base, "batch", "collect", "fifty")
    assert code == 0, err
    assert "48 ok, 1 failed, 1 blocked of 50 jobs; 14.4 credits" in out
    wb = Workbench(root)
    runs = wb.runs(batch_id="fifty")
    assert len(runs) == 50 and runs["status"].value_counts().to_dict() == {
        "ok": 48,
        "failed": 1,
        "blocked": 1,
    }
    failed = runs[runs["status"] != "ok"]
    assert set(failed["credits"]) == {0} and any("safety system" in e for e in failed["error"])
    assert wb.wallet.spent == 14.4 == round(runs["credits"].sum(), 2) and wb.wallet.balance == 35.6
    ok = runs[runs["status"] == "ok"].iloc[0]
    assert all(wb.store.exists(p) for p in ok["images"])
    usage = json.loads(ok["usage"])
    from workbench.backends.base import Usage

    full = PriceTable.load().usd_for_usage("openai", "gpt-image-2", Usage(**usage))
    assert ok["usd"] == pytest.approx(full / 2, abs=1e-6) and ok["usd"] > 0
    # What submit said (15 credits for 50, at the Batch API's price) is each run's estimate too.
    assert set(runs["credits_estimated"]) == {0.3} and runs["credits_estimated"].sum() == pytest.approx(15)
    assert ok["usd_estimated"] == pytest.approx(ok["usd"], rel=0.05)
    assert (root / "batches" / "fifty" / "report.html").is_file()

    code, out, _ = cli(*base, "batch", "collect", "fifty")  # collecting again adds nothing
    assert len(Workbench(root).runs(batch_id="fifty")) == 50 and Workbench(root).wallet.spent == 14.4


def test_a_batch_the_wallet_cannot_pay_for_is_not_sent(root, openai_server, batch_api, fifty, cli):
    Workbench(root).close()
    before = ledger_state(root)
    code, _, err = cli("--base-url", openai_server.base_url, "batch", "submit", str(fifty))
    assert code == 1 and "This batch costs 15 credits for 50 images; the wallet has 10 (short by 5)" in err
    assert not openai_server.counts and ledger_state(root) == before


def test_a_model_the_batch_api_does_not_offer_is_refused_before_the_wallet(
    root, openai_server, batch_api, fifty, cli
):
    """batch plan ended with a submit command the Batch API would refuse, and submit asked the
    wallet (short by 40) before saying the model cannot go through the Batch API."""
    Workbench(root).close()
    before = ledger_state(root)
    base = ["--base-url", openai_server.base_url]
    for verb in ("plan", "submit"):
        backend = ("--backend", "openai") if verb == "plan" else ()
        args = (*base, "batch", verb, str(fifty), *backend, "--model", "chatgpt-image-latest")
        code, out, err = cli(*args, "--via", "openai-batch")
        assert code == 1 and "submit" not in out, (verb, out)
        assert "'chatgpt-image-latest' is not offered through the Batch API" in err
        assert "wallet" not in err and err.count("\n") == 1
    assert not openai_server.counts and ledger_state(root) == before


@pytest.mark.slow
def test_a_grid_on_the_openai_backend_runs_through_papermill_without_the_key(
    root, openai_server, batch_api, tmp_path, cli
):
    Workbench(root).wallet.topup(20)
    path = tmp_path / "grid.yaml"
    path.write_text("spec: {subject: a mug, quality: low}\ngrid:\n  seed: [1, 2, 3, 4, 5, 6]\n")
    code, out, err = cli(
        "--base-url",
        openai_server.base_url,
        "batch",
        "run",
        str(path),
        "--backend",
        "openai",
        "--workers",
        "2",
        "--batch-id",
        "remote",
    )
    assert code == 0, out + err
    assert "6 ok of 6 jobs; 3.54 credits" in out and "6/6" in err  # the progress bar reached the end
    assert openai_server.counts == {"/v1/images/generations": 6}
    runs = Workbench(root).runs(batch_id="remote")
    assert set(runs["backend"]) == {"openai"} and set(runs["shard"]) == {0, 1}
    for notebook in (root / "batches" / "remote").glob("shard-*.ipynb"):
        text = notebook.read_text()
        assert "sk-test-batch" not in text and openai_server.base_url in text


@pytest.mark.slow
def test_a_batch_runs_on_the_workbenchs_own_default_backend(root, openai_server, batch_api, tmp_path):
    from workbench.batch import run_batch

    wb = Workbench(root, backend="openai", backend_options={"openai": {"base_url": openai_server.base_url}})
    wb.wallet.topup(20)
    path = tmp_path / "two.yaml"
    path.write_text("spec: {subject: a mug, quality: low}\ngrid:\n  seed: [1, 2]\n")
    result = run_batch(wb, path, workers=1, progress=False, report=False)
    assert result.statuses["ok"] == 2 and result.credits == 1.18, result.describe()  # 2 x 0.59
    runs = wb.runs(batch_id=result.batch_id)
    assert set(runs["backend"]) == {"openai"} and set(runs["model"]) == {"gpt-image-2"}
    assert openai_server.counts == {"/v1/images/generations": 2}


@pytest.mark.slow
def test_a_key_given_as_a_backend_option_reaches_the_kernels_but_not_the_notebooks(
    root, openai_server, tmp_path, monkeypatch
):
    from workbench.batch import run_batch

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    key = "wbtest-option-key-DO-NOT-WRITE"
    wb = Workbench(
        root,
        backend="openai",
        backend_options={"openai": {"api_key": key, "base_url": openai_server.base_url}},
    )
    path = tmp_path / "one.yaml"
    path.write_text("spec: {subject: a mug, quality: low}\n")
    result = run_batch(wb, path, workers=1, progress=False, report=False, batch_id="secret")
    assert result.statuses["ok"] == 1, result.describe()
    notebooks = list((root / "batches" / "secret").glob("shard-*.ipynb"))
    assert notebooks and all(
        key not in n.read_text() and openai_server.base_url in n.read_text() for n in notebooks
    )


def test_credentials_in_a_url_option_stay_out_of_the_parameters():
    from workbench.batch.runner import _split_options

    public, secret = _split_options(
        {
            "openai": {
                "base_url": "https://me:pw-123@proxy.example/v1",
                "timeout": 60,
                "api_key": "k",
                "organization": "org",
            }
        }
    )
    assert public == {
        "openai": {"base_url": "https://proxy.example/v1", "timeout": 60, "organization": "org"}
    }
    assert secret == {"openai": {"base_url": "https://me:pw-123@proxy.example/v1", "api_key": "k"}}


def test_batch_quality_takes_every_quality_the_model_table_has(root, openai_server, batch_api, tmp_path, cli):
    """--quality is checked by the model table, not a fixed list: xhigh and max on the 2.5
    models, refused with a sentence on a model without them."""
    path = tmp_path / "mugs.yaml"
    path.write_text("spec: {subject: a mug}\ngrid:\n  seed: [1, 2]\n")
    base = ["--base-url", openai_server.base_url, "batch", "plan", str(path), "--backend", "openai"]
    code, out, err = cli(*base, "--model", "gpt-image-2.5-flare", "--quality", "xhigh")
    assert code == 0, err
    assert "images     2 in 2 jobs" in out
    code, out, err = cli(*base, "--model", "gpt-image-2", "--quality", "max")
    assert code == 1 and "has no quality 'max'" in err and err.count("\n") == 1, err
    code, out, err = cli(*base, "--quality", "ultra")
    assert code != 0 and "ultra" in err and "Traceback" not in err
    assert openai_server.counts == {}
