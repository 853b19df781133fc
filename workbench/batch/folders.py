"""Where a batch's files live and which of a job's runs counts: shared by the runner, the Batch API
collector and the report, so none of them imports another."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.core import Workbench

from workbench.errors import ExperimentError

__all__ = ["batch_folder", "best_per_job", "check_batch_id"]

# A batch id names a folder under <root>/batches: letters, digits, dot, dash, underscore; no path.
# (The same rule as the runner's check of a new id: one sentence for both.)
_BATCH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_RANK = {"ok": 3, "cached": 3, "blocked": 2, "failed": 1}


def check_batch_id(batch_id: str) -> str:
    """``batch_id`` when it is a plain name, else one ``ExperimentError`` sentence.

    Nothing outside ``<root>/batches`` is ever written by a batch id (``../../x``, ``/tmp/x``).
    """
    if not isinstance(batch_id, str) or not _BATCH_ID.fullmatch(batch_id) or ".." in batch_id:
        raise ExperimentError(
            f"A batch id is letters, digits, '.', '_' and '-' (at most 100), not {batch_id!r}.",
            field="batch_id",
        )
    return batch_id


def batch_folder(wb: Workbench, batch_id: str) -> Path:
    """``<root>/batches/<batch id>``: the batch's plan, shard notebooks and report.

    Raises:
        ExperimentError: the id is not a plain name (it would leave ``<root>/batches``).
    """
    return wb.root / "batches" / check_batch_id(batch_id)


def best_per_job(runs: Iterable[tuple[str | None, str, Any]]) -> dict[str, Any]:
    """For each job key, the value that came with its best run (``(key, status, value)`` in the
    order recorded): ok or cached over blocked over failed, the later of equals."""
    best: dict[str, tuple[int, Any]] = {}
    for key, status, value in runs:
        rank = _RANK.get(status, 0)
        if key and rank >= best.get(key, (0, None))[0]:
            best[key] = (rank, value)
    return {key: value for key, (_, value) in best.items()}
