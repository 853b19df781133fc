from __future__ import annotations

import multiprocessing
import sqlite3
import uuid

import pandas as pd
import pytest

from workbench import LedgerError
from workbench.ledger import MIGRATIONS, SQLiteLedger, utc_now


def _row(**values):
    return {
        "id": uuid.uuid4().hex,
        "kind": "generate",
        "backend": "draft",
        "model": "draft-1",
        "prompt": "a mug",
        "width": 1024,
        "height": 1536,
        "quality": "medium",
        "n": 1,
        "status": "ok",
        "credits": 2,
        "usd": 0.04,
        "latency_ms": 12.5,
        "fingerprint": "f" * 64,
        "images": ["images/ab/x.png"],
        **values,
    }


def test_schema_from_empty_database(tmp_path):
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    assert ledger.applied_migrations() == [name for name, _ in MIGRATIONS]
    mode = ledger.query("PRAGMA journal_mode")[0][0]
    assert mode == "wal"
    # A new wallet starts with 10 welcome credits.
    assert ledger.query("SELECT kind, credits FROM wallet_events")[0][:] == ("welcome", 10)


def test_migrates_from_the_previous_schema(tmp_path):
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    first_name, first = MIGRATIONS[0]
    first(db)
    db.execute("INSERT INTO _migrations VALUES (?, ?)", (first_name, utc_now()))
    db.execute(
        "INSERT INTO runs (id, created_at, kind, backend, prompt, status) "
        "VALUES ('old', ?, 'generate', 'draft', 'p', 'ok')",
        (utc_now(),),
    )
    db.commit()
    db.close()
    ledger = SQLiteLedger(path)
    assert ledger.applied_migrations() == [name for name, _ in MIGRATIONS]
    assert ledger.get("old")["prompt"] == "p"
    assert SQLiteLedger(path).migrate() == []  # applying twice does nothing


def test_runs_is_typed(tmp_path):
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    ledger.record(_row(batch_id="b1", preset="marketing-poster"))
    ledger.record(_row(status="failed", credits=0, images=[], error="boom", tokens_in=40, tokens_out=1056))
    frame = ledger.runs()
    assert len(frame) == 2
    assert str(frame["created_at"].dtype) == "datetime64[us, UTC]" or str(
        frame["created_at"].dtype
    ).startswith("datetime64")
    assert frame["created_at"].dt.tz is not None
    for name in ("status", "backend", "quality", "kind", "size"):
        assert isinstance(frame[name].dtype, pd.CategoricalDtype), name
    assert frame["credits"].dtype == "float64" and frame["usd"].dtype == "float64"  # credits: 0.59
    assert frame["size"].tolist() == ["1024x1536", "1024x1536"]
    assert frame["images"].tolist() == [["images/ab/x.png"], []]
    assert frame.loc[1, "error"] == "boom" and frame.loc[1, "tokens_out"] == 1056


def test_filters_cold_and_warm_agree(tmp_path):
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    for status in ("ok", "ok", "cached", "failed"):
        ledger.record(_row(status=status, batch_id="b1" if status != "failed" else "b2"))
    cold = SQLiteLedger(ledger.path).runs(status=["ok", "cached"], batch_id="b1")
    ledger.runs()  # warms the cache
    warm = ledger.runs(status=["ok", "cached"], batch_id="b1")
    assert cold["id"].tolist() == warm["id"].tolist() and len(warm) == 3
    ledger.record(_row(status="ok", batch_id="b1"))
    assert len(ledger.runs(batch_id="b1")) == 4  # rows recorded after the cache was built
    assert len(ledger.runs(limit=2)) == 2
    assert len(ledger.runs(since="2000-01-01")) == 5 and ledger.runs(until="2000-01-01").empty
    with pytest.raises(LedgerError, match="cannot filter on 'colour'"):
        ledger.runs(colour="red")


def test_returned_frames_do_not_alter_the_cache(tmp_path):
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    ledger.record(_row())
    frame = ledger.runs()
    frame.loc[0, "prompt"] = "changed"
    assert ledger.runs().loc[0, "prompt"] == "a mug"


def test_bad_status_writes_nothing(tmp_path):
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    with pytest.raises(LedgerError, match="Unknown run status"):
        ledger.record(_row(status="maybe"))
    assert ledger.count() == 0


def test_not_a_database(tmp_path):
    path = tmp_path / "ledger.sqlite"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(LedgerError, match="cannot be opened"):
        SQLiteLedger(path)


def _writer(path: str, prefix: str, count: int) -> None:
    ledger = SQLiteLedger(path)
    for i in range(count):
        ledger.record(_row(id=f"{prefix}-{i}"))
    ledger.close()


@pytest.mark.slow
def test_two_processes_writing_at_once_lose_no_row(tmp_path):
    path = str(tmp_path / "ledger.sqlite")
    SQLiteLedger(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, name, 300)) for name in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    ids = set(SQLiteLedger(path).runs()["id"])
    assert ids == {f"{p}-{i}" for p in "ab" for i in range(300)}


def _varied_ledger(path, count: int = 40) -> SQLiteLedger:
    ledger = SQLiteLedger(path)
    for i in range(count):
        ledger.record(
            _row(
                batch_id=None if i % 3 else f"b{i % 2}",
                preset=[None, "marketing-poster", ""][i % 3],
                prompt=f"a poster reading 'MOVE FORWARD' · 日本語 #{i}",
                spec='{"subject": "poster"}',
                status=["ok", "cached", "failed", "blocked"][i % 4],
                error="boom ✓" if i % 4 == 2 else None,
                images=[[], ["images/ab/x.png"], ["images/ab/x.png", "images/cd/ü.webp"]][i % 3],
                tokens_in=None if i % 2 else 40,
                width=1024 + 512 * (i % 2),
                model=None if i == 5 else "draft-1",
            )
        )
    return ledger


def test_a_large_logs_frame_is_saved_and_the_next_session_loads_it(tmp_path, monkeypatch):
    monkeypatch.setattr("workbench.ledger.frames.SNAPSHOT_MIN_ROWS", 10)
    path = tmp_path / "ledger.sqlite"
    frame = _varied_ledger(path).runs()
    ledger = SQLiteLedger(path)
    assert ledger.snapshot_path.is_file()
    ledger._load_snapshot()
    assert ledger._cache is not None and len(ledger._cache) == 40  # the next session starts from the file
    pd.testing.assert_frame_equal(ledger.runs(), frame)
    failed = SQLiteLedger(path).runs(status="failed")  # (a narrow frame: its own rows' categories)
    pd.testing.assert_frame_equal(
        failed,
        SQLiteLedger(path).runs().query("status == 'failed'").reset_index(drop=True),
        check_categorical=False,
    )
    assert failed["status"].cat.categories.tolist() == ["failed"]
    # Rows recorded after the snapshot are read from SQLite and appended.
    ledger.record(_row(prompt="after the snapshot", preset="new-preset"))
    again = SQLiteLedger(path).runs()
    assert len(again) == 41 and again["prompt"].iat[-1] == "after the snapshot"
    assert "new-preset" in again["preset"].cat.categories
    pd.testing.assert_frame_equal(again.iloc[:40], frame, check_categorical=False)


def test_a_snapshot_that_is_not_this_ledgers_or_is_broken_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setattr("workbench.ledger.frames.SNAPSHOT_MIN_ROWS", 10)
    first = _varied_ledger(tmp_path / "a" / "ledger.sqlite")
    first.runs()
    other = _varied_ledger(tmp_path / "b" / "ledger.sqlite", count=40)
    expected = SQLiteLedger(other.path).runs()  # writes b's own snapshot
    other.snapshot_path.write_bytes(first.snapshot_path.read_bytes())  # a's snapshot beside b's log
    fresh = SQLiteLedger(other.path)
    pd.testing.assert_frame_equal(fresh.runs(), expected)
    other.snapshot_path.write_bytes(b"PK\x03\x04 not really a zip")
    pd.testing.assert_frame_equal(SQLiteLedger(other.path).runs(), expected)


def test_a_text_the_snapshot_cannot_keep_leaves_no_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr("workbench.ledger.frames.SNAPSHOT_MIN_ROWS", 1)
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    ledger.record(_row(prompt="a NUL \x00 inside"))
    assert ledger.runs()["prompt"].tolist() == ["a NUL \x00 inside"]
    assert not ledger.snapshot_path.exists()


def test_the_runs_table_and_the_run_row_have_the_same_columns(tmp_path):
    import dataclasses

    from workbench.ledger import RUN_COLUMNS, RunRecord, columns_of_kind
    from workbench.runs import Run

    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    table = [row["name"] for row in ledger.query("PRAGMA table_info(runs)")]
    assert table == RUN_COLUMNS == [f.name for f in dataclasses.fields(RunRecord)]
    assert set(Run.__dataclass_fields__) <= set(RUN_COLUMNS)  # a Run shows columns of its row
    frame = ledger.runs()
    assert all(frame[name].dtype == "category" for name in columns_of_kind("category"))
    assert all(str(frame[name].dtype) == "Int64" for name in columns_of_kind("int"))
    assert all(frame[name].dtype == "float64" for name in columns_of_kind("float"))


def test_batches_and_their_runs_through_the_batch_log(tmp_path):
    import json

    from workbench.batches import BatchLog

    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    batches = BatchLog(ledger)
    assert batches.get("b1") is None
    assert batches.record("b1", experiment="mugs", status="running", jobs=3, options={"budget": 5})
    assert not batches.record("b1", experiment="mugs", status="resumed")  # known: only the status
    record = batches.get("b1")
    assert (record["status"], record["jobs"], json.loads(record["options"])) == ("resumed", 3, {"budget": 5})
    mark = batches.mark()
    for job, status, credits in (
        ("j1", "ok", 2),
        ("j2", "failed", 0),
        ("j2", "cached", 0),
        ("j3", "failed", 0),
    ):
        ledger.record(_row(batch_id="b1", status=status, credits=credits, params=json.dumps({"job": job})))
    ledger.record(_row(batch_id="other", params=json.dumps({"job": "j9"})))
    assert batches.done_jobs("b1") == {"j1", "j2"}
    assert batches.jobs("b1") == {"j1", "j2", "j3"}
    assert batches.jobs("b1", since=batches.mark()) == set()
    assert batches.job_statuses("b1") == [("j1", "ok"), ("j2", "failed"), ("j2", "cached"), ("j3", "failed")]
    assert batches.spend("b1", since=mark) == (2, pytest.approx(0.16))
    batches.set_status("b1", "complete", error=None)
    assert [b["status"] for b in batches.all()] == ["complete"]
    with pytest.raises(LedgerError, match="'colour'"):
        batches.set_status("b1", "complete", colour="red")
