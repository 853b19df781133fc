"""Batch throughput: 200 draft jobs in 2 papermill shards versus one papermill execution per job.

Targets: the sharded batch at least 10× faster than one notebook execution per job (both with 2
workers); the papermill overhead per shard (an empty shard: kernel start, parameters, one call)
is reported beside it. One execution per job is measured on a sample (``BENCH_BATCH_SAMPLE``,
default 12 jobs) and scaled to 200; set ``BENCH_BATCH_SAMPLE=200`` to time all of them.
Run with ``python -m bench batch``.

A second part times the report of a 10,000-job one-axis draft batch (``BENCH_REPORT_JOBS``):
its runs are recorded through the facade exactly as a shard records them, at 256×256 so that
making them takes seconds rather than minutes; the report then reads the run log, makes every
thumbnail, pages the contact sheets under JPEG's 65,500 px limit and writes the HTML and CSVs.
Target: the report of 10,000 jobs in ≤ 60 s on this machine. ``BENCH_BATCH_PARTS=report`` runs
only that part.
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
    default_notebook,
    write_batch_files,
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
    write_batch_files(folder, plan)
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


REPORT_JOBS = int(os.environ.get("BENCH_REPORT_JOBS", "10000"))
REPORT_TARGET_SECONDS = 60.0


def report_at_scale(jobs: int = REPORT_JOBS) -> list[dict]:
    """Record a ``jobs``-job one-axis batch (as a shard does, small images) and time its report."""
    from PIL import Image

    from workbench.batch.report import MAX_SHEET_ROWS, write_report
    from workbench.batch.shard import _thumbnails as _shard_thumbnails
    from workbench.batch.shard import job_params

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wb = Workbench(folder / "outputs")
        path = _experiment(folder, "bench-report", range(1, jobs + 1))
        plan = plan_batch(wb, load_experiment(path, templates=wb.templates), batch_id="scale")
        write_batch_files(wb.root / "batches" / "scale", plan)
        start = time.perf_counter()
        for planned in plan.jobs:
            job = planned.job
            run_plan = wb.plan(
                job.spec,
                backend=job.backend,
                model=job.model,
                size=(256, 256),
                params=job_params(job, experiment=plan.experiment.name),
            )
            run = wb.run_plan(run_plan, batch_id="scale", shard=0, raise_errors=False)
            _shard_thumbnails(wb, run)  # as a shard does: the thumbnail is made where the image is
        record_seconds = time.perf_counter() - start
        start = time.perf_counter()
        report = write_report(wb, "scale")
        report_seconds = time.perf_counter() - start
        assert (report.frame["status"] == "ok").all(), report.frame["status"].value_counts()
        heights = []
        for sheet in report.contact_sheets:
            with Image.open(sheet) as image:
                heights.append(image.height)
        assert max(heights) < 65_500 and len(report.contact_sheets) == -(-jobs // (6 * MAX_SHEET_ROWS))
        html_mb = report.html.stat().st_size / 1e6
        wb.close()
    return [
        {"name": f"record {jobs} draft runs (256×256, one process)", "value": record_seconds, "unit": "s"},
        {
            "name": f"report of a {jobs}-job batch",
            "value": report_seconds,
            "unit": "s",
            "target": REPORT_TARGET_SECONDS,
            "contact_sheets": len(heights),
            "tallest_sheet_px": max(heights),
            "html_mb": round(html_mb, 2),
            "load_average": list(os.getloadavg()),
        },
    ]


def main() -> None:
    if os.environ.get("BENCH_BATCH_PARTS") == "report":
        report("batch-report", report_at_scale())
        return
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
    report("batch", figures + report_at_scale())


if __name__ == "__main__":
    main()
