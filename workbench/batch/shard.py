"""What one batch kernel runs: the jobs of one shard, many jobs in one kernel.

``notebooks/batch.ipynb`` calls :func:`run_shard` from its second cell. The function is sync (a
notebook calls it inside the kernel's running event loop) and runs the jobs on an event loop of
its own in a worker thread, several at once for real backends, one at a time for the CPU-bound
draft renderer.

Resume semantics make a shard safe to run again: a job that already has an ``ok`` or ``cached``
row in this batch is skipped, so a retried or resumed shard only runs what is missing or failed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.batch.experiments import Job
from workbench.credits import credits_value, format_credits
from workbench.errors import BudgetError, WorkbenchError
from workbench.wallet import process_alive

# The secret part of the backend options (keys, a URL's user:password) reaches a shard's kernel
# through this environment variable, never through the notebook's parameters (written to disk).
SECRETS_ENV = "WORKBENCH_BACKEND_SECRETS"

if TYPE_CHECKING:
    import pandas as pd

    from workbench.core import Plan, Workbench

__all__ = ["ShardSummary", "done_jobs", "example_jobs_file", "job_params", "plan_job", "run_shard"]


def job_params(job: Job, *, experiment: str) -> dict[str, Any]:
    """The parameters a batch run carries in the ledger's ``params`` column."""
    return {
        "job": job.key,
        "experiment": experiment,
        "factors": job.factors,
        "coords": list(job.coords),
        **{f"option_{k}": v for k, v in job.options.items()},
    }


def _job_claim(batch_id: str, key: str) -> str:
    return f"job:{batch_id}:{key}"


def take_job(wb: Workbench, batch_id: str, key: str) -> str | None:
    """Claim one job of a batch for this worker, in the run log's claims (as a request's
    fingerprint is claimed); returns the claim's token, or None when another live worker holds it
    or the job is done already. A claim whose owner died on this host, or whose lease ran out
    (another machine that died), is taken over."""
    import socket

    from workbench.runs import CLAIM_LEASE_SECONDS

    name, token, host = _job_claim(batch_id, key), f"{os.getpid()}:{key}", socket.gethostname()
    holder = wb.ledger.claim(name, token, pid=os.getpid(), host=host, lease_seconds=CLAIM_LEASE_SECONDS)
    if holder is not None:
        gone = holder.expired() or (holder.host == host and not process_alive(holder.pid))
        if not gone or not wb.ledger.claim_take_over(
            holder, token, pid=os.getpid(), host=host, lease_seconds=CLAIM_LEASE_SECONDS
        ):
            return None
    if key in done_jobs(wb, batch_id):  # finished by another worker before we claimed it
        wb.ledger.claim_release(name, token)
        return None
    return token


def done_jobs(wb: Workbench, batch_id: str) -> set[str]:
    """Keys of the jobs of a batch that already ended well (``ok`` or ``cached``)."""
    return wb.batches.done_jobs(batch_id)


def _pid_file(folder: Path, shard: int) -> Path:
    return folder / f"shard-{shard}.pid"


def run_shard(
    jobs_file: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None,
    batch_id: str,
    shard: int,
    experiment: str = "",
    prompts: Sequence[str] = (),
    backend_options: Mapping[str, Mapping[str, Any]] | None = None,
    concurrency: int | None = None,
    check_text: bool = False,
) -> ShardSummary:
    """Run the jobs in ``jobs_file`` (a JSON list of job dicts) and return their summary by status
    (a ``ShardSummary``: a table in the notebook, ``to_frame()`` for a DataFrame).

    Args:
        jobs_file: this shard's jobs, written by the batch runner.
        root: the Workbench root (images, ledger); None: ``default_root()``.
        batch_id/shard: recorded on every run.
        experiment: the experiment's name, recorded in the runs' params.
        prompts: extra template folders.
        backend_options: constructor options per backend (e.g. an OpenAI base URL, never a key);
            the secret ones come from ``$WORKBENCH_BACKEND_SECRETS``, set by the batch runner.
        concurrency: jobs in flight at once in this kernel (default: 1 on draft backends, 4
            otherwise); the batch runner passes the batch's total, which the backend's shared
            slots (``slots_folder``) keep across all the kernels.
        check_text: read each finished image's exact texts back with OCR (``Workbench.check_text``)
            and store the scores, for the report's text accuracy; runs without exact texts are left.
    """
    marks = {"shard_started": time.time()}  # when each step began: shard-<k>.timings.json
    from workbench.backends.base import get_backend_class
    from workbench.core import Workbench

    marks["shard_imported"] = time.time()
    jobs_path = Path(jobs_file)
    jobs = [Job.from_dict(data) for data in json.loads(jobs_path.read_text(encoding="utf-8"))]
    pid_file = _pid_file(jobs_path.parent, shard)
    pid_file.write_text(str(os.getpid()))
    # Stop once the process that started this kernel is gone (killed batch runner): our parent
    # changes, or the launcher jupyter_client names is dead even before the first job.
    parent, launcher = os.getppid(), int(os.environ.get("JPY_PARENT_PID") or 0)

    def runner_gone() -> bool:
        return os.getppid() != parent or (launcher > 1 and not process_alive(launcher))

    secret = json.loads(os.environ.get(SECRETS_ENV) or "{}")
    options = {
        name: {**(backend_options or {}).get(name, {}), **secret.get(name, {})}
        for name in {*(backend_options or {}), *secret}
    }
    wb = Workbench(root, prompts=tuple(prompts), backend_options=options)
    marks["shard_opened"] = time.time()
    # A team's run log (PostgreSQL) may have workers of this batch on other machines: each job is
    # claimed before it runs, so one worker only takes it (see take_job).
    shared = getattr(wb.ledger, "url", None) is not None
    try:
        done = done_jobs(wb, batch_id)
        pending = [job for job in jobs if job.key not in done]
        # Jobs that make the same request run one after another, so the second comes from the cache.
        groups: dict[str, list[tuple[Job, Plan]]] = {}
        for job in pending:
            plan = plan_job(wb, job, experiment)
            groups.setdefault(plan.fingerprint, []).append((job, plan))
        if concurrency is None:
            drafts = all(get_backend_class(job.backend or wb.default_backend).is_draft for job in pending)
            concurrency = 1 if drafts else 4
        marks["shard_planned"] = time.time()
        statuses: list[dict[str, Any]] = []
        # A budget error stops new work, but the requests already sent finish and are recorded:
        # cancelling them would lose answers the service has billed.
        out_of_budget: list[BudgetError] = []

        async def run_group(group: list[tuple[Job, Plan]], limit: asyncio.Semaphore) -> None:
            async with limit:
                for job, plan in group:
                    if out_of_budget:
                        return
                    if runner_gone():
                        # The batch runner was killed: stop at once rather than race a resumed batch.
                        raise RuntimeError("The batch runner is gone; this shard stops.")
                    token = take_job(wb, batch_id, job.key) if shared else None
                    if shared and token is None:
                        continue  # another machine's worker has this job, or finished it
                    try:
                        if concurrency == 1:
                            run = wb.run_plan(plan, batch_id=batch_id, shard=shard, raise_errors=False)
                            _thumbnails(wb, run)
                        else:
                            run = await wb.arun_plan(plan, batch_id=batch_id, shard=shard, raise_errors=False)
                            # Made on a pool of their own while other requests fly: not awaited
                            # here, and not on the default pool, where the runs' own steps (claim,
                            # reserve, store, log) would queue behind them and leave slots idle.
                            thumbnails.append(
                                asyncio.get_running_loop().run_in_executor(thumbs, _thumbnails, wb, run)
                            )
                    except BudgetError as exc:
                        out_of_budget.append(exc)
                        return
                    finally:
                        if token is not None:
                            wb.ledger.claim_release(_job_claim(batch_id, job.key), token)
                    accuracy = None
                    if job.checks:  # the experiment's (or --checks) checks: scored here, stored per run
                        await asyncio.to_thread(_run_checks, wb, run, job.checks)
                    if check_text:
                        accuracy = await asyncio.to_thread(_check_text, wb, run)
                    marks.setdefault("first_job_done", time.time())
                    marks["last_job_done"] = time.time()
                    statuses.append(
                        {
                            "job": job.key,
                            "status": run.status,
                            "credits": run.credits,
                            "usd": run.usd,
                            "text_accuracy": accuracy,
                        }
                    )

        thumbnails: list[asyncio.Future[None]] = []

        async def main() -> None:
            limit = asyncio.Semaphore(max(1, concurrency))
            try:
                await asyncio.gather(*(run_group(group, limit) for group in groups.values()))
            finally:
                await asyncio.gather(*thumbnails, return_exceptions=True)

        with (
            ThreadPoolExecutor(1) as pool,  # an event loop of our own, whatever the caller runs
            ThreadPoolExecutor(2, thread_name_prefix="thumbnails") as thumbs,
        ):
            pool.submit(asyncio.run, main()).result()
        if out_of_budget:
            raise out_of_budget[0]
    finally:
        wb.close()
        pid_file.unlink(missing_ok=True)
        marks["shard_closed"] = time.time()
        _write_marks(jobs_path.parent / f"shard-{shard}.timings.json", marks)
    return ShardSummary.of(statuses, skipped=len(jobs) - len(pending), text=check_text)


class ShardSummary:
    """A shard's jobs by status: how many, their credits and dollars (and the mean text accuracy
    with ``check_text``), then the jobs skipped as done before; the batch notebook's last output.

    Made without pandas, so a batch kernel never imports it (~0.3 s of each kernel's start):
    shown as a table in the notebook (``_repr_html_``) and as text; ``to_frame()`` gives the
    DataFrame (statuses as its index).
    """

    def __init__(self, columns: Sequence[str], rows: Mapping[str, Sequence[Any]]) -> None:
        self.columns = tuple(columns)
        self.rows = {status: tuple(values) for status, values in rows.items()}

    @classmethod
    def of(cls, statuses: Sequence[Mapping[str, Any]], *, skipped: int, text: bool) -> ShardSummary:
        """The summary of the jobs' ``statuses`` (each: status, credits, usd, text_accuracy),
        with ``skipped`` jobs done before; a text accuracy column with ``text``."""
        columns = ["jobs", "credits", "usd"] + (["text_accuracy"] if text else [])
        rows: dict[str, list[Any]] = {}
        for status in sorted({s["status"] for s in statuses}):
            mine = [s for s in statuses if s["status"] == status]
            row: list[Any] = [
                len(mine),
                round(credits_value(sum(s["credits"] or 0 for s in mine)), 2),  # (two decimals)
                sum(s["usd"] or 0.0 for s in mine),
            ]
            if text:
                scores = [
                    a for a in (s["text_accuracy"] for s in mine) if a is not None and a == a
                ]  # (NaN: none)
                row.append(sum(scores) / len(scores) if scores else float("nan"))
            rows[status] = row
        rows["skipped (done before)"] = [skipped, 0.0, 0.0] + ([float("nan")] if text else [])
        return cls(columns, rows)

    def to_frame(self) -> pd.DataFrame:
        """The summary as a DataFrame, one row a status (its index, named ``status``)."""
        import pandas as pd

        frame = pd.DataFrame.from_dict(self.rows, orient="index", columns=list(self.columns))
        frame.index.name = "status"
        return frame

    def _cells(self) -> list[list[str]]:
        def cell(name: str, value: Any) -> str:
            if name == "jobs":
                return str(int(value))
            if value != value:  # NaN: no score
                return ""
            if name == "credits":
                return format_credits(value)
            return f"{value:.4f}" if name == "usd" else f"{value:.3f}"

        return [[status, *map(cell, self.columns, values)] for status, values in self.rows.items()]

    def __repr__(self) -> str:
        table = [["status", *self.columns], *self._cells()]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        return "\n".join(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in table
        )

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th>{html.escape(c)}</th>" for c in ("status", *self.columns))
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self._cells()
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _write_marks(path: Path, marks: Mapping[str, float]) -> None:
    """The times (Unix seconds) a shard's steps began, for ``timings.json`` (best effort)."""
    try:
        path.write_text(json.dumps(marks), encoding="utf-8")
    except OSError:
        pass


def _thumbnails(wb: Workbench, run: Any) -> None:
    """Make a finished run's report thumbnails here, where the image was just stored: the shards
    make them in parallel and the report reads them from the store's cache."""
    from workbench.batch.report import THUMB

    if run.status not in ("ok", "cached"):
        return
    for image in run.images:
        try:
            wb.thumbnail(image, THUMB)
        except WorkbenchError:
            pass  # the report says what is missing; the run itself is done


def _run_checks(wb: Workbench, run: Any, checks: Sequence[str]) -> None:
    """Score a finished run's image with the job's checks (``workbench.checks``) and store the
    scores; a check that cannot run on it (the judge offline, no texts) says so in its reason."""
    if not run.ok or not run.images:
        return
    from workbench.checks.api import check_image

    try:
        check_image(wb, run, list(checks))
    except WorkbenchError as exc:  # the judge refused by the wallet, say: the image stays, unscored
        print(f"checks of run {run.id[:8]} not stored: {exc}", file=sys.stderr)


def _check_text(wb: Workbench, run: Any) -> float | None:
    """OCR a finished run's exact texts and store the scores; their mean, or None when there is
    nothing to check (a failed run, no exact texts, a cached run whose source was checked)."""
    if not run.ok or not run.images or run.spec is None or not run.spec.texts:
        return None
    if run.cached_from and not wb.text_checks(run.cached_from).empty:
        # runs() shows a cached run with its source's score: reading the same file again adds nothing.
        return float(wb.runs(id=run.id)["text_accuracy"].iloc[0])
    return float(wb.check_text(run)["accuracy"].mean())


def example_jobs_file(root: str | os.PathLike[str] | None = None) -> Path:
    """A two-job draft shard, for running ``notebooks/batch.ipynb`` by hand."""
    from workbench.core import default_root
    from workbench.spec import PromptSpec

    folder = Path(root) if root is not None else default_root()
    folder = folder / "batches" / "example"
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [
        Job(
            f"example-{i}",
            i,
            PromptSpec(subject="a speckled ceramic coffee mug", lighting=lighting, quality="low"),
            None,
            None,
            {},
            {"lighting": lighting},
            (lighting,),
        )
        for i, lighting in enumerate(("@soft-left", "@golden-hour"))
    ]
    path = folder / "shard-0.jobs.json"
    path.write_text(json.dumps([job.to_dict() for job in jobs], indent=1), encoding="utf-8")
    return path


def plan_job(wb: Workbench, job: Job, experiment: str) -> Plan:
    """Validate and price one job through the facade (the same plan the kernel executes)."""
    options = dict(job.options)
    transparent = options.pop("transparent", None)
    edit = options.pop("edit", None)
    if edit:  # an edit job (``edit:`` in the experiment): its image through Workbench.plan_edit
        from workbench.batch.experiments import plan_edit_job

        return plan_edit_job(
            wb,
            job,
            edit,
            transparent=transparent or None,
            params=job_params(job, experiment=experiment),
            **options,
        )
    return wb.plan(
        job.spec,
        backend=job.backend,
        model=job.model,
        transparent=transparent or None,
        params=job_params(job, experiment=experiment),
        **options,
    )
