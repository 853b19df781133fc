"""Check scores in the run log: one row per run, image and check (``workbench.checks``).

Written once for SQLite and PostgreSQL, like the money SQL (``?`` placeholders, turned into
``%s`` for psycopg by the ledger's ``PARAM``). Rows are appended, never changed: a run checked
again gets new rows, and ``runs()`` shows each check's latest score as a column of its own
(a cached run shows its source's). The table is migration ``m009_scores``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SCORE_COLUMNS", "SCORE_FRAME_COLUMNS", "ScoresLedger", "score_columns"]

# The checks that always have a column in runs() (text accuracy has its own, from the text checks).
SCORE_FRAME_COLUMNS = ("palette", "contrast", "safe_area", "aspect", "judge")
SCORE_COLUMNS = "run_id image_index check_name score passed threshold reason judge_run_id checked_at".split()
_INSERT = f"INSERT INTO scores ({', '.join(SCORE_COLUMNS)}) VALUES ({', '.join('?' * len(SCORE_COLUMNS))})"

SQLITE_TABLE = """
CREATE TABLE scores (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    image_index INTEGER NOT NULL DEFAULT 0,
    check_name TEXT NOT NULL,
    score REAL,
    passed INTEGER,
    threshold REAL,
    reason TEXT,
    judge_run_id TEXT,
    checked_at TEXT NOT NULL
)
"""
POSTGRES_TABLE = """
CREATE TABLE scores (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id TEXT NOT NULL,
    image_index INTEGER NOT NULL DEFAULT 0,
    check_name TEXT NOT NULL,
    score DOUBLE PRECISION,
    passed INTEGER,
    threshold DOUBLE PRECISION,
    reason TEXT,
    judge_run_id TEXT,
    checked_at TEXT NOT NULL
)
"""
INDEX = "CREATE INDEX scores_run ON scores (run_id, check_name)"


def score_columns(names: Sequence[str]) -> list[str]:
    """The runs() columns for these check names: the standard ones, then any others, in order."""
    return list(SCORE_FRAME_COLUMNS) + [
        n for n in names if n not in SCORE_FRAME_COLUMNS and n != "text_accuracy"
    ]


class ScoresLedger:
    """Scores on the ledger's own transactions; mixed into ``Ledger`` with ``MoneyLedger``."""

    _scores_key: Any = None
    _scores_latest: Any = None

    def record_scores(
        self, run_id: str, results: Sequence[Mapping[str, Any]], *, image_index: int = 0, db: Any = None
    ) -> None:
        """Append one row per check result (``check``, ``score``, ``passed``, ``threshold``,
        ``reason``, ``judge_run_id``) for a run's image; ``db``: a transaction already open."""
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        rows = [
            (
                run_id,
                int(image_index),
                str(r["check"]),
                None if r.get("score") is None else float(r["score"]),
                None if r.get("passed") is None else int(bool(r["passed"])),
                None if r.get("threshold") is None else float(r["threshold"]),
                r.get("reason"),
                r.get("judge_run_id"),
                now,
            )
            for r in results
        ]
        if not rows:
            return
        if db is not None:
            for row in rows:
                self._run(db, _INSERT, row)  # type: ignore[attr-defined]
            return
        with self.transaction() as tx:  # type: ignore[attr-defined]
            for row in rows:
                self._run(tx, _INSERT, row)  # type: ignore[attr-defined]

    def scores(self, run_id: str | None = None, *, check: str | None = None) -> pd.DataFrame:
        """The stored scores (all, one run's, one check's), oldest first."""
        import pandas as pd

        sql = f"SELECT {', '.join(SCORE_COLUMNS)} FROM scores"
        where, params = [], []
        if run_id is not None:
            where.append("run_id = ?")
            params.append(run_id)
        if check is not None:
            where.append("check_name = ?")
            params.append(check)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._read(sql + " ORDER BY id", params)  # type: ignore[attr-defined]
        frame = pd.DataFrame([tuple(r) for r in rows], columns=SCORE_COLUMNS).rename(
            columns={"check_name": "check"}
        )
        frame["score"] = frame["score"].astype("float64")
        frame["passed"] = (
            frame["passed"].map(lambda v: None if v is None or v != v else bool(v)).astype("object")
        )
        frame["checked_at"] = pd.to_datetime(frame["checked_at"], utc=True, format="ISO8601")
        return frame

    def _latest_scores(self) -> pd.DataFrame:
        """Each run's latest score per check: a frame indexed by run id, one column per check."""
        import pandas as pd

        key = tuple(self._read("SELECT max(id), count(*) FROM scores")[0])  # type: ignore[attr-defined]
        if key != self._scores_key:
            rows = self._read(  # type: ignore[attr-defined]
                "SELECT run_id, image_index, check_name, score FROM scores ORDER BY id"
            )
            frame = pd.DataFrame([tuple(r) for r in rows], columns=["run_id", "image", "check", "score"])
            frame = frame.drop_duplicates(["run_id", "image", "check"], keep="last")  # the latest check
            frame["score"] = frame["score"].astype("float64")
            self._scores_latest = (
                frame.pivot_table(index="run_id", columns="check", values="score", aggfunc="mean")
                if len(frame)
                else pd.DataFrame()
            )
            self._scores_key = key
        return self._scores_latest

    def add_score_columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (a runs() frame) with one float column per check: its latest score, else its
        cache source's; NaN where unchecked."""
        import numpy as np
        import pandas as pd

        latest = self._latest_scores()
        names = score_columns(list(latest.columns) if len(latest) else [])
        empty = None  # one column of NaN for every unchecked check (a large log's frame: cheaper)
        for name in names:
            if frame.empty or latest.empty or name not in latest.columns:
                if empty is None:
                    empty = pd.Series(np.full(len(frame), np.nan), index=frame.index)
                frame[name] = empty
                continue
            column = latest[name]
            own = frame["id"].map(column)
            frame[name] = own.fillna(frame["cached_from"].map(column)).to_numpy(dtype="float64")
        return frame
