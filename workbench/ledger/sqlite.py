"""The SQLite run log: one row per run, read as a typed pandas DataFrame; the wallet's journal
and holds; the batches.

SQLite in WAL mode with a busy timeout lets several processes (papermill kernels, a CLI and a
notebook) write at once without losing rows. The schema is ``workbench.ledger.migrations``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import LedgerError
from workbench.lazy import lazy_module
from workbench.ledger.base import RUN_COLUMNS, Ledger, columns_of_kind, utc_now
from workbench.ledger.common import INDEXED, CommonLedger, check_filters, masked, utc
from workbench.ledger.common import no_gc as _no_gc
from workbench.ledger.migrations import MIGRATIONS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from workbench.ledger.growing import GrowingFrame
else:  # a run recorded from a cold process (a draft from the CLI) never needs them
    np = lazy_module("numpy")
    pd = lazy_module("pandas")

__all__ = ["SQLiteLedger"]

_CATEGORIES = columns_of_kind("category")
_INTEGERS = columns_of_kind("int")
_FLOATS = columns_of_kind("float")
# A cold runs() that reads this many rows from SQLite saves the frame beside the ledger, so the next
# session loads it instead (see workbench.ledger.snapshot); fewer rows read fast enough without one.
SNAPSHOT_MIN_ROWS = 20_000
# Up to this many new rows, a refresh writes them into the cached frame's buffers as plain values.
_FEW_ROWS = 1_000


class SQLiteLedger(CommonLedger, Ledger):
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
        self._growing: GrowingFrame | None = None
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

    # -- runs (record, get, find_ok, count, mark: workbench.ledger.common) -----------------------
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
        filters = check_filters(filters)
        narrow = filters or since is not None or until is not None
        indexed = any(name in INDEXED for name in filters) or since is not None or until is not None
        if self._cache is None and (
            limit is not None or indexed or (narrow and not self.snapshot_path.exists())
        ):
            # A cold cache and a question SQLite answers from an index (the newest N, a batch, a
            # fingerprint, a time range): read only those rows, not the whole log.
            frame = self._select(filters, since, until, limit=limit)
        else:  # (the whole log needs no mask: a refresh stays O(new rows))
            frame = masked(self._cached_frame(), filters, since, until, limit)
        frame = frame.reset_index(drop=True)  # a new frame: the caller's changes never reach the cache
        return self._with_scores(frame)  # text accuracy, one column per check

    # -- text checks and batches: workbench.ledger.common ------------------------------------
    def _select(
        self, filters: dict[str, Any], since: Any, until: Any, *, limit: int | None = None
    ) -> pd.DataFrame:
        where, params = [], []
        for name, value in filters.items():
            values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
            where.append(f"{name} IN ({', '.join('?' * len(values))})")
            params += values
        for op, bound in ((">=", since), ("<", until)):
            if bound is not None:
                where.append(f"created_at {op} ?")
                params.append(utc(bound).isoformat())
        sql = f"SELECT rowid, {', '.join(RUN_COLUMNS)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if limit is not None:  # the newest `limit`, back in the order they were recorded
            sql = f"SELECT * FROM ({sql} ORDER BY rowid DESC LIMIT ?) ORDER BY rowid"
            params.append(max(0, int(limit)))
        else:
            sql += " ORDER BY rowid"
        with _no_gc():
            return _frame(self._fetch(sql, params))

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
            if self._few_appended(rows):
                new = None  # written straight into the growing frame's buffers
            else:
                new = _frame(rows) if rows or self._cache is None else None
        if self._cache is None:
            self._cache = new
        elif new is not None:
            self._cache = self._append(new)
        self._cache = self._growable(self._cache)
        if rows:
            self._cache_rowid = rows[-1][0]
        if len(rows) >= SNAPSHOT_MIN_ROWS:
            self._save_snapshot()
        return self._cache

    def _few_appended(self, rows: list[tuple]) -> bool:
        """A few new rows (a refresh after some runs) go into the cache's buffers as plain values,
        without a frame of their own; False when that does not apply (then ``_frame`` does it)."""
        growing = self._growing
        if not rows or len(rows) > _FEW_ROWS or growing is None or growing.frame is not self._cache:
            return False
        columns = list(zip(*rows, strict=True))[1:]
        by_name = dict(zip(RUN_COLUMNS, columns, strict=True))
        by_name["images"] = tuple(s.split("\n") if s else [] for s in by_name["images"])
        values: dict[str, list[Any]] = {}
        for name in growing.columns:
            if name == "size":
                values[name] = [f"{w}x{h}" for w, h in zip(by_name["width"], by_name["height"], strict=True)]
            elif name in by_name:
                values[name] = list(by_name[name])
            else:
                return False
        try:
            growing.append_values(values)
        except (TypeError, ValueError, KeyError):  # a value of another kind: the slower path
            self._growing = None
            return False
        self._cache = growing.frame
        return True

    def _append(self, new: pd.DataFrame) -> pd.DataFrame:
        """The cache with ``new`` rows after it: written into the spare room of the columns'
        buffers (``GrowingFrame``), not a copy of every row as ``pd.concat`` makes."""
        growing = self._growing
        if growing is not None and growing.frame is self._cache:
            try:
                growing.append(new)
                return growing.frame
            except (TypeError, ValueError):  # rows of another kind: copy as before
                pass
        self._growing = None
        return _concat(self._cache, new)

    def _growable(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` kept in buffers with room for the runs to come (one copy, once)."""
        if self._growing is not None and self._growing.frame is frame:
            return frame
        from workbench.ledger.growing import GrowingFrame

        try:
            self._growing = GrowingFrame(frame)
        except TypeError:  # a column kind it does not keep: appends copy the frame
            self._growing = None
            return frame
        return self._growing.frame

    def _snapshot_meta(self) -> dict[str, Any]:
        return {"run_columns": RUN_COLUMNS, "pandas": pd.__version__}

    def _load_snapshot(self) -> None:
        """Start the cache from the saved frame, if it is this ledger's and matches its rows."""
        saved = self._saved_frame(self.snapshot_path, "last_rowid")
        if saved is not None:
            self._cache, self._cache_rowid = saved

    def _save_snapshot(self) -> None:
        frame = self._cache
        if frame is None or frame.empty:
            return
        meta = {**self._snapshot_meta(), "last_rowid": int(self._cache_rowid), "last_id": frame["id"].iat[-1]}
        from workbench.ledger.snapshot import save_frame

        save_frame(self.snapshot_path, frame, meta)


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
        frame[name] = pd.api.types.union_categoricals([old[name], new[name]])
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
