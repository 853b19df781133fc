"""``workbench batch``: plan, run, resume and report experiment grids (a thin shell)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from workbench.credits import format_credits


def _workbench(ctx: click.Context):
    from workbench.cliopts import workbench_for

    return workbench_for(ctx)


def _load(wb, experiment: str, backend: str | None, model: str | None, quality: str | None):
    from workbench.batch.experiments import load_experiment

    return load_experiment(
        experiment, templates=wb.templates, backend=backend, model=model, quality=quality, root=wb.root
    )


_backend = click.option("--backend", help="Backend for every job (default: the experiment's, else draft).")
_model = click.option("--model", help="Model for every job (default: the backend's own).")
_quality = click.option(
    "--quality",
    help="Quality for every job: low, medium or high (xhigh and max on the 2.5 models); "
    "checked against each job's model.",
)


@click.group()
def batch() -> None:
    """Experiment grids as papermill batches: plan the cost, run, resume, report.

    EXPERIMENT is a YAML or CSV file, or a name in prompts/experiments/ or the shipped examples.
    A new `run` starts a new batch (jobs made before come from the cache at 0 credits);
    `run --resume BATCH_ID` continues one, running only its missing and failed jobs.
    """


@batch.command()
@click.argument("experiment")
@_backend
@_model
@_quality
@click.option("--budget", type=float, help="A cap in credits: show how many jobs fit.")
@click.option(
    "--via",
    type=click.Choice(["papermill", "openai-batch"]),
    default="papermill",
    show_default=True,
    help="Price for local runs or for the OpenAI Batch API (half price).",
)
@click.option("--batch-id", help="The id the batch will have (default: the experiment's name and the time).")
@click.pass_context
def plan(
    ctx: click.Context,
    experiment: str,
    backend: str | None,
    model: str | None,
    quality: str | None,
    budget: float | None,
    via: str,
    batch_id: str | None,
) -> None:
    """Show what EXPERIMENT would make and cost, what is cached, and whether the wallet can pay;
    end with the command that runs this very batch (its id included)."""
    from workbench.batch.runner import plan_batch

    wb = _workbench(ctx)
    loaded = _load(wb, experiment, backend, model, quality)
    planned = plan_batch(wb, loaded, budget=budget, via=via, batch_id=batch_id)
    click.echo(planned.describe())
    verb = "submit" if via == "openai-batch" else "run"
    flags = (("model", model), ("quality", quality))
    if verb == "run":  # submit takes neither: the Batch API is the openai backend, and pays in full
        flags = (("backend", backend), *flags, ("budget", budget))
    options = "".join(f" --{name} {value}" for name, value in flags if value is not None)
    click.echo(f"run it: workbench batch {verb} {experiment}{options} --batch-id {planned.batch_id}")


@batch.command()
@click.argument("experiment", required=False)
@click.option(
    "--notebook",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The parameterised batch notebook (default: the one shipped in the package).",
)
@click.option(
    "--workers",
    "-k",
    type=int,
    default=2,
    show_default=True,
    help="Shards (kernels) run in parallel (one when --concurrency covers every service request).",
)
@click.option(
    "--concurrency",
    "-c",
    type=int,
    help="Service requests in flight for the whole batch, across its shards "
    "(default: the openai backend option, else 4 per shard).",
)
@_backend
@_model
@_quality
@click.option(
    "--budget", type=float, help="Stop cleanly before the job that would spend more credits than this."
)
@click.option("--batch-id", help="The new batch's id (default: the experiment's name and the time).")
@click.option(
    "--resume", "resume", metavar="BATCH_ID", help="Continue a batch: run only its missing and failed jobs."
)
@click.option(
    "--retries", type=int, default=2, show_default=True, help="Extra attempts for a shard whose kernel dies."
)
@click.option(
    "--check-text",
    is_flag=True,
    help="Read each image's exact texts back with OCR (needs tesseract); the report shows the accuracy.",
)
@click.option(
    "--checks",
    metavar="NAMES",
    help="Checks each shard runs on its own images, e.g. palette,contrast (workbench check --help); "
    "the report ranks each factor's values by mean score with 95 % intervals.",
)
@click.option(
    "--adaptive",
    is_flag=True,
    help="Successive halving: a few samples of every cell first, then more only for cells whose "
    "interval does not already lie below the leader's (needs repeats: and checks), within --budget.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.pass_context
def run(
    ctx: click.Context,
    experiment: str | None,
    notebook: Path | None,
    workers: int,
    concurrency: int | None,
    backend: str | None,
    model: str | None,
    quality: str | None,
    budget: float | None,
    batch_id: str | None,
    resume: str | None,
    retries: int,
    check_text: bool,
    checks: str | None,
    adaptive: bool,
    no_progress: bool,
) -> None:
    """Run EXPERIMENT through the batch notebook, K shards at once; write images, sheets and a report."""
    from workbench.batch.runner import prestarted_kernels, run_batch

    if (experiment is None) == (resume is None):
        raise click.UsageError("Give an EXPERIMENT to start a batch, or --resume BATCH_ID to continue one.")
    if resume and (backend or model or quality or batch_id):
        raise click.UsageError(
            "--resume continues a batch as it was planned; drop --backend/--model/--quality/--batch-id."
        )
    # The shards' kernels boot while the run log is opened and the batch loaded and planned.
    with prestarted_kernels(0 if adaptive else workers):
        wb = _workbench(ctx)
        loaded = _load(wb, experiment, backend, model, quality) if experiment else None
        if adaptive:
            from workbench.batch.adaptive import run_adaptive

            if loaded is None:
                raise click.UsageError("--adaptive starts a batch: give an EXPERIMENT, not --resume.")
            outcome = run_adaptive(
                wb,
                loaded,
                checks=checks,
                budget=budget,
                batch_id=batch_id,
                workers=workers,
                concurrency=concurrency,
                notebook=notebook,
                retries=retries,
                progress=not no_progress,
                check_text=check_text,
            )
            _said(wb, outcome.describe(), outcome.result)
            return
        result = run_batch(
            wb,
            loaded,
            batch_id=batch_id,
            resume=resume,
            workers=workers,
            concurrency=concurrency,
            notebook=notebook,
            budget=budget,
            retries=retries,
            progress=not no_progress,
            check_text=check_text,
            checks=checks,
        )
        _said(wb, result.describe(), result)


@batch.command()
@click.argument("batch_id")
@click.pass_context
def report(ctx: click.Context, batch_id: str) -> None:
    """Write BATCH_ID's contact sheet and HTML report again (from the run log)."""
    from workbench.batch.report import write_report

    wb = _workbench(ctx)
    written = write_report(wb, batch_id)
    for sheet in written.contact_sheets:
        click.echo(f"contact sheet {sheet}")
    click.echo(f"report {written.html}")


@batch.command(name="list")
@click.pass_context
def list_batches(ctx: click.Context) -> None:
    """The batches in the run log, newest last."""
    wb = _workbench(ctx)
    rows = wb.batches.all()
    if not rows:
        click.echo("(no batches)")
    for row in rows:
        click.echo(
            f"{row['id']:<48} {row['created_at'][:19]}  {row['via']:<12} {row['backend'] or '':<8} "
            f"{row['jobs']:>5} jobs  {row['status']}"
        )


@batch.command()
@click.argument("experiment")
@click.option(
    "--via",
    type=click.Choice(["openai-batch"]),
    default="openai-batch",
    show_default=True,
    help="Where the batch goes: the OpenAI Batch API (half price, answered within 24 h).",
)
@_model
@_quality
@click.option("--batch-id", help="The new batch's id (default: the experiment's name and the time).")
@click.pass_context
def submit(
    ctx: click.Context,
    experiment: str,
    via: str,
    model: str | None,
    quality: str | None,
    batch_id: str | None,
) -> None:
    """Send EXPERIMENT to the OpenAI Batch API: write the JSONL, upload it, create the batch, record it."""
    from workbench.batch.openai_batch import submit as send

    wb = _workbench(ctx)
    loaded = _load(wb, experiment, "openai", model, quality)
    click.echo(send(wb, loaded, batch_id=batch_id).describe())


@batch.command()
@click.argument("batch_id")
@click.pass_context
def status(ctx: click.Context, batch_id: str) -> None:
    """Poll BATCH_ID on the OpenAI Batch API."""
    from workbench.batch.openai_batch import status as poll

    wb = _workbench(ctx)
    info = poll(wb, batch_id)
    click.echo(
        f"batch {batch_id}: {info['status']}, {info['completed']} of {info['total']} done, "
        f"{info['failed']} failed"
    )


@batch.command()
@click.argument("batch_id")
@click.pass_context
def collect(ctx: click.Context, batch_id: str) -> None:
    """Turn BATCH_ID's finished answers into stored images and run-log rows; write its report."""
    from workbench.batch.openai_batch import collect as gather

    wb = _workbench(ctx)
    result = gather(wb, batch_id)
    _said(wb, result.describe())


@batch.command()
@click.argument("batch_id")
@click.pass_context
def cancel(ctx: click.Context, batch_id: str) -> None:
    """Cancel BATCH_ID at the OpenAI Batch API; collect what it answered and release the rest."""
    from workbench.batch.openai_batch import cancel as stop

    wb = _workbench(ctx)
    result = stop(wb, batch_id)
    _said(wb, result.describe() if result is not None else f"batch {batch_id}: cancelled before it was sent")


def _said(wb: Any, summary: str, result: Any = None) -> None:
    """A batch command's last words: its summary, the wallet's balance (on stderr), and exit 1
    when a run's shards failed or any job failed or was blocked."""
    click.echo(summary)
    click.echo(f"wallet: {format_credits(wb.wallet.balance)} credits left", err=True)
    if result is not None and (
        result.failed_shards or result.statuses.get("failed") or result.statuses.get("blocked")
    ):
        sys.exit(1)
