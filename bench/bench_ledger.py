"""Run log speed: recording one run (target ≤ 2 ms) and runs() over 100,000 rows (≤ 500 ms).

runs() is measured warm (the Ledger already holds the frame), in a new session (a new Ledger: the
frame saved beside the database, plus the rows recorded since) and on the very first read of a log
(every row from SQLite, then the frame is saved).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import uuid
from pathlib import Path

from bench._common import median, report, timeit
from workbench.ledger import SQLiteLedger, utc_now


def _row(i: int) -> dict:
    quality = random.choice(["medium", "high"])
    return {
        "id": uuid.uuid4().hex,
        "created_at": utc_now(),
        "batch_id": f"batch-{i // 1000}",
        "kind": "generate",
        "backend": random.choice(["draft", "openai"]),
        "model": "gpt-image-2",
        "preset": random.choice(["ecommerce-product", "marketing-poster", None]),
        "prompt": "a matte black water bottle on white marble, soft light from the left, product photography",
        "spec": json.dumps({"subject": "a matte black water bottle", "aspect": "1:1", "quality": quality}),
        "params": json.dumps({"background": "auto"}),
        "width": 1024,
        "height": 1024,
        "quality": quality,
        "n": 1,
        "status": random.choice(["ok", "ok", "ok", "cached", "failed"]),
        "credits_estimated": 2,
        "credits": 2,
        "usd_estimated": 0.04,
        "usd": 0.0412,
        "tokens_in": 40,
        "tokens_out": 1056,
        "latency_ms": random.uniform(20, 90000),
        "fingerprint": uuid.uuid4().hex,
        "images": [f"images/ab/{uuid.uuid4().hex}.png"],
    }


def main() -> None:
    random.seed(7)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = SQLiteLedger(Path(tmp) / "ledger.sqlite")
        record_times = timeit(lambda: ledger.record(_row(0)), repeat=200, warmup=5)
        rows = [_row(i) for i in range(100_000 - ledger.count())]
        with ledger.transaction() as db:
            for row in rows:
                ledger.record(row, db=db)
        first = []
        for _ in range(3):  # every row from SQLite; the frame is then saved in the background
            ledger.snapshot_path.unlink(missing_ok=True)
            fresh = SQLiteLedger(ledger.path)
            first += timeit(fresh.runs, repeat=1, warmup=0)
            fresh.close()  # (waits for the saved frame)
        ledger.record(_row(0))  # a run since the snapshot: the next session reads it from SQLite
        cold = timeit(lambda: SQLiteLedger(ledger.path).runs(), repeat=5, warmup=0)
        runs_times = timeit(lambda: (ledger.record(_row(0)), ledger.runs()), repeat=5, warmup=1)
        filtered = timeit(
            lambda: SQLiteLedger(ledger.path).runs(status="ok", backend="openai"), repeat=3, warmup=0
        )
        count = len(ledger.runs())
        ledger.close()
    report(
        "ledger",
        [
            {
                "name": "record one run (median of 200, WAL)",
                "value": median(record_times),
                "unit": "ms",
                "target": 2,
            },
            {
                "name": f"runs() over {count:,} rows, warm (a new run each time)",
                "value": median(runs_times),
                "unit": "ms",
                "target": 500,
            },
            {
                "name": f"runs() over {count:,} rows, new session (saved frame + newer rows)",
                "value": median(cold),
                "unit": "ms",
                "target": 500,
            },
            {
                "name": f"runs() over {count:,} rows, first read ever (SQLite, then saves the frame)",
                "value": median(first),
                "unit": "ms",
            },
            {"name": "runs(status=ok, backend=openai), new session", "value": median(filtered), "unit": "ms"},
        ]
        + main_scale(int(os.environ.get("BENCH_LEDGER_ROWS", "1000000"))),
    )


# -- at the scale of issue 16: 10^6 rows -------------------------------------------------------
_CHILD = """
import json, resource, sys, time
started = time.perf_counter()
from workbench.ledger import SQLiteLedger
ledger = SQLiteLedger(sys.argv[1])
what = sys.argv[2]
imported = time.perf_counter()
import pandas  # a notebook has it already; the ledger imports it on the first frame (lazily)
begun = time.perf_counter()
frame = ledger.runs(limit=50) if what == "limit" else ledger.runs()
done = time.perf_counter()
print(json.dumps({"call": done - begun, "total": done - started, "rows": len(frame),
                  "pandas": begun - imported,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _child(path: Path, what: str) -> dict:
    """``runs()`` (or ``runs(limit=50)``) in a new process: its seconds and peak memory."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), what], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def build_log(path: Path, rows: int) -> None:
    """A run log of ``rows`` rows at ``path`` (kept between rounds: building 10^6 rows takes a while)."""
    ledger = SQLiteLedger(path)
    missing = rows - ledger.count()
    batch = 50_000
    while missing > 0:
        with ledger.transaction() as db:
            for i in range(min(batch, missing)):
                ledger.record(_row(i), db=db)
        missing -= batch
    ledger.close()


def main_scale(rows: int = 1_000_000) -> list[dict]:
    import shutil

    random.seed(11)
    cache = Path(tempfile.gettempdir()) / f"workbench-bench-ledger-{rows}.sqlite"
    build_log(cache, rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.sqlite"
        shutil.copy(cache, path)
        ever = _child(path, "all")  # no saved frame yet: every row from SQLite, then it is saved
        SQLiteLedger(path).record(_row(0))  # a run since: the next session reads it from SQLite too
        session = [_child(path, "all") for _ in range(2)]
        limit = [_child(path, "limit") for _ in range(3)]
        ledger = SQLiteLedger(path)
        ledger.runs()
        refresh = timeit(lambda: (ledger.record(_row(0)), ledger.runs()), repeat=9, warmup=1)
        warm_limit = timeit(lambda: ledger.runs(limit=50), repeat=9, warmup=1)
        count = ledger.count()
        ledger.close()
    best = min(session, key=lambda r: r["total"])
    return [
        {
            "name": f"first read of {count:,} rows in a new process (saved frame)",
            "value": best["total"],
            "unit": "s",
            "target": 5,
            "runs_call": best["call"],
        },
        {"name": "  ... peak memory of that process", "value": best["peak_mb"], "unit": "MB", "target": 1536},
        {
            "name": f"first read of {count:,} rows ever (SQLite, then saves the frame)",
            "value": ever["total"],
            "unit": "s",
            "peak_mb": ever["peak_mb"],
        },
        {
            "name": "refresh after one new run (record + runs())",
            "value": median(refresh),
            "unit": "ms",
            "target": 20,
        },
        {
            "name": "runs(limit=50) in a new process",
            "value": median([r["call"] for r in limit]) * 1000,
            "unit": "ms",
            "target": 50,
        },
        {"name": "runs(limit=50), warm", "value": median(warm_limit), "unit": "ms", "target": 50},
    ]


if __name__ == "__main__":
    main()
