"""Where a batch's files live and which of a job's runs counts: shared by the runner, the Batch API
collector and the report, so none of them imports another."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.core import Workbench

__all__ = ["batch_folder", "best_per_job"]

_RANK = {"ok": 3, "cached": 3, "blocked": 2, "failed": 1}


def batch_folder(wb: Workbench, batch_id: str) -> Path:
    """``<root>/batches/<batch id>``: the batch's plan, shard notebooks and report."""
    return wb.root / "batches" / batch_id


def best_per_job(runs: Iterable[tuple[str | None, str, Any]]) -> dict[str, Any]:
    """For each job key, the value that came with its best run (``(key, status, value)`` in the
    order recorded): ok or cached over blocked over failed, the later of equals."""
    best: dict[str, tuple[int, Any]] = {}
    for key, status, value in runs:
        rank = _RANK.get(status, 0)
        if key and rank >= best.get(key, (0, None))[0]:
            best[key] = (rank, value)
    return {key: value for key, (_, value) in best.items()}
