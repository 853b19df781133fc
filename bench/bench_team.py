"""A team's run log: recording a run and runs() over 100,000 rows on PostgreSQL, beside SQLite.

Targets: ≤ 5 ms to record one run, ≤ 1 s for the runs() frame over 100,000 rows. PostgreSQL is a
throwaway local cluster (tests/_servers.py) with its default durability (fsync on, synchronous
commit), on 127.0.0.1: a team's server across a network adds its round trip to each figure.
SQLite is the default run log in a temporary folder. Both get the same 100,000 rows.

runs() is measured on the first read ever (every row from the database; the frame is then saved in
the local root, in the background), in a new session (the saved frame, checked against the
database, plus the rows recorded since) and warm (the Ledger holds the frame and fetches the new
rows only). The first read's figure also records this process's CPU time and the load average.
It comes right after the bulk insert, as a team's first look at a busy log would: PostgreSQL's
first scan of those rows also sets their hint bits (and autovacuum may not have analyzed the
table yet), so a later first read of the same rows costs its server less. Nothing is vacuumed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bench._common import median, report, timeit
from bench.bench_ledger import _row

ROWS = 100_000


def _loadavg() -> float:
    """The machine's 1-minute load average (other work slows every figure; 2 cores here)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def _fill(ledger, count: int) -> None:
    batch = 5_000
    for start in range(0, count, batch):
        with ledger.transaction() as db:
            for i in range(start, min(count, start + batch)):
                ledger.record(_row(i), db=db)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _servers import PostgresServer, postgres_bin

    from workbench.ledger import SQLiteLedger
    from workbench.ledger.postgres import PostgresLedger

    folder = postgres_bin()
    if folder is None:
        print("== team: skipped, PostgreSQL's initdb is not installed (apt-get install postgresql)")
        return
    server = PostgresServer.start(folder, durable=True)
    figures = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, make in (
                ("PostgreSQL", lambda: PostgresLedger(server.new_database(), snapshot_dir=Path(tmp) / "pg")),
                ("SQLite", lambda: SQLiteLedger(Path(tmp) / "ledger.sqlite")),
            ):
                ledger = make()
                record = timeit(lambda ledger=ledger: ledger.record(_row(0)), repeat=200, warmup=5)
                _fill(ledger, ROWS - ledger.count())

                def reopen(ledger=ledger, name=name):
                    if name == "PostgreSQL":
                        return PostgresLedger(ledger.url, snapshot_dir=Path(tmp) / "pg")
                    return SQLiteLedger(ledger.path)

                again = reopen()
                again.snapshot_path.unlink(missing_ok=True)
                cpu, load = time.process_time(), _loadavg()
                first = timeit(lambda again=again: again.runs(), repeat=1, warmup=0)  # saves the frame
                cpu = (time.process_time() - cpu) * 1000
                again.close()  # waits for the saved frame (saved in the background)
                ledger.record(_row(0))  # a run since the saved frame: the next session fetches it
                session = timeit(lambda: reopen().runs(), repeat=3, warmup=0)
                warm = timeit(lambda ledger=ledger: (ledger.record(_row(0)), ledger.runs()), repeat=5)
                count = ledger.count()
                figures += [
                    {
                        "name": f"{name}: record one run (median of 200)",
                        "value": median(record),
                        "unit": "ms",
                        "target": 5,
                    },
                    {
                        "name": f"{name}: runs() over {count:,} rows, first read ever",
                        "value": first[0],
                        "unit": "ms",
                        "target": 1000,
                        "cpu_ms": cpu,  # this process only (PostgreSQL's server works beside it)
                        "loadavg": load,
                    },
                    {
                        "name": f"{name}: runs() over {count:,} rows, new session",
                        "value": median(session),
                        "unit": "ms",
                        "target": 1000,
                    },
                    {
                        "name": f"{name}: runs() over {count:,} rows, warm (+1 run)",
                        "value": median(warm),
                        "unit": "ms",
                        "target": 1000,
                    },
                ]
                ledger.close()
    finally:
        server.stop()
    report("team", figures)


if __name__ == "__main__":
    main()
