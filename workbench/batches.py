"""The batches' record in the run log, for the batch runner, the Batch API collector and the CLI.

``Workbench.batches`` is a ``BatchLog``: the batch code reads and writes batches and asks about
their runs here, never with SQL of its own; the ``Ledger`` does the storing.

Example:
    >>> wb.batches.get("product-lighting-20260101-120000-ab12")["status"]
    'complete'
    >>> wb.batches.done_jobs("product-lighting-20260101-120000-ab12")
    {'0-0', '0-1'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.ledger import Ledger

__all__ = ["BatchLog"]


class BatchLog:
    """The ``batches`` table and the runs of each batch, through a ``Ledger``."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def get(self, batch_id: str) -> dict[str, Any] | None:
        """A batch's record (id, experiment, via, backend, model, jobs, status, remote ids...), or None."""
        return self._ledger.batch(batch_id)

    def all(self) -> list[dict[str, Any]]:
        """Every batch's record, oldest first."""
        return self._ledger.batches()

    def record(
        self,
        batch_id: str,
        *,
        experiment: str,
        status: str,
        source: str | None = None,
        via: str = "papermill",
        backend: str | None = None,
        model: str | None = None,
        jobs: int = 0,
        options: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record a new batch; a batch recorded before only takes the new ``status``.
        Returns whether it was new."""
        return self._ledger.batch_save(
            {
                "id": batch_id,
                "experiment": experiment,
                "source": source,
                "via": via,
                "backend": backend,
                "model": model,
                "jobs": jobs,
                "status": status,
                "options": dict(options or {}),
            }
        )

    def set_status(self, batch_id: str, status: str, **values: Any) -> None:
        """Set a batch's status (and remote ids or error)."""
        self._ledger.batch_update(batch_id, status=status, **values)

    def mark(self) -> int:
        """A position in the run log: ``since=mark`` asks about runs recorded after it."""
        return self._ledger.mark()

    def done_jobs(self, batch_id: str) -> set[str]:
        """Keys of the jobs of a batch that already ended well (``ok`` or ``cached``)."""
        return self._ledger.batch_jobs(batch_id, statuses=("ok", "cached"))

    def jobs(self, batch_id: str, *, since: int | None = None) -> set[str]:
        """Keys of the jobs of a batch with a run recorded (after the mark ``since``)."""
        return self._ledger.batch_jobs(batch_id, since=since)

    def job_statuses(self, batch_id: str) -> list[tuple[str | None, str]]:
        """``(job key, status)`` of every run of a batch, in the order recorded."""
        return self._ledger.batch_job_statuses(batch_id)

    def spend(self, batch_id: str, *, since: int | None = None) -> tuple[int, float]:
        """Credits and dollars of a batch's runs (recorded after the mark ``since``)."""
        return self._ledger.batch_spend(batch_id, since=since)
