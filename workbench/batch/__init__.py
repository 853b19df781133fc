"""Batches: experiment grids, papermill shards, resumable runs, contact sheets and reports.

Example:
    >>> from workbench import Workbench
    >>> from workbench.batch import load_experiment, plan_batch, run_batch
    >>> wb = Workbench()
    >>> print(plan_batch(wb, load_experiment("product-lighting")).describe())
    >>> result = run_batch(wb, "product-lighting", workers=2)
    >>> result.report
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Imported on first use (PEP 562): `workbench --help` loads the `batch` command group without
# the runner, papermill or pandas.
_MODULE_OF = {
    **dict.fromkeys(("Axis", "Experiment", "Job", "find_experiment", "load_experiment"), "experiments"),
    **dict.fromkeys(("BatchPlan", "BatchResult", "load_batch", "plan_batch", "run_batch"), "runner"),
    **dict.fromkeys(("ShardSummary", "example_jobs_file", "run_shard"), "shard"),
}

if TYPE_CHECKING:
    from workbench.batch.experiments import Axis, Experiment, Job, find_experiment, load_experiment
    from workbench.batch.runner import BatchPlan, BatchResult, load_batch, plan_batch, run_batch
    from workbench.batch.shard import ShardSummary, example_jobs_file, run_shard


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.batch' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"workbench.batch.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Axis",
    "BatchPlan",
    "BatchResult",
    "Experiment",
    "Job",
    "ShardSummary",
    "example_jobs_file",
    "find_experiment",
    "load_batch",
    "load_experiment",
    "plan_batch",
    "run_batch",
    "run_shard",
]
