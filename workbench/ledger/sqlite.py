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
from workbench.ledger.common import CommonLedger, check_filters
from workbench.ledger.frames import FEW_ROWS, Coded, Fetched, FrameCache, wait_for_save
from workbench.ledger.migrations import MIGRATIONS

if TYPE_CHECKING:
    import pandas as pd
else:  # a run recorded from a cold process (a draft from the CLI) never needs it
    pd = lazy_module("pandas")

__all__ = ["SQLiteLedger"]

_RUN_SELECT = f"SELECT rowid, {', '.join(RUN_COLUMNS)} FROM runs"
# Rows per fetch when many are read (see SQLiteLedger._rows_after): 256 measured best.
_CHUNK_ROWS = 256
# A category column is fetched as codes when its first rows hold at most this many texts (each
# one a WHEN of a CASE, tried in turn for every row).
_FEW_TEXTS = 32
_CATEGORIES = columns_of_kind("category")
_POSITION = {name: i + 1 for i, name in enumerate(RUN_COLUMNS)}  # (in a row: rowid first)


class SQLiteLedger(FrameCache, CommonLedger, Ledger):
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
        wait_for_save(self.snapshot_path)  # this process may be saving this log's frame still

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
        """Close the database (after this log's frame, if being saved, is written)."""
        self._wait_for_saves()
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
            limit: the newest ``limit`` runs only (0 or more; a negative one is refused).
            **filters: column=value or column=[values] for batch_id, status, kind, backend, model,
                preset, quality, fingerprint, parent_id, shard, id (``None`` in a list: missing;
                an empty list: no run).

        A frame of some runs only (filters, bounds or a limit) has the categories of its own rows,
        sorted, whether it was asked in SQL or masked from the kept frame.

        Rows are written once and never changed, so the Ledger keeps the frame it has read and
        fetches only rows recorded since; a large log's frame is also saved beside the database
        (``ledger.sqlite-frame.npz``, ``workbench.ledger.frames``) so that the first read of the
        next session is fast too.
        """
        frame = self._runs_frame(check_filters(filters), since, until, limit)
        return self._handed_out(self._with_scores(frame))  # text accuracy, one column per check

    # -- text checks and batches: workbench.ledger.common ------------------------------------
    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        return self._fetch(sql, params)

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            cursor = self._db.execute(sql, params)
            cursor.row_factory = None
            return cursor.fetchall()

    def _rows_after(self, last: int) -> list[tuple] | Fetched:
        """The rows recorded after rowid ``last``, for ``FrameCache``: a few as rows (rowid
        first), many column by column (``Fetched``).

        Many are fetched a few hundred at a time and turned into columns as they come: each
        chunk's row tuples are freed while still in the CPU's cache (a list of 100,000 rows,
        transposed and freed afterwards, cost ~70 ms more). A category column whose first rows
        hold a few texts comes after them as the index of its text among those (``Coded``): a
        small int is one Python keeps made, a text is a new object a cell (and, later, a hash
        to factorize it). The rows after the first ones are a second statement: rowids only
        grow, so it continues the first one's rows whatever committed in between."""
        with self._lock:
            cursor = self._db.execute(f"{_RUN_SELECT} WHERE rowid > ? ORDER BY rowid", (last,))
            cursor.row_factory = None
            rows = cursor.fetchmany(FEW_ROWS + 1)
            cursor.close()
            if len(rows) <= FEW_ROWS:
                return rows
            columns = [list(column) for column in zip(*rows, strict=True)]
            known: dict[str, list[str]] = {}
            for name in _CATEGORIES:
                texts = {v for v in columns[_POSITION[name]] if v is not None}
                if len(texts) <= _FEW_TEXTS and all(type(v) is str for v in texts):
                    known[name] = sorted(texts)
            selected, params = [], []
            for name in RUN_COLUMNS:
                if name in known:  # NULL: -1; a text not among them comes as it is (a TEXT
                    # column holds texts, blobs and NULLs only: an int in it is always a code)
                    whens = " ".join("WHEN ? THEN ?" for _ in known[name])
                    missing = f'ifnull("{name}", -1)'
                    selected.append(f'CASE "{name}" {whens} ELSE {missing} END' if whens else missing)
                    params += [x for code, text in enumerate(known[name]) for x in (text, code)]
                else:
                    selected.append(f'"{name}"')
            for name, texts in known.items():  # the first rows' texts as codes too
                code_of = {text: code for code, text in enumerate(texts)}
                position = _POSITION[name]
                columns[position] = [-1 if v is None else code_of[v] for v in columns[position]]
            cursor = self._db.execute(
                f"SELECT rowid, {', '.join(selected)} FROM runs WHERE rowid > ? ORDER BY rowid",
                (*params, rows[-1][0]),
            )
            del rows
            cursor.row_factory = None
            cursor.arraysize = _CHUNK_ROWS
            while chunk := cursor.fetchmany():
                for column, part in zip(columns, zip(*chunk, strict=True), strict=True):
                    column.extend(part)
        order = columns[0]
        by_name: dict[str, Any] = dict(zip(RUN_COLUMNS, columns[1:], strict=True))
        for name, texts in known.items():
            by_name[name] = Coded(by_name[name], texts)
        return Fetched(by_name, len(order), int(order[-1]))

    def _snapshot_meta(self) -> dict[str, Any]:
        return {"run_columns": RUN_COLUMNS, "pandas": pd.__version__}
