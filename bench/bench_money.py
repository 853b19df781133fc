"""What auditable money costs per run on SQLite: the fingerprint claim and the wallet journal.

A run on a paid backend now claims its request's fingerprint, reserves its credits in the journal
(with owner and lease), records its row with its attempts, commits the charge, releases the rest
and ends the claim. Measured against recording the row alone, on a run log that already holds
``PRIOR`` runs and their journal entries (the balance is a sum over the journal). Target: ≤ 2 ms
added per run. Also: a 1 MB metadata bomb refused by the recipe reader (target < 1 s).
"""

from __future__ import annotations

import socket
import tempfile
import time
import uuid
from pathlib import Path

from bench._common import median, pin_to_one_core, report
from workbench.ledger import RUN_COLUMNS, SQLiteLedger, utc_now
from workbench.wallet import Wallet

PRIOR = 20_000
RUNS = 300
_HOST = socket.gethostname()


def _row(run_id: str, fingerprint: str) -> dict:
    return dict.fromkeys(RUN_COLUMNS) | {
        "id": run_id,
        "created_at": utc_now(),
        "kind": "generate",
        "backend": "openai",
        "model": "gpt-image-2",
        "prompt": "a matte black water bottle on white marble",
        "width": 1024,
        "height": 1024,
        "quality": "medium",
        "n": 1,
        "status": "ok",
        "credits_estimated": 2,
        "credits": 2,
        "usd_estimated": 0.042,
        "usd": 0.042,
        "fingerprint": fingerprint,
        "images": ["images/ab/x.png"],
        "usd_possibly_billed": 0.0,
        "attempts": 1,
    }


def _plain(ledger: SQLiteLedger) -> None:
    run_id = uuid.uuid4().hex
    ledger.record(_row(run_id, run_id))


def _with_money(ledger: SQLiteLedger, wallet: Wallet) -> None:
    run_id = uuid.uuid4().hex
    fingerprint = uuid.uuid4().hex
    assert ledger.claim(fingerprint, run_id, pid=1, host=_HOST, lease_seconds=900) is None
    reservation = wallet.reserve(2, run_id)
    attempt = {
        "number": 1,
        "started_at": utc_now(),
        "ended_at": utc_now(),
        "outcome": "ok",
        "http_status": 200,
    }
    with ledger.transaction() as db:
        wallet.commit(reservation, 2, db=db)
        ledger.record(_row(run_id, fingerprint), db=db)
        ledger.record_attempts([attempt | {"run_id": run_id}], db=db)
        ledger.claim_release(fingerprint, run_id, db=db)


def _per_run(fn, repeat: int = RUNS) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return median(times)


def _bomb_seconds() -> float:
    import io
    import struct
    import zlib

    from PIL import Image

    from workbench.errors import InputImageError
    from workbench.store import read_recipe

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    png = buffer.getvalue()
    deflate = zlib.compressobj(9)
    parts = [deflate.compress(b'{"spec": "')]
    while sum(map(len, parts)) < 1 << 20:
        parts.append(deflate.compress(b"a" * (1 << 20)))
    parts.append(deflate.flush())
    payload = b"workbench:recipe\x00\x01\x00\x00\x00" + b"".join(parts)
    data = (
        png[:33]
        + struct.pack(">I", len(payload))
        + b"iTXt"
        + payload
        + struct.pack(">I", zlib.crc32(b"iTXt" + payload))
        + png[33:]
    )
    start = time.perf_counter()
    try:
        read_recipe(data)
    except InputImageError:
        pass
    return time.perf_counter() - start


def main() -> None:
    where = pin_to_one_core()
    with tempfile.TemporaryDirectory() as folder:
        ledger = SQLiteLedger(Path(folder) / "ledger.sqlite")
        wallet = Wallet(ledger)
        wallet.topup(10 * (PRIOR + 4 * RUNS))
        for _ in range(PRIOR // 2):  # a log with history: runs and their journal entries
            _with_money(ledger, wallet)
            _plain(ledger)
        plain = _per_run(lambda: _plain(ledger))
        money = _per_run(lambda: _with_money(ledger, wallet))
        entries = len(ledger.journal_entries())
        ledger.close()
    figures = [
        {"name": "record a run (row only)", "value": plain, "unit": "ms"},
        {"name": "record a run with claim + journal + attempts", "value": money, "unit": "ms"},
        {
            "name": "added by the claim and the journal, per run",
            "value": money - plain,
            "unit": "ms",
            "target": 2,
        },
        {"name": "journal entries in the log measured", "value": float(entries), "unit": "entries"},
        {
            "name": "1 MB metadata bomb refused by read_recipe",
            "value": _bomb_seconds() * 1000,
            "unit": "ms",
            "target": 1000,
        },
    ]
    print(f"  ({where}; {PRIOR:,} prior runs)")
    report("money", figures)


if __name__ == "__main__":
    main()
