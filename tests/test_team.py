"""A team: two roots with separate local folders, one PostgreSQL run log and wallet, one S3 store.

Real servers (tests/_servers.py): a throwaway PostgreSQL cluster, moto's S3 server and the
loopback OpenAI server, all on 127.0.0.1.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest
from PIL import Image

from workbench import Workbench
from workbench.errors import BudgetError, LedgerError, StoreError
from workbench.ledger.postgres import PostgresLedger

PROMPT = "a teal ceramic mug on a walnut table"


@pytest.fixture
def team(tmp_path: Path, postgres_url: str, s3_store: str):
    """Two Workbenches on separate local folders sharing one database and one store."""
    benches = [Workbench(tmp_path / name, database=postgres_url, store=s3_store) for name in ("a", "b")]
    yield benches
    for bench in benches:
        bench.close()


def test_two_roots_share_one_run_log_wallet_and_store(team, tmp_path: Path):
    a, b = team
    assert isinstance(a.ledger, PostgresLedger) and a.store.shared
    run = a.generate(PROMPT, aspect="3:2")
    assert run.ok and run.images[0].is_relative_to(tmp_path / "a")

    assert list(b.runs()["id"]) == [run.id]  # one run log
    seen = b.run(run.id)
    local = seen.images[0]
    assert local.is_relative_to(tmp_path / "b") and local.is_file()  # fetched into b's cache
    assert local.read_bytes() == run.images[0].read_bytes()
    with Image.open(local) as image:
        assert image.size == (run.width, run.height)
    assert b.recall(local).subject == run.spec.subject
    assert b.recall(local.relative_to(tmp_path / "b")).subject == run.spec.subject  # a store path too

    again = b.generate(PROMPT, aspect="3:2")  # the same request from the other root: cached
    assert again.status == "cached" and again.cached_from == run.id and again.credits == 0

    b.wallet.topup(5)
    assert a.wallet.balance == b.wallet.balance == 15  # one wallet
    assert not (tmp_path / "a" / "ledger.sqlite").exists() and not (tmp_path / "b" / "ledger.sqlite").exists()


def test_thumbnails_of_a_shared_image_stay_local(team, tmp_path: Path):
    a, b = team
    run = a.generate(PROMPT)
    relative = run.images[0].relative_to(tmp_path / "a").as_posix()
    thumb = b.store.thumbnail(relative, 64)
    with Image.open(__import__("io").BytesIO(thumb)) as image:
        assert max(image.size) == 64
    assert list((tmp_path / "b" / "thumbs" / "64").glob("*.webp"))


def test_the_database_and_store_come_from_the_environment(
    tmp_path: Path, postgres_url: str, s3_store: str, monkeypatch
):
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", postgres_url)
    monkeypatch.setenv("WORKBENCH_STORE", s3_store)
    with Workbench(tmp_path / "env") as wb:
        assert isinstance(wb.ledger, PostgresLedger) and wb.store.url == s3_store
        assert wb.generate(PROMPT).ok
    monkeypatch.delenv("WORKBENCH_DATABASE_URL")
    monkeypatch.delenv("WORKBENCH_STORE")
    with Workbench(tmp_path / "alone") as wb:  # without them: the local default, unchanged
        assert not isinstance(wb.ledger, PostgresLedger) and not wb.store.shared
        assert wb.runs().empty


def test_a_wrong_or_down_database_changes_nothing(tmp_path: Path, postgres_server, s3_store: str):
    from _servers import free_port

    bad = [
        postgres_server.url().replace(postgres_server.password, "wrong-password"),
        f"postgresql://workbench:pw@127.0.0.1:{free_port()}/team",
        "mysql://someone@db/team",
    ]
    for url in bad:
        with pytest.raises(LedgerError) as caught:
            Workbench(tmp_path / "root", database=url, store=s3_store)
        assert "\n" not in str(caught.value) and "wrong-password" not in str(caught.value)
        assert not (tmp_path / "root").exists()  # nothing written anywhere
    with pytest.raises(StoreError):
        Workbench(tmp_path / "root", database=postgres_server.url(), store="s3://no-such-bucket/x")
    assert not (tmp_path / "root").exists()


def test_the_cli_takes_a_database_and_a_store(cli, tmp_path: Path, postgres_url: str, s3_store: str):
    code, out, err = cli("--database", postgres_url, "--store", s3_store, "generate", PROMPT, "--json")
    assert code == 0, err
    run_id = json.loads(out)["id"]
    with Workbench(tmp_path / "other", database=postgres_url, store=s3_store) as wb:
        assert wb.run(run_id).images[0].is_file()
    code, out, err = cli("--database", "postgresql://x:secret-pw@127.0.0.1:1/db", "wallet")
    assert code != 0 and "cannot be opened" in err and "secret-pw" not in err + out


def test_workbench_ledger_migrate_moves_a_root_in(cli, tmp_path: Path, postgres_url: str, monkeypatch):
    root = tmp_path / "solo"
    with Workbench(root) as wb:
        wb.wallet.topup(20)
        run = wb.generate(PROMPT)
    code, out, err = cli("--root", str(root), "ledger", "migrate", "--to", postgres_url)
    assert code == 0, err
    assert "runs" in out and "1 copied" in out and postgres_url.split("@")[0].split(":")[-1] not in out
    with Workbench(tmp_path / "team", database=postgres_url) as wb:
        assert list(wb.runs()["id"]) == [run.id]
        assert wb.wallet.balance == 10 + 30  # the team's welcome, and what the root had
    code, out, err = cli("--root", str(root), "ledger", "migrate", "--to", postgres_url)
    assert code == 0 and "nothing new to copy" in out
    code, out, err = cli("--root", str(root), "ledger", "migrate", "--to", "sqlite:///x.db")
    assert code == 2 and "postgresql://" in err


# -- four processes, two roots, one database, one store -------------------------------------------
SHARED = [f"a product photo of item {i}, on white" for i in range(10)]


def _worker(root: str, prompts: list[str], results) -> None:
    """Generate each prompt on the OpenAI backend (the loopback server, from the environment),
    each with a draft of it (offline, free) first, as a person rehearsing would."""
    outcome = {"ok": 0, "cached": 0, "refused": 0, "drafts": 0, "ids": []}
    with Workbench(root, backend="openai") as wb:
        for prompt in prompts:
            draft = wb.generate(prompt, backend="draft", quality="medium", aspect="1:1")
            outcome["drafts"] += draft.ok
            outcome["ids"].append(draft.id)
            try:
                run = wb.generate(prompt, quality="medium", aspect="1:1")
            except BudgetError:
                outcome["refused"] += 1
                continue
            outcome[run.status if run.status in ("ok", "cached") else "ok"] += 1
            outcome["ids"].append(run.id)
    results.put(outcome)


def _run_workers(jobs: list[tuple[str, list[str]]]) -> list[dict]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(root, prompts, results)) for root, prompts in jobs]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    return outcomes


@pytest.mark.slow
def test_four_processes_on_two_roots_share_one_log_wallet_and_store(
    tmp_path: Path, postgres_url: str, s3_store: str, openai_server, monkeypatch
):
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", postgres_url)
    monkeypatch.setenv("WORKBENCH_STORE", s3_store)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-team-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    roots = [str(tmp_path / "a"), str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "b")]
    with Workbench(roots[0]) as wb:
        wb.wallet.topup(90)  # 100 credits in all
        per_image = wb.estimate(SHARED[0], backend="openai", quality="medium", aspect="1:1").credits

    # The same 10 prompts from all four processes at once: 10 requests, 40 rows.
    outcomes = _run_workers([(root, SHARED) for root in roots])
    assert openai_server.counts["/v1/images/generations"] == 10
    assert sum(o["ok"] for o in outcomes) == 10 and sum(o["cached"] for o in outcomes) == 30

    # Then more than the wallet holds, at once: it never goes below zero; no row is lost.
    unique = [[f"a poster of city {p}-{i}" for i in range(12)] for p in range(4)]
    spend = _run_workers(list(zip(roots, unique, strict=True)))
    with Workbench(roots[0]) as a, Workbench(roots[2]) as b:
        frame = a.runs()
        ids = [i for o in outcomes + spend for i in o["ids"]]
        assert sorted(frame["id"]) == sorted(ids)  # every run each process saw is in the log: 0 lost
        assert sum(o["drafts"] for o in outcomes + spend) == 40 + 48  # drafts, free, all made
        assert set(frame.loc[frame["backend"] == "draft", "credits"]) == {0}
        paid = sum(o["ok"] for o in spend)
        assert sum(o["refused"] for o in spend) == 48 - paid > 0
        balance = a.wallet.balance
        assert 0 <= balance < per_image and a.wallet.reserved == 0
        assert int(frame["credits"].sum()) == 100 - balance
        assert openai_server.counts["/v1/images/generations"] == 10 + paid
        for run_id in frame["id"]:  # every image readable from either root
            for bench in (a, b):
                for path in bench.run(run_id).images:
                    with Image.open(path) as image:
                        image.verify()
    assert not os.path.exists(tmp_path / "a" / "ledger.sqlite")


# -- a batch started on one root, killed, resumed on the other ------------------------------------
def _batch_rows(url: str, batch_id: str) -> int:
    import psycopg

    with psycopg.connect(url) as db:
        return db.execute("SELECT count(*) FROM runs WHERE batch_id = %s", (batch_id,)).fetchone()[0]


@pytest.mark.slow
def test_a_batch_killed_on_one_root_is_finished_by_the_other(
    tmp_path: Path, postgres_url: str, s3_store: str, cli, monkeypatch
):
    import signal
    import subprocess
    import sys
    import time
    from collections import Counter

    from workbench.batch.runner import default_notebook  # noqa: F401  (the packaged notebook runs)

    prices = 'credits:\n  draft:\n    "*": {low: 1, medium: 2, high: 10}\n'
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "prices.yaml").write_text(prices)
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", postgres_url)
    monkeypatch.setenv("WORKBENCH_STORE", s3_store)
    with Workbench(tmp_path / "a") as wb:
        wb.wallet.topup(100)
    seeds = ", ".join(str(seed) for seed in range(1, 25))
    path = tmp_path / "mugs.yaml"
    path.write_text(f"name: mugs\nspec: {{subject: a mug, quality: medium}}\ngrid:\n  seed: [{seeds}]\n")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("workbench")),
            "--root",
            str(tmp_path / "a"),
            "batch",
            "run",
            str(path),
            "--workers",
            "2",
            "--batch-id",
            "shared",
            "--no-progress",
        ],
        env=dict(os.environ),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while _batch_rows(postgres_url, "shared") < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the machine dies: the runner and its kernels
    process.wait()
    done_at_kill = _batch_rows(postgres_url, "shared")
    assert 3 <= done_at_kill < 24, "the batch should be killed half-way"
    assert not (tmp_path / "b" / "batches").exists()  # the other root has never seen the batch

    code, out, err = cli(
        "--root", str(tmp_path / "b"), "batch", "run", "--resume", "shared", "--workers", "2", "--no-progress"
    )
    assert code == 0, out + err
    assert "24 ok of 24 jobs" in out
    with Workbench(tmp_path / "b") as wb:
        runs = wb.runs(batch_id="shared")
        assert set(runs["status"]) == {"ok"}
        counts = Counter(json.loads(p)["job"] for p in runs["params"])
        assert len(counts) == 24 and set(counts.values()) == {1}  # every job ok exactly once
        assert int(runs["credits"].sum()) == 48 == wb.wallet.spent  # charged once
        assert wb.wallet.balance == 110 - 48 and wb.wallet.reserved == 0
        for path in wb.run(runs["id"].iat[0]).images:
            assert path.is_file()


@pytest.mark.slow
def test_two_machines_working_on_one_batch_take_each_job_once(
    tmp_path: Path, postgres_url: str, s3_store: str, monkeypatch
):
    import subprocess
    import sys
    import time
    from collections import Counter

    prices = 'credits:\n  draft:\n    "*": {low: 1, medium: 2, high: 10}\n'
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "prices.yaml").write_text(prices)
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", postgres_url)
    monkeypatch.setenv("WORKBENCH_STORE", s3_store)
    with Workbench(tmp_path / "a") as wb:
        wb.wallet.topup(100)
    seeds = ", ".join(str(seed) for seed in range(1, 31))
    path = tmp_path / "mugs.yaml"
    path.write_text(f"name: mugs\nspec: {{subject: a mug, quality: medium}}\ngrid:\n  seed: [{seeds}]\n")
    command = [str(Path(sys.executable).with_name("workbench")), "--root"]
    first = subprocess.Popen(
        [
            *command,
            str(tmp_path / "a"),
            "batch",
            "run",
            str(path),
            "--workers",
            "1",
            "--batch-id",
            "both",
            "--no-progress",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while _batch_rows(postgres_url, "both") < 2 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.02)
    assert first.poll() is None, "the first machine should still be working"
    second = subprocess.run(
        [
            *command,
            str(tmp_path / "b"),
            "batch",
            "run",
            "--resume",
            "both",
            "--workers",
            "1",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert second.returncode == 0, second.stderr
    assert first.wait(240) == 0
    with Workbench(tmp_path / "b") as wb:
        runs = wb.runs(batch_id="both")
        counts = Counter(json.loads(p)["job"] for p in runs["params"])
        assert len(counts) == 30 and set(counts.values()) == {1}  # each job taken by one worker
        assert set(runs["status"]) == {"ok"} and set(runs["shard"].dropna()) <= {0}
        assert len(set(runs["user"])) == 1 and int(runs["credits"].sum()) == 60 == wb.wallet.spent
        assert wb.wallet.reserved == 0
        assert wb.ledger.claim_holder("job:both:" + next(iter(counts))) is None  # claims released


def test_a_sqlite_file_can_be_named_as_the_database(tmp_path: Path):
    from workbench.ledger import SQLiteLedger

    for database in (str(tmp_path / "elsewhere.sqlite"), f"sqlite:///{tmp_path / 'url.sqlite'}"):
        with Workbench(tmp_path / "root", database=database) as wb:
            assert isinstance(wb.ledger, SQLiteLedger) and wb.generate(PROMPT).ok
    assert (tmp_path / "elsewhere.sqlite").is_file() and (tmp_path / "url.sqlite").is_file()
    assert not (tmp_path / "root" / "ledger.sqlite").exists()
    with pytest.raises(LedgerError, match="is not a run log Workbench can open"):
        Workbench(tmp_path / "other", database="mysql://u:pw@db/x")
    assert not (tmp_path / "other").exists()
