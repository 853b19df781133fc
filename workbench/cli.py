"""The ``workbench`` command: a thin shell over the ``Workbench`` facade.

Bad input prints one sentence (``error: …``) on stderr and exits 1; usage mistakes exit 2.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from workbench.cliopts import workbench_for as _workbench
from workbench.credits import credits_value, format_credits
from workbench.errors import WorkbenchError
from workbench.redaction import redact
from workbench.spec import ASPECTS, TEMPLATE_KINDS, PromptSpec

TABLE_COLUMNS = [
    "created_at",
    "id",
    "status",
    "backend",
    "preset",
    "size",
    "quality",
    "n",
    "credits",
    "usd",
    "latency_ms",
    "prompt",
]


def run_table(frame, *, width: int = 48) -> str:
    """The run log as a short text table: the columns a person looks at first."""
    if frame.empty:
        return "(no runs)"
    table = frame[[c for c in TABLE_COLUMNS if c in frame.columns]].copy()
    table["created_at"] = table["created_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    table["id"] = table["id"].str[:8]
    table["latency_ms"] = table["latency_ms"].round(0).astype("Int64")
    table["usd"] = table["usd"].map(lambda v: f"{v:.4f}")
    if "credits" in table:
        table["credits"] = table["credits"].map(format_credits)
    table["prompt"] = table["prompt"].map(lambda p: p if len(p) <= width else p[: width - 1] + "…")
    if "preset" in table:
        table["preset"] = table["preset"].astype(object).fillna("")
    return table.to_string(index=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="WORKBENCH_HOME",
    help="Where images and the run log go (default: the project's outputs/).",
)
@click.option(
    "--prompts",
    "prompts",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="An extra folder of prompt templates (repeatable).",
)
@click.option("--base-url", help="Base URL of an OpenAI-compatible server for --backend openai.")
@click.option(
    "--database",
    metavar="URL",
    help="A team's run log and wallet: postgresql://user:password@host/db "
    "(default: $WORKBENCH_DATABASE_URL, else the root's ledger.sqlite).",
)
@click.option(
    "--store",
    metavar="URL",
    help="Where images live: s3://bucket/prefix or a shared folder, the root keeping a local cache "
    "(default: $WORKBENCH_STORE, else the root).",
)
@click.version_option(package_name="workbench")
@click.pass_context
def cli(
    ctx: click.Context,
    root: Path | None,
    prompts: tuple[Path, ...],
    base_url: str | None,
    database: str | None,
    store: str | None,
) -> None:
    """Workbench: build prompts from templates, make images, keep a run log with costs."""
    ctx.obj = {"root": root, "prompts": prompts, "base_url": base_url, "database": database, "store": store}


class _progress:
    """A progress line on stderr while one render runs: a spinner with the seconds on a terminal,
    one line elsewhere (a log, a pipe). Nothing for a run served from the cache."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, plan: Any, *, fresh: bool = False, balance: float | None = None) -> None:
        request = plan.request
        images = f"{request.n} image{'s' if request.n != 1 else ''}"
        self.text = f"rendering {images} on {plan.backend}/{plan.model}, {request.quality}, {request.size}"
        # Nothing for a cached run, nor for one the wallet refuses before it starts.
        self.quiet = (plan.estimate.cached and not fresh) or (
            balance is not None and plan.estimate.credits > balance
        )
        self.tty = sys.stderr.isatty()
        self._stop: Any = None

    def __enter__(self) -> _progress:
        if self.quiet:
            return self
        if not self.tty:
            click.echo(f"{self.text}…", err=True)
            return self
        import threading
        import time

        self._stop = threading.Event()
        start = time.monotonic()

        def spin() -> None:
            frame = 0
            while not self._stop.wait(0.1):
                seconds = time.monotonic() - start
                click.echo(
                    f"\r{self.FRAMES[frame % len(self.FRAMES)]} {self.text} … {seconds:.1f} s",
                    err=True,
                    nl=False,
                )
                frame += 1

        self._thread = threading.Thread(target=spin, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._stop.set()
            self._thread.join()
            click.echo("\r\033[K", err=True, nl=False)  # clear the spinner's line


def _spec_from_options(
    wb,
    prompt: str | None,
    spec_file: Path | None,
    preset: str | None,
    fields: dict[str, Any],
    texts: list[dict[str, str]],
) -> PromptSpec:
    given = {k: v for k, v in fields.items() if v is not None}
    if texts:
        given["texts"] = texts
    if spec_file is not None:
        base = PromptSpec.from_file(spec_file)  # file:line: field: problem
        return base.replace(**given) if given else base
    # A free prompt goes to wb.spec as text, so its quoted words become its exact texts
    # (unless --headline/--subtext/--label name them) as they do in Python.
    return wb.spec(prompt, preset=preset, **given)


@cli.command()
@click.argument("prompt", required=False)
@click.option(
    "--spec",
    "spec_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A spec in YAML or JSON (see `workbench recall`).",
)
@click.option("--preset", help="Start from a preset (see `workbench templates preset`).")
@click.option("--subject", help="The main subject, or @template.")
@click.option("--background", help="Background or setting, or @template.")
@click.option("--lighting", help="Light source, direction and mood, or @template.")
@click.option("--style", help="Medium or look, or @template.")
@click.option("--details", help="Free details: composition, colours with hex codes, mood.")
@click.option("--headline", multiple=True, help="Exact headline text to render (repeatable).")
@click.option("--subtext", multiple=True, help="Exact subtext to render (repeatable).")
@click.option("--label", multiple=True, help="Exact label text, e.g. a step of an infographic (repeatable).")
@click.option("--aspect", help=f"Aspect ratio: {', '.join(ASPECTS)} (default 1:1).")
@click.option(
    "--quality",
    help="low, medium or high (xhigh and max on the 2.5 models); default medium. "
    "On gpt-image-2 at 1:1: low 1024x1024 = 0.59 credits, "
    "medium 1024x1024 = 2, high 2048x2048 = 40 (credits follow dollars; --dry-run prints a run's price).",
)
@click.option(
    "--size", help="WIDTHxHEIGHT in pixels, e.g. 1536x1024 (default: the aspect's size for the model)."
)
@click.option(
    "--reference",
    "references",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A reference image (repeatable), e.g. the character of a series; sent with the prompt.",
)
@click.option("--dry-run", is_flag=True, help="Print where the run would go and what it costs; send nothing.")
@click.option("-n", "n", type=click.IntRange(1, 10), help="How many images (1 to 10).")
@click.option("--seed", type=click.IntRange(min=0), help="Seed (0 or more), for backends that take one.")
@click.option("--backend", help="draft (offline, free; the default) or openai.")
@click.option("--model", help="Model of the backend (default: the backend's own).")
@click.option("--transparent", is_flag=True, help="Transparent background (PNG or WebP).")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["png", "jpeg", "webp", "gif", "svg"]),
    default="png",
    show_default=True,
    help="Output format; gif (animated) and svg (vector) on the models whose table lists them.",
)
@click.option(
    "--complexity", type=click.Choice(["low", "medium", "high"]), help="Planning effort, apart from quality."
)
@click.option("--frames", "frame_count", type=int, help="GIF frames (2 to 16; the service's default is 9).")
@click.option("--frame-ms", "frame_duration_ms", type=int, help="Milliseconds per GIF frame (default 200).")
@click.option("--svg-model", help="The model that authors SVG output (where the project can choose one).")
@click.option(
    "--svg-effort",
    type=click.Choice(["none", "minimal", "low", "medium", "high", "xhigh", "max"]),
    help="Reasoning effort of the SVG author.",
)
@click.option("--fresh", is_flag=True, help="Make a new sample even if this exact request was made before.")
@click.option(
    "--variant", type=click.IntRange(min=0), default=0, help="Ask for another sample of the same request."
)
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@click.pass_context
def generate(
    ctx: click.Context,
    prompt: str | None,
    spec_file: Path | None,
    preset: str | None,
    headline: tuple[str, ...],
    subtext: tuple[str, ...],
    label: tuple[str, ...],
    backend: str | None,
    model: str | None,
    transparent: bool,
    output_format: str,
    fresh: bool,
    variant: int,
    as_json: bool,
    size: str | None,
    references: tuple[Path, ...],
    dry_run: bool,
    complexity: str | None,
    frame_count: int | None,
    frame_duration_ms: int | None,
    svg_model: str | None,
    svg_effort: str | None,
    **fields: Any,
) -> None:
    """Make images from PROMPT, a --preset or a --spec file; log the run and charge the wallet."""
    from workbench.models import check_size_aspect, parse_size

    wb = _workbench(ctx)
    texts = (
        [{"text": t, "role": "headline"} for t in headline]
        + [{"text": t, "role": "subtext"} for t in subtext]
        + [{"text": t, "role": "label"} for t in label]
    )
    spec = _spec_from_options(wb, prompt, spec_file, preset, fields, texts)
    options: dict[str, Any] = {
        "backend": backend,
        "model": model,
        "variant": variant,
        "transparent": transparent or None,
        "output_format": output_format,
        # (None: not given; Workbench.plan leaves those out of the request itself)
        "complexity": complexity,
        "frame_count": frame_count,
        "frame_duration_ms": frame_duration_ms,
        "svg_model": svg_model,
        "svg_effort": svg_effort,
    }
    if size:
        options["size"] = parse_size(size)
        if fields.get("aspect"):
            check_size_aspect(options["size"], fields["aspect"])  # one sentence, not a silent winner
    if references:
        options["inputs"] = tuple(references)  # checked as uploads by the plan
    plan = wb.plan(spec, **options)  # planned once: the dry run prints it, the run runs it
    if dry_run:
        _print_plan(wb, plan, as_json)
        return
    findings = wb.lint(spec)  # shown after the run, never blocking; an error stays one line
    wb.backend(plan.backend)  # a missing key is one sentence, before any progress line
    with _progress(plan, fresh=fresh, balance=wb.wallet.balance):
        run = wb.run_plan(plan, fresh=fresh)
    for finding in findings:
        click.echo(f"lint {finding.code}: {finding.message} Fix: {finding.fix}", err=True)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": run.id,
                    "status": run.status,
                    "credits": run.credits,
                    "usd": run.usd,
                    "size": run.size,
                    "images": [str(p) for p in run.images],
                }
            )
        )
        return
    for path in run.images:
        click.echo(f"{run.status:<7} {run.size:>9}  {format_credits(run.credits):>3} credits  {path}")
    click.echo(f"wallet: {format_credits(wb.wallet.balance)} credits left", err=True)


@cli.command()
@click.option("--batch", "batch_id", help="Only runs of this batch.")
@click.option("--status", type=click.Choice(["ok", "cached", "blocked", "failed"]))
@click.option("--backend")
@click.option("--preset")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="The newest N runs (0 for all).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True
)
@click.option("--user", help="Only runs of this user.")
@click.option("--project", help="Only runs of this project.")
@click.pass_context
def runs(
    ctx: click.Context,
    batch_id: str | None,
    status: str | None,
    backend: str | None,
    preset: str | None,
    limit: int,
    fmt: str,
    user: str | None,
    project: str | None,
) -> None:
    """Show the run log, newest last, with credits and dollars."""
    wb = _workbench(ctx)
    frame = wb.runs(
        batch_id=batch_id,
        status=status,
        backend=backend,
        preset=preset,
        user=user,
        project=project,
        limit=limit or None,
    )
    if fmt == "csv":
        click.echo(frame.drop(columns=["spec"]).to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(frame.drop(columns=["spec"]).to_json(orient="records", date_format="iso"))
    else:
        click.echo(run_table(frame))
        billed = (
            float(frame["usd_possibly_billed"].fillna(0).sum()) if "usd_possibly_billed" in frame else 0.0
        )
        click.echo(
            f"{len(frame)} run(s), {format_credits(frame['credits'].sum() if len(frame) else 0)} credits, "
            f"${frame['usd'].sum() if len(frame) else 0:.4f}"
            + (f" + ${billed:.4f} possibly billed" if billed > 0 else "")
        )


@cli.command()
@click.argument("prompt", required=False)
@click.option("--spec", "spec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--preset")
@click.pass_context
def lint(ctx: click.Context, prompt: str | None, spec_file: Path | None, preset: str | None) -> None:
    """Check a prompt for the classic mistakes; exit 1 when there are findings."""
    wb = _workbench(ctx)
    target: PromptSpec | str
    if spec_file or preset:
        target = _spec_from_options(wb, None, spec_file, preset, {}, [])
    elif prompt:
        target = prompt
    else:
        raise click.UsageError("Give a PROMPT, --spec or --preset.")
    findings = wb.lint(target)
    for finding in findings:
        click.echo(f"{finding.code} {finding.message}\n    fix: {finding.fix}")
    if findings:
        sys.exit(1)
    click.echo("no findings")


@cli.command()
@click.argument("kind", required=False, type=click.Choice([*TEMPLATE_KINDS, "preset"]))
@click.pass_context
def templates(ctx: click.Context, kind: str | None) -> None:
    """List prompt templates (all kinds, or one KIND)."""
    wb = _workbench(ctx)
    library = wb.templates
    for each in [kind] if kind else [*TEMPLATE_KINDS, "preset"]:
        click.echo(f"{each}:")
        for name in library.names(each):
            template = library.get(each, name)
            about = template.description or template.text
            ref = name if each == "preset" else f"@{name}"  # presets are chosen by plain name
            click.echo(f"  {ref:<29} {about[:80]}")


@cli.group(invoke_without_command=True)
@click.pass_context
def wallet(ctx: click.Context) -> None:
    """Show the credit balance (subcommands: topup, history)."""
    if ctx.invoked_subcommand is None:
        wb = _workbench(ctx)
        click.echo(f"{format_credits(wb.wallet.balance)} credits ({format_credits(wb.wallet.spent)} spent)")


@wallet.command()
@click.argument("credits", type=click.FloatRange(min=0, min_open=True))
@click.option("--note", help="Why, for the history.")
@click.pass_context
def topup(ctx: click.Context, credits: float, note: str | None) -> None:
    """Add CREDITS to the wallet (at most two decimals: 50, or 12.5)."""
    wb = _workbench(ctx)
    click.echo(f"{format_credits(wb.wallet.topup(credits, note=note))} credits")


@wallet.command("limit")
@click.argument("credits", required=False, type=click.FloatRange(min=0))
@click.option("--user", help="The user to limit.")
@click.option("--project", help="The project to limit.")
@click.option("--remove", is_flag=True, help="Lift the limit.")
@click.pass_context
def wallet_limit(
    ctx: click.Context, credits: float | None, user: str | None, project: str | None, remove: bool
) -> None:
    """Limit what a user or a project may spend (CREDITS), or list the limits."""
    wb = _workbench(ctx)
    if user is None and project is None:
        table = wb.wallet.limits()
        for column in ("limit", "used"):  # credits as credits read (5, 2.5), not floats (5.0)
            table[column] = table[column].map(format_credits)
        click.echo(table.to_string(index=False) if len(table) else "(no spending limits)")
        return
    if credits is None and not remove:
        raise click.UsageError("give CREDITS, or --remove to lift the limit.")
    wb.wallet.set_limit(None if remove else credits, user=user, project=project)
    name = f"user {user}" if user is not None else f"project {project}"
    used = wb.wallet.spent_by(user=user, project=project)
    limit = "no limit" if remove else f"{format_credits(credits)} credits"
    click.echo(f"{name}: {limit} ({format_credits(used)} spent or held)")


@wallet.command()
@click.pass_context
def history(ctx: click.Context) -> None:
    """Every wallet event: welcome credits, top-ups, charges."""
    wb = _workbench(ctx)
    click.echo(wb.wallet.history().to_string(index=False))


@cli.group()
def ledger() -> None:
    """The run log itself (subcommand: migrate)."""


@ledger.command()
@click.option("--to", "to", required=True, metavar="URL", help="The PostgreSQL run log: postgresql://…")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The SQLite run log to move (default: the root's ledger.sqlite).",
)
@click.pass_context
def migrate(ctx: click.Context, to: str, source: Path | None) -> None:
    """Copy a SQLite run log and wallet into PostgreSQL, then check counts and sums.

    Idempotent: a rerun copies nothing, a log that grew copies only its new rows.
    """
    from workbench.core import default_root
    from workbench.ledger import SQLiteLedger
    from workbench.ledger.movein import move_in
    from workbench.ledger.postgres import PostgresLedger, is_database_url

    if not is_database_url(to):
        raise click.BadParameter("give a postgresql:// URL.", param_hint="--to")
    path = source or Path((ctx.obj or {}).get("root") or default_root()) / "ledger.sqlite"
    if not path.is_file():
        raise click.BadParameter(f"no run log at {path}.", param_hint="--from")
    target = PostgresLedger(to)
    lite = SQLiteLedger(path)
    try:
        report = move_in(lite, target)
    finally:
        lite.close()
        target.close()
    for line in report.lines():
        click.echo(line)
    if report.nothing_copied:
        click.echo("nothing new to copy: the run log had been moved already")


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="The whole recipe as JSON.")
@click.pass_context
def recall(ctx: click.Context, path: Path, as_json: bool) -> None:
    """Print the spec an image was made from (YAML), read from the image itself."""
    wb = _workbench(ctx)
    if as_json:
        click.echo(json.dumps(wb.recipe(path), ensure_ascii=False, indent=2))
        return
    click.echo(wb.recall(path).to_yaml(), nl=False)


@cli.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Render an example of every preset offline and print the run table."""
    from workbench.demo import run_demo

    wb = _workbench(ctx)
    frame = run_demo(wb, echo=click.echo)
    click.echo(run_table(frame))
    click.echo(
        f"\n{len(frame)} run(s): {int((frame['status'] == 'ok').sum())} rendered, "
        f"{int((frame['status'] == 'cached').sum())} from the cache, "
        f"{format_credits(frame['credits'].sum())} credits; "
        f"wallet {format_credits(wb.wallet.balance)} credits. Images and the run log are in {wb.root}/."
    )


# -- editing and finishing (issue 6) ------------------------------------------------------------
def _image_arg(wb, image: str):
    """A path, or the id of a run in the log (its first image)."""
    if Path(image).exists() or "/" in image or "." in image:
        return Path(image)
    return wb.run(image)


def _print_run(run, as_json: bool, wb) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": run.id,
                    "status": run.status,
                    "backend": run.backend,
                    "credits": run.credits,
                    "parent_id": run.parent_id,
                    "size": run.size,
                    "images": [str(p) for p in run.images],
                }
            )
        )
        return
    for path in run.images:
        credits = format_credits(run.credits)
        click.echo(f"{run.status:<7} {run.backend:<6} {run.size:>9}  {credits:>3} credits  {path}")
    click.echo(f"wallet: {format_credits(wb.wallet.balance)} credits left", err=True)


@cli.command()
@click.argument("image")
@click.argument("instruction")
@click.option(
    "--region",
    "regions",
    multiple=True,
    metavar="X,Y,W,H",
    help="An area to edit (repeatable); every region goes in one mask.",
)
@click.option(
    "--mask",
    "mask_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A painted mask: alpha 0 (or white on black) where to edit.",
)
@click.option(
    "--reference",
    "references",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A reference image (repeatable), e.g. the same character in another picture.",
)
@click.option(
    "--markup",
    "markup_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A transparent PNG drawn over the image to guide the edit (GPT Image 2.5; not with a mask).",
)
@click.option("--backend", help="Force a backend (default: local draft when the instruction needs no model).")
@click.option("--model", help="Model of the service (default: the backend's own).")
@click.option(
    "--quality", help="low, medium or high (service edits; xhigh and max on the 2.5 models); default medium."
)
@click.option(
    "--size", help="WIDTHxHEIGHT of the result (service edits; default: the source's, or the nearest)."
)
@click.option(
    "--dry-run", is_flag=True, help="Print where the edit would go and what it costs; send nothing."
)
@click.option("--fresh", is_flag=True, help="Do not reuse a cached result.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@click.pass_context
def edit(
    ctx: click.Context,
    image: str,
    instruction: str,
    regions: tuple[str, ...],
    mask_file: Path | None,
    references: tuple[Path, ...],
    markup_file: Path | None,
    backend: str | None,
    model: str | None,
    quality: str | None,
    size: str | None,
    dry_run: bool,
    fresh: bool,
    as_json: bool,
) -> None:
    """Edit IMAGE (a file or a run id) by INSTRUCTION; local finishing is free, the rest uses the service."""
    from PIL import Image

    from workbench.models import parse_size

    wb = _workbench(ctx)
    mask = Image.open(mask_file) if mask_file else None
    options: dict[str, Any] = {}
    if model:
        options["model"] = model
    if quality:
        options["quality"] = quality
    if size:
        options["size"] = parse_size(size)
    if markup_file:
        options["markup"] = markup_file
    arguments = {
        "regions": list(regions) or None,
        "mask": mask,
        "references": tuple(references),
        "backend": backend,
        **options,
    }
    try:
        if dry_run:
            _print_plan(wb, wb.plan_edit(_image_arg(wb, image), instruction, **arguments), as_json)
            return
        run = wb.edit(_image_arg(wb, image), instruction, fresh=fresh, **arguments)
    except WorkbenchError as exc:
        raise _edit_advice(exc, image, instruction) from None
    _print_run(run, as_json, wb)


def _edit_advice(exc: WorkbenchError, image: str, instruction: str) -> Exception:
    """An edit that asks (it sounds local but is not), in the command's terms (--backend openai,
    workbench export), not the library's (backend='openai', wb.export)."""
    from workbench.errors import SpecError
    from workbench.instructions import local_sounding, unknown_local_error

    if getattr(exc, "field", None) == "instruction":
        what = local_sounding(instruction)
        if what is not None:
            return SpecError(
                unknown_local_error(instruction, what, cli=True, image=image), field="instruction"
            )
    return exc


def _route(wb, plan) -> str:
    """Where a plan would go: local (the draft renderer) or the service, and which one."""
    from urllib.parse import urlsplit

    from workbench.backends.base import get_backend_class

    cls = get_backend_class(plan.backend)
    if cls.is_draft:
        return f"local ({plan.backend} renderer, offline, nothing leaves this machine)"
    url = wb.backend_options.get(plan.backend, {}).get("base_url")
    if plan.backend == "openai":
        import os

        url = url or os.environ.get("OPENAI_BASE_URL")
    if url:
        parts = urlsplit(url)
        where = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"
    else:
        where = "api.openai.com" if plan.backend == "openai" else "its default address"
    return f"service ({plan.backend} at {where})"


def _print_plan(wb, plan, as_json: bool) -> None:
    """A dry run: the route, model, size, quality and price of a plan; nothing is sent or charged."""
    request, estimate = plan.request, plan.estimate
    status = ""
    if wb.models.models.get(plan.model) is not None and plan.backend == "openai":
        status = f" ({wb.models.models[plan.model].describe_status()})"
    credits = 0.0 if estimate.cached else credits_value(estimate.credits)
    usd = 0.0 if estimate.cached else estimate.usd
    balance = wb.wallet.balance
    short = credits_value(max(0.0, credits - balance))
    operation = _operation_text(plan)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "dry_run": True,
                    "route": _route(wb, plan),
                    "backend": plan.backend,
                    "model": plan.model,
                    "kind": request.kind,
                    **({"operation": operation} if operation else {}),
                    "size": request.size,
                    "quality": request.quality,
                    "n": request.n,
                    "credits": credits,
                    "usd": usd,
                    "cached": estimate.cached,
                    "wallet": balance,
                    "short_by": short,
                }
            )
        )
        return
    lines = [
        ("route", _route(wb, plan)),
        ("model", f"{plan.model}{status}"),
        ("kind", request.kind + (f" with {len(request.inputs)} image(s)" if request.inputs else "")),
        *([("operation", operation)] if operation else []),
        ("size", request.size),
        ("quality", request.quality),
        ("images", str(request.n)),
        (
            "credits",
            format_credits(credits)
            + (" (from the cache)" if estimate.cached else "")
            + f"; wallet {format_credits(balance)}"
            + (f" (short by {format_credits(short)})" if short > 0 else ""),
        ),
        ("dollars", f"${usd:.4f} estimated"),
    ]
    click.echo("dry run: nothing sent, nothing charged")
    for name, value in lines:
        click.echo(f"{name:<8} {value}")


def _operation_text(plan) -> str | None:
    """A local edit's operation(s) with parameters, as the run will do them: ``tone {"warmth": 0.5}``,
    a chain as its steps (``tone {...}, then crop {...}``)."""
    from workbench.instructions import LocalOperation

    params = plan.params or {}
    if not params.get("operation"):
        return None
    operation = LocalOperation(params["operation"], params.get("operation_params") or {})
    return operation.summary()


@cli.command()
@click.pass_context
def models(ctx: click.Context) -> None:
    """The image service's models: status, sizes and features (models.yaml, yours over the packaged)."""
    wb = _workbench(ctx)
    table = wb.models
    for name in table.names(include_retired=True):
        info = table.models[name]
        if not info.usable:
            click.echo(f"{name:<34} {info.describe_status()}")
            continue
        sizes = "free sizes" if info.caps.sizes is None else f"{len(info.caps.sizes)} sizes"
        click.echo(
            f"{name:<34} {info.describe_status():<12} {sizes:<10} {'/'.join(info.caps.qualities):<26} "
            f"{', '.join(info.features())}"
        )


@cli.command()
@click.argument("image")
@click.argument("operation")
@click.option("--aspect", help="crop: the aspect ratio, e.g. 3:2.")
@click.option("--warmth", type=click.FloatRange(-1, 1), help="tone: -1 (cooler) to 1 (warmer).")
@click.option("--contrast", type=click.FloatRange(0, 1), help="tone / black_and_white: 0 to 1.")
@click.option("--background", help="replace_background: a colour or an image file.")
@click.option("--to", "to", help="replace_background: the gradient's bottom colour.")
@click.option("--headline", multiple=True, help="overlay_text: an exact headline (repeatable).")
@click.option("--subtext", multiple=True, help="overlay_text: an exact subtext (repeatable).")
@click.option("--label", multiple=True, help="overlay_text: an exact label (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@click.pass_context
def finish(
    ctx: click.Context,
    image: str,
    operation: str,
    headline: tuple[str, ...],
    subtext: tuple[str, ...],
    label: tuple[str, ...],
    as_json: bool,
    **params: Any,
) -> None:
    """Free local finishing of IMAGE: an OPERATION name (upscale, crop, tone, black_and_white,
    remove_background, replace_background, overlay_text) or an instruction ("make it warmer")."""
    wb = _workbench(ctx)
    given = {k: v for k, v in params.items() if v is not None}
    texts = [
        {"text": t, "role": role}
        for role, group in (("headline", headline), ("subtext", subtext), ("label", label))
        for t in group
    ]
    if texts:
        given["texts"] = texts
    if given.get("background") and Path(given["background"]).is_file():
        given["background"] = Path(given["background"])
    try:
        run = wb.finish(_image_arg(wb, image), operation, **given)
    except WorkbenchError as exc:
        raise _finish_advice(exc, image, operation, given) from None
    _print_run(run, as_json, wb)


# The finish command's options, by the operation parameter each one sets.
_FINISH_FLAGS = {
    "aspect": "--aspect",
    "warmth": "--warmth",
    "contrast": "--contrast",
    "background": "--background",
    "to": "--to",
    "texts": "--headline/--subtext/--label",
}


def _finish_advice(exc: WorkbenchError, image: str, operation: str, given: dict[str, Any]) -> Exception:
    """The library's sentence, in the command's terms (flags and commands, not Python)."""
    import inspect

    from workbench.imaging.finishing import OPERATIONS

    field = getattr(exc, "field", None)
    if field == "operation":
        from workbench.instructions import local_sounding, unknown_local_error

        what = local_sounding(operation)
        if what is not None:  # `workbench edit` would ask too: say what to do instead
            return click.UsageError(unknown_local_error(operation, what, cli=True, image=image))
        return click.UsageError(
            f"{operation!r} is not a local finishing operation: send it to the image service with "
            f'`workbench edit {image} "{operation}"`, or use one of {", ".join(sorted(OPERATIONS))}.'
        )
    if field == "params" and operation in OPERATIONS:
        takes = [
            flag
            for name, flag in _FINISH_FLAGS.items()
            if name in inspect.signature(OPERATIONS[operation]).parameters
        ]
        wrong = [
            _FINISH_FLAGS[name]
            for name in given
            if name in _FINISH_FLAGS and _FINISH_FLAGS[name] not in takes
        ]
        offered = f"takes {', '.join(takes)}" if takes else "takes none of the options"
        return click.UsageError(
            f"`workbench finish IMAGE {operation}` {offered}"
            + (f", not {', '.join(wrong)}." if wrong else ".")
        )
    if field == "params":
        return click.UsageError(
            f'"{operation}" is an instruction: drop the options, or name an operation such as tone or crop.'
        )
    return exc


@cli.command()
@click.argument("image")
@click.option(
    "--format", "fmt", type=click.Choice(["auto", "png", "jpeg", "webp"]), default="auto", show_default=True
)
@click.option("--out", type=click.Path(path_type=Path), help="A file or folder (default: <root>/exports/).")
@click.option(
    "--min-ssim", type=click.FloatRange(0, 1), help="The quality bar against the original (default 0.98)."
)
@click.option("--force", is_flag=True, help="Overwrite an existing file (never the run log or the store).")
@click.pass_context
def export(
    ctx: click.Context, image: str, fmt: str, out: Path | None, min_ssim: float | None, force: bool
) -> None:
    """Write IMAGE in the smallest format that keeps its quality and its recipe."""
    wb = _workbench(ctx)
    result = wb.export(_image_arg(wb, image), format=fmt, path=out, min_ssim=min_ssim, force=force)
    click.echo(f"{result.path}  {result.summary()}")


@cli.command("check-text")
@click.argument("image")
@click.option("--text", "texts", multiple=True, help="An exact text to look for (default: the spec's texts).")
@click.option(
    "--lang", default=None, help="Tesseract language(s), e.g. eng+deu (default: each text's own script's)."
)
@click.option(
    "--min",
    "minimum",
    type=click.FloatRange(0, 1),
    default=0.98,
    show_default=True,
    help="Exit with status 1 when any text reads below this accuracy.",
)
@click.pass_context
def check_text(
    ctx: click.Context, image: str, texts: tuple[str, ...], lang: str | None, minimum: float
) -> None:
    """Read the exact texts back from IMAGE with OCR; print each text's character accuracy.

    Exits with status 1 when a text reads below --min (0.98), so a script can stop on it."""
    wb = _workbench(ctx)
    try:
        frame = wb.check_text(_image_arg(wb, image), list(texts) or None, lang=lang)
    except WorkbenchError as exc:
        if getattr(exc, "field", None) == "texts":
            raise click.UsageError(
                f"{image} has no exact texts in its recipe: name the ones to look for with --text "
                "(repeatable), e.g. --text 'SUMMER SALE'."
            ) from None
        raise
    for row in frame.itertuples():
        click.echo(f"{row.accuracy:6.1%}  {row.text!r}  read {row.read!r}")
    click.echo(f"mean text accuracy {frame['accuracy'].mean():.1%}", err=True)
    low = frame[frame["accuracy"] < minimum]
    if not low.empty:
        click.echo(
            f"{len(low)} of {len(frame)} texts read below {minimum:.0%}: "
            f"{', '.join(map(repr, low['text']))}.",
            err=True,
        )
        sys.exit(1)


@cli.command("check")
@click.argument("image")
@click.option(
    "--check",
    "checks",
    metavar="NAMES",
    help="Checks to run, with commas: text_accuracy, palette, contrast, safe_area, aspect, judge "
    "(default: the offline ones).",
)
@click.option(
    "--palette", metavar="COLOURS", help="Colours to look for, e.g. '#1B2A4A,navy' (default: the spec's)."
)
@click.option("--text", "texts", multiple=True, help="An exact text (repeatable; default: the spec's texts).")
@click.option("--aspect", help="The aspect ratio asked for, e.g. 2:3 (default: the spec's).")
@click.option("--margins", help="Safe-area margins as fractions: one, or left,top,right,bottom.")
@click.option("--rubric", help="For the judge: what a good image is, in plain words.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
def check(
    ctx: click.Context,
    image: str,
    checks: str | None,
    palette: str | None,
    texts: tuple[str, ...],
    aspect: str | None,
    margins: str | None,
    rubric: str | None,
    as_json: bool,
) -> None:
    """Score IMAGE (a file or a run id) against its spec with checks; store the scores of a run.

    Prints each check's score, whether it passes and why. Exits with status 1 when a check fails,
    so a script can stop on it; a check with nothing to judge (no colours named) neither passes nor fails."""
    wb = _workbench(ctx)
    frame = wb.check(
        _image_arg(wb, image),
        checks,
        palette=palette,
        texts=list(texts) or None,
        aspect=aspect,
        margins=margins,
        rubric=rubric,
    )
    if as_json:
        rows = [
            {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            for row in frame.to_dict("records")
        ]
        click.echo(json.dumps(rows, indent=1, default=str))
    else:
        for row in frame.itertuples():
            score = "   —  " if row.score != row.score else f"{row.score:6.2f}"
            verdict = {True: "pass", False: "FAIL", None: "n/a "}[row.passed]
            cost = f"  ({format_credits(row.credits)} credits)" if row.credits else ""
            click.echo(f"{row.check:<14}{score}  {verdict}  {row.reason}{cost}")
    if (frame["passed"] == False).any():  # noqa: E712 - None (nothing to judge) is not a failure
        failed = ", ".join(frame.loc[frame["passed"] == False, "check"])  # noqa: E712
        click.echo(f"failed: {failed}", err=True)
        sys.exit(1)


from workbench.batch.cli import batch  # noqa: E402 - the group needs `cli` defined first

cli.add_command(batch)


def _full_short_help(group: click.Group) -> None:
    """List commands with their whole first paragraph (click cuts it to ~45 characters)."""
    for command in group.commands.values():
        if not command.short_help and command.help:
            first = command.help.split("\n\n", 1)[0]
            command.short_help = " ".join(first.split())
        if isinstance(command, click.Group):
            _full_short_help(command)


_full_short_help(cli)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one clear line and a non-zero exit for bad input."""
    if "numpy" not in sys.modules:
        # One BLAS thread unless told otherwise: a command's numpy work is small, and starting
        # OpenBLAS's pool is a third of numpy's import (~60 ms of a cold draft on a busy machine).
        # A batch's kernels inherit it, on purpose: their numpy work is elementwise (no BLAS), and
        # several kernels each starting a pool of every core would only oversubscribe the cores.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        cli.main(args=argv, prog_name="workbench", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except WorkbenchError as exc:
        click.echo(redact(f"error: {exc}"), err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(redact(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")), err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
