"""The PostgreSQL run log against a real, throwaway cluster (tests/_servers.py).

The same named migrations and the same typed ``runs()`` frame as SQLite's; the wallet safe
across processes; a wrong or down URL is one sentence and nothing is written.
"""

from __future__ import annotations

import multiprocessing
import uuid

import pandas as pd
import pytest

from workbench.errors import BudgetError, LedgerError
from workbench.ledger import MIGRATIONS, RUN_COLUMNS, SQLiteLedger
from workbench.ledger.postgres import PG_MIGRATIONS, PostgresLedger, is_database_url, shown_url


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


def _varied_rows(count: int = 40) -> list[dict]:
    return [
        _row(
            id=f"run-{i:03d}",
            created_at=f"2026-01-01T00:00:{i:02d}.000000+00:00",
            batch_id=None if i % 3 else f"b{i % 2}",
            preset=[None, "marketing-poster", ""][i % 3],
            prompt=f"a poster reading 'MOVE FORWARD' · 日本語 #{i}",
            spec='{"subject": "poster"}',
            params=f'{{"job": "j{i % 7}"}}',
            status=["ok", "cached", "failed", "blocked"][i % 4],
            error="boom ✓" if i % 4 == 2 else None,
            images=[[], ["images/ab/x.png"], ["images/ab/x.png", "images/cd/ü.webp"]][i % 3],
            tokens_in=None if i % 2 else 40,
            width=1024 + 512 * (i % 2),
            model=None if i == 5 else "draft-1",
        )
        for i in range(count)
    ]


def test_the_same_named_migrations_from_an_empty_database(postgres_url):
    assert list(PG_MIGRATIONS) == [name for name, _ in MIGRATIONS]
    ledger = PostgresLedger(postgres_url)
    assert ledger.applied_migrations() == [name for name, _ in MIGRATIONS]
    columns = ledger.query(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'runs' ORDER BY ordinal_position"
    )
    assert [c[0] for c in columns] == ["seq", *RUN_COLUMNS]
    assert [(e.kind, e.credits) for e in ledger.journal_entries()] == [("welcome", 10)]
    ledger.close()
    again = PostgresLedger(postgres_url)
    assert again.migrate() == []  # applying twice does nothing
    assert len(again.journal_entries()) == 1  # and no second welcome
    again.close()


def test_runs_is_the_same_typed_frame_as_sqlite(postgres_url, tmp_path):
    pg, lite = PostgresLedger(postgres_url), SQLiteLedger(tmp_path / "ledger.sqlite")
    for row in _varied_rows():
        pg.record(row)
        lite.record(row)
    ours, theirs = pg.runs(), lite.runs()
    pd.testing.assert_frame_equal(ours, theirs)
    for filters in ({"status": "ok"}, {"batch_id": ["b0", "b1"]}, {"model": "draft-1", "limit": 3}):
        pd.testing.assert_frame_equal(pg.runs(**filters), lite.runs(**filters))
    since = "2026-01-01T00:00:30+00:00"
    pd.testing.assert_frame_equal(pg.runs(since=since), lite.runs(since=since))
    assert pg.get("run-004") == lite.get("run-004")
    assert pg.find_ok("f" * 64) == lite.find_ok("f" * 64)
    assert pg.batch_jobs("b0") == lite.batch_jobs("b0")
    assert pg.batch_job_statuses("b1") == lite.batch_job_statuses("b1")
    assert pg.batch_spend("b0") == lite.batch_spend("b0")
    with pytest.raises(LedgerError, match="cannot filter on 'colour'"):
        pg.runs(colour="red")
    pg.close()
    lite.close()


def test_runs_sees_rows_another_machine_recorded(postgres_url):
    reader, writer = PostgresLedger(postgres_url), PostgresLedger(postgres_url)
    writer.record(_row(id="first"))
    assert list(reader.runs()["id"]) == ["first"]
    mark = reader.mark()
    writer.record(_row(id="second", batch_id="b"))
    assert list(reader.runs()["id"]) == ["first", "second"]  # fetched since the last read only
    assert reader.batch_jobs("b", since=mark) == set()
    assert reader.batch_spend("b", since=mark) == (2, 0.04)
    assert reader.count() == 2
    reader.close()
    writer.close()


def test_a_bad_row_writes_nothing(postgres_url):
    ledger = PostgresLedger(postgres_url)
    with pytest.raises(LedgerError, match="Unknown run status"):
        ledger.record(_row(status="great"))
    ledger.record(_row(id="same"))
    with pytest.raises(LedgerError, match="duplicate key"):
        ledger.record(_row(id="same"))
    assert ledger.count() == 1
    ledger.close()


def test_text_checks_and_batches(postgres_url):
    ledger = PostgresLedger(postgres_url)
    ledger.record(_row(id="r"))
    ledger.record_text_checks("r", [{"text": "SALE", "read": "SALE", "accuracy": 1.0}])
    assert ledger.text_checks("r")["accuracy"].tolist() == [1.0]
    assert ledger.runs()["text_accuracy"].tolist() == [1.0]
    assert ledger.batch_save({"id": "b1", "experiment": "x", "status": "planned", "options": {"a": 1}})
    assert not ledger.batch_save({"id": "b1", "experiment": "x", "status": "running"})
    ledger.batch_update("b1", remote_id="batch_123")
    record = ledger.batch("b1")
    assert (record["status"], record["remote_id"], record["options"]) == ("running", "batch_123", '{"a": 1}')
    assert [b["id"] for b in ledger.batches()] == ["b1"]
    ledger.close()


def test_the_wallet_on_postgres(postgres_url):
    from workbench.wallet import Wallet

    ledger = PostgresLedger(postgres_url)
    wallet = Wallet(ledger)
    assert wallet.balance == 10
    held = wallet.reserve(6, "run-1")
    assert wallet.balance == 4 and wallet.reserved == 6
    with pytest.raises(BudgetError, match="short by 1"):
        wallet.reserve(5, "run-2")
    with ledger.transaction() as db:
        wallet.commit(held, 6, db=db)
    assert wallet.balance == 4 and wallet.spent == 6
    assert wallet.topup(20) == 24
    # Credits of two decimals, kept as numeric(14,2) (m014) and read as float, never Decimal:
    # 0.1 + 0.2 thirty times over sums to what it says, no float noise in a balance or a hold.
    types = ledger.query(
        "SELECT table_name, column_name, data_type, numeric_scale FROM information_schema.columns "
        "WHERE column_name IN ('credits', 'credits_estimated', 'held', 'balance_after', 'held_after') "
        "AND table_name IN ('runs', 'wallet_journal', 'wallet_holds', 'spending_limits')"
    )
    assert len(types) == 8 and {(t[2], t[3]) for t in types} == {("numeric", 2)}
    for i in range(30):
        price = (0.1, 0.2)[i % 2]
        held = wallet.reserve(price, f"small-{i}")
        with ledger.transaction() as db:
            ledger.record(_row(id=f"small-{i}", credits=price, credits_estimated=price), db=db)
            assert wallet.commit(held, price, db=db) == price
    assert wallet.balance == 19.5 and wallet.spent == 10.5 and wallet.reserved == 0
    assert isinstance(wallet.balance, float) and isinstance(ledger.journal_entries()[-1].credits, float)
    assert wallet.history()["balance"].iat[-1] == 19.5
    assert ledger.runs()["credits"].dtype == "float64" and round(ledger.runs()["credits"].sum(), 2) == 4.5
    wallet.reserve(18.15, "leaves-1.35")
    with pytest.raises(BudgetError) as caught:
        wallet.reserve(2, "too-much")
    assert str(caught.value) == (
        "Not enough credits: this run costs 2, the wallet has 1.35 (short by 0.65); "
        "top up with `workbench wallet topup 1`."
    )
    wallet.set_limit(2.5, user="ana")
    assert wallet.limits()["limit"].tolist() == [2.5]
    ledger.close()


def _spender(url: str, prefix: str, attempts: int, queue) -> None:
    from workbench.wallet import Wallet

    ledger = PostgresLedger(url)
    wallet = Wallet(ledger)
    paid = 0
    for i in range(attempts):
        run_id = f"{prefix}-{i}"
        try:
            held = wallet.reserve(0.55, run_id)
        except BudgetError:
            continue
        with ledger.transaction() as db:
            ledger.record(_row(id=run_id, credits=0.55), db=db)
            wallet.commit(held, 0.55, db=db)
        paid += 1
    ledger.close()
    queue.put(paid)


@pytest.mark.slow
def test_four_processes_spend_one_wallet_and_never_go_below_zero(postgres_url):
    ledger = PostgresLedger(postgres_url)
    from workbench.wallet import Wallet

    Wallet(ledger).topup(1)  # 11 credits: 20 runs of 0.55 can be paid, 40 attempts are made
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_spender, args=(postgres_url, p, 10, queue)) for p in "abcd"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    paid = sum(queue.get(timeout=5) for _ in workers)
    assert paid == 20
    assert ledger.count() == 20
    assert ledger.journal_sums() == (0, 0)  # the wallet journal: nothing available, nothing held
    assert round(ledger.runs()["credits"].sum(), 2) == 11
    ledger.close()


def test_a_wrong_or_down_url_is_one_sentence(postgres_server, tmp_path):
    from _servers import free_port

    good = postgres_server.url()
    wrong_password = good.replace(postgres_server.password, "not-the-password")
    cases = {
        wrong_password: "password authentication failed",
        good.rsplit("/", 1)[0] + "/no_such_database": 'database "no_such_database" does not exist',
        f"postgresql://workbench:secret-pw@127.0.0.1:{free_port()}/db": "Connection refused",
    }
    for url, reason in cases.items():
        with pytest.raises(LedgerError) as caught:
            PostgresLedger(url, connect_timeout=2)
        message = str(caught.value)
        assert message.startswith(f"The run log {shown_url(url)} cannot be opened: ")
        assert reason in message
        assert "\n" not in message
        assert "not-the-password" not in message and "secret-pw" not in message
        assert postgres_server.password not in message


def test_database_urls_are_told_from_paths():
    assert is_database_url("postgresql://u@h/db") and is_database_url("postgres://h/db")
    assert not is_database_url("outputs/ledger.sqlite") and not is_database_url(None)
    assert shown_url("postgresql://u:pw@db.example:5433/team") == "postgresql://db.example:5433/team"


# -- moving in: workbench ledger migrate --to postgresql://... ------------------------------------
def _filled_sqlite(path, runs: int, credits: float = 2):
    from workbench.ledger.money import JournalEntry
    from workbench.wallet import Wallet

    lite = SQLiteLedger(path)
    wallet = Wallet(lite)
    wallet.topup(500, note="team budget")
    held = wallet.reserve(4, "run-reserved")
    with lite.transaction() as db:
        lite.record(_row(id="run-reserved", credits=4, usd=0.08), db=db)
        wallet.commit(held, 4, db=db)
    with lite.transaction() as db:
        for i in range(runs):
            lite.record(_row(id=f"bulk-{i}", credits=credits, usd=0.0412, batch_id=f"b{i % 3}"), db=db)
            lite.journal_append(JournalEntry("commit", credits=-credits, run_id=f"bulk-{i}"), db=db)
    lite.record_text_checks("bulk-0", [{"text": "SALE", "read": "SALE", "accuracy": 1.0}])
    lite.batch_save({"id": "b0", "experiment": "x", "status": "done"})
    return lite


def test_moving_in_copies_everything_once(postgres_url, tmp_path):
    from workbench.ledger.movein import move_in
    from workbench.wallet import Wallet

    lite = _filled_sqlite(tmp_path / "ledger.sqlite", 50, credits=0.59)  # fractional credits
    pg = PostgresLedger(postgres_url)
    before = Wallet(pg).balance  # the team's own welcome credits
    report = move_in(lite, pg)
    assert report.copied["runs"] == 51 and report.copied["batches"] == 1 and report.copied["text_checks"] == 1
    # SQLite's sum of fifty 0.59s carries float noise, PostgreSQL's numeric none: equal to the hundredth.
    assert report.checked["runs"] == {"rows": 51, "credits": 33.5, "usd": round(0.08 + 50 * 0.0412, 6)}
    assert report.checked["wallet_journal"]["credits"] == Wallet(lite).balance == 476.5
    assert Wallet(pg).balance == before + Wallet(lite).balance
    assert Wallet(pg).spent == Wallet(lite).spent
    pd.testing.assert_frame_equal(pg.runs(), lite.runs())
    moved = [e for e in pg.journal_entries() if e.kind == "commit" and e.run_id == "run-reserved"][0]
    reserve = [e for e in pg.journal_entries() if e.kind == "reserve"][0]
    assert moved.reservation == reserve.id  # the commit points at the moved reserve entry

    again = move_in(lite, pg)
    assert again.nothing_copied and again.checked == report.checked  # a rerun copies nothing
    lite.record(_row(id="later"))
    assert move_in(lite, pg).copied["runs"] == 1  # a source that grew: only its new rows
    lite.close()
    pg.close()


def test_moving_in_refuses_open_reservations(postgres_url, tmp_path):
    from workbench.ledger.movein import move_in
    from workbench.wallet import Wallet

    lite = SQLiteLedger(tmp_path / "ledger.sqlite")
    Wallet(lite).reserve(3, "under-way")
    pg = PostgresLedger(postgres_url)
    with pytest.raises(LedgerError, match="1 open reservation"):
        move_in(lite, pg)
    assert pg.count() == 0 and len(pg.journal_entries()) == 1


@pytest.mark.slow
def test_moving_in_a_100k_row_log(postgres_url, tmp_path):
    import time

    from workbench.ledger.movein import move_in

    lite = _filled_sqlite(tmp_path / "ledger.sqlite", 100_000)
    pg = PostgresLedger(postgres_url)
    started = time.perf_counter()
    report = move_in(lite, pg)
    elapsed = time.perf_counter() - started
    assert report.copied["runs"] == 100_001
    assert report.checked["runs"]["credits"] == 4 + 200_000
    assert report.checked["wallet_journal"]["credits"] == lite.journal_sums()[0]
    assert pg.count() == 100_001 and elapsed < 120
    assert move_in(lite, pg).nothing_copied
    lite.close()
    pg.close()


def test_a_large_logs_frame_is_kept_in_the_local_root(postgres_url, tmp_path, monkeypatch):
    monkeypatch.setattr("workbench.ledger.frames.SNAPSHOT_MIN_ROWS", 5)
    first = PostgresLedger(postgres_url, snapshot_dir=tmp_path)
    for row in _varied_rows(12):
        first.record(row)
    frame = first.runs()  # 12 rows read at once: the frame is saved (in the background)
    first.close()
    assert first.snapshot_path.is_file() and first.snapshot_path.parent == tmp_path
    later = PostgresLedger(postgres_url, snapshot_dir=tmp_path)
    later.record(_row(id="after"))
    later._load_snapshot()
    assert len(later._cache) == 12  # this database's saved frame, checked against it
    again = later.runs()  # plus the row recorded since
    pd.testing.assert_frame_equal(again.iloc[:12].reset_index(drop=True), frame)
    assert again["id"].iat[-1] == "after"
    later.close()


def test_m014_turns_a_whole_credit_log_into_two_decimal_credits(postgres_url):
    """A team log from before m014 (INTEGER credit columns, whole credits) keeps every balance and
    run when upgraded, and takes fractional credits after."""
    from workbench.ledger.migrations import CREDIT_COLUMNS
    from workbench.wallet import Wallet

    ledger = PostgresLedger(postgres_url)
    with ledger.transaction() as db:  # back to the schema before m014, with whole credits in it
        db.execute("DELETE FROM _migrations WHERE name = 'm014_fractional_credits'")
        for table, columns in CREDIT_COLUMNS.items():
            changes = ", ".join(f"ALTER COLUMN {c} TYPE INTEGER" for c in columns)
            db.execute(f"ALTER TABLE {table} {changes}")
    wallet = Wallet(ledger)
    wallet.topup(5)
    held = wallet.reserve(3, "old-run")
    with ledger.transaction() as db:
        ledger.record(_row(id="old-run", credits=3, credits_estimated=3), db=db)
        wallet.commit(held, 3, db=db)
    ledger.close()
    upgraded = PostgresLedger(postgres_url)  # applies m014
    assert upgraded.applied_migrations()[-1] == "m014_fractional_credits"
    wallet = Wallet(upgraded)
    assert wallet.balance == 12 and wallet.spent == 3 and upgraded.get("old-run")["credits"] == 3
    held = wallet.reserve(0.59, "new-run")
    with upgraded.transaction() as db:
        upgraded.record(_row(id="new-run", credits=0.59, credits_estimated=0.59), db=db)
        wallet.commit(held, 0.59, db=db)
    assert wallet.balance == 11.41 and wallet.spent == 3.59
    assert upgraded.runs()["credits"].tolist() == [3.0, 0.59]
    upgraded.close()
