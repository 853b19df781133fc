"""The run log: one SQLite row per run, read as a typed pandas DataFrame.

SQLite in WAL mode with a busy timeout lets several processes (papermill kernels, a CLI and a
notebook) write at once without losing rows. The schema grows by append-only, named migrations:
each is a function registered in order; the names applied are kept in ``_migrations``.
"""

from __future__ import annotations

import gc
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from workbench.errors import LedgerError
from workbench.snapshot import load_frame, save_frame

__all__ = ["MIGRATIONS", "RUN_COLUMNS", "STATUSES", "Ledger", "utc_now"]

STATUSES = ("ok", "cached", "blocked", "failed")
WELCOME_CREDITS = 10

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register a migration; never edit or reorder one that has shipped, append a new one."""
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_runs(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            batch_id TEXT,
            shard INTEGER,
            parent_id TEXT,
            kind TEXT NOT NULL,
            backend TEXT NOT NULL,
            model TEXT,
            preset TEXT,
            prompt TEXT NOT NULL,
            spec TEXT,
            params TEXT,
            width INTEGER,
            height INTEGER,
            quality TEXT,
            n INTEGER,
            seed INTEGER,
            variant INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL CHECK (status IN ('ok', 'cached', 'blocked', 'failed')),
            credits_estimated INTEGER NOT NULL DEFAULT 0,
            credits INTEGER NOT NULL DEFAULT 0,
            usd_estimated REAL NOT NULL DEFAULT 0,
            usd REAL NOT NULL DEFAULT 0,
            tokens_in INTEGER,
            tokens_out INTEGER,
            usage TEXT,
            latency_ms REAL,
            fingerprint TEXT,
            images TEXT NOT NULL DEFAULT '',
            cached_from TEXT,
            error TEXT
        )
        """
    )
    db.execute("CREATE INDEX runs_fingerprint ON runs (fingerprint, status)")
    db.execute("CREATE INDEX runs_batch ON runs (batch_id)")
    db.execute("CREATE INDEX runs_created ON runs (created_at)")


@migration
def m002_wallet(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE wallet_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('welcome', 'topup', 'charge', 'adjust')),
            credits INTEGER NOT NULL,
            run_id TEXT,
            note TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE reservations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            run_id TEXT NOT NULL,
            credits INTEGER NOT NULL,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL
        )
        """
    )
    db.execute(
        "INSERT INTO wallet_events (created_at, kind, credits, note) VALUES (?, 'welcome', ?, ?)",
        (utc_now(), WELCOME_CREDITS, "welcome credits"),
    )


@migration
def m003_batches(db: sqlite3.Connection) -> None:
    """One row per batch: what ran, on what, and (for the OpenAI Batch API) the remote ids."""
    db.execute(
        """
        CREATE TABLE batches (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            experiment TEXT NOT NULL,
            source TEXT,
            via TEXT NOT NULL DEFAULT 'papermill',
            backend TEXT,
            model TEXT,
            jobs INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL,
            options TEXT,
            remote_id TEXT,
            remote_input_file TEXT,
            remote_output_file TEXT,
            remote_error_file TEXT,
            error TEXT
        )
        """
    )


@migration
def m004_text_checks(db: sqlite3.Connection) -> None:
    # One row per exact text read back from a run's image by OCR; written once, never updated.
    db.execute(
        """
        CREATE TABLE text_checks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            image_index INTEGER NOT NULL DEFAULT 0,
            text TEXT NOT NULL,
            role TEXT,
            read TEXT,
            accuracy REAL NOT NULL,
            checked_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX text_checks_run ON text_checks (run_id)")


# Columns of the runs table in order; images are kept newline-separated (fast to split).
RUN_COLUMNS = (
    "id created_at batch_id shard parent_id kind backend model preset prompt spec params width height "
    "quality n seed variant status credits_estimated credits usd_estimated usd tokens_in tokens_out "
    "usage latency_ms fingerprint images cached_from error"
).split()

_CATEGORIES = ("kind", "backend", "model", "quality", "status", "preset")
_INTEGERS = (
    "shard",
    "width",
    "height",
    "n",
    "seed",
    "variant",
    "credits_estimated",
    "credits",
    "tokens_in",
    "tokens_out",
)
_FLOATS = ("usd_estimated", "usd", "latency_ms")
# A cold runs() that reads this many rows from SQLite saves the frame beside the ledger, so the next
# session loads it instead (see workbench.snapshot); fewer rows read fast enough without one.
SNAPSHOT_MIN_ROWS = 20_000
# Columns that runs() filters on, with their SQL column.
_FILTERS = {
    "batch_id",
    "status",
    "kind",
    "backend",
    "model",
    "preset",
    "quality",
    "fingerprint",
    "parent_id",
    "shard",
    "id",
}


def utc_now() -> str:
    """Now in UTC as ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Ledger:
    """The SQLite run log (and the wallet's tables) at ``path``.

    One connection per Ledger, shared by threads under a lock; writes take ``BEGIN IMMEDIATE`` so
    several processes serialise on the database's write lock (WAL keeps readers unblocked).
    """

    def __init__(self, path: str | Path, *, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.snapshot_path = self.path.with_name(self.path.name + "-frame.npz")
        self._lock = threading.RLock()
        self._cache: pd.DataFrame | None = None
        self._cache_rowid = -1
        self._accuracy: pd.Series | None = None
        self._accuracy_key: tuple[Any, ...] | None = None
        try:
            self._db = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self.migrate()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"The run log {self.path} cannot be opened: {exc}.") from None

    # -- schema -------------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied, each in its own transaction; return their names."""
        applied_now = []
        with self.transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
        done = {row[0] for row in self._db.execute("SELECT name FROM _migrations")}
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            with self.transaction() as db:
                # Another process may have applied it while we waited for the write lock.
                if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                    continue
                fn(db)
                db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, utc_now()))
                applied_now.append(name)
        return applied_now

    def applied_migrations(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT name FROM _migrations ORDER BY rowid")]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: everything inside commits together or not at all."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- runs ---------------------------------------------------------------------------------
    def record(self, run: Mapping[str, Any], *, db: sqlite3.Connection | None = None) -> None:
        """Insert one run row. Pass ``db`` to join a transaction already open (wallet commit)."""
        row = {name: run.get(name) for name in RUN_COLUMNS}
        if row["status"] not in STATUSES:
            raise LedgerError(f"Unknown run status {row['status']!r}.")
        row["created_at"] = row["created_at"] or utc_now()
        images = row["images"] or ()
        row["images"] = images if isinstance(images, str) else "\n".join(str(p) for p in images)
        for name in ("credits_estimated", "credits", "usd_estimated", "usd", "variant"):
            row[name] = row[name] or 0
        sql = f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})"
        if db is not None:
            db.execute(sql, list(row.values()))
        else:
            with self.transaction() as tx:
                tx.execute(sql, list(row.values()))

    def get(self, run_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM runs WHERE id = ?", (run_id,))
        return _row_dict(rows[0]) if rows else None

    def find_ok(self, fingerprint: str) -> dict[str, Any] | None:
        """The latest successful (not cached) run with this fingerprint."""
        rows = self.query(
            "SELECT * FROM runs WHERE fingerprint = ? AND status = 'ok' ORDER BY created_at DESC LIMIT 1",
            (fingerprint,),
        )
        return _row_dict(rows[0]) if rows else None

    def count(self) -> int:
        return self.query("SELECT count(*) FROM runs")[0][0]

    def runs(
        self,
        *,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        limit: int | None = None,
        **filters: Any,
    ) -> pd.DataFrame:
        """Runs as a typed DataFrame, in the order they were recorded.

        Args:
            since/until: bounds on ``created_at`` (datetime or ISO text, UTC when naive).
            limit: the newest ``limit`` runs only.
            **filters: column=value or column=[values] for batch_id, status, kind, backend, model,
                preset, quality, fingerprint, parent_id, shard, id.

        Rows are written once and never changed, so the Ledger keeps the frame it has read and
        fetches only rows recorded since; a large log's frame is also saved beside the database
        (``ledger.sqlite-frame.npz``) so that the first read of the next session is fast too.
        """
        for name in filters:
            if name not in _FILTERS:
                raise LedgerError(
                    f"runs() cannot filter on {name!r}: use one of {', '.join(sorted(_FILTERS))}."
                )
        filters = {k: v for k, v in filters.items() if v is not None}
        narrow = filters or since is not None or until is not None
        if self._cache is None and narrow and not self.snapshot_path.exists():
            frame = self._select(filters, since, until)  # a narrow question on a cold cache: ask SQLite
        else:
            frame = self._cached_frame()
            mask = np.ones(len(frame), dtype=bool)
            for name, value in filters.items():
                values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
                mask &= frame[name].isin(values).to_numpy(dtype=bool)
            if since is not None:
                mask &= (frame["created_at"] >= _utc(since)).to_numpy(dtype=bool)
            if until is not None:
                mask &= (frame["created_at"] < _utc(until)).to_numpy(dtype=bool)
            frame = frame[mask] if not mask.all() else frame
        if limit is not None:
            frame = frame.tail(int(limit))
        frame = frame.reset_index(drop=True)  # a new frame: the caller's changes never reach the cache
        frame["text_accuracy"] = self._text_accuracy(frame)
        return frame

    # -- text checks --------------------------------------------------------------------------
    def record_text_checks(
        self, run_id: str, checks: Sequence[Mapping[str, Any]], *, image_index: int = 0
    ) -> None:
        """Store the OCR check of a run's exact texts: text, role, read, accuracy per text."""
        now = utc_now()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO text_checks (run_id, image_index, text, role, read, accuracy, checked_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (run_id, image_index, c["text"], c.get("role"), c.get("read"), float(c["accuracy"]), now)
                    for c in checks
                ],
            )

    def text_checks(self, run_id: str | None = None) -> pd.DataFrame:
        """The text checks (all, or one run's) as a DataFrame."""
        sql = "SELECT run_id, image_index, text, role, read, accuracy, checked_at FROM text_checks"
        params: tuple[Any, ...] = ()
        if run_id is not None:
            sql, params = sql + " WHERE run_id = ?", (run_id,)
        rows = self._fetch(sql + " ORDER BY id", params)
        columns = ["run_id", "image_index", "text", "role", "read", "accuracy", "checked_at"]
        frame = pd.DataFrame(rows, columns=columns)
        frame["accuracy"] = frame["accuracy"].astype("float64")
        frame["checked_at"] = pd.to_datetime(frame["checked_at"], utc=True, format="ISO8601")
        return frame

    def _text_accuracy(self, frame: pd.DataFrame) -> np.ndarray:
        """Each run's mean text accuracy (its latest check), else its cache source's; NaN if unchecked."""
        key = tuple(self._fetch("SELECT max(id), count(*) FROM text_checks")[0])
        if key != self._accuracy_key:
            rows = self._fetch(
                "SELECT run_id, avg(accuracy) FROM text_checks t WHERE checked_at = "
                "(SELECT max(checked_at) FROM text_checks u WHERE u.run_id = t.run_id) GROUP BY run_id"
            )
            self._accuracy = pd.Series(dict(rows), dtype="float64")
            self._accuracy_key = key
        scores = self._accuracy
        if scores is None or scores.empty or frame.empty:
            return np.full(len(frame), np.nan)
        own = frame["id"].map(scores)
        inherited = frame["cached_from"].map(scores)
        return own.fillna(inherited).to_numpy(dtype="float64")

    def _select(self, filters: dict[str, Any], since: Any, until: Any) -> pd.DataFrame:
        where, params = [], []
        for name, value in filters.items():
            values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
            where.append(f"{name} IN ({', '.join('?' * len(values))})")
            params += values
        for op, bound in ((">=", since), ("<", until)):
            if bound is not None:
                where.append(f"created_at {op} ?")
                params.append(_utc(bound).isoformat())
        sql = f"SELECT rowid, {', '.join(RUN_COLUMNS)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with _no_gc():
            return _frame(self._fetch(sql + " ORDER BY rowid", params))

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            cursor = self._db.execute(sql, params)
            cursor.row_factory = None
            return cursor.fetchall()

    def _cached_frame(self) -> pd.DataFrame:
        if self._cache is None:
            self._load_snapshot()
        last = -1 if self._cache is None else int(self._cache_rowid)
        with _no_gc():
            rows = self._fetch(
                f"SELECT rowid, {', '.join(RUN_COLUMNS)} FROM runs WHERE rowid > ? ORDER BY rowid", (last,)
            )
            new = _frame(rows) if rows or self._cache is None else None
        if self._cache is None:
            self._cache = new
        elif new is not None:
            self._cache = _concat(self._cache, new)
        if rows:
            self._cache_rowid = rows[-1][0]
        if len(rows) >= SNAPSHOT_MIN_ROWS:
            self._save_snapshot()
        return self._cache

    def _snapshot_meta(self) -> dict[str, Any]:
        return {"run_columns": RUN_COLUMNS, "pandas": pd.__version__}

    def _load_snapshot(self) -> None:
        """Start the cache from the saved frame, if it is this ledger's and matches its rows."""
        with _no_gc():
            loaded = load_frame(self.snapshot_path)
        if loaded is None:
            return
        frame, header = loaded
        if any(header.get(k) != v for k, v in self._snapshot_meta().items()):
            return
        last_rowid, last_id = header.get("last_rowid"), header.get("last_id")
        check = self._fetch(
            "SELECT (SELECT id FROM runs WHERE rowid = ?), (SELECT count(*) FROM runs WHERE rowid <= ?)",
            (last_rowid, last_rowid),
        )[0]
        if check != (last_id, len(frame)) or (len(frame) and frame["id"].iat[-1] != last_id):
            return  # another ledger's snapshot, or one from before the file was replaced
        self._cache, self._cache_rowid = frame, last_rowid

    def _save_snapshot(self) -> None:
        frame = self._cache
        if frame is None or frame.empty:
            return
        meta = {**self._snapshot_meta(), "last_rowid": int(self._cache_rowid), "last_id": frame["id"].iat[-1]}
        save_frame(self.snapshot_path, frame, meta)


def _utc(bound: str | datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(bound)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _row_dict(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["images"] = data["images"].split("\n") if data.get("images") else []
    return data


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of cells become objects: it would
    otherwise walk them over and over (a third of the time of a large read) and find nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _frame(rows: list[tuple]) -> pd.DataFrame:
    """Build the typed frame column by column (no dtype guessing: it is the slow part)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * (len(RUN_COLUMNS) + 1)
    data: dict[str, Any] = {}
    for name, values in zip(RUN_COLUMNS, columns[1:], strict=True):
        if name == "created_at":
            data[name] = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
        elif name in _CATEGORIES:
            data[name] = _categorical(values)
        elif name in _INTEGERS:
            data[name] = pd.array(values, dtype="Int64")
        elif name in _FLOATS:
            data[name] = np.array(values, dtype="float64")
        elif name == "images":
            data[name] = pd.Series([s.split("\n") if s else [] for s in values], dtype=object)
        else:
            data[name] = pd.Series(values, dtype=object)
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
    frame.insert(frame.columns.get_loc("width"), "size", _sizes(frame))
    return frame


def _concat(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Append rows, keeping categorical columns categorical (their categories are united)."""
    frame = pd.concat([old, new], ignore_index=True)
    for name in (*_CATEGORIES, "size"):
        frame[name] = union_categoricals([old[name], new[name]])
    return frame


def _sizes(frame: pd.DataFrame) -> pd.Categorical:
    sizes = [f"{w}x{h}" for w, h in zip(frame["width"].tolist(), frame["height"].tolist(), strict=True)]
    return _categorical(sizes)


def _categorical(values: Sequence[str | None]) -> pd.Categorical:
    """Sorted categories, always of the string dtype (even when empty) so appends can unite them."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))  # None becomes code -1
    order = np.argsort(uniques.astype(str), kind="stable")
    rank = np.empty(len(order), dtype=codes.dtype)
    rank[order] = np.arange(len(order), dtype=codes.dtype)
    codes = np.where(codes >= 0, rank[codes] if len(rank) else codes, -1)
    return pd.Categorical.from_codes(codes, categories=pd.Index(uniques[order], dtype="str"))
