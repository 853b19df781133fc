"""Batch throughput: 200 draft jobs in 2 papermill shards versus one papermill execution per job.

Targets: the sharded batch at least 10× faster than one notebook execution per job (both with 2
workers); the papermill overhead per shard (an empty shard: kernel start, parameters, one call)
is reported beside it. One execution per job is measured on a sample (``BENCH_BATCH_SAMPLE``,
default 12 jobs) and scaled to 200; set ``BENCH_BATCH_SAMPLE=200`` to time all of them.
Run with ``python -m bench batch``.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench._common import report
from workbench import Workbench
from workbench.batch import load_experiment, plan_batch, run_batch
from workbench.batch.runner import (
    _execute_notebook,
    _kernel_manager_class,
    _write_batch_files,
    default_notebook,
)

JOBS = 200
WORKERS = 2


def _experiment(folder: Path, name: str, seeds: range) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nspec: {{subject: a speckled ceramic mug, background: '@marble', quality: medium}}\n"
        f"grid:\n  seed: [{', '.join(str(s) for s in seeds)}]\n"
    )
    return path


def _per_job(wb: Workbench, path: Path) -> tuple[float, int]:
    """Each job in its own papermill execution, WORKERS at once; returns (seconds, jobs)."""
    plan = plan_batch(wb, load_experiment(path, templates=wb.templates), batch_id="per-job")
    folder = wb.root / "batches" / "per-job"
    _write_batch_files(folder, plan)
    manager = _kernel_manager_class()

    def one(index: int) -> None:
        jobs = folder / f"job-{index}.jobs.json"
        jobs.write_text(json.dumps([plan.jobs[index].job.to_dict()]))
        params = {
            "batch_id": "per-job",
            "shard": index,
            "jobs_file": str(jobs),
            "root": str(wb.root),
            "experiment": plan.experiment.name,
            "prompts": [],
            "backend_options": {},
            "concurrency": None,
        }
        error, _ = _execute_notebook(
            default_notebook(), folder / f"job-{index}.ipynb", params, folder, manager, 60
        )
        assert error is None, error

    start = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(one, range(len(plan.jobs))))
    return time.perf_counter() - start, len(plan.jobs)


def _empty_shard(wb: Workbench, folder: Path) -> float:
    jobs = folder / "empty.jobs.json"
    jobs.write_text("[]")
    params = {
        "batch_id": "empty",
        "shard": 0,
        "jobs_file": str(jobs),
        "root": str(wb.root),
        "experiment": "empty",
        "prompts": [],
        "backend_options": {},
        "concurrency": None,
    }
    start = time.perf_counter()
    error, _ = _execute_notebook(
        default_notebook(), folder / "empty.ipynb", params, folder, _kernel_manager_class(), 60
    )
    assert error is None, error
    return time.perf_counter() - start


def main() -> None:
    sample = int(os.environ.get("BENCH_BATCH_SAMPLE", "12"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wb = Workbench(folder / "outputs")
        batch_path = _experiment(folder, "bench-batch", range(1, JOBS + 1))
        start = time.perf_counter()
        result = run_batch(wb, batch_path, workers=WORKERS, progress=False, report=False)
        batch_seconds = time.perf_counter() - start
        assert result.statuses["ok"] == JOBS, result.describe()
        start = time.perf_counter()
        from workbench.batch.report import write_report

        write_report(wb, result.batch_id)
        report_seconds = time.perf_counter() - start

        per_job_seconds, measured = _per_job(
            wb, _experiment(folder, "bench-per-job", range(10_001, 10_001 + sample))
        )
        per_job_total = per_job_seconds / measured * JOBS
        (folder / "empty").mkdir()
        overhead = statistics.median(_empty_shard(wb, folder / "empty") for _ in range(3))
        shard_seconds = [s.seconds for s in result.shards]

    figures = [
        {
            "name": f"{JOBS} draft jobs, {WORKERS} shards (papermill)",
            "value": batch_seconds,
            "unit": "s",
            "shard_seconds": shard_seconds,
            "load_average": list(os.getloadavg()),  # 2 shared cores: the load explains most of the spread
        },
        {
            "name": f"{JOBS} draft jobs, one papermill run per job"
            + ("" if measured == JOBS else f" (from {measured})"),
            "value": per_job_total,
            "unit": "s",
            "measured_jobs": measured,
            "measured_seconds": per_job_seconds,
        },
        {
            "name": "speed-up of shards over one run per job",
            "value": per_job_total / batch_seconds,
            "unit": "x",
            "target": 10,
            "lower_is_better": False,
        },
        {"name": "papermill overhead per shard (empty shard)", "value": overhead, "unit": "s"},
        {
            "name": "per job inside a shard",
            "value": (batch_seconds - overhead) / JOBS * WORKERS * 1000,
            "unit": "ms",
        },
        {"name": f"contact sheet + HTML report of {JOBS} jobs", "value": report_seconds, "unit": "s"},
    ]
    report("batch", figures)


if __name__ == "__main__":
    main()
