"""Plan a batch before spending, then run it through papermill: K shards, many jobs per kernel.

Semantics, the short version:

* ``run_batch(wb, experiment)`` starts a **new batch** (a new id, from the experiment's name and
  the time, or ``batch_id=``). Jobs already made before, in any batch, come from the cache: they
  are logged as ``cached`` rows of the new batch at 0 credits and nothing is rendered.
* ``run_batch(wb, resume=batch_id)`` **continues** a batch: jobs that have an ``ok`` or ``cached``
  row in that batch are skipped (no new row), the failed and the missing run. After ``kill -9``
  of a whole batch, a resume completes it with no double charge and no duplicated rows.
* Before anything runs, the credits of the jobs to render are added up; a wallet that cannot pay
  refuses the batch (nothing is rendered or sent). ``budget=N`` runs the jobs, in order, that fit
  in N credits and stops cleanly, saying how many are left.

Files land in ``<root>/batches/<batch-id>/``: ``batch.json`` and ``jobs.json`` (what was planned),
``shard-<k>.ipynb`` (the executed notebooks, a failed one with its error), ``images/`` (links to
the stored images, named by job), ``contact-sheet*.png`` and ``report.html``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import re
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from workbench.batch.experiments import Axis, Experiment, Job, load_experiment
from workbench.batch.folders import batch_folder, best_per_job
from workbench.batch.shard import SECRETS_ENV, done_jobs, plan_job
from workbench.credits import credits_value, format_credits, in_hundredths
from workbench.errors import BudgetError, ExperimentError, WorkbenchError
from workbench.ledger import utc_now
from workbench.store import write_atomic
from workbench.wallet import process_alive

if TYPE_CHECKING:
    from workbench.core import Plan, Workbench
    from workbench.pricing import Estimate

__all__ = [
    "BatchPlan",
    "BatchResult",
    "PlannedJob",
    "ShardOutcome",
    "batch_folder",
    "default_notebook",
    "load_batch",
    "new_batch_id",
    "plan_batch",
    "run_batch",
]

KERNEL_RETRIES = 2
_POLL_SECONDS = 0.25
_STALE_KERNEL_WAIT = 10.0
_BATCH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def default_notebook() -> Path:
    """The batch notebook shipped in the package (``workbench/data/notebooks/batch.ipynb``), so
    a batch runs from a wheel install without a checkout."""
    from workbench.yamlio import data_path

    return data_path("notebooks", "batch.ipynb")


def new_batch_id(name: str) -> str:
    """``<experiment>-<UTC time>-<4 hex>``: sorts by time, readable, unique."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "batch"
    return f"{slug}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


@dataclass
class PlannedJob:
    """A job with its plan. ``charge`` is what it will cost now: 0 when it is done in this batch,
    served from the cache, or repeats an earlier job of the batch (that one pays)."""

    job: Job
    plan: Plan
    done: bool
    cached: bool
    charge: float
    usd: float

    def record(self) -> dict[str, Any]:
        """The job as a kernel runs it: with the backend and model as planned here (the caller's
        Workbench defaults filled in), since a shard's kernel opens a Workbench of its own."""
        return self.job.to_dict() | {"backend": self.plan.backend, "model": self.plan.model}


@dataclass
class BatchPlan:
    """What a batch will make and cost, before anything is sent.

    Example:
        >>> plan = plan_batch(wb, load_experiment("product-lighting"))
        >>> print(plan.describe())
    """

    batch_id: str
    experiment: Experiment
    jobs: list[PlannedJob]
    balance: float
    budget: float | None = None
    via: str = "papermill"
    resume: bool = False

    @property
    def to_run(self) -> list[PlannedJob]:
        """Jobs not yet done in this batch."""
        return [j for j in self.jobs if not j.done]

    @property
    def selected(self) -> list[PlannedJob]:
        """The jobs this run will do: all to run, or those that fit the budget (in order)."""
        if self.budget is None:
            return self.to_run
        chosen, total = [], 0.0
        for job in self.to_run:
            if credits_value(total + job.charge) > self.budget:
                break
            chosen.append(job)
            total = credits_value(total + job.charge)
        return chosen

    @property
    def left(self) -> int:
        return len(self.to_run) - len(self.selected)

    @property
    def images(self) -> int:
        return sum(j.plan.request.n for j in self.to_run)

    @property
    def credits(self) -> float:
        """Credits of the selected jobs (the cached and repeated ones count 0)."""
        return credits_value(sum(j.charge for j in self.selected))

    @property
    def credits_all(self) -> float:
        return credits_value(sum(j.charge for j in self.to_run))

    @property
    def usd(self) -> float:
        return round(sum(j.usd for j in self.selected), 6)

    @property
    def cached(self) -> int:
        return sum(1 for j in self.to_run if j.cached)

    @property
    def can_pay(self) -> bool:
        return self.credits <= self.balance

    @property
    def targets(self) -> str:
        pairs = sorted({f"{j.plan.backend}/{j.plan.model}" for j in self.jobs})
        return ", ".join(pairs)

    @property
    def qualities(self) -> str:
        return ", ".join(sorted({j.plan.request.quality for j in self.jobs}))

    def check(self) -> None:
        """Raise ``BudgetError`` (one sentence) when the wallet or the budget cannot pay."""
        if self.budget is not None and self.to_run and not self.selected:
            first = self.to_run[0].charge
            raise BudgetError(
                f"The budget of {format_credits(self.budget)} credits does not cover the first job "
                f"({format_credits(first)} credits); "
                "nothing ran.",
                needed=first,
                available=self.budget,
            )
        if not self.can_pay:
            from workbench.wallet import topup_advice

            short = credits_value(self.credits - self.balance)
            balance = format_credits(self.balance)
            cap = "" if self.budget is not None else f" or cap the run with --budget {balance}"
            raise BudgetError(
                f"This batch costs {format_credits(self.credits)} credits for "
                f"{sum(j.plan.request.n for j in self.selected)} images; the wallet has {balance} "
                f"(short by {format_credits(short)}): {topup_advice(short)}{cap}.",
                needed=self.credits,
                available=self.balance,
            )

    def describe(self) -> str:
        """The plan in a few lines, as ``workbench batch plan`` prints it."""
        experiment = self.experiment
        shape = " × ".join(f"{len(a.labels)} {a.name}" for a in experiment.axes) or "1 job"
        source = f" ({experiment.path})" if experiment.path else ""
        via = " via the OpenAI Batch API" if self.via == "openai-batch" else ""
        lines = [
            f"experiment {experiment.name}{source}: {shape}",
            f"batch      {self.batch_id}{' (resume)' if self.resume else ''}",
            f"runs on    {self.targets}, {self.qualities} quality{via}",
            f"images     {self.images} in {len(self.to_run)} jobs"
            + (f" ({len(self.jobs) - len(self.to_run)} done before in this batch)" if self.resume else ""),
            f"cached     {self.cached} (0 credits)",
            f"cost       {format_credits(self.credits_all)} credits, ${sum(j.usd for j in self.to_run):.4f}",
        ]
        if self.budget is not None:
            lines.append(
                f"budget     {format_credits(self.budget)} credits: {len(self.selected)} jobs fit "
                f"({format_credits(self.credits)} credits), "
                f"{self.left} left for later"
            )
        short = format_credits(self.credits - self.balance)
        verdict = "can pay" if self.can_pay else f"cannot pay (short by {short})"
        lines.append(f"wallet     {format_credits(self.balance)} credits: {verdict}")
        return "\n".join(lines)


@dataclass
class ShardOutcome:
    shard: int
    jobs: int
    notebook: Path
    attempts: int = 0
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class BatchResult:
    """What a run did: counts of job outcomes, the files, the shards that failed."""

    batch_id: str
    folder: Path
    jobs: int
    statuses: dict[str, int]
    credits: float
    usd: float
    left: int
    shards: list[ShardOutcome] = field(default_factory=list)
    contact_sheets: list[Path] = field(default_factory=list)
    report: Path | None = None
    seconds: float = 0.0
    text_accuracy: float | None = None  # the mean OCR accuracy of the checked runs, None if none was
    text_checked: int = 0

    @property
    def failed_shards(self) -> list[ShardOutcome]:
        return [s for s in self.shards if not s.ok]

    @property
    def complete(self) -> bool:
        return self.statuses.get("ok", 0) + self.statuses.get("cached", 0) == self.jobs

    def describe(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in self.statuses.items() if n) or "nothing"
        lines = [
            f"batch {self.batch_id}: {counts} of {self.jobs} jobs; {format_credits(self.credits)} credits, "
            f"${self.usd:.4f} "
            f"in {self.seconds:.1f} s"
        ]
        if self.text_accuracy is not None:
            lines.append(
                f"text accuracy {self.text_accuracy:.1%} (mean of {self.text_checked} checked run"
                f"{'' if self.text_checked == 1 else 's'})"
            )
        if self.left:
            lines.append(
                f"stopped at the budget: {self.left} jobs left; continue with "
                f"`workbench batch run --resume {self.batch_id}`"
            )
        for shard in self.failed_shards:
            lines.append(
                f"shard {shard.shard} failed after {shard.attempts} attempt(s): {shard.error} "
                f"(notebook: {shard.notebook})"
            )
        if self.report:
            lines.append(f"report {self.report}")
        for sheet in self.contact_sheets:
            lines.append(f"contact sheet {sheet}")
        return "\n".join(lines)


# -- planning ---------------------------------------------------------------------------------
def plan_batch(
    wb: Workbench,
    experiment: Experiment | None = None,
    *,
    batch_id: str | None = None,
    resume: str | None = None,
    budget: float | None = None,
    via: str = "papermill",
) -> BatchPlan:
    """Price every job of a batch and see what is cached or done, without sending anything.

    Args:
        experiment: a loaded experiment (for a new batch).
        batch_id: the new batch's id (default: made from the name and time).
        resume: the id of a batch to continue instead; its planned jobs are read from its folder.
        budget: a cap in credits for this run.
        via: ``papermill`` or ``openai-batch`` (priced at the Batch API's discount).
    """
    for given in (batch_id, resume):
        if given is not None and not _BATCH_ID.fullmatch(given):
            raise ExperimentError(
                f"A batch id is letters, digits, '.', '_' and '-' (at most 100), not {given!r}.",
                field="batch_id",
            )
    if resume is not None:
        experiment = load_batch(wb, resume)
        batch_id = resume
    elif experiment is None:
        raise ExperimentError("Give an experiment or a batch id to resume.", field="experiment")
    else:
        batch_id = batch_id or new_batch_id(experiment.name)
        if wb.batches.get(batch_id) is not None or batch_folder(wb, batch_id).exists():
            raise ExperimentError(
                f"A batch {batch_id} exists already; continue it with --resume {batch_id}.", field="batch_id"
            )
    if budget is not None and not (
        isinstance(budget, (int, float))
        and not isinstance(budget, bool)
        and math.isfinite(budget)
        and budget >= 0
        and in_hundredths(budget)
    ):
        raise ExperimentError(
            f"The budget is a number of credits, 0 or more, with at most two decimals, not {budget!r}.",
            field="budget",
        )
    done = done_jobs(wb, batch_id) if resume else set()
    planned: list[PlannedJob] = []
    paid_for: set[str] = set()
    for job in experiment.jobs:
        plan = plan_job(wb, job, experiment.name)
        if via == "openai-batch":  # what the Batch API cannot take: refused before the wallet is asked
            wb.models.check_batch(plan.model, plan.request)
        is_done = job.key in done
        cached = plan.estimate.cached or plan.fingerprint in paid_for
        # Batch API runs cost its discount, in credits as in dollars.
        priced = _batch_estimate(wb, plan) if via == "openai-batch" else plan.estimate
        charge = 0 if (is_done or cached) else priced.credits
        usd = 0.0 if (is_done or cached) else priced.usd
        if not (is_done or cached) and "judge" in job.checks and via != "openai-batch":
            # Each new image's judgement is paid too: planned, so --budget and the wallet count it.
            from workbench.checks.judge import judgement_estimate

            request = plan.request
            judge_credits, judge_usd = judgement_estimate(wb, request.width, request.height, request.prompt)
            charge, usd = credits_value(charge + judge_credits * request.n), usd + judge_usd * request.n
        if not is_done:
            paid_for.add(plan.fingerprint)
        planned.append(PlannedJob(job, plan, is_done, cached, charge, usd))
    return BatchPlan(batch_id, experiment, planned, wb.wallet.balance, budget, via, resume is not None)


def _batch_estimate(wb: Workbench, plan: Plan) -> Estimate:
    return wb.prices.estimate(plan.backend, plan.model, plan.request, batch=True)


# -- the record of a batch --------------------------------------------------------------------
def record_batch(wb: Workbench, plan: BatchPlan, *, status: str, options: Mapping[str, Any]) -> None:
    """Record a new batch in the run log (a batch recorded before only takes the new status)."""
    experiment = plan.experiment
    wb.batches.record(
        plan.batch_id,
        experiment=experiment.name,
        source=str(experiment.path) if experiment.path else None,
        via=plan.via,
        backend=",".join(sorted({j.plan.backend for j in plan.jobs})),
        model=",".join(sorted({j.plan.model for j in plan.jobs})),
        jobs=len(plan.jobs),
        status=status,
        options=options,
    )


def set_batch_status(wb: Workbench, batch_id: str, status: str, **values: Any) -> None:
    """Update a batch's status (and remote ids or error) in the run log."""
    wb.batches.set_status(batch_id, status, **values)


BATCH_FILES = ("batch.json", "jobs.json")  # what was planned: enough to resume the batch anywhere


def write_batch_files(folder: Path, plan: BatchPlan) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    experiment = plan.experiment
    meta = {
        "id": plan.batch_id,
        "experiment": experiment.name,
        "description": experiment.description,
        "source": str(experiment.path) if experiment.path else None,
        "axes": [
            {"name": a.name, "factors": list(a.factors), "labels": list(a.labels)} for a in experiment.axes
        ],
        "backend": experiment.backend,
        "model": experiment.model,
        "created_at": utc_now(),
    }
    if not (folder / "batch.json").exists():
        _write_json(folder / "batch.json", meta)
    jobs = [j.record() | {"fingerprint": j.plan.fingerprint} for j in plan.jobs]
    _write_json(folder / "jobs.json", jobs)


def share_batch_files(wb: Workbench, folder: Path, batch_id: str) -> None:
    """On a shared store, keep the batch's plan there too: another root (machine) can then
    resume the batch, its jobs with an ok row in the shared run log skipped."""
    for name in BATCH_FILES:
        wb.store.put_file(f"batches/{batch_id}/{name}", (folder / name).read_bytes())


def _fetch_batch_files(wb: Workbench, folder: Path, batch_id: str) -> None:
    """A batch planned on another root: its plan from the shared store, if it is there."""
    if (folder / "batch.json").exists() or not wb.store.shared:
        return
    files = {name: wb.store.get_file(f"batches/{batch_id}/{name}") for name in BATCH_FILES}
    if all(data is not None for data in files.values()):
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            write_atomic(folder / name, data)  # type: ignore[arg-type]


def _write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))


def load_batch(wb: Workbench, batch_id: str) -> Experiment:
    """The experiment of an existing batch, as it was planned (read from its folder, or from the
    shared store when another root planned it)."""
    folder = batch_folder(wb, batch_id)
    _fetch_batch_files(wb, folder, batch_id)
    try:
        meta = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
        jobs = [Job.from_dict(d) for d in json.loads((folder / "jobs.json").read_text(encoding="utf-8"))]
    except FileNotFoundError:
        raise ExperimentError(f"No batch {batch_id} in {wb.root / 'batches'}.", field="batch_id") from None
    axes = [Axis(a["name"], tuple(a["factors"]), tuple(a["labels"])) for a in meta["axes"]]
    source = Path(meta["source"]) if meta.get("source") else None
    return Experiment(
        meta["experiment"],
        source,
        meta.get("description", ""),
        axes,
        jobs,
        meta.get("backend"),
        meta.get("model"),
    )


# -- running ----------------------------------------------------------------------------------
def run_batch(
    wb: Workbench,
    experiment: Experiment | str | Path | None = None,
    *,
    batch_id: str | None = None,
    resume: str | None = None,
    workers: int = 2,
    notebook: str | Path | None = None,
    budget: float | None = None,
    retries: int = KERNEL_RETRIES,
    concurrency: int | None = None,
    progress: bool = True,
    report: bool = True,
    start_timeout: float = 60.0,
    check_text: bool = False,
    checks: str | list[str] | tuple[str, ...] | None = None,
) -> BatchResult:
    """Run an experiment as a batch: plan, check the wallet, run K papermill shards, report.

    Args:
        experiment: an Experiment, or a file/name for ``load_experiment``.
        batch_id: the id of a new batch (default: made from the name and time).
        resume: continue this batch instead: only its missing and failed jobs run.
        workers: shards run in parallel, each one kernel running many jobs; one only when every
            job is a service request and ``concurrency`` covers them all (they are in flight at once).
        notebook: the parameterised batch notebook (default: the packaged one, :func:`default_notebook`).
        budget: stop cleanly before the job that would take the spend over this many credits.
        retries: extra attempts for a shard whose kernel fails to start or dies.
        concurrency: the total of service requests in flight for the whole batch, across its
            shards (and any other process using this root's ``limits/`` folder): each kernel may
            send that many, one shared set of slots keeps the total. Default: the backend
            options' ``openai.concurrency``, else 4 per shard. Draft jobs render one at a time
            per kernel unless this is given.
        progress: show a tqdm bar over the jobs on stderr.
        report: write the contact sheet and the HTML report at the end.
        check_text: each shard reads the exact texts of its finished images back with OCR and
            stores the scores; the report then shows text accuracy per factor and per job.
        checks: the checks each shard runs on its own finished images (``workbench.checks``:
            palette, contrast, ...; the experiment's ``checks:`` otherwise); the report then ranks
            each factor's values by mean score with 95 % intervals and names a winner where they separate.

    Raises:
        ExperimentError: a bad experiment or batch id (nothing runs).
        BudgetError: the wallet cannot pay, checked before any kernel starts.
        WorkbenchError: ``check_text`` without tesseract installed (nothing runs).

    Example:
        >>> result = run_batch(Workbench(), "product-lighting", workers=2)
        >>> result.statuses, result.report
    """
    started = time.perf_counter()
    marks = {"batch_started": time.time()}  # when each step began, kept in timings.json
    if isinstance(experiment, (str, Path)):
        experiment = load_experiment(experiment, templates=wb.templates, root=wb.root)
    if workers < 1:
        raise ExperimentError(f"--workers must be 1 or more, not {workers}.", field="workers")
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise ExperimentError(f"--concurrency must be 1 or more, not {concurrency!r}.", field="concurrency")
    notebook = Path(notebook) if notebook else default_notebook()
    if not notebook.is_file():
        raise ExperimentError(f"No batch notebook at {notebook}; pass --notebook PATH.", field="notebook")
    if check_text:
        _require_ocr()
    if checks and experiment is not None:
        from dataclasses import replace

        from workbench.checks import check_names

        names = tuple(check_names(checks))  # an unknown check: one sentence, before anything runs
        jobs = [replace(j, checks=names) for j in experiment.jobs]
        experiment = replace(experiment, jobs=jobs, checks=names)
    plan = plan_batch(wb, experiment, batch_id=batch_id, resume=resume, budget=budget)
    plan.check()  # before any kernel starts: a batch the wallet cannot pay renders nothing
    marks["planned"] = time.time()
    selected = plan.selected
    shards = _shards(selected, workers)
    if len(shards) > 1 and _one_wave(wb, selected, concurrency):
        shards = _shards(selected, 1)  # all its requests fit in flight at once: one kernel sends them
    folder = batch_folder(wb, plan.batch_id)
    write_batch_files(folder, plan)
    share_batch_files(wb, folder, plan.batch_id)
    record_batch(
        wb,
        plan,
        status="running",
        options={
            "workers": workers,
            "concurrency": concurrency,
            "budget": budget,
            "notebook": str(notebook),
            "check_text": check_text,
        },
    )
    if resume:
        _stop_stale_kernels(folder)
    # The shards' kernels start now: each boots and imports what its jobs need (0.5-2 s a kernel)
    # while the runner loads papermill, instead of after.
    public_options, secret_options = _split_options(wb.backend_options)
    kernels = _Kernels.start(
        wb,
        notebook,
        count=len(shards),
        secret_options=secret_options,
        service=any(not _is_draft(job.plan.backend) for job in selected),
        start_timeout=start_timeout,
    )
    in_flight = _in_flight(wb, selected, concurrency, len(shards))
    if in_flight is not None:
        # One total for the batch: every kernel may send `in_flight` requests, and the slots in
        # <root>/limits (flock'd files, freed if a kernel dies) keep the sum at `in_flight`.
        public_options["openai"] = {
            **public_options.get("openai", {}),
            "concurrency": in_flight,
            "slots_folder": str(wb.root.resolve() / "limits"),
        }
    params_common = {
        "batch_id": plan.batch_id,
        "root": str(wb.root.resolve()),
        "experiment": plan.experiment.name,
        "prompts": [str(Path(p).resolve()) for p in wb.prompt_folders],
        "backend_options": public_options,
        # Jobs in flight per kernel: twice the requests, so jobs storing, logging and making
        # thumbnails after their answer never leave a shared slot idle.
        "concurrency": 2 * in_flight if in_flight is not None else concurrency,
        "check_text": check_text,
    }
    outcomes: list[ShardOutcome] = []
    first_rowid = wb.batches.mark()
    marks["shards_started"] = time.time()
    if shards:
        outcomes = _run_shards(
            wb,
            notebook,
            folder,
            shards,
            params_common,
            secret_options=secret_options,
            retries=retries,
            start_timeout=start_timeout,
            progress=progress,
            first_rowid=first_rowid,
            total=len(selected),
            kernels=kernels,
            report=report,
        )
    marks["shards_done"] = time.time()
    statuses, credits, usd = batch_outcome(wb, plan, first_rowid)
    result = BatchResult(
        plan.batch_id,
        folder,
        len(plan.jobs),
        count_statuses(statuses, plan),
        credits,
        usd,
        plan.left,
        outcomes,
    )
    set_batch_status(
        wb, plan.batch_id, "done" if result.complete else ("stopped" if plan.left else "incomplete")
    )
    result.text_accuracy, result.text_checked = _text_accuracy(wb, plan.batch_id)
    if report:
        from workbench.batch.report import write_report

        written = write_report(wb, plan.batch_id)
        result.contact_sheets, result.report = written.contact_sheets, written.html
    marks["reported"] = time.time()
    kernels.join()  # the shards' kernels, stopped while the report was made
    marks["kernels_stopped"] = time.time()
    _write_timings(folder, marks | kernels.marks, len(shards))
    result.seconds = time.perf_counter() - started
    return result


def _write_timings(folder: Path, marks: dict[str, float], shards: int) -> None:
    """``timings.json``: when each step of this run began (Unix seconds), the runner's and each
    shard's (``shard_started``, ``first_job_done``, ...), to see where a batch's time goes."""
    timings: dict[str, Any] = {"runner": marks, "shards": {}}
    for k in range(shards):
        path = folder / f"shard-{k}.timings.json"
        try:
            timings["shards"][str(k)] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        path.unlink(missing_ok=True)
    try:
        _write_json(folder / "timings.json", timings)
    except OSError:
        pass


def _one_wave(wb: Workbench, jobs: list[PlannedJob], concurrency: int | None) -> bool:
    """Whether every job is a service request and the batch's total in flight (``concurrency``,
    else the backend options') covers them all: a second kernel would only add its start."""
    if concurrency is None:
        configured = wb.backend_options.get("openai", {}).get("concurrency")
        concurrency = int(configured) if configured else None
    if concurrency is None or len(jobs) > concurrency:
        return False
    return all(not _is_draft(job.plan.backend) for job in jobs)


def _in_flight(wb: Workbench, jobs: list[PlannedJob], concurrency: int | None, shards: int) -> int | None:
    """The batch's total of requests in flight when some of its jobs go to the openai service
    (None for an all-draft batch): ``concurrency``, else the backend options', else 4 a shard."""
    if not any(job.plan.backend == "openai" for job in jobs):
        return None
    if concurrency is not None:
        return concurrency
    configured = wb.backend_options.get("openai", {}).get("concurrency")
    return int(configured) if configured else 4 * max(1, shards)


def count_statuses(statuses: Mapping[str, str], plan: BatchPlan) -> dict[str, int]:
    counts = {"ok": 0, "cached": 0, "failed": 0, "blocked": 0, "missing": 0}
    for job in plan.jobs:
        counts[statuses.get(job.job.key, "missing")] += 1
    return counts


def batch_outcome(wb: Workbench, plan: BatchPlan, first_rowid: int) -> tuple[dict[str, str], int, float]:
    """Each job's best status in the batch, and what this run charged."""
    rows = wb.batches.job_statuses(plan.batch_id)
    statuses = best_per_job((key, status, status) for key, status in rows)
    credits, usd = wb.batches.spend(plan.batch_id, since=first_rowid)
    return statuses, credits, usd


def _require_ocr() -> None:
    from workbench.imaging.ocr import ocr_available

    if not ocr_available():
        raise WorkbenchError(
            "--check-text needs the tesseract program and pytesseract: install tesseract-ocr "
            "(apt install tesseract-ocr, or brew install tesseract) and pip install pytesseract."
        )


def _text_accuracy(wb: Workbench, batch_id: str) -> tuple[float | None, int]:
    """The mean text accuracy of a batch's checked runs, and how many were checked."""
    scores = wb.runs(batch_id=batch_id)["text_accuracy"].dropna()
    return (float(scores.mean()), len(scores)) if len(scores) else (None, 0)


def _split_options(
    options: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Backend options split into what a notebook's parameters may show and what they may not.

    Keys, secrets, tokens and passwords, and a URL's ``user:password@``, go to the kernels through
    their environment (``SECRETS_ENV``); the parameters keep such a URL without its credentials.
    """
    public: dict[str, dict[str, Any]] = {}
    secret: dict[str, dict[str, Any]] = {}
    for name, opts in options.items():
        public[name] = {}
        for key, value in opts.items():
            if any(word in key.lower() for word in ("key", "secret", "token", "password")):
                secret.setdefault(name, {})[key] = value
                continue
            parts = urlsplit(value) if isinstance(value, str) else None
            if parts is not None and (parts.username or parts.password):
                secret.setdefault(name, {})[key] = value
                value = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
            public[name][key] = value
    return public, secret


def _shards(selected: list[PlannedJob], workers: int) -> list[list[PlannedJob]]:
    """Split jobs into up to ``workers`` shards; jobs that make the same request stay together."""
    groups: dict[str, list[PlannedJob]] = {}
    for job in selected:
        groups.setdefault(job.plan.fingerprint, []).append(job)
    count = min(workers, len(groups))
    shards: list[list[PlannedJob]] = [[] for _ in range(count)]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(shards, key=len).extend(group)
    for shard in shards:
        shard.sort(key=lambda j: j.job.index)
    return [s for s in shards if s]


def _stop_stale_kernels(folder: Path) -> None:
    """Before a resume, make sure no kernel of a killed run still works on this batch."""
    deadline = time.monotonic() + _STALE_KERNEL_WAIT
    for pid_file in folder.glob("shard-*.pid"):
        try:
            pid = int(pid_file.read_text().strip() or 0)
        except (OSError, ValueError):
            continue
        while pid and pid != os.getpid() and process_alive(pid):
            if time.monotonic() > deadline:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
                time.sleep(0.1)
                break
            time.sleep(0.1)
        pid_file.unlink(missing_ok=True)


def _kernel_manager_class(
    secret_options: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
    environment: Mapping[str, str] | None = None,
) -> type:
    """A kernel manager whose kernels import this very ``workbench`` package, get the secret
    backend options in their environment and start in ``cwd`` (the batch folder).

    The kernel process gets its own working directory; papermill's ``cwd=`` would instead change
    the whole runner's directory (``os.chdir``) from each shard's thread, racing the others and
    leaving the caller wherever the last shard was.
    """
    from jupyter_client.manager import AsyncKernelManager

    package_parent = str(Path(__file__).resolve().parents[2])

    ready_async, ready_blocking = _ready_clients()

    class WorkbenchKernelManager(AsyncKernelManager):
        kernel_cwd = None if cwd is None else str(cwd)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.client_factory = ready_async  # (nbclient's client of the shard's notebook)
            self.blocking_class = ready_blocking  # (the client of a kernel booted ahead)

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            if self.kernel_cwd is not None:
                kw["cwd"] = self.kernel_cwd
            env = dict(kw.pop("env", None) or os.environ)
            paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
            if package_parent not in paths:
                env["PYTHONPATH"] = os.pathsep.join([package_parent, *paths])
            env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
            if secret_options:
                env[SECRETS_ENV] = json.dumps(secret_options)
            env.update(environment or {})
            return await super().start_kernel(env=env, **kw)

    return WorkbenchKernelManager


_READY_CLIENTS: tuple[type, type] | None = None


def _ready_clients() -> tuple[type, type]:
    """jupyter_client's async and blocking kernel clients with ``_wait_for_ready`` (made once)."""
    global _READY_CLIENTS
    if _READY_CLIENTS is None:
        from jupyter_client.asynchronous import AsyncKernelClient
        from jupyter_client.blocking import BlockingKernelClient
        from jupyter_client.utils import run_sync

        class ReadyAsyncKernelClient(AsyncKernelClient):
            wait_for_ready = _wait_for_ready

        class ReadyBlockingKernelClient(BlockingKernelClient):
            wait_for_ready = run_sync(_wait_for_ready)

        _READY_CLIENTS = (ReadyAsyncKernelClient, ReadyBlockingKernelClient)
    return _READY_CLIENTS


async def _wait_for_ready(self: Any, timeout: float | None = None) -> None:
    """``KernelClient.wait_for_ready`` without its fixed waits, which cost every new client
    0.2 s at least: after a kernel_info reply it gives IOPub 0.2 s for a message, then drains
    IOPub until 0.2 s pass without one. A batch paid that once per kernel booted ahead and once
    per shard (nbclient's own client), on the way to its first job. The same proof of a live
    kernel and a live IOPub subscription (a kernel_info reply on shell, then any message on
    IOPub), asked again every 20 ms until it holds; what IOPub has already queued is dropped
    (nbclient and the runner match replies and outputs to their requests anyway)."""
    from queue import Empty

    from jupyter_core.utils import ensure_async

    deadline = time.monotonic() + (math.inf if timeout is None else timeout)
    while True:
        self.kernel_info()
        try:
            reply = await ensure_async(self.shell_channel.get_msg(timeout=1))
        except Empty:
            reply = None
        if reply is not None and reply["msg_type"] == "kernel_info_reply":
            try:
                await ensure_async(self.iopub_channel.get_msg(timeout=0.02))
            except Empty:
                pass  # not subscribed yet: ask again
            else:
                handle = getattr(self, "_handle_kernel_info_reply", None)  # (protocol version)
                if handle is not None:
                    handle(reply)
                break
        if not await ensure_async(self.is_alive()):
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
    while True:
        try:
            await ensure_async(self.iopub_channel.get_msg(timeout=0))
        except Empty:
            return


_KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]
# What a shard loads before its first job (the facade, Pillow's decoders), run in the kernel while
# the runner works; with the service client's modules too when the batch sends requests (openai
# alone is 0.6-0.9 s). Not pandas: no job needs it, nor the shard's summary (0.3 s a kernel).
# A function, so that the notebook's namespace stays as it was.
_WARM_UP = """
def _workbench_warm_up(service):
    import workbench.core, workbench.batch.shard, workbench.backends.base
    from PIL import Image, WebPImagePlugin
    Image.preinit()
    if service:
        try:
            import encodings.idna, openai, workbench.backends.openai
            openai.AsyncOpenAI(api_key="warm-up", base_url="http://127.0.0.1:9/v1").images
        except Exception:
            pass
_workbench_warm_up(%r)
del _workbench_warm_up
"""


_BOOTED: list[tuple[Any, dict[str, str]]] = []  # kernels booted ahead (futures), with their environment
_BOOTED_LOCK = threading.Lock()


@contextlib.contextmanager
def prestarted_kernels(count: int) -> Iterator[None]:
    """Boot ``count`` batch kernels now, before the Workbench is opened and the batch planned (a
    kernel takes ~0.6 s to boot): a :func:`run_batch` inside the block warms up and uses those its
    shards need; the others, and all of them if no batch runs, are stopped at the end of the block.
    ``workbench batch run`` wraps its work in it. The kernels get their working directory, run log,
    store and secrets when a shard takes them."""
    # No more than the machine's cores ahead: the batch's size is not known yet, and kernels past
    # what its shards take would only compete with the planning for a core (run_batch starts
    # any further kernel its shards need).
    count = min(count, os.cpu_count() or 1)
    if count >= 1:
        cwd = _boot_folder()
        manager = _kernel_manager_class()
        pool = ThreadPoolExecutor(count, thread_name_prefix="kernel-boot")
        booted = [(pool.submit(_boot_kernel, manager, cwd, 60.0), dict(os.environ)) for _ in range(count)]
        pool.shutdown(wait=False)
        with _BOOTED_LOCK:
            _BOOTED.extend(booted)
    try:
        yield
    finally:
        _close_booted()


def _boot_folder() -> str:
    """Where kernels booted ahead start: an empty folder of this user's only, kept for the next
    batch (a kernel imports from its working directory first: not the shared temp folder, and
    not one removed under a kernel still starting). They work in the batch folder once taken."""
    folder = Path(tempfile.gettempdir()) / f"workbench-kernels-{os.getuid() if hasattr(os, 'getuid') else 0}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
        mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
        if folder.is_dir() and not folder.is_symlink() and mine and not info.st_mode & 0o022:
            if not any(folder.iterdir()):
                return str(folder)
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="workbench-kernels-")  # someone else's, or not empty: a new one


def _take_booted(count: int) -> list[Any]:
    """Up to ``count`` kernels booted ahead in this very environment; the others are stopped."""
    with _BOOTED_LOCK:
        booted = list(_BOOTED)
        _BOOTED.clear()
    taken, environment = [], dict(os.environ)
    for future, seen in booted:
        if len(taken) < count and seen == environment:
            taken.append(future)
        else:
            future.add_done_callback(_stop_booted)
    return taken


def _close_booted() -> None:
    _take_booted(0)


def _stop_booted(future: Any) -> None:
    try:
        km, kc = future.result()
    except Exception:  # noqa: BLE001 - it never booted
        return
    kc.stop_channels()
    _stop_kernel(km)


class _Kernels:
    """Kernels started (or booted ahead) for a batch's shards, one per shard, each warmed up with
    the imports its jobs need while the runner works. A shard takes one (``take``), which then works
    in the batch folder with the batch's environment; the runner stops it after its notebook. A
    kernel that failed to start or warm up is not handed out: the shard starts its own, as on a
    retry. ``close`` stops the ones nobody took.
    """

    def __init__(self, pending: list[Any], start_timeout: float, environment: Mapping[str, str]) -> None:
        self._pending = pending  # futures of (kernel manager, client, warm-up message id)
        self._timeout = start_timeout
        self._environment = dict(environment)
        self._lock = threading.Lock()
        self.marks: dict[str, float] = {}  # when the first kernel was up, and warm
        self._stopping: list[threading.Thread] = []

    @classmethod
    def start(
        cls,
        wb: Workbench,
        notebook: Path,
        *,
        count: int,
        secret_options: Mapping[str, Mapping[str, Any]],
        service: bool,
        start_timeout: float,
    ) -> _Kernels:
        # What papermill's kernels get at launch, given to these when a shard takes one: the
        # secret backend options and the batch's run log and store.
        environment = _team_environment(wb)
        if secret_options:
            environment[SECRETS_ENV] = json.dumps(secret_options)
        if count < 1 or _kernel_name(notebook) not in ("python3", "python"):
            _close_booted()
            return cls([], start_timeout, environment)  # another language's kernel: papermill starts it
        booted = _take_booted(count)
        booted += [None] * (count - len(booted))
        manager = _kernel_manager_class()
        code = _WARM_UP % service
        cwd = _boot_folder()  # never the root: a kernel imports from its working directory first
        pool = ThreadPoolExecutor(count, thread_name_prefix="kernel-start")
        pending = [pool.submit(_warm_kernel, b, manager, cwd, code, start_timeout) for b in booted]
        pool.shutdown(wait=False)
        kernels = cls(pending, start_timeout, environment)
        atexit.register(kernels.close)  # a runner stopped between planning and its shards
        return kernels

    def take(self, folder: Path) -> Any:
        """A started kernel, now working in ``folder`` with the batch's environment (its warm-up
        done), or None."""
        while True:
            with self._lock:
                if not self._pending:
                    return None
                future = self._pending.pop(0)
            try:
                km, kc, warm_id = future.result()
            except Exception:  # noqa: BLE001 - this kernel did not start: try the next one, else none
                continue
            self.marks.setdefault("kernel_started", time.time())
            try:
                # Not stored anywhere: a silent request, outside the notebook and its history.
                ready = kc.execute(
                    "import os as _os, json as _json\n"
                    f"_os.environ.update(_json.loads({json.dumps(self._environment)!r}))\n"
                    f"_os.chdir({str(folder.resolve())!r})\n"
                    "del _os, _json",
                    silent=True,
                    store_history=False,
                )
                statuses = {}
                deadline = time.monotonic() + self._timeout
                while ready not in statuses:  # the warm-up's reply first: the kernel runs them in order
                    reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
                    statuses[reply["parent_header"].get("msg_id")] = reply["content"].get("status")
                if statuses.get(warm_id) == "ok" and statuses[ready] == "ok":
                    self.marks.setdefault("kernel_warm", time.time())
                    return km
            except Exception:  # noqa: BLE001 - no answer in time, the kernel died: not this one
                pass
            finally:
                kc.stop_channels()
            _stop_kernel(km)

    def stop(self, km: Any) -> None:
        """Stop a kernel this runner took, in a thread of its own (``join`` waits for them)."""
        stopping = threading.Thread(target=_stop_kernel, args=(km,), name="kernel-stop")
        stopping.start()
        with self._lock:
            self._stopping.append(stopping)

    def join(self) -> None:
        with self._lock:
            stopping, self._stopping = self._stopping, []
        for thread in stopping:
            thread.join()

    def close(self) -> None:
        atexit.unregister(self.close)
        with self._lock:
            pending, self._pending = self._pending, []
        for future in pending:
            try:
                km, kc, _ = future.result()
            except Exception:  # noqa: BLE001 - it never started
                continue
            kc.stop_channels()
            _stop_kernel(km)


def _is_draft(backend: str) -> bool:
    from workbench.backends.base import get_backend_class

    return get_backend_class(backend).is_draft


def _kernel_name(notebook: Path) -> str | None:
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return None
    return (meta.get("kernelspec") or {}).get("name")


def _boot_kernel(manager: type, cwd: str, start_timeout: float) -> tuple[Any, Any]:
    """Start a kernel and connect to it; (manager, client)."""
    import asyncio

    km = manager(kernel_name="python3")
    asyncio.run(km.start_kernel(cwd=cwd, extra_arguments=_KERNEL_ARGUMENTS))
    kc = km.blocking_client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=start_timeout)
    except BaseException:
        kc.stop_channels()
        _stop_kernel(km)
        raise
    return km, kc


def _warm_kernel(
    booted: Any, manager: type, cwd: str, code: str, start_timeout: float
) -> tuple[Any, Any, str]:
    """A kernel booted ahead (``booted``, a future) or started now, sent its warm-up (not waited
    for); (manager, client, the warm-up's message id)."""
    km, kc = booted.result() if booted is not None else _boot_kernel(manager, cwd, start_timeout)
    try:
        return km, kc, kc.execute(code, silent=True, store_history=False)
    except BaseException:
        kc.stop_channels()
        _stop_kernel(km)
        raise


def _stop_kernel(km: Any) -> None:
    """Stop a kernel at once (its shard has closed its Workbench); best effort."""
    import asyncio

    try:
        asyncio.run(km.shutdown_kernel(now=True))
    except Exception:  # noqa: BLE001 - a kernel that is gone already
        pass


def _team_environment(wb: Workbench) -> dict[str, str]:
    """The shards' run log and image store: the batch's own, which may have been given to its
    Workbench rather than by the environment. Through the kernels' environment, not the notebook
    parameters: a database URL carries a password."""
    env = {}
    url = getattr(wb.ledger, "url", None)  # a PostgreSQL run log
    if url:
        env["WORKBENCH_DATABASE_URL"] = str(url)
    if wb.store.url:
        env["WORKBENCH_STORE"] = wb.store.url
        env["WORKBENCH_STORE_OPTIONS"] = json.dumps(wb.store.options)
    return env


def _run_shards(
    wb: Workbench,
    notebook: Path,
    folder: Path,
    shards: list[list[PlannedJob]],
    params_common: dict[str, Any],
    *,
    secret_options: Mapping[str, Mapping[str, Any]],
    retries: int,
    start_timeout: float,
    progress: bool,
    first_rowid: int,
    total: int,
    kernels: _Kernels | None = None,
    report: bool = False,
) -> list[ShardOutcome]:
    from tqdm.auto import tqdm

    _import_papermill()  # here, before the shards' threads: it sets a module aside for a moment
    manager = _kernel_manager_class(secret_options, cwd=folder, environment=_team_environment(wb))
    outcomes = [ShardOutcome(k, len(jobs), folder / f"shard-{k}.ipynb") for k, jobs in enumerate(shards)]
    for k, jobs in enumerate(shards):
        _write_json(folder / f"shard-{k}.jobs.json", [j.record() for j in jobs])

    def run_one(k: int) -> None:
        outcome = outcomes[k]
        params = params_common | {"shard": k, "jobs_file": str((folder / f"shard-{k}.jobs.json").resolve())}
        for attempt in range(1, retries + 2):
            outcome.attempts = attempt
            begun = time.perf_counter()
            # The first attempt in a kernel started with the batch, if one is ready; a retry in a new one.
            km = kernels.take(folder) if kernels is not None and attempt == 1 else None
            try:
                error, retry = _execute_notebook(
                    notebook, outcome.notebook, params, folder, manager, start_timeout, km=km
                )
            finally:
                if km is not None:
                    kernels.stop(km)  # in the background: the report need not wait for it
            outcome.seconds += time.perf_counter() - begun
            outcome.error = error
            if error is None or not retry:
                return

    bar = tqdm(
        total=total, unit="job", desc="batch", disable=not progress, file=sys.stderr, dynamic_ncols=True
    )
    try:
        with ThreadPoolExecutor(len(shards), thread_name_prefix="shard") as pool:
            futures = [pool.submit(run_one, k) for k in range(len(shards))]
            prefetch = report
            while not all(f.done() for f in futures):
                finished = _advance(wb, bar, first_rowid, params_common["batch_id"])
                if prefetch and finished:
                    # What the report needs, loaded while the kernels work rather than after them;
                    # from the first job on, not while the kernels start (that is the critical path).
                    threading.Thread(target=_prefetch_report, name="report-prefetch", daemon=True).start()
                    prefetch = False
                wait(futures, timeout=_POLL_SECONDS)  # back at once when the last shard ends
            for future in futures:
                future.result()
        _advance(wb, bar, first_rowid, params_common["batch_id"])
    finally:
        bar.close()
        if kernels is not None:
            kernels.close()
    return outcomes


def _advance(wb: Workbench, bar: Any, first_rowid: int, batch_id: str) -> int:
    """Move the progress bar to the jobs finished so far; their number."""
    finished = len(wb.batches.jobs(batch_id, since=first_rowid))
    if finished > bar.n:
        bar.update(min(finished, bar.total) - bar.n)
    return finished


def _prefetch_report() -> None:
    """Import the report's modules (pandas, Pillow's drawing, jinja2), compile its template and
    load its fonts: ~0.5 s of a new process that would otherwise follow the last job."""
    try:
        import pandas  # noqa: F401

        from workbench.batch import report

        report._template()
        for size in (15, 18):
            report._font(size)
    except Exception:  # noqa: BLE001 - only a head start: the report loads them itself anyway
        pass


def _import_papermill() -> None:
    """Import papermill without jsonschema's optional ``rfc3987_syntax``: when it is installed
    (jupyterlab brings it), importing it builds a lark grammar, 0.5-1.8 s of a batch's start, for
    'iri' format checks nbformat never makes. It is kept out only while papermill (nbformat,
    jsonschema) is first imported; later imports of it work as usual."""
    if "papermill" in sys.modules or "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        import papermill  # noqa: F401

        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment] - an ImportError for jsonschema
    try:
        import papermill  # noqa: F401
    finally:
        if "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None:
            del sys.modules["rfc3987_syntax"]


def _execute_notebook(
    notebook: Path,
    output: Path,
    params: dict[str, Any],
    folder: Path,
    manager: type,
    start_timeout: float,
    *,
    km: Any = None,
) -> tuple[str | None, bool]:
    """Run one shard's notebook in a kernel working in ``folder``; return (error or None, whether
    a retry may help). The runner's own working directory never changes (no papermill ``cwd=``).

    ``km``: a kernel already started (and working in ``folder``), which the caller stops after;
    without it papermill starts one with ``manager`` and stops it at the end."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    if km is not None:
        kernel: dict[str, Any] = {"km": km}
    else:
        if getattr(manager, "kernel_cwd", None) != str(folder):
            manager = type(manager.__name__, (manager,), {"kernel_cwd": str(folder)})
        kernel = {
            "kernel_manager_class": manager,
            "extra_arguments": _KERNEL_ARGUMENTS,
            # The shard has closed its Workbench and joined its threads when its cell ends: a
            # graceful shutdown only waits ~1 s for a kernel with nothing left to do.
            "shutdown_kernel": "immediate",
        }
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=params,
            progress_bar=False,
            log_output=False,
            start_timeout=start_timeout,
            **kernel,
        )
    except PapermillExecutionError as exc:
        # The notebook raised: papermill kept it with the error. The same jobs would fail again.
        return f"{exc.ename}: {exc.evalue}".strip(), False
    except (WorkbenchError, FileNotFoundError) as exc:
        return f"{type(exc).__name__}: {exc}", False
    except Exception as exc:  # a kernel that would not start or died: worth another attempt
        _keep_failed(notebook, output, exc)
        return f"{type(exc).__name__}: {exc}".strip().rstrip(":"), True
    return None, False


def _keep_failed(notebook: Path, output: Path, exc: BaseException) -> None:
    """Papermill writes the notebook as far as it ran; make sure one is there, with the error."""
    import nbformat

    try:
        nb = nbformat.read(str(output if output.exists() else notebook), as_version=4)
        nb.metadata.setdefault("workbench", {})["error"] = f"{type(exc).__name__}: {exc}"
        nbformat.write(nb, str(output))
    except Exception:  # noqa: BLE001 - keeping the notebook is best effort; the error is reported anyway
        pass
