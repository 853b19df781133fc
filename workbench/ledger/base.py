"""What a run log is, whatever database keeps it: the ``Ledger`` interface and the run row.

``RunRecord`` is the one list of the run log's columns (``RUN_COLUMNS`` and the typed frame's
column kinds are derived from its fields); ``Ledger`` is every operation the rest of the package
needs — runs, text checks, the wallet's journal and reservations, batches — so a second database
(PostgreSQL) implements this class and nothing outside ``workbench.ledger`` runs SQL.

A transaction handle (``tx``) is whatever ``Ledger.transaction()`` yields: pass it to the methods
that take one to make several writes commit together (a run's row and its charge).

The SQL every database runs alike is written once (``workbench.ledger.money``, ``.scores`` and
``.common``, with ``?`` placeholders); a database's class holds only what differs.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.ledger.money import MoneyLedger
from workbench.ledger.scores import ScoresLedger

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "RUN_COLUMNS",
    "STATUSES",
    "Ledger",
    "RunRecord",
    "columns_of_kind",
    "utc_now",
]

STATUSES = ("ok", "cached", "blocked", "failed")
WALLET_KINDS = ("welcome", "topup", "charge", "adjust")


def utc_now() -> str:
    """Now in UTC as ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _column(kind: str = "object", default: Any = None) -> Any:
    """A run-log column; ``kind`` is its type in ``runs()``'s frame (category, int, float, ...)."""
    return dataclasses.field(default=default, metadata={"kind": kind})


@dataclass
class RunRecord:
    """One row of the run log, column by column, in the table's order.

    ``images`` are store paths (kept newline-separated); ``spec``, ``params`` and ``usage`` are
    JSON text. Rows are written once and never changed.
    """

    id: str = _column()
    created_at: str = _column("datetime")
    batch_id: str | None = _column()
    shard: int | None = _column("int")
    parent_id: str | None = _column()
    kind: str = _column("category")
    backend: str = _column("category")
    model: str | None = _column("category")
    preset: str | None = _column("category")
    prompt: str = _column()
    spec: str | None = _column()
    params: str | None = _column()
    width: int | None = _column("int")
    height: int | None = _column("int")
    quality: str | None = _column("category")
    n: int | None = _column("int")
    seed: int | None = _column("int")
    variant: int = _column("int", 0)
    status: str = _column("category")
    credits_estimated: float = _column("float", 0.0)  # credits: two decimals (workbench.credits)
    credits: float = _column("float", 0.0)
    usd_estimated: float = _column("float", 0.0)
    usd: float = _column("float", 0.0)
    tokens_in: int | None = _column("int")
    tokens_out: int | None = _column("int")
    usage: str | None = _column()
    latency_ms: float | None = _column("float")
    fingerprint: str | None = _column()
    images: str = _column("images", "")
    cached_from: str | None = _column()
    error: str | None = _column()
    usd_possibly_billed: float = _column("float", 0.0)  # tries the service may have billed, unanswered
    attempts: int = _column("int", 0)  # tries of the request (0: none left the machine)
    user: str | None = _column("category")  # who made it: $WORKBENCH_USER, else the OS user
    project: str | None = _column("category")  # what for: $WORKBENCH_PROJECT, else the batch's experiment


# Columns of the runs table in order: the one list, derived from the row's fields.
RUN_COLUMNS = [f.name for f in dataclasses.fields(RunRecord)]


def columns_of_kind(kind: str) -> tuple[str, ...]:
    """The run-log columns whose frame type is ``kind`` (``category``, ``int``, ``float``...)."""
    return tuple(f.name for f in dataclasses.fields(RunRecord) if f.metadata["kind"] == kind)


class Ledger(MoneyLedger, ScoresLedger, ABC):
    """The run log's interface; ``SQLiteLedger(path)`` is the one kept in a SQLite file.

    Runs: ``record``, ``get``, ``find_ok``, ``count``, ``runs`` (a typed DataFrame).
    Text checks: ``record_text_checks``, ``text_checks``; check scores (``ScoresLedger``):
    ``record_scores``, ``scores``, and one ``runs()`` column per check.
    Money (``workbench.ledger.money``, shared by every database): the wallet's append-only
    journal (``journal_append``, ``journal_sums``, ``journal_entries``) and its open reservations
    (``open_holds``), fingerprint claims (``claim``, ``claim_take_over``, ``claim_release``) and
    request attempts (``record_attempts``, ``attempts``).
    Batches: ``batch_save``, ``batch_update``, ``batch``, ``batches``, and the batch's runs
    (``batch_jobs``, ``batch_job_statuses``, ``batch_spend``) after a ``mark``.
    """

    path: Path

    # -- schema and transactions ----------------------------------------------------------------
    @abstractmethod
    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied; return their names."""

    @abstractmethod
    def applied_migrations(self) -> list[str]:
        """The names of the migrations applied, in order."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Any]:
        """A write transaction: everything done with its handle commits together or not at all."""

    @abstractmethod
    def close(self) -> None: ...

    # -- runs ---------------------------------------------------------------------------------
    @abstractmethod
    def record(self, run: Mapping[str, Any], *, db: Any = None) -> None:
        """Insert one run row (``RUN_COLUMNS``); ``db``: a transaction already open."""

    @abstractmethod
    def get(self, run_id: str) -> dict[str, Any] | None:
        """One run's row (``images`` as a list), or None."""

    @abstractmethod
    def find_ok(self, fingerprint: str) -> dict[str, Any] | None:
        """The latest successful (not cached) run with this fingerprint."""

    @abstractmethod
    def count(self) -> int:
        """How many runs the log holds."""

    @abstractmethod
    def runs(self, **filters: Any) -> pd.DataFrame:
        """The runs as a typed DataFrame (filters: see ``SQLiteLedger.runs``)."""

    @abstractmethod
    def mark(self) -> int:
        """A position in the run log: runs recorded later are ``since=`` this mark."""

    # -- text checks --------------------------------------------------------------------------
    @abstractmethod
    def record_text_checks(
        self, run_id: str, checks: Sequence[Mapping[str, Any]], *, image_index: int = 0, db: Any = None
    ) -> None:
        """Store the OCR reads of a run's exact texts; ``db``: a transaction already open."""

    @abstractmethod
    def text_checks(self, run_id: str | None = None) -> pd.DataFrame: ...

    # -- the wallet ---------------------------------------------------------------------------

    # -- batches ------------------------------------------------------------------------------
    @abstractmethod
    def batch_save(self, batch: Mapping[str, Any]) -> bool:
        """Record a new batch (its ``batches`` columns); when it is known already, only its
        ``status`` is set. Returns whether it was new."""

    @abstractmethod
    def batch_update(self, batch_id: str, **values: Any) -> None:
        """Set columns of a batch's record (status, remote ids, error); ``updated_at`` is now."""

    @abstractmethod
    def batch(self, batch_id: str) -> dict[str, Any] | None:
        """A batch's record, or None."""

    @abstractmethod
    def batches(self) -> list[dict[str, Any]]:
        """Every batch's record, oldest first."""

    @abstractmethod
    def batch_jobs(
        self, batch_id: str, *, statuses: Sequence[str] | None = None, since: int | None = None
    ) -> set[str]:
        """The job keys of a batch's runs (with one of ``statuses``; recorded after ``since``)."""

    @abstractmethod
    def batch_job_statuses(self, batch_id: str) -> list[tuple[str | None, str]]:
        """``(job key, status)`` of each of a batch's runs, in the order recorded."""

    @abstractmethod
    def batch_spend(self, batch_id: str, *, since: int | None = None) -> tuple[float, float]:
        """Credits and dollars of a batch's runs (recorded after the mark ``since``)."""
