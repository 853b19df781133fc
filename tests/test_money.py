"""Money you can audit (issue 10): what the service bills is in the run log, the wallet never goes
below zero, one payment per request; and the ways to lose the run log or leak a key are closed."""

from __future__ import annotations

import logging
import os
import tracemalloc
from pathlib import Path

import pytest
from conftest import ledger_state

from workbench import ExportError, InputImageError, Workbench
from workbench.backends.openai import RetryPolicy
from workbench.credits import credits_value

KEY = "wbtest-5e0c2d-NEVER-PRINT-9a7f31"
FAST = RetryPolicy(max_retries=2, backoff=0.01, jitter=0.1)


def _openai(root: Path, server, **options) -> Workbench:
    settings = {"base_url": server.base_url, "retry": FAST, "timeout": 10} | options
    return Workbench(root, backend="openai", backend_options={"openai": settings})


def _bomb(megabytes: int = 1) -> bytes:
    """A PNG whose recipe chunk is ``megabytes`` of zlib that inflates about a thousandfold."""
    import io
    import struct
    import zlib

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    png = buffer.getvalue()
    deflate = zlib.compressobj(9)
    parts = [deflate.compress(b'{"spec": {"subject": "')]
    block = b"a" * (1 << 20)
    while sum(map(len, parts)) < megabytes << 20:
        parts.append(deflate.compress(block))
    parts += [deflate.compress(b'"}}'), deflate.flush()]
    payload = b"workbench:recipe\x00\x01\x00\x00\x00" + b"".join(parts)
    chunk = (
        struct.pack(">I", len(payload)) + b"iTXt" + payload + struct.pack(">I", zlib.crc32(b"iTXt" + payload))
    )
    return png[:33] + chunk + png[33:]


# -- the recipe reader's cap -------------------------------------------------------------------
@pytest.mark.slow
def test_a_metadata_bomb_is_refused_by_recall_and_edit_without_inflating_it(wb, tmp_path, cli):
    path = tmp_path / "bomb.png"
    path.write_bytes(_bomb())
    assert path.stat().st_size > 1 << 20
    before = ledger_state(wb.root)
    tracemalloc.start()
    try:
        for attempt in (lambda: wb.recall(path), lambda: wb.edit(path, "make it blue")):
            with pytest.raises(
                InputImageError, match="recipe larger than 1 MB once decompressed; it is refused"
            ):
                attempt()
        with pytest.raises(InputImageError, match="The image carries a recipe larger than 1 MB"):
            wb.edit(path.read_bytes(), "make it blue")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 << 20, f"{peak / 2**20:.0f} MB"  # the file is read, its chunk never inflated past 1 MB
    assert ledger_state(wb.root) == before and not (wb.root / "images").exists()
    code, _, err = cli("recall", str(path))
    assert code == 1 and "recipe larger than 1 MB" in err and len(err.strip().splitlines()) == 1


def test_an_ordinary_recipe_still_reads_back(wb):
    run = wb.generate("a blue teapot")
    assert wb.recall(run.images[0]).subject == "a blue teapot"


# -- export ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_export_never_overwrites_without_force_nor_the_run_log_the_store_or_a_device(wb, tmp_path, cli):
    run = wb.generate("a red mug")
    ledger = wb.root / "ledger.sqlite"
    ledger_bytes, image_bytes = ledger.read_bytes(), Path(run.images[0]).read_bytes()
    existing = tmp_path / "poster.png"
    existing.write_bytes(b"my own file")
    link = tmp_path / "innocent.png"
    link.symlink_to(ledger)
    for target, words in (
        (ledger, "is the run log"),
        (link, "is the run log"),
        (Path(f"{ledger}-wal"), "is the run log"),
        (Path(run.images[0]), "inside the image store"),
        (wb.root / "images" / "new.png", "inside the image store"),
        (existing, "already exists; pass --force"),
        (Path("/dev/null"), "is not a regular file"),
    ):
        with pytest.raises(ExportError, match=words):
            wb.export(run, path=target)
        code, out, err = cli("export", run.id, "--out", str(target))
        assert code == 1 and out == "" and words.split(";")[0] in err, err
        assert len(err.strip().splitlines()) == 1
        with pytest.raises(ExportError, match=words if "exists" not in words else "^$|never"):
            if "exists" in words:
                raise ExportError("never")  # --force is allowed to overwrite a file of one's own
            wb.export(run, path=target, force=True)
    assert ledger.read_bytes()[:100] == ledger_bytes[:100] and Path(run.images[0]).read_bytes() == image_bytes
    assert existing.read_bytes() == b"my own file" and not (wb.root / "images" / "new.png").exists()
    assert link.is_symlink()

    forced = wb.export(run, path=existing, format="png", force=True)
    assert forced.path == existing and existing.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, err = cli("export", run.id, "--out", str(existing), "--format", "jpeg", "--force")
    assert code == 0, err
    again = wb.export(run)  # the default folder: the same export again is not an overwrite
    assert wb.export(run).path == again.path


# -- batch ids ---------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_id", ["../../x", "/tmp/x", "a/b", "..", ".hidden", "x" * 200])
def test_a_batch_id_never_names_a_path_outside_the_batches_folder(root, cli, batch_id, tmp_path):
    code, out, err = cli("batch", "report", batch_id)
    assert code == 1 and "A batch id is letters, digits" in err and len(err.strip().splitlines()) == 1
    experiment = tmp_path / "grid.csv"
    experiment.write_text("subject\na mug\n")
    code, out, err = cli("batch", "run", str(experiment), "--batch-id", batch_id, "--no-progress")
    assert code == 1 and "A batch id is letters, digits" in err
    assert not (tmp_path / "x").exists() and not Path("/tmp/x").exists()
    assert not (root / "batches").exists() or not any((root / "batches").iterdir())


# -- redaction ---------------------------------------------------------------------------------
def test_a_key_echoed_by_the_service_is_found_nowhere(
    root, openai_server, monkeypatch, cli, caplog, tmp_path
):
    from openai_batch_api import BatchAPI

    BatchAPI(openai_server, polls_to_complete=1)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    wb = _openai(root, openai_server)
    wb.wallet.topup(100)
    seen: list[str] = []

    openai_server.faults.script = ["echo_key"]
    with pytest.raises(Exception) as generate_error:
        wb.generate("a mug", quality="low")
    seen.append(f"{generate_error.value!s} {generate_error.value!r}")
    openai_server.faults.script = ["echo_key"]
    from PIL import Image

    Image.new("RGB", (1024, 1024), "white").save(tmp_path / "in.png")
    with pytest.raises(Exception) as edit_error:
        wb.edit(tmp_path / "in.png", "make it blue", backend="openai", quality="low")
    seen.append(f"{edit_error.value!s} {edit_error.value!r}")

    base = ["--base-url", openai_server.base_url]
    grid = tmp_path / "grid.csv"
    grid.write_text("subject\na mug\na cup\n")
    openai_server.faults.script = ["echo_key"]
    seen.append(
        " ".join(map(str, cli(*base, "generate", "a jug", "--backend", "openai", "--quality", "low")))
    )
    openai_server.faults.script = ["echo_key"]
    seen.append(" ".join(map(str, cli(*base, "batch", "submit", str(grid), "--batch-id", "leak"))))
    code, out, err = cli(*base, "batch", "submit", str(grid), "--batch-id", "clean")
    assert code == 0, err
    for command in ("status", "collect"):
        openai_server.faults.script = ["echo_key"]
        seen.append(" ".join(map(str, cli(*base, "batch", command, "clean"))))
    assert openai_server.faults_sent["echo_key"] == 6
    assert sum("Invalid request made with the API key ***" in text for text in seen) == 6  # words kept
    seen.append(caplog.text)
    echoed = [r.body for r in openai_server.requests]  # what the client sent: the key is in none of them
    assert echoed
    for text in seen:
        assert KEY not in text and KEY[-10:] not in text, text
    for path in (p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert KEY.encode() not in data and KEY[-10:].encode() not in data, path
    wb.close()


def test_redact_removes_registered_secrets_and_anything_shaped_like_a_key():
    from workbench.redaction import redact, register_secret

    register_secret("opaque-token-1234")
    key_shaped = "sk-" + "proj-AbCdEf0123456789"  # built here, so no key-shaped text sits in the repo
    text = f"bad key opaque-token-1234, also {key_shaped} and http://bob:hunter2@proxy:3128/"
    assert redact(text) == "bad key ***, also *** and http://***@proxy:3128/"
    assert redact("nothing secret here") == "nothing secret here"
    assert os.environ.get("OPENAI_API_KEY") is None


# -- one payment per request -------------------------------------------------------------------
_WORKER = """
import os, sys, time
from pathlib import Path
from workbench import Workbench
from workbench.backends.openai import RetryPolicy
root, base_url, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
wb = Workbench(root, backend="openai", backend_options={"openai": {
    "base_url": base_url, "retry": RetryPolicy(max_retries=2, backoff=0.01), "timeout": 20}})
while not go.exists():
    time.sleep(0.005)
for i in range(10):
    run = wb.generate(f"prompt number {i}", quality="low")
    print(run.status, run.credits, flush=True)
wb.close()
"""


@pytest.mark.slow
def test_four_processes_with_the_same_ten_prompts_pay_ten_times(root, openai_server, monkeypatch, tmp_path):
    import subprocess
    import sys

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    wb.wallet.topup(100)
    before = wb.wallet.balance
    per_image = wb.prices.credits_per_image("openai", "gpt-image-2", "low")
    openai_server.faults.latency = 0.3  # answers slow enough that all four ask at once
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(root), openai_server.base_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    import time

    time.sleep(1.5)  # let the four import workbench before they start together
    go.touch()
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), [err for _, err in outputs]
    assert openai_server.counts["/v1/images/generations"] == 10
    runs = wb.runs()
    assert runs["status"].value_counts().to_dict() == {"ok": 10, "cached": 30}
    assert set(runs.loc[runs["status"] == "cached", "credits"]) == {0}
    commits = [e for e in wb.ledger.journal_entries() if e.kind == "commit"]
    assert len(commits) == 10
    # Credits of two decimals (0.59 a low image): every sum is exact to the hundredth, no float noise.
    spent = credits_value(10 * per_image)
    assert (
        wb.wallet.spent
        == spent
        == credits_value(runs["credits"].sum())
        == credits_value(before - wb.wallet.balance)
    )
    assert wb.wallet.reserved == 0 and not wb.ledger.claim_holder(runs["fingerprint"].iloc[0])
    wb.close()


def test_five_identical_calls_at_once_in_one_process_pay_once(root, openai_server, monkeypatch):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    wb.wallet.topup(100)
    openai_server.faults.latency = 0.3
    with ThreadPoolExecutor(5) as pool:
        threads = list(pool.map(lambda _: wb.generate("a lamp in threads", quality="low"), range(5)))

    async def tasks():
        return await asyncio.gather(*(wb.agenerate("a lamp in tasks", quality="low") for _ in range(5)))

    in_tasks = asyncio.run(tasks())
    for runs in (threads, in_tasks):
        assert sorted(r.status for r in runs) == ["cached"] * 4 + ["ok"]
        assert sum(r.credits for r in runs) == wb.prices.credits_per_image("openai", "gpt-image-2", "low")
    assert openai_server.counts["/v1/images/generations"] == 2
    assert len([e for e in wb.ledger.journal_entries() if e.kind == "commit"]) == 2
    wb.close()


def test_a_claim_whose_owner_died_is_taken_over(root, openai_server, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    plan = wb.plan("a kite", quality="low")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)  # a process that has ended
    import socket

    assert (
        wb.ledger.claim(plan.fingerprint, "gone", pid=pid, host=socket.gethostname(), lease_seconds=3600)
        is None
    )
    run = wb.generate("a kite", quality="low")
    assert run.status == "ok" and openai_server.counts["/v1/images/generations"] == 1
    assert wb.ledger.claim_holder(plan.fingerprint) is None
    wb.close()


# -- answers checked before they are charged ---------------------------------------------------
@pytest.mark.parametrize(("fault", "words"), [("truncated", "truncated"), ("wrong_size", "512x1024, not")])
def test_a_broken_answer_is_a_failed_run_at_no_cost_with_its_dollars_possibly_billed(
    root, openai_server, monkeypatch, fault, words
):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    wb.wallet.topup(100)
    balance = wb.wallet.balance
    openai_server.faults.script = [fault]
    run = wb.generate("a teapot", quality="low", raise_errors=False)
    assert run.status == "failed" and run.credits == 0 and words in run.error and run.images == []
    row = wb.runs().iloc[-1]
    assert row["usd"] == 0 and row["usd_estimated"] > 0
    assert row["usd_possibly_billed"] == pytest.approx(row["usd_estimated"])
    [attempt] = wb.ledger.attempts(run.id)
    assert attempt["possibly_billed"] == 1 and attempt["http_status"] == 200
    assert wb.wallet.balance == balance and wb.wallet.reserved == 0
    assert openai_server.counts["/v1/images/generations"] == 1  # not bought again
    wb.close()


def test_an_extra_image_is_kept_but_not_charged(root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    wb.wallet.topup(100)
    balance = wb.wallet.balance
    per_image = wb.prices.credits_per_image("openai", "gpt-image-2", "low")
    openai_server.faults.script = ["extra_image"]
    run = wb.generate("a teapot", quality="low", n=1)
    assert run.status == "ok" and len(run.images) == 2 and run.credits == per_image
    assert wb.wallet.balance == balance - per_image and wb.wallet.reserved == 0
    wb.close()


def test_a_seed_beyond_the_service_range_is_refused_before_sending(root, openai_server, monkeypatch):
    from workbench import WorkbenchError

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    before = ledger_state(root)
    with pytest.raises(WorkbenchError, match="seed"):
        wb.generate("a teapot", quality="low", seed=2**63)
    assert not openai_server.counts and ledger_state(root) == before
    wb.close()


@pytest.mark.parametrize("price", ["-2", "0.405", ".nan", "abc"])
def test_a_price_table_that_would_mint_credits_is_refused_at_load(root, price):
    from workbench import WorkbenchError

    root.mkdir(parents=True, exist_ok=True)
    (root / "prices.yaml").write_text(f'credits:\n  draft:\n    "*": {{low: 1, medium: {price}, high: 10}}\n')
    with pytest.raises(WorkbenchError, match="prices.yaml"):
        wb = Workbench(root)
        wb.generate("a teapot")
    assert ledger_state(root)[0] == 0


# -- what the service may have billed ----------------------------------------------------------
@pytest.mark.slow
def test_a_hundred_runs_through_faults_account_for_every_image_the_service_made(
    root, openai_server, monkeypatch
):
    from workbench.backends.openai import RetryPolicy

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    faults = openai_server.faults
    faults.rate_limit, faults.server_error = 0.20, 0.05
    faults.drop_after_work, faults.slow_after_work = 0.03, 0.03
    faults.slow_seconds = 0.6
    # Two billed retries, chosen deliberately: with 6 % of tries lost after the work, one run in
    # three hundred meets two in a row (the default, one, would give up on it and say so).
    retry = RetryPolicy(max_retries=6, backoff=0.01, jitter=0.1, max_billed_retries=2)
    wb = _openai(root, openai_server, timeout=0.3, retry=retry)
    wb.wallet.topup(1000)
    before = wb.wallet.balance
    runs = [wb.generate(f"product shot {i}", quality="low") for i in range(100)]
    assert [r.status for r in runs] == ["ok"] * 100
    frame = wb.runs()
    produced = sum(openai_server.produced.values())
    assert produced > 100  # some images were made and never reached us
    per_image_usd = wb.plan("product shot 0", quality="low").estimate.usd
    received, possibly = frame["usd"].sum(), frame["usd_possibly_billed"].sum()
    assert abs(produced * per_image_usd - (received + possibly)) <= per_image_usd
    assert (frame["attempts"] > 1).sum() >= openai_server.faults_sent.total() // 2
    attempts = wb.ledger.attempts()
    assert len(attempts) == int(frame["attempts"].sum()) == sum(openai_server.counts.values())
    assert sum(a["possibly_billed"] for a in attempts) == produced - 100
    credits = int(frame["credits"].sum())
    assert credits == wb.wallet.spent == before - wb.wallet.balance == 100 * runs[0].credits
    wb.close()


# -- escrow for the Batch API ------------------------------------------------------------------
def test_two_batch_submits_cannot_spend_one_wallet_twice(root, openai_server, monkeypatch, cli, tmp_path):
    from openai_batch_api import BatchAPI

    api = BatchAPI(openai_server, polls_to_complete=1)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    grid = tmp_path / "grid.csv"
    grid.write_text("subject,quality\n" + "".join(f"item {i},medium\n" for i in range(10)))
    base = ["--base-url", openai_server.base_url]
    code, out, _ = cli(*base, "batch", "plan", str(grid), "--backend", "openai", "--via", "openai-batch")
    assert "cost       10 credits" in out, out  # 10 medium images at the Batch API's half price
    assert wb.wallet.balance == 10

    code, out, err = cli(*base, "batch", "submit", str(grid), "--batch-id", "first")
    assert code == 0, err
    assert wb.wallet.balance == 0 and wb.wallet.reserved == 10
    uploads = openai_server.counts["/v1/files"]
    second = tmp_path / "second.csv"
    second.write_text(grid.read_text().replace("item", "thing"))
    code, out, err = cli(*base, "batch", "submit", str(second), "--batch-id", "second")
    assert code == 1 and "short by 10" in err and openai_server.counts["/v1/files"] == uploads  # nothing sent
    assert wb.wallet.balance == 0

    api.fail_lines = {3}  # one request of the first batch fails: it is not charged
    code, out, err = cli(*base, "batch", "collect", "first")
    assert code == 0, err
    actual = int(wb.runs(batch_id="first")["credits"].sum())
    assert actual == 9 and wb.wallet.balance == 10 - actual == 1 and wb.wallet.reserved == 0
    history = wb.wallet.history(batch_id="first")
    assert history["kind"].tolist().count("commit") == 9 and history["kind"].iloc[0] == "reserve"
    assert (wb.wallet.history()["balance"] >= 0).all()
    wb.close()


def test_a_cancelled_batch_gives_its_escrow_back(root, openai_server, monkeypatch, cli, tmp_path):
    from openai_batch_api import BatchAPI

    api = BatchAPI(openai_server, polls_to_complete=5)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    grid = tmp_path / "grid.csv"
    grid.write_text("subject,quality\na mug,medium\na cup,medium\n")
    base = ["--base-url", openai_server.base_url]
    code, _, err = cli(*base, "batch", "submit", str(grid), "--batch-id", "gone")
    assert code == 0, err
    assert wb.wallet.reserved == 2 and wb.wallet.balance == 8
    [remote] = api.batches.values()
    remote["status"] = "cancelled"
    code, out, err = cli(*base, "batch", "status", "gone")
    assert "cancelled" in out and wb.wallet.reserved == 0 and wb.wallet.balance == 10
    wb.close()


# -- a budget error in a shard -----------------------------------------------------------------
def test_a_budget_error_in_a_shard_stops_new_work_but_records_what_was_sent(
    root, openai_server, monkeypatch, tmp_path
):
    import json

    from workbench import BudgetError
    from workbench.batch.experiments import Job
    from workbench.batch.shard import run_shard
    from workbench.spec import PromptSpec

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.faults.latency = 0.3
    wb = _openai(root, openai_server)
    assert wb.wallet.balance == 10  # five medium images
    jobs = [
        Job(
            f"job-{i}",
            i,
            PromptSpec(subject=f"a vase number {i}", quality="medium"),
            "openai",
            None,
            {},
            {},
            (),
        )
        for i in range(12)
    ]
    jobs_file = tmp_path / "shard-0.jobs.json"
    jobs_file.write_text(json.dumps([job.to_dict() for job in jobs]))
    options = {"openai": {"base_url": openai_server.base_url, "timeout": 10}}
    with pytest.raises(BudgetError):
        run_shard(jobs_file, root=root, batch_id="tight", shard=0, backend_options=options, concurrency=8)
    sent = openai_server.counts["/v1/images/generations"]
    runs = wb.runs(batch_id="tight")
    assert sent == 5 == len(runs) and set(runs["status"]) == {"ok"}  # every answer bought is recorded
    assert wb.wallet.balance == 0 and wb.wallet.reserved == 0 and wb.wallet.spent == 10
    wb.close()


def test_the_batch_report_shows_dollars_received_and_possibly_billed(
    root, openai_server, monkeypatch, tmp_path
):
    import json

    from workbench.batch.experiments import load_experiment
    from workbench.batch.folders import batch_folder
    from workbench.batch.report import write_report
    from workbench.batch.runner import plan_batch, record_batch, write_batch_files
    from workbench.batch.shard import run_shard

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server, timeout=0.3)
    wb.wallet.topup(100)
    grid = tmp_path / "grid.csv"
    grid.write_text("subject,quality\na mug,low\na cup,low\n")
    experiment = load_experiment(grid, backend="openai")
    plan = plan_batch(wb, experiment, batch_id="billed")
    write_batch_files(batch_folder(wb, "billed"), plan)
    record_batch(wb, plan, status="running", options={})
    jobs_file = tmp_path / "shard-0.jobs.json"
    jobs_file.write_text(json.dumps([planned.job.to_dict() for planned in plan.to_run]))
    openai_server.faults.script = ["drop_after_work"]  # the first answer is made, then lost
    options = {"openai": {"base_url": openai_server.base_url, "timeout": 5}}
    run_shard(jobs_file, root=root, batch_id="billed", shard=0, backend_options=options, concurrency=1)
    runs = wb.runs(batch_id="billed")
    assert list(runs["status"]) == ["ok", "ok"] and runs["usd_possibly_billed"].sum() > 0
    html = write_report(wb, "billed").html.read_text()
    billed = f"${runs['usd_possibly_billed'].sum():.4f} possibly billed"
    assert f"${runs['usd'].sum():.4f} spent" in html and billed in html
    wb.close()


# -- the journal -------------------------------------------------------------------------------
def test_a_run_log_from_before_the_journal_keeps_every_balance(tmp_path):
    import sqlite3

    from workbench.ledger import MIGRATIONS, SQLiteLedger, utc_now
    from workbench.wallet import Wallet

    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as db:  # the schema as it was: events and reservations tables
        db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        for name, fn in MIGRATIONS[:4]:
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, utc_now()))
        db.execute(
            "INSERT INTO wallet_events (created_at, kind, credits) VALUES (?, 'topup', 40)", (utc_now(),)
        )
        db.execute(
            "INSERT INTO wallet_events (created_at, kind, credits, run_id) VALUES (?, 'charge', -12, 'r1')",
            (utc_now(),),
        )
        db.execute(
            "INSERT INTO reservations (created_at, run_id, credits, pid, host) "
            "VALUES (?, 'r2', 6, 1, 'elsewhere')",
            (utc_now(),),
        )
    ledger = SQLiteLedger(path)
    wallet = Wallet(ledger)
    assert ledger.journal_sums() == (10 + 40 - 12 - 6, 6)  # as before: 32 available, 6 held
    assert wallet.spent == 12
    assert wallet.balance == 38  # the old reservation's lease has ended: released, and said so
    history = wallet.history()
    assert list(history["kind"]) == ["welcome", "topup", "commit", "reserve", "release"]
    assert history["note"].iloc[-1] == "lease expired" and list(history["balance"])[-1] == 38
    ledger.close()


def test_the_journal_is_append_only_and_its_balance_is_derived(tmp_path, cli, root):
    from workbench.wallet import Wallet

    wb = Workbench(root)
    wallet = wb.wallet
    held = wallet.reserve(4, "run-a")
    assert wallet.balance == 6 and wallet.reserved == 4
    with wb.ledger.transaction() as db:
        assert wallet.commit(held, 9, db=db) == 4  # never more than was reserved
    assert wallet.balance == 6 and wallet.reserved == 0 and wallet.spent == 4
    wallet.topup(5)
    wallet.refund(1, run_id="run-a", note="a wrong answer")
    assert wallet.balance == 12 == Wallet(wb.ledger).balance and wallet.spent == 3
    code, out, _ = cli("wallet", "history")
    assert code == 0 and all(kind in out for kind in ("welcome", "reserve", "commit", "topup", "refund"))
    entries = wb.ledger.journal_entries()
    assert sum(e.credits for e in entries) == wallet.balance
    wb.close()


def test_many_identical_tasks_wait_in_the_event_loop_not_in_worker_threads(root, openai_server, monkeypatch):
    import asyncio

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    wb.wallet.topup(100)
    openai_server.faults.latency = 0.2

    async def tasks():  # more waiters than the default executor has threads: none may starve the first
        return await asyncio.wait_for(
            asyncio.gather(*(wb.agenerate("a lamp for many", quality="low") for _ in range(24))), 60
        )

    runs = asyncio.run(tasks())
    assert sorted(r.status for r in runs) == ["cached"] * 23 + ["ok"]
    assert openai_server.counts["/v1/images/generations"] == 1
    wb.close()


def test_a_reservation_released_by_its_lease_is_still_charged_when_the_answer_comes(root, monkeypatch):
    import workbench.wallet as wallet_module

    wb = Workbench(root)
    wallet = wb.wallet
    monkeypatch.setattr(wallet_module, "_HOST", "another-machine")
    held = wallet.reserve(4, "run-far", lease_seconds=0.0)  # made on another host, lease already over
    monkeypatch.setattr(wallet_module, "_HOST", "this-machine")
    assert wallet.balance == 10 and wallet.reserved == 0  # released by its lease
    mine = wallet.reserve(3, "run-near", lease_seconds=0.0)  # this host, live owner: the lease is not asked
    assert wallet.balance == 7 and wallet.reserved == 3
    with wb.ledger.transaction() as db:
        assert wallet.commit(held, 4, db=db) == 4  # the work was done: charged all the same
        assert wallet.commit(mine, 3, db=db) == 3
    assert wallet.spent == 7 and wallet.balance == 3 and wallet.reserved == 0
    wb.close()


def test_a_submit_that_cannot_create_its_batch_gives_the_escrow_back(
    root, openai_server, monkeypatch, tmp_path
):
    from openai_batch_api import BatchAPI

    from workbench import ServiceError
    from workbench.batch.experiments import load_experiment
    from workbench.batch.openai_batch import submit

    BatchAPI(openai_server)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.faults.server_error = 1.0
    openai_server.faults.paths = ("/v1/files",)
    wb = _openai(root, openai_server)
    grid = tmp_path / "grid.csv"
    grid.write_text("subject,quality\na mug,medium\na cup,medium\n")
    with pytest.raises(ServiceError):
        submit(wb, load_experiment(grid, backend="openai"), batch_id="broken")
    assert wb.wallet.balance == 10 and wb.wallet.reserved == 0
    assert wb.wallet.history(batch_id="broken")["kind"].tolist() == ["reserve", "release"]
    wb.close()


@pytest.mark.slow
def test_claims_attempts_and_the_journal_run_the_same_on_postgresql(postgres_url):
    from workbench.ledger.postgres import PostgresLedger
    from workbench.wallet import Wallet

    ledger = PostgresLedger(postgres_url)
    assert ledger.claim("fp", "run-1", pid=1, host="a", lease_seconds=60) is None
    holder = ledger.claim("fp", "run-2", pid=2, host="b", lease_seconds=60)
    assert holder is not None and holder.run_id == "run-1" and not holder.expired()
    assert ledger.claim_take_over(holder, "run-2", pid=2, host="b", lease_seconds=60)
    assert not ledger.claim_take_over(holder, "run-3", pid=3, host="c", lease_seconds=60)  # run-2 has it
    ledger.claim_release("fp", "run-2")
    assert ledger.claim_holder("fp") is None
    wallet = Wallet(ledger)
    held = wallet.reserve(4, "run-2")
    with ledger.transaction() as db:
        assert wallet.commit(held, 3, db=db) == 3
        ledger.record_attempts(
            [
                {
                    "run_id": "run-2",
                    "number": 1,
                    "started_at": "t",
                    "outcome": "ServiceError",
                    "possibly_billed": True,
                    "usd": 0.04,
                }
            ],
            db=db,
        )
    assert wallet.balance == 7 and wallet.reserved == 0 and wallet.spent == 3
    [attempt] = ledger.attempts("run-2")
    assert attempt["possibly_billed"] == 1 and attempt["usd"] == pytest.approx(0.04)
    with pytest.raises(Exception, match="this run log was upgraded; update workbench"):  # old code
        with ledger.transaction() as db:
            db.execute("INSERT INTO wallet_events (created_at, kind, credits) VALUES ('t', 'charge', -1)")
    assert "m011_escrow_for_old_batches" in ledger.applied_migrations()
    # The review's additions run there too: lease renewal, the 'sent' mark, a batch job's row.
    assert ledger.claim("fp2", "run-4", pid=4, host="d", lease_seconds=0.0) is None
    ledger.leases_renew([("fp2", "run-4")], [], claim_seconds=60, hold_seconds=60)
    assert not ledger.claim_holder("fp2").expired()
    ledger.attempt_sent("run-5", 0.02, '{"x": 1}')
    assert [a["outcome"] for a in ledger.attempts("run-5")] == ["sent"]
    with ledger.transaction() as db:
        ledger.attempt_settle("run-5", db=db)
        assert not ledger.batch_job_recorded("nobatch", "nojob", db=db)
    assert ledger.attempts("run-5") == []
    ledger.close()


# -- the review's findings (issue 10) ------------------------------------------------------------
def _grid(tmp_path: Path, count: int, word: str = "item") -> Path:
    grid = tmp_path / f"{word}.csv"
    grid.write_text("subject,quality\n" + "".join(f"{word} {i},medium\n" for i in range(count)))
    return grid


@pytest.mark.parametrize("fault", ["drop_after_work", "slow_after_work"])
def test_a_batch_create_whose_answer_is_lost_is_adopted_not_sent_twice(
    root, openai_server, monkeypatch, tmp_path, fault
):
    from openai_batch_api import BatchAPI

    from workbench.batch.experiments import load_experiment
    from workbench.batch.openai_batch import collect, submit

    api = BatchAPI(openai_server, polls_to_complete=1)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.faults.paths = ("/v1/batches",)
    openai_server.faults.slow_seconds = 3
    openai_server.faults.script = [fault]  # the batch is created, its answer lost
    wb = _openai(root, openai_server, timeout=1)
    submitted = submit(wb, load_experiment(_grid(tmp_path, 4), backend="openai"), batch_id="b1")
    assert len(api.batches) == 1 and submitted.remote_id in api.batches
    assert wb.batches.get("b1")["remote_id"] == submitted.remote_id and wb.wallet.reserved == 4
    assert collect(wb, "b1", report=False).statuses.get("ok") == 4
    assert wb.wallet.balance == 6 and wb.wallet.reserved == 0
    wb.close()


def test_a_submit_killed_between_create_and_record_is_adopted_by_status(
    root, openai_server, monkeypatch, tmp_path
):
    from openai_batch_api import BatchAPI

    import workbench.batch.openai_batch as ob
    from workbench.batch.experiments import load_experiment

    api = BatchAPI(openai_server, polls_to_complete=1)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    real = ob.set_batch_status

    def killed(wb_, batch_id, status, **values):
        if status == "submitted":
            raise KeyboardInterrupt  # as a kill after the create, before its record
        return real(wb_, batch_id, status, **values)

    monkeypatch.setattr(ob, "set_batch_status", killed)
    monkeypatch.setattr(ob, "_adopt", lambda *a: None)  # the dying process records nothing
    with pytest.raises(KeyboardInterrupt):
        ob.submit(wb, load_experiment(_grid(tmp_path, 2), backend="openai"), batch_id="k1")
    monkeypatch.undo()
    assert wb.batches.get("k1")["status"] == "submitting" and wb.wallet.reserved == 2  # escrow kept
    result = ob.collect(wb, "k1", report=False)
    assert len(api.batches) == 1 and result.statuses.get("ok") == 2
    assert wb.wallet.balance == 8 and wb.wallet.reserved == 0
    wb.close()


def test_two_collects_at_once_record_and_charge_each_answer_once(root, openai_server, monkeypatch, tmp_path):
    import threading

    from openai_batch_api import BatchAPI

    from workbench import ExperimentError
    from workbench.batch.experiments import load_experiment
    from workbench.batch.openai_batch import collect, status, submit

    BatchAPI(openai_server, polls_to_complete=1)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    wb.wallet.topup(100)
    submit(wb, load_experiment(_grid(tmp_path, 12, "twin"), backend="openai"), batch_id="c2")
    status(wb, "c2")
    openai_server.faults.latency = 0.3  # each download is slow: the two collects overlap
    openai_server.faults.paths = tuple(f"/v1/files/{f}/content" for f in _files(openai_server))
    outcomes: list[object] = []

    def one() -> None:
        other = _openai(root, openai_server)
        try:
            outcomes.append(collect(other, "c2", report=False).statuses)
        except ExperimentError as exc:
            outcomes.append(str(exc))
        finally:
            other.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    refused = [o for o in outcomes if isinstance(o, str)]
    assert len(refused) == 1 and "is being collected by process" in refused[0], outcomes
    runs = wb.runs(batch_id="c2")
    assert len(runs) == 12 and runs.groupby("prompt").size().max() == 1
    assert int(runs["credits"].sum()) == wb.wallet.spent == 12 and wb.wallet.reserved == 0
    openai_server.faults.latency = 0
    assert collect(wb, "c2", report=False).statuses.get("ok") == 12  # again: nothing added
    assert len(wb.runs(batch_id="c2")) == 12 and wb.wallet.spent == 12
    wb.close()


def _files(server) -> list[str]:
    return list(server.batch_api.files)


def _old_log(path: Path, *, batches: dict[str, tuple[str, int]], topup: int) -> None:
    """A run log as it was before the journal (m001-m004), with batches submitted then."""
    import sqlite3

    from workbench.ledger import MIGRATIONS, utc_now

    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        for name, fn in MIGRATIONS[:4]:
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, utc_now()))
        db.execute(
            "INSERT INTO wallet_events (created_at, kind, credits) VALUES (?, 'topup', ?)", (utc_now(), topup)
        )
        for batch_id, (status, jobs) in batches.items():
            db.execute(
                "INSERT INTO batches (id, created_at, updated_at, experiment, via, jobs, status) "
                "VALUES (?, ?, ?, 'x', 'openai-batch', ?, ?)",
                (batch_id, utc_now(), utc_now(), jobs, status),
            )


def test_a_batch_submitted_before_escrow_gets_one_at_the_upgrade_and_never_takes_the_wallet_below_zero(
    tmp_path,
):
    from workbench.ledger import SQLiteLedger
    from workbench.ledger.migrations import OLD_BATCH_CREDITS_PER_JOB as PER_JOB
    from workbench.wallet import Reservation, Wallet

    path = tmp_path / "ledger.sqlite"
    _old_log(
        path,
        batches={"old": ("in_progress", 2), "big": ("submitted", 10), "done": ("collected", 3)},
        topup=20,
    )
    ledger = SQLiteLedger(path)
    wallet = Wallet(ledger)
    assert wallet.escrow("old").credits == 2 * PER_JOB  # oldest first, whole
    assert wallet.escrow("big").credits == 30 - 2 * PER_JOB  # what the balance allowed
    assert wallet.escrow("done") is None and wallet.balance == 0 and wallet.reserved == 30
    with ledger.transaction() as db:  # an answer with nothing held: charged only what the wallet has
        assert wallet.commit(Reservation(None, "r1", 0, "elsewhere"), 5, db=db) == 0
    assert wallet.balance == 0 and (wallet.history()["balance"] >= 0).all()
    ledger.close()


def test_old_code_cannot_charge_the_old_wallet_tables_after_the_upgrade(tmp_path):
    import sqlite3

    from workbench.ledger import SQLiteLedger, utc_now

    path = tmp_path / "ledger.sqlite"
    _old_log(path, batches={}, topup=5)
    SQLiteLedger(path).close()
    with sqlite3.connect(path) as db:  # what the old code does for a run: reserve, then charge
        for sql in (
            "INSERT INTO reservations (created_at, run_id, credits, pid, host) VALUES (?, 'r', 1, 1, 'h')",
            "INSERT INTO wallet_events (created_at, kind, credits, run_id) VALUES (?, 'charge', -1, 'r')",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="this run log was upgraded; update workbench"):
                db.execute(sql, (utc_now(),))
    ledger = SQLiteLedger(path)
    assert ledger.journal_sums() == (15, 0)
    ledger.close()


def test_export_refuses_the_outputs_folder_except_its_exports(wb, cli):
    run = wb.generate("a red mug")
    prices = wb.root / "prices.yaml"
    for target in (
        prices,
        wb.root / "models.yaml",
        wb.root / "batches" / "x.png",
        wb.root / "new.png",
        wb.root,
    ):
        with pytest.raises(ExportError, match="inside the outputs folder"):
            wb.export(run, path=target, force=True)
        code, out, err = cli("export", run.id, "--out", str(target), "--force")
        assert code == 1 and "inside the outputs folder" in err and len(err.strip().splitlines()) == 1
    assert (
        not prices.exists() and not (wb.root / "models.yaml").exists() and not (wb.root / "new.png").exists()
    )
    assert wb.export(run, path=wb.root / "exports" / "mine.png").path == wb.root / "exports" / "mine.png"
    assert wb.generate("a blue mug").status == "ok"  # the workbench still works


def test_a_huge_top_up_or_shortfall_is_one_sentence(root, cli):
    from workbench import BudgetError

    code, out, err = cli("wallet", "topup", "9223372036854775807")
    assert code == 1 and "at most 1,000,000,000 credits" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    wb = Workbench(root)
    wb.wallet.topup(10**9 - 10)  # up to what a wallet holds
    with pytest.raises(Exception, match="holds at most"):
        wb.wallet.topup(1)
    with pytest.raises(BudgetError, match="more than a wallet can hold") as refused:
        wb.wallet.reserve(10**15, "a-huge-run")
    assert "topup" not in str(refused.value) and wb.wallet.balance == 10**9
    wb.close()


def test_a_request_cancelled_under_way_is_a_failed_row_with_its_dollars_possibly_billed(
    root, openai_server, monkeypatch
):
    import asyncio

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    openai_server.faults.latency = 2.0

    async def cancelled():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(wb.agenerate("cancelled by its caller", quality="low"), 0.5)

    asyncio.run(cancelled())
    [row] = wb.runs().to_dict("records")
    assert row["status"] == "failed" and row["credits"] == 0 and row["usd_possibly_billed"] > 0
    [attempt] = wb.ledger.attempts(row["id"])
    assert attempt["outcome"] == "cancelled" and attempt["possibly_billed"] == 1
    assert wb.wallet.balance == 10 and wb.wallet.reserved == 0
    assert wb.ledger.claim_holder(row["fingerprint"]) is None
    wb.close()


def test_a_claim_left_behind_by_this_process_does_not_make_its_request_wait_forever(
    root, openai_server, monkeypatch
):
    import socket
    import threading

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    plan = wb.plan("leaked claim", quality="low")
    # What an exception between the claim and the reservation left behind, in this very process.
    wb.ledger.claim(
        plan.fingerprint, "interrupted-run", pid=os.getpid(), host=socket.gethostname(), lease_seconds=60
    )
    runs: list[object] = []
    thread = threading.Thread(
        target=lambda: runs.append(wb.generate("leaked claim", quality="low")), daemon=True
    )
    thread.start()
    thread.join(20)
    assert runs and runs[0].status == "ok", "still waiting for a claim nobody holds"
    assert wb.ledger.claim_holder(plan.fingerprint) is None and wb.wallet.reserved == 0
    wb.close()


def test_a_long_request_renews_its_claim_and_reservation_leases(root, openai_server, monkeypatch):
    import threading

    import workbench.runs as runs_module

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setattr(runs_module, "CLAIM_LEASE_SECONDS", 0.6)
    wb = _openai(root, openai_server)
    plan = wb.plan("a long request", quality="low")
    openai_server.faults.latency = 2.0
    thread = threading.Thread(target=lambda: wb.generate("a long request", quality="low"), daemon=True)
    thread.start()
    import time

    time.sleep(1.5)  # past the first lease: another host would take it over unless renewed
    holder = wb.ledger.claim_holder(plan.fingerprint)
    assert holder is not None and not holder.expired()
    thread.join(20)
    assert wb.runs()["status"].tolist() == ["ok"] and wb.ledger.claim_holder(plan.fingerprint) is None
    wb.close()


def test_a_big_plain_recipe_chunk_is_refused_without_being_copied():
    import struct
    import zlib

    from workbench.store import read_recipe

    payload = b"workbench:recipe\x00\x00\x00\x00\x00" + b'{"spec": "' + b"a" * (20 << 20) + b'"}'
    chunk = (
        struct.pack(">I", len(payload)) + b"iTXt" + payload + struct.pack(">I", zlib.crc32(b"iTXt" + payload))
    )
    data = _bomb()[:33] + chunk + _bomb()[33:]
    tracemalloc.start()
    try:
        with pytest.raises(InputImageError, match="larger than 1 MB"):
            read_recipe(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 << 20, f"{peak / (1 << 20):.0f} MB to refuse a 20 MB chunk"


def test_the_runs_total_shows_dollars_possibly_billed(root, openai_server, monkeypatch, cli):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.faults.script = ["drop_after_work"]  # made, lost, made again: one possibly billed
    wb = _openai(root, openai_server)
    run = wb.generate("a billed lamp", quality="low")
    billed = wb.runs()["usd_possibly_billed"].sum()
    assert run.status == "ok" and billed > 0
    code, out, err = cli("runs")
    assert code == 0 and f"+ ${billed:.4f} possibly billed" in out, out
    wb.close()


def test_batch_cancel_stops_it_at_the_provider_and_gives_back_what_was_not_answered(
    root, openai_server, monkeypatch, cli, tmp_path
):
    from openai_batch_api import BatchAPI

    api = BatchAPI(openai_server, polls_to_complete=50)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    base = ["--base-url", openai_server.base_url]
    code, _, err = cli(*base, "batch", "submit", str(_grid(tmp_path, 3)), "--batch-id", "stop")
    assert code == 0, err
    assert wb.wallet.reserved == 3 and wb.wallet.balance == 7
    code, out, err = cli(*base, "batch", "cancel", "stop")
    assert code == 0, err
    [remote] = api.batches.values()
    assert remote["status"] == "cancelled" and wb.batches.get("stop")["status"] == "collected"
    assert wb.wallet.reserved == 0 and wb.wallet.balance == 10 and wb.wallet.spent == 0
    code, _, err = cli(*base, "batch", "cancel", "stop")
    assert code == 1 and "collected already" in err
    wb.close()


def test_a_size_may_be_written_as_text_and_a_bad_one_is_one_sentence(wb):
    from workbench import SpecError

    assert wb.plan("a wide mug", size="1536x1024").request.size == "1536x1024"
    with pytest.raises(SpecError, match="WIDTHxHEIGHT"):
        wb.generate("a wide mug", size="wide")
    assert wb.runs().empty


_SLOW_CHILD = """
import os, sys
from workbench import Workbench
from workbench.backends.openai import RetryPolicy
os.environ["OPENAI_API_KEY"] = sys.argv[3]
wb = Workbench(sys.argv[1], backend="openai",
               backend_options={"openai": {"base_url": sys.argv[2], "retry": RetryPolicy(max_retries=0)}})
wb.generate("killed while it waits", quality="low")
"""


@pytest.mark.slow
def test_a_process_killed_mid_request_leaves_a_failed_row_with_its_dollars_possibly_billed(
    root, openai_server, monkeypatch, tmp_path
):
    import subprocess
    import sys
    import time

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.faults.latency = 5.0
    child = subprocess.Popen([sys.executable, "-c", _SLOW_CHILD, str(root), openai_server.base_url, KEY])
    deadline = time.monotonic() + 20
    while openai_server.counts["/v1/images/generations"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    child.kill()  # kill -9 with the request out
    child.wait()
    wb = _openai(root, openai_server)
    assert wb.wallet.balance == 10 and wb.wallet.reserved == 0  # the dead owner's credits come back
    [row] = wb.runs().to_dict("records")
    assert row["status"] == "failed" and row["credits"] == 0 and row["usd_possibly_billed"] > 0
    assert "owner died mid-request" in row["error"]
    [attempt] = wb.ledger.attempts(row["id"])
    assert attempt["outcome"] == "owner died" and attempt["possibly_billed"] == 1 and attempt["usd"] > 0
    wb.close()


def test_an_answer_already_recorded_for_its_job_is_not_recorded_nor_charged_again(
    root, openai_server, monkeypatch, tmp_path
):
    from openai_batch_api import BatchAPI

    from workbench.batch.experiments import load_experiment
    from workbench.batch.openai_batch import collect, status, submit

    BatchAPI(openai_server, polls_to_complete=1)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = _openai(root, openai_server)
    submit(wb, load_experiment(_grid(tmp_path, 3), backend="openai"), batch_id="once")
    status(wb, "once")
    collect(wb, "once", report=False)
    spent = wb.wallet.spent
    # As a collect that read the batch's jobs before another recorded them: the row's own
    # transaction is the last word.
    monkeypatch.setattr(type(wb.batches), "jobs", lambda self, batch_id, since=None: set())
    collect(wb, "once", report=False)
    assert len(wb.runs(batch_id="once")) == 3 and wb.wallet.spent == spent == 3
    wb.close()


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ("usd_per_million_tokens:\n  openai:\n    gpt-image-2: {image_out: 1.0e+306}\n", "at most 1,000,000"),
        ('credits:\n  draft:\n    "*": {low: 1, medium: 99999999999999, high: 10}\n', "than a wallet holds"),
    ],
)
def test_a_price_too_big_to_compute_is_refused_at_load(root, table, words):
    from workbench import WorkbenchError

    root.mkdir(parents=True, exist_ok=True)
    (root / "prices.yaml").write_text(table)
    with pytest.raises(WorkbenchError, match=words):
        Workbench(root).plan("a teapot", backend="openai", model="gpt-image-2")
