"""The run log's SQL that every database runs alike: runs by id and fingerprint, the text checks,
the batches and a batch's runs, and the ``runs()`` filters.

Written once, like the money SQL (``workbench.ledger.money``): ``?`` placeholders, turned into
``%s`` for psycopg by the ledger's ``PARAM``, run on the ledger's own transactions through
``_run`` / ``_read``. What differs between the databases is named on the ledger's class, not
written twice: ``ORDER_COLUMN`` (the column runs are numbered in as they commit: SQLite's
``rowid``, PostgreSQL's ``seq``) and ``JOB_SQL`` (a run's job key, out of its JSON params). A
database whose lone insert of a run needs more (PostgreSQL takes its write lock in the same
statement) overrides ``_record_alone``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workbench.credits import credits_value
from workbench.errors import LedgerError
from workbench.ledger.base import RUN_COLUMNS, STATUSES, utc_now

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "BATCH_COLUMNS",
    "FILTERS",
    "INDEXED",
    "CommonLedger",
    "check_filters",
    "masked",
    "no_gc",
    "quoted",
]

BATCH_COLUMNS = (
    "id created_at updated_at experiment source via backend model jobs status options remote_id "
    "remote_input_file remote_output_file remote_error_file error"
).split()
TEXT_CHECK_COLUMNS = ["run_id", "image_index", "text", "role", "read", "accuracy", "checked_at"]
# Columns that runs() filters on, with their SQL column.
FILTERS = {
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
    "user",
    "project",
}
# Filters a database answers from an index (a cold runs() may ask it instead of reading the whole log).
INDEXED = {"batch_id", "fingerprint", "id"}


def quoted(names: Sequence[str]) -> str:
    """Column names, quoted (``user`` is a reserved word in PostgreSQL; SQLite reads them alike)."""
    return ", ".join(f'"{name}"' for name in names)


RUN_LIST = quoted(RUN_COLUMNS)
_BATCH_LIST = quoted(BATCH_COLUMNS)
INSERT_RUN = f"INSERT INTO runs ({RUN_LIST}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})"


def run_values(run: Mapping[str, Any]) -> list[Any]:
    """A run row's values in ``RUN_COLUMNS`` order, as the table keeps them (images one a line)."""
    row = {name: run.get(name) for name in RUN_COLUMNS}
    if row["status"] not in STATUSES:
        raise LedgerError(f"Unknown run status {row['status']!r}.")
    row["created_at"] = row["created_at"] or utc_now()
    images = row["images"] or ()
    row["images"] = images if isinstance(images, str) else "\n".join(str(p) for p in images)
    for name in ("credits_estimated", "credits", "usd_estimated", "usd", "variant"):
        row[name] = row[name] or 0
    for name in ("credits_estimated", "credits"):
        row[name] = credits_value(row[name])  # two decimals, a plain float
    return list(row.values())


def run_dict(row: Sequence[Any]) -> dict[str, Any]:
    """A run's row (its values in ``RUN_COLUMNS`` order) as a dict, ``images`` as a list."""
    data = dict(zip(RUN_COLUMNS, tuple(row), strict=True))
    data["images"] = data["images"].split("\n") if data.get("images") else []
    return data


def check_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The ``runs()`` filters given a value (one sentence for a column it cannot filter on)."""
    for name in filters:
        if name not in FILTERS:
            raise LedgerError(f"runs() cannot filter on {name!r}: use one of {', '.join(sorted(FILTERS))}.")
    return {k: v for k, v in filters.items() if v is not None}


def utc(bound: str | datetime) -> pd.Timestamp:
    """A ``since``/``until`` bound as a UTC timestamp (naive: UTC)."""
    import pandas as pd

    stamp = pd.Timestamp(bound)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of cells become objects: it would
    otherwise walk them over and over (a third of the time of a large read) and find nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def masked(
    frame: pd.DataFrame, filters: Mapping[str, Any], since: Any, until: Any, limit: int | None
) -> pd.DataFrame:
    """The rows of a runs frame that ``runs()``'s filters, bounds and limit keep."""
    import numpy as np

    if filters or since is not None or until is not None:  # (the whole log needs no mask)
        mask = np.ones(len(frame), dtype=bool)
        for name, value in filters.items():
            values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
            known = [v for v in values if v is not None]
            keep = frame[name].isin(known).to_numpy(dtype=bool)
            if len(known) < len(values):  # (None: a missing value, as SQL's IS NULL)
                keep = keep | frame[name].isna().to_numpy(dtype=bool)
            mask &= keep
        if since is not None:
            mask &= (frame["created_at"] >= utc(since)).to_numpy(dtype=bool)
        if until is not None:
            mask &= (frame["created_at"] < utc(until)).to_numpy(dtype=bool)
        frame = frame[mask] if not mask.all() else frame
    if limit is not None:
        frame = frame.tail(int(limit))
    return frame


class CommonLedger:
    """The SQL both ledgers share; mixed into ``SQLiteLedger`` and ``PostgresLedger`` before
    ``Ledger`` (whose ``MoneyLedger`` gives ``_run`` and ``_read``)."""

    ORDER_COLUMN = "rowid"  # PostgreSQL: "seq"
    JOB_SQL = "json_extract(params, '$.job')"  # PostgreSQL: "params::jsonb ->> 'job'"

    _accuracy: Any = None
    _accuracy_key: Any = None

    if TYPE_CHECKING:  # provided by the ledger: transaction(), and _run / _read (MoneyLedger)

        def transaction(self) -> Any: ...
        def _run(self, db: Any, sql: str, params: Sequence[Any] = ()) -> Any: ...
        def _read(self, sql: str, params: Sequence[Any] = (), db: Any = None) -> list[Any]: ...
        def add_score_columns(self, frame: pd.DataFrame) -> pd.DataFrame: ...

    # -- runs ---------------------------------------------------------------------------------
    def record(self, run: Mapping[str, Any], *, db: Any = None) -> None:
        """Insert one run row (``RUN_COLUMNS``); ``db``: a transaction already open (its charge)."""
        values = run_values(run)
        if db is not None:
            self._run(db, INSERT_RUN, values)
        else:
            self._record_alone(values)

    def _record_alone(self, values: list[Any]) -> None:
        with self.transaction() as tx:
            self._run(tx, INSERT_RUN, values)

    def get(self, run_id: str) -> dict[str, Any] | None:
        """One run's row (``images`` as a list), or None."""
        rows = self._read(f"SELECT {RUN_LIST} FROM runs WHERE id = ?", (run_id,))
        return run_dict(rows[0]) if rows else None

    def find_ok(self, fingerprint: str) -> dict[str, Any] | None:
        """The latest successful (not cached) run with this fingerprint."""
        rows = self._read(
            f"SELECT {RUN_LIST} FROM runs WHERE fingerprint = ? AND status = 'ok' "
            "ORDER BY created_at DESC LIMIT 1",
            (fingerprint,),
        )
        return run_dict(rows[0]) if rows else None

    def count(self) -> int:
        """How many runs the log holds."""
        return int(self._read("SELECT count(*) FROM runs")[0][0])

    def mark(self) -> int:
        """A position in the run log: runs recorded later are ``since=`` this mark."""
        return int(self._read(f"SELECT coalesce(max({self.ORDER_COLUMN}), 0) FROM runs")[0][0])

    def _with_scores(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A runs() frame with its text accuracy and one column per check (``ScoresLedger``)."""
        frame["text_accuracy"] = self._text_accuracy(frame)
        return self.add_score_columns(frame)  # (ScoresLedger)

    # -- text checks --------------------------------------------------------------------------
    def record_text_checks(
        self, run_id: str, checks: Sequence[Mapping[str, Any]], *, image_index: int = 0, db: Any = None
    ) -> None:
        """Store the OCR check of a run's exact texts: text, role, read, accuracy per text;
        ``db``: a transaction already open (the scores of the same check)."""
        now = utc_now()
        rows = [
            (run_id, image_index, c["text"], c.get("role"), c.get("read"), float(c["accuracy"]), now)
            for c in checks
        ]
        sql = f"INSERT INTO text_checks ({', '.join(TEXT_CHECK_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        if db is None:
            with self.transaction() as tx:
                for row in rows:
                    self._run(tx, sql, row)
            return
        for row in rows:
            self._run(db, sql, row)

    def text_checks(self, run_id: str | None = None) -> pd.DataFrame:
        """The text checks (all, or one run's) as a DataFrame."""
        import pandas as pd

        sql = f"SELECT {', '.join(TEXT_CHECK_COLUMNS)} FROM text_checks"
        params: tuple[Any, ...] = ()
        if run_id is not None:
            sql, params = sql + " WHERE run_id = ?", (run_id,)
        rows = [tuple(r) for r in self._read(sql + " ORDER BY id", params)]
        frame = pd.DataFrame(rows, columns=TEXT_CHECK_COLUMNS)
        frame["accuracy"] = frame["accuracy"].astype("float64")
        frame["checked_at"] = pd.to_datetime(frame["checked_at"], utc=True, format="ISO8601")
        return frame

    def _text_accuracy(self, frame: pd.DataFrame) -> np.ndarray:
        """Each run's mean text accuracy (its latest check), else its cache source's; NaN if unchecked."""
        import numpy as np
        import pandas as pd

        key = tuple(self._read("SELECT max(id), count(*) FROM text_checks")[0])
        if key != self._accuracy_key:
            rows = self._read(
                "SELECT run_id, avg(accuracy) FROM text_checks t WHERE checked_at = "
                "(SELECT max(checked_at) FROM text_checks u WHERE u.run_id = t.run_id) GROUP BY run_id"
            )
            self._accuracy = pd.Series(dict(tuple(r) for r in rows), dtype="float64")
            self._accuracy_key = key
        scores = self._accuracy
        if scores is None or scores.empty or frame.empty:
            return np.full(len(frame), np.nan)
        own = frame["id"].map(scores)
        inherited = frame["cached_from"].map(scores)
        return own.fillna(inherited).to_numpy(dtype="float64")

    # -- batches ------------------------------------------------------------------------------
    def batch_save(self, batch: Mapping[str, Any]) -> bool:
        """Record a new batch (its ``batches`` columns); when it is known already, only its
        ``status`` is set. Returns whether it was new."""
        import json

        unknown = set(batch) - set(BATCH_COLUMNS)
        if unknown:
            raise LedgerError(f"A batch has no column {sorted(unknown)[0]!r}.")
        now = utc_now()
        row = {"created_at": now, "updated_at": now, **batch}
        if isinstance(row.get("options"), Mapping):
            row["options"] = json.dumps(dict(row["options"]), default=str)
        with self.transaction() as db:
            if self._read("SELECT 1 FROM batches WHERE id = ?", (row["id"],), db=db):
                self._run(
                    db,
                    "UPDATE batches SET status = ?, updated_at = ? WHERE id = ?",
                    (row["status"], now, row["id"]),
                )
                return False
            self._run(
                db,
                f"INSERT INTO batches ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
            return True

    def batch_update(self, batch_id: str, **values: Any) -> None:
        """Set columns of a batch's record (status, remote ids, error); ``updated_at`` is now."""
        unknown = set(values) - set(BATCH_COLUMNS)
        if unknown or "id" in values:
            raise LedgerError(f"A batch's {sorted(unknown or {'id'})[0]!r} cannot be set.")
        columns = {**values, "updated_at": utc_now()}
        sql = ", ".join(f"{name} = ?" for name in columns)
        with self.transaction() as db:
            self._run(db, f"UPDATE batches SET {sql} WHERE id = ?", (*columns.values(), batch_id))

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        """A batch's record, or None."""
        rows = self._read(f"SELECT {_BATCH_LIST} FROM batches WHERE id = ?", (batch_id,))
        return dict(zip(BATCH_COLUMNS, tuple(rows[0]), strict=True)) if rows else None

    def batches(self) -> list[dict[str, Any]]:
        """Every batch's record, oldest first."""
        rows = self._read(f"SELECT {_BATCH_LIST} FROM batches ORDER BY created_at")
        return [dict(zip(BATCH_COLUMNS, tuple(row), strict=True)) for row in rows]

    def batch_jobs(
        self, batch_id: str, *, statuses: Sequence[str] | None = None, since: int | None = None
    ) -> set[str]:
        """The job keys of a batch's runs (with one of ``statuses``; recorded after ``since``)."""
        sql = f"SELECT DISTINCT {self.JOB_SQL} FROM runs WHERE batch_id = ?"
        params: list[Any] = [batch_id]
        if statuses is not None:
            if not statuses:
                return set()
            sql += f" AND status IN ({', '.join('?' * len(statuses))})"
            params += list(statuses)
        if since is not None:
            sql += f" AND {self.ORDER_COLUMN} > ?"
            params.append(since)
        return {row[0] for row in self._read(sql, params) if row[0]}

    def batch_job_statuses(self, batch_id: str) -> list[tuple[str | None, str]]:
        """``(job key, status)`` of each of a batch's runs, in the order recorded."""
        rows = self._read(
            f"SELECT {self.JOB_SQL}, status FROM runs WHERE batch_id = ? ORDER BY {self.ORDER_COLUMN}",
            (batch_id,),
        )
        return [(row[0], row[1]) for row in rows]

    def batch_spend(self, batch_id: str, *, since: int | None = None) -> tuple[float, float]:
        """Credits and dollars of a batch's runs (recorded after the mark ``since``)."""
        credits, usd = self._read(
            "SELECT coalesce(sum(credits), 0), coalesce(sum(usd), 0) FROM runs "
            f"WHERE batch_id = ? AND {self.ORDER_COLUMN} > ?",
            (batch_id, -1 if since is None else since),
        )[0]
        return credits_value(credits), float(usd)
