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

from workbench.batch.experiments import Axis, Experiment, Job, find_experiment, load_experiment
from workbench.batch.runner import BatchPlan, BatchResult, load_batch, plan_batch, run_batch
from workbench.batch.shard import example_jobs_file, run_shard

__all__ = [
    "Axis",
    "BatchPlan",
    "BatchResult",
    "Experiment",
    "Job",
    "example_jobs_file",
    "find_experiment",
    "load_batch",
    "load_experiment",
    "plan_batch",
    "run_batch",
    "run_shard",
]
