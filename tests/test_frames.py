"""The runs() frame's read paths: many rows column by column on PostgreSQL, the saved frame."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from workbench.ledger import SQLiteLedger


def _row(i: int, **values):
    return {
        "id": f"run-{i:05d}",
        "created_at": f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}.{i:06d}+00:00",
        "batch_id": None if i % 3 else f"b{i % 2}",
        "kind": "generate",
        "backend": ["draft", "openai"][i % 2],
        "model": None if i % 11 == 5 else "gpt-image-2",
        "preset": [None, "marketing-poster", ""][i % 3],
        "prompt": f"a poster reading 'MOVE FORWARD' · 日本語 #{i}",
        "spec": '{"subject": "poster"}' if i % 4 else None,
        "params": f'{{"job": "j{i % 7}"}}',
        "width": None if i % 13 == 0 else 1024 + 512 * (i % 2),
        "height": 1024,
        "quality": ["low", "medium", "high"][i % 3],
        "n": 1,
        "seed": 2**62 + i if i % 5 else None,
        "status": ["ok", "cached", "failed", "blocked"][i % 4],
        "credits": i % 5,
        "usd": 0.0412 * i,
        "tokens_in": None if i % 2 else 40,
        "latency_ms": None if i % 4 == 0 else 12.5 + i / 3,
        "fingerprint": uuid.uuid5(uuid.NAMESPACE_URL, str(i)).hex,
        "images": [[], ["images/ab/x.png"], ["images/ab/x.png", "images/cd/ü.webp"]][i % 3],
        "error": "boom ✓" if i % 4 == 2 else None,
        "user": ["ana", "bo", None][i % 3],
        **values,
    }


def _fill(ledger, rows) -> None:
    with ledger.transaction() as tx:
        for row in rows:
            ledger.record(row, db=tx)


def test_many_rows_come_column_by_column_from_postgresql_as_the_same_frame(postgres_url, tmp_path):
    from workbench.ledger.frames import Fetched
    from workbench.ledger.postgres import PostgresLedger

    rows = [_row(i) for i in range(1_500)]
    pg, lite = PostgresLedger(postgres_url), SQLiteLedger(tmp_path / "ledger.sqlite")
    _fill(pg, rows)
    _fill(lite, rows)
    assert isinstance(pg._rows_after(0), Fetched)  # more than a refresh's few rows: aggregates
    # A new Ledger's narrow questions go to SQL on either database, without reading the whole log.
    cold_pg, cold_lite = PostgresLedger(postgres_url), SQLiteLedger(lite.path)
    for question in (
        {"limit": 5},
        {"batch_id": "b0", "limit": 3},
        {"since": "2026-01-01T00:20:00+00:00", "until": "2026-01-01T00:21:00+00:00"},
        {"user": "ana", "id": [f"run-{i:05d}" for i in range(0, 40, 3)]},
    ):
        pd.testing.assert_frame_equal(cold_pg.runs(**question), cold_lite.runs(**question))
    assert cold_pg._cache is None and cold_lite._cache is None
    cold_pg.close()
    pd.testing.assert_frame_equal(pg.runs(), lite.runs())
    pd.testing.assert_frame_equal(pg.runs(limit=5), cold_lite.runs(limit=5))  # warm: from the frame
    # A text holding the aggregates' separator: the rows come one by one, the frame is the same.
    more = [_row(i, prompt="a \x01 inside" if i == 1_600 else "later") for i in range(1_500, 3_000)]
    _fill(pg, more)
    _fill(lite, more)
    assert pg._columns_after(0, 10**9) is None
    fresh = PostgresLedger(postgres_url)
    pd.testing.assert_frame_equal(fresh.runs(), lite.runs())
    pd.testing.assert_frame_equal(pg.runs(), lite.runs())  # the warm one grew by 1,500 rows
    for ledger in (pg, fresh, lite):
        ledger.close()


def _saved(tmp_path, monkeypatch, rows) -> SQLiteLedger:
    monkeypatch.setattr("workbench.ledger.frames.SNAPSHOT_MIN_ROWS", 5)
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    _fill(ledger, rows)
    ledger.runs()
    ledger.close()  # (after the frame is saved: it is written in the background)
    assert ledger.snapshot_path.is_file()
    return SQLiteLedger(ledger.path)


def test_the_saved_frame_gives_back_every_cell(tmp_path, monkeypatch):
    odd_paths = [["a.png", ""], ["p\u2028q.png"], [], ["r\rs.png", "t.png"]]
    rows = [_row(i, images=odd_paths[i % 4]) for i in range(40)]
    ledger = _saved(tmp_path, monkeypatch, rows)
    ledger._load_snapshot()
    assert ledger._cache is not None and len(ledger._cache) == 40
    loaded = ledger.runs()
    monkeypatch.setattr("workbench.ledger.frames.SNAPSHOT_MIN_ROWS", 10**9)
    ledger.snapshot_path.unlink()
    read = SQLiteLedger(ledger.path).runs()  # every row from SQLite
    pd.testing.assert_frame_equal(loaded, read)
    assert loaded["images"].tolist()[:4] == odd_paths


def test_a_damaged_saved_frame_or_one_of_other_column_kinds_is_read_again(tmp_path, monkeypatch):
    rows = [_row(i) for i in range(30)]
    ledger = _saved(tmp_path, monkeypatch, rows)
    expected = ledger.runs()
    data = bytearray(ledger.snapshot_path.read_bytes())
    data[data.rindex(b"MOVE FORWARD")] ^= 0x20  # one changed letter in the prompts
    ledger.snapshot_path.write_bytes(bytes(data))
    damaged = SQLiteLedger(ledger.path)
    damaged._load_snapshot()
    assert damaged._cache is None
    pd.testing.assert_frame_equal(damaged.runs(), expected)
    damaged.close()
    # A frame saved while a column had another kind (credits were whole numbers, say) is not used.
    import workbench.ledger.frames as frames

    kinds = dict(frames.RUN_KINDS)
    monkeypatch.setitem(frames.RUN_KINDS, "credits", "float" if kinds["credits"] != "float" else "int")
    other = SQLiteLedger(ledger.path)
    other._load_snapshot()
    assert other._cache is None


def test_a_new_ledger_waits_for_this_processs_save_of_its_log(tmp_path, monkeypatch):
    monkeypatch.setattr("workbench.ledger.frames.SNAPSHOT_MIN_ROWS", 5)
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    _fill(ledger, [_row(i) for i in range(50)])
    frame = ledger.runs()  # saves in the background
    again = SQLiteLedger(ledger.path)  # waits for that save rather than reading every row again
    again._load_snapshot()
    assert again._cache is not None
    pd.testing.assert_frame_equal(again.runs(), frame)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_small_frames_have_the_same_columns_and_kinds(tmp_path, count):
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    _fill(ledger, [_row(i) for i in range(count)])
    warm = ledger.runs()
    limited = SQLiteLedger(ledger.path).runs(limit=5)  # from SQL: a frame without room
    assert list(warm.columns) == list(limited.columns)
    assert [str(t) for t in warm.dtypes] == [str(t) for t in limited.dtypes]
    assert str(warm["created_at"].dtype) == "datetime64[us, UTC]"


def test_times_in_any_iso_form_read_as_pandas_reads_them(tmp_path):
    texts = [
        "2026-01-01T00:00:00.000001+00:00",  # as utc_now writes them (numpy parses these)
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T01:00:00.5+02:00",
        "2026-01-01T00:00:00.123456Z",
    ]
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    _fill(ledger, [_row(i, created_at=text) for i, text in enumerate(texts)])
    expected = pd.Series(pd.to_datetime(texts, utc=True, format="ISO8601"), name="created_at")
    pd.testing.assert_series_equal(ledger.runs()["created_at"], expected)
    newest = SQLiteLedger(ledger.path).runs(limit=1)["created_at"]
    pd.testing.assert_series_equal(newest, expected.tail(1).reset_index(drop=True))
    ledger.close()
    alike = SQLiteLedger(tmp_path / "alike.sqlite")  # every one in utc_now's form: the fast path
    _fill(alike, [_row(i) for i in range(3)])
    times = pd.to_datetime([_row(i)["created_at"] for i in range(3)], utc=True)
    pd.testing.assert_series_equal(alike.runs()["created_at"], pd.Series(times, name="created_at"))


def test_a_saved_frame_whose_header_asks_for_objects_is_not_read(tmp_path, monkeypatch):
    import json

    ledger = _saved(tmp_path, monkeypatch, [_row(i) for i in range(30)])
    data = ledger.snapshot_path.read_bytes()
    size = int.from_bytes(data[9:17], "little")
    header = json.loads(data[17 : 17 + size])
    start = -(-(17 + size) // 64) * 64
    blobs = data[start:]
    key = next(k for k, v in header["blobs"].items() if v[2] == "float64")
    header["blobs"][key][2] = "object"  # raw bytes read as object pointers would crash the process
    head = json.dumps(header).encode()
    new_start = -(-(17 + len(head)) // 64) * 64
    ledger.snapshot_path.write_bytes(
        data[:9] + len(head).to_bytes(8, "little") + head + b"\0" * (new_start - 17 - len(head)) + blobs
    )
    ledger._load_snapshot()
    assert ledger._cache is None
    assert len(ledger.runs()) == 30


def test_a_log_that_grows_a_few_runs_at_a_time_gets_its_frame_saved(tmp_path, monkeypatch):
    monkeypatch.setattr("workbench.ledger.frames.SNAPSHOT_MIN_ROWS", 10)
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    for i in range(9):
        ledger.record(_row(i))
        ledger.runs()  # a notebook looking at its runs after each one
    ledger._wait_for_saves()
    assert not ledger.snapshot_path.exists()  # nine rows: read fast enough without one
    ledger.record(_row(9))
    frame = ledger.runs()
    ledger.close()
    assert ledger.snapshot_path.is_file()
    again = SQLiteLedger(ledger.path)
    again._load_snapshot()
    assert again._cache is not None and len(again._cache) == 10
    pd.testing.assert_frame_equal(again.runs(), frame)


@pytest.mark.slow
def test_a_postgresql_log_of_long_texts_is_read_in_chunks_under_the_servers_value_limit(postgres_url):
    from workbench.ledger.postgres import PostgresLedger

    pg = PostgresLedger(postgres_url)
    with pg.transaction() as db:  # 1.1 GB of prompts: one aggregate of them is over PostgreSQL's 1 GB
        db.execute(
            "INSERT INTO runs (id, created_at, kind, backend, prompt, status, images) "
            "SELECT 'r' || lpad(g::text, 4, '0'), '2026-01-01T00:00:00.000000+00:00', 'generate', "
            "'draft', repeat('x', 1000000), 'ok', '' FROM generate_series(1, 1100) g"
        )
    frame = PostgresLedger(postgres_url).runs()
    assert len(frame) == 1100 and frame["id"].is_monotonic_increasing
    assert set(frame["prompt"].str.len()) == {1_000_000}


def test_a_chunk_the_server_cannot_build_is_asked_again_smaller(postgres_url, monkeypatch):
    import psycopg

    from workbench.ledger import postgres

    rows = [_row(i) for i in range(1_500)]
    pg = postgres.PostgresLedger(postgres_url)
    _fill(pg, rows)
    monkeypatch.setattr(postgres, "_CHUNK_BYTES", 40_000)  # a few hundred rows a chunk
    asked: list[int] = []
    real = postgres.PostgresLedger._fetch_aggregate

    def fetch(self, sql, params):  # (params: the known category texts, then last, upto, rows, bytes)
        asked.append(params[-2])
        if params[-2] > 400:  # (the server's "out of memory" for a chunk this large)
            raise postgres._TooLarge
        return real(self, sql, params)

    monkeypatch.setattr(postgres.PostgresLedger, "_fetch_aggregate", fetch)
    frame = postgres.PostgresLedger(postgres_url).runs()
    assert frame["id"].tolist() == [r["id"] for r in rows]
    assert min(asked) <= 400 and psycopg.errors.OutOfMemory.sqlstate == "53200"


def test_a_ledger_opened_or_closed_while_a_second_save_waits_for_the_first_does_not_fail(
    tmp_path, monkeypatch
):
    import threading
    import time

    import workbench.ledger.snapshot as snapshot

    monkeypatch.setattr("workbench.ledger.frames.SNAPSHOT_MIN_ROWS", 5)
    real = snapshot.save_frame

    def slow(path, frame, meta):  # a large frame on a slow disk
        time.sleep(0.6)
        return real(path, frame, meta)

    monkeypatch.setattr(snapshot, "save_frame", slow)
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    _fill(ledger, [_row(i) for i in range(10)])
    ledger.runs()  # the first save starts
    _fill(ledger, [_row(i) for i in range(10, 20)])
    second = threading.Thread(target=ledger.runs)  # a second save, after the first
    second.start()
    time.sleep(0.2)
    again = SQLiteLedger(ledger.path)  # another cell opens the log while the saves run
    ledger.close()
    second.join()
    again._load_snapshot()
    assert again._cache is not None and len(again._cache) == 20


def test_the_save_finishes_when_a_daemon_thread_asked_for_the_frame_and_the_process_exits(tmp_path):
    import subprocess
    import sys

    script = f"""
import threading, time
import workbench.ledger.frames as sq
import workbench.ledger.snapshot as snap
from workbench.ledger import SQLiteLedger
sq.SNAPSHOT_MIN_ROWS = 5
real = snap.save_frame
def slow(path, frame, meta):
    time.sleep(0.5)
    return real(path, frame, meta)
snap.save_frame = slow
led = SQLiteLedger({str(tmp_path / "ledger.sqlite")!r})
with led.transaction() as tx:
    for i in range(50):
        row = {{"id": f"r{{i}}", "kind": "generate", "backend": "draft", "prompt": "p", "status": "ok"}}
        led.record(row, db=tx)
t = threading.Thread(target=led.runs, daemon=True)  # a panel's or a watcher's thread
t.start()
t.join()
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    saved = SQLiteLedger(tmp_path / "ledger.sqlite")
    saved._load_snapshot()
    assert saved._cache is not None and len(saved._cache) == 50


def _two_ledgers(kind, request, tmp_path):
    """A function making a new ledger of one log (a cold one each call), on SQLite or PostgreSQL;
    each is closed at the end of the test (a pool left to the collector warns)."""
    made = []
    request.addfinalizer(lambda: [ledger.close() for ledger in made])
    if kind == "sqlite":
        make = lambda: SQLiteLedger(tmp_path / "ledger.sqlite")  # noqa: E731
    else:
        from workbench.ledger.postgres import PostgresLedger

        url = request.getfixturevalue("postgres_url")
        make = lambda: PostgresLedger(url)  # noqa: E731

    def new():
        made.append(make())
        return made[-1]

    return new


_ODD_TIMES = [
    "2026-01-01T02:30:00.000000+02:00",  # 00:30 UTC, written in another offset
    "2026-01-01T00:30:00.000000+00:00",
    "2026-01-01 00:40:00.000000+00:00",  # a space for the T
    "2026-01-01T00:50:00.5Z",
    "2025-12-31T23:59:59.000000+00:00",
    "2026-01-01T01:00:00.000000+00:00",
    "2026-01-01T03:00:00.000000+02:00",  # 01:00 UTC: not before until
    "2025-12-31T23:30:00.000000-01:00",  # 00:30 UTC
]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_cold_ledger_answers_every_question_as_a_warm_one(kind, request, tmp_path):
    from workbench.errors import LedgerError

    new = _two_ledgers(kind, request, tmp_path)
    warm = new()
    rows = [_row(i, created_at=_ODD_TIMES[i % len(_ODD_TIMES)]) for i in range(24)]
    rows[5]["status"], rows[7]["quality"] = "failed", "xhigh"
    _fill(warm, rows)
    warm.runs()
    bounds = {"since": "2026-01-01T00:00:00+00:00", "until": "2026-01-01T01:00:00+00:00"}
    questions = [
        {"id": []},
        {"batch_id": []},
        {"batch_id": [None, "b0"]},
        {"batch_id": [None]},
        {"batch_id": ("b0",), "status": ["ok", "cached"]},
        {"batch_id": "b0"},
        {"id": ["run-00003", "run-00004"]},
        bounds,
        {**bounds, "limit": 3},
        {"since": "2026-01-01T00:35:00+00:00"},
        {"until": "2026-01-01T02:35:00+02:00"},
        {"limit": 5},
        {"limit": 0},
        {"fingerprint": rows[4]["fingerprint"]},
    ]
    for question in questions:
        cold = new().runs(**question)
        pd.testing.assert_frame_equal(cold, warm.runs(**question), obj=str(question))
    assert sorted(new().runs(**bounds)["id"]) == [
        f"run-{i:05d}" for i in range(24) if i % 8 in (0, 1, 2, 3, 7)
    ]
    assert len(new().runs(id=[])) == 0 and list(new().runs(id=[]).columns) == list(warm.runs().columns)
    for ledger in (new(), warm):
        for wrong in (-1, 2.5, "3", True):
            with pytest.raises(LedgerError, match="limit"):
                ledger.runs(limit=wrong)
    import numpy as np

    pd.testing.assert_frame_equal(new().runs(limit=np.int64(2)), warm.runs(limit=2))


def test_a_saved_frame_with_a_damaged_header_is_read_from_the_database_instead(tmp_path, monkeypatch):
    ledger = _saved(tmp_path, monkeypatch, [_row(i) for i in range(30)])
    expected = ledger.runs()
    good = ledger.snapshot_path.read_bytes()
    assert b'"rows": 30' in good
    damaged = [
        good[:9] + b"\xff" * 8 + good[17:],  # a header "longer" than any file (2**64 - 1)
        good[:9] + (2**45).to_bytes(8, "little") + good[17:],  # longer than this file
        good.replace(b'"rows": 30', b'"rows":9e9', 1),  # rows the blobs cannot hold
        good.replace(b'"rows": 30', b'"rows": -1', 1),
        good[:200],  # cut short
    ]
    for data in damaged:
        ledger.snapshot_path.write_bytes(data)
        fresh = SQLiteLedger(ledger.path)
        fresh._load_snapshot()
        assert fresh._cache is None
        reader = SQLiteLedger(ledger.path)
        pd.testing.assert_frame_equal(reader.runs(), expected)
        reader.close()  # (its save of a good frame ends before the next damage is written)


def test_a_save_removes_what_a_killed_save_left_and_keeps_one_still_being_written(tmp_path, monkeypatch):
    import os
    import subprocess
    import sys
    import time

    monkeypatch.setattr("workbench.ledger.frames.SNAPSHOT_MIN_ROWS", 5)
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    _fill(ledger, [_row(i) for i in range(20)])
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    prefix = f".{ledger.snapshot_path.name[:24]}"
    dead = tmp_path / f"{prefix}.{int(gone.stdout)}.1.tmp"  # a process killed mid-save
    old = tmp_path / f"{prefix}.{os.getppid()}.2.tmp"  # a live process's, two hours old
    live = tmp_path / f"{prefix}.{os.getppid()}.3.tmp"  # being written now
    other = tmp_path / ".notes.txt.1.tmp"
    for leftover in (dead, old, live, other):
        leftover.write_bytes(b"\0" * 1000)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    ledger.runs()
    ledger.close()
    assert ledger.snapshot_path.is_file()
    assert not dead.exists() and not old.exists() and live.exists() and other.exists()


def _pandas_frame(rows) -> pd.DataFrame:
    """The runs frame of database rows (order value first) as pandas builds it, cell by cell:
    the reference for the fast paths (chunks, category codes, factorized sizes)."""
    import numpy as np

    from workbench.ledger.base import RUN_COLUMNS
    from workbench.ledger.frames import RUN_KINDS

    def categorical(values):
        known = sorted({v for v in values if v is not None})
        return pd.Categorical(values, categories=pd.Index(known, dtype="str"))

    cells = {name: [row[i + 1] for row in rows] for i, name in enumerate(RUN_COLUMNS)}
    data = {}
    for name, values in cells.items():
        if name == "width":
            shown = [["<NA>" if v is None else v for v in cells[side]] for side in ("width", "height")]
            data["size"] = categorical([f"{w}x{h}" for w, h in zip(*shown, strict=True)])
        kind = RUN_KINDS[name]
        if kind == "category":
            data[name] = categorical(values)
        elif kind == "int":
            data[name] = pd.array([None if v is None else int(v) for v in values], dtype="Int64")
        elif kind == "float":
            data[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        elif kind == "datetime":
            data[name] = pd.to_datetime(values, utc=True, format="ISO8601")
        else:
            column = np.empty(len(values), dtype=object)
            column[:] = [(v.split("\n") if v else []) for v in values] if kind == "images" else values
            data[name] = pd.Series(column, dtype=object)
    return pd.DataFrame(data)


def _odd(i: int) -> dict:
    """A row of odd values: new category texts only after the first thousand rows (texts that
    look like numbers or codes, quotes), more projects than a CASE would list, separators and
    line breaks in texts, one huge text, times in other offsets, a width that is a float."""
    row = _row(i, project=f"p{i % 40}")
    if i >= 1_200:
        row["kind"] = ["generate", "edit", "5", "-1", "x'y; --", "日本"][i % 6]
        row["quality"] = None if i % 7 == 0 else row["quality"]
    if i % 97 == 0:
        row["prompt"] = "a\x01b\nc\r\nd\x00e" + "é" * (i % 5)
        row["created_at"] = "2026-01-01T02:30:00.5+02:00"
    if i == 1_500:
        row["prompt"] = "x" * 3_000_000
        row["images"] = ["a.png", "", "b\u2028c.png"]
    if i == 1_700:
        row["width"] = 1024.5
    return row


def test_a_large_sqlite_read_is_the_frame_pandas_builds_from_its_rows(tmp_path, monkeypatch):
    from workbench.ledger.frames import Coded
    from workbench.ledger.sqlite import _RUN_SELECT

    monkeypatch.setattr("workbench.ledger.frames.SNAPSHOT_MIN_ROWS", 10**9)
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite")
    _fill(ledger, [_odd(i) for i in range(2_600)])
    rows = ledger._fetch(f"{_RUN_SELECT} ORDER BY rowid")
    expected = _pandas_frame(rows)
    frame = SQLiteLedger(ledger.path).runs()  # every row, fetched column by column
    pd.testing.assert_frame_equal(frame[list(expected.columns)], expected)
    assert frame["size"].cat.categories[-1] == "<NA>x1024" and "1024.5x1024" in set(frame["size"])
    # The same rows without the odd texts after the first ones: every category fetched as codes.
    plain = SQLiteLedger(tmp_path / "plain.sqlite")
    _fill(plain, [_row(i) for i in range(1_500)])
    expected = _pandas_frame(plain._fetch(f"{_RUN_SELECT} ORDER BY rowid"))
    again = SQLiteLedger(plain.path)
    frame = again.runs()
    pd.testing.assert_frame_equal(frame[list(expected.columns)], expected)
    fetched = again._rows_after(-1)
    assert all(isinstance(fetched.by_name[name], Coded) for name in ("kind", "backend", "status", "quality"))
    for each in (ledger, plain, again):
        each.close()


def _odd_for_postgresql(i: int) -> dict:
    """Odd rows PostgreSQL can hold (no NUL, no aggregate separator): NULLs in every nullable
    column some of the time and in some always, line breaks and other separators in texts, one
    huge text, times in other offsets, new category texts late."""
    row = _row(i, project=None if i % 5 else f"p{i % 40}", user=f"u{i % 32}", usage=None, cached_from=None)
    if i % 97 == 0:
        row.update(prompt="a\tb\nc\r\nd\x02e\u2028" + "é" * (i % 5), created_at="2026-01-01T02:30:00.5+02:00")
        row.update(spec=None, params=None, batch_id=None, seed=None, tokens_in=None, latency_ms=None)
    if i >= 1_200:
        row["kind"] = ["generate", "edit", "5", "x'y; --", "日本"][i % 5]
    if i == 1_500:
        row.update(prompt="x" * 3_000_000, images=["a.png", "", "b\u2028c.png"])
    return row


def test_a_large_postgresql_read_is_the_frame_pandas_builds_from_its_rows(postgres_url, monkeypatch):
    from workbench.ledger import postgres
    from workbench.ledger.frames import Coded, Fetched

    monkeypatch.setattr("workbench.ledger.frames.SNAPSHOT_MIN_ROWS", 10**9)
    pg = postgres.PostgresLedger(postgres_url)
    _fill(pg, [_odd_for_postgresql(i) for i in range(2_600)])
    expected = _pandas_frame(
        pg._fetch(f"SELECT seq, {postgres._RUN_READ} FROM runs ORDER BY seq", binary=True)
    )
    known = pg._first_texts(0, 2_600)  # (no separator: aggregates, the first rows' categories as codes)
    fetched = pg._columns_after(0, 2_600, whole=True, known=known)
    assert isinstance(fetched, Fetched) and set(known) >= {"kind", "backend", "status", "user"}
    assert len(known["user"]) == 32  # (32 texts: the most a code holds)
    assert all(isinstance(fetched.by_name[name], Coded) for name in ("user", "backend"))  # (no late texts)
    whole = postgres.PostgresLedger(postgres_url)
    pd.testing.assert_frame_equal(whole.runs()[list(expected.columns)], expected)
    monkeypatch.setattr(postgres, "_CHUNK_BYTES", 400_000)  # chunks of a few hundred rows, then the huge one
    chunked = postgres.PostgresLedger(postgres_url)
    pd.testing.assert_frame_equal(chunked.runs()[list(expected.columns)], expected)
    # A category text not among the first rows' that holds the separator: then row by row.
    _fill(pg, [{**_odd_for_postgresql(2_600), "kind": "a\x01b"}])
    assert pg._columns_after(0, 2_601, whole=True, known=pg._first_texts(0, 2_601)) is None
    expected = _pandas_frame(
        pg._fetch(f"SELECT seq, {postgres._RUN_READ} FROM runs ORDER BY seq", binary=True)
    )
    fresh = postgres.PostgresLedger(postgres_url)
    pd.testing.assert_frame_equal(fresh.runs()[list(expected.columns)], expected)
    for each in (pg, whole, chunked, fresh):
        each.close()
