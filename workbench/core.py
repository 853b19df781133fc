"""The ``Workbench`` facade: the one way runs are made, logged and paid for.

Every front end — the CLI, the widget panel, a papermill batch — calls this class; nothing else
writes the ledger or the store. One run goes::

    spec → compose → ImageRequest → fingerprint → cache? → estimate → wallet.reserve
         → backend.send → store.put → ledger.record + wallet.commit (one transaction)

This module keeps the public surface; the run pipeline is ``workbench.runs`` and edit planning
``workbench.editing``.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import editing
from workbench import runs as pipeline
from workbench.backends.base import (
    Backend,
    ImageRequest,
    ImageResult,
    PartialCallback,
    check_backend_name,
    get_backend_class,
)
from workbench.batches import BatchLog
from workbench.errors import CapabilityError, InputImageError, LedgerError, SpecError
from workbench.ledger import Ledger, SQLiteLedger
from workbench.pricing import Estimate, PriceTable
from workbench.runs import Plan, Run
from workbench.spec import PromptSpec, compose
from workbench.store import Store, read_recipe
from workbench.wallet import Wallet

if TYPE_CHECKING:
    import pandas as pd

    from workbench.checks import CheckResult
    from workbench.lint import Finding
    from workbench.models import ModelTable
    from workbench.repair import RepairResult
    from workbench.templates import TemplateLibrary
    from workbench.widgets import Gallery, MaskPainter, Panel

__all__ = ["Plan", "Run", "Workbench", "default_root"]

DEFAULT_BACKEND = "draft"
# The format an export's file name says (``export(path=...)``): honoured under ``auto``, and a name
# that says another format than the one written gets the right suffix.
_SUFFIX_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".gif": "gif"}


def current_user() -> str | None:
    """``$WORKBENCH_USER``, else the operating system's user name (None if it has none)."""
    if os.environ.get("WORKBENCH_USER"):
        return os.environ["WORKBENCH_USER"]
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid without a passwd entry
        return None


def _open_ledger(root: Path, database: str | Path | None) -> Ledger:
    """The run log: ``database`` (a PostgreSQL URL or a SQLite file), else
    ``$WORKBENCH_DATABASE_URL``, else ``root/ledger.sqlite``."""
    if database is None:
        database = os.environ.get("WORKBENCH_DATABASE_URL") or None
    if database is None:
        return SQLiteLedger(root / "ledger.sqlite")
    from workbench.ledger.postgres import PostgresLedger, is_database_url, shown_url

    text = str(database)
    if is_database_url(text):
        return PostgresLedger(text, snapshot_dir=root)
    if text.startswith("sqlite:///"):
        return SQLiteLedger(Path(text.removeprefix("sqlite:///")))
    if "://" in text:
        raise LedgerError(
            f"{shown_url(text)} is not a run log Workbench can open: "
            "give a postgresql:// URL or a SQLite file."
        )
    return SQLiteLedger(Path(text))


def _markup(markup: Any) -> bytes | None:
    """An edit's markup as PNG bytes (a path or bytes, read as an upload is), or None."""
    if markup is None or isinstance(markup, bytes):
        return markup
    from pathlib import Path

    from workbench.errors import InputImageError

    path = Path(markup)
    if not path.is_file():
        raise InputImageError(f"No markup image at {path}.", path=str(path))
    return path.read_bytes()


def _references(wb: Workbench, inputs: Any) -> tuple[bytes, ...]:
    """A generate's reference images as checked bytes (``resolve_source``: a Run, a store file, a
    path, bytes or a PIL image, each upload checked), so nothing unusable is sent and charged."""
    from workbench.imaging.uploads import resolve_source

    if isinstance(inputs, (str, Path, bytes, bytearray)) or not hasattr(inputs, "__iter__"):
        inputs = (inputs,)  # one reference given on its own
    return tuple(resolve_source(item, store_root=wb.root).data for item in inputs)


def default_root() -> Path:
    """``$WORKBENCH_HOME``, else the nearest ``outputs/`` folder at or above the working folder
    (so notebooks in ``notebooks/`` share the project's run log), else ``./outputs``."""
    if os.environ.get("WORKBENCH_HOME"):
        return Path(os.environ["WORKBENCH_HOME"])
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "outputs" / "README.md").is_file():
            return folder / "outputs"
    return here / "outputs"


class Workbench:
    """Make images, log every run, and pay for them from a wallet of credits.

    Args:
        root: where images, the ledger and batches go (default: ``default_root()``).
        backend: the default backend name (``draft``, offline and free, unless told otherwise).
        model: the default model for the default backend.
        prompts: extra template folders, read after the project's ``prompts/``.
        prices: a price table; default: the packaged one with ``root/prices.yaml`` over it.
        backend_options: constructor options per backend name, e.g.
            ``{"openai": {"base_url": "http://127.0.0.1:8000/v1"}}``.
        database: the run log and wallet: a PostgreSQL URL for a team
            (``postgresql://user:password@host/db``) or a SQLite file; default
            ``$WORKBENCH_DATABASE_URL``, else ``root/ledger.sqlite``.
        store: where images live: an fsspec URL (``s3://bucket/prefix``) or a shared folder, with
            ``root/images`` as this machine's cache; default ``$WORKBENCH_STORE``, else the root.
        store_options: fsspec options for ``store`` (default ``$WORKBENCH_STORE_OPTIONS``, JSON).
        user: who makes the runs, recorded on each run and wallet entry (default
            ``$WORKBENCH_USER``, else the OS user).
        project: what they are for (default ``$WORKBENCH_PROJECT``, else a batch's experiment).

    Example:
        >>> wb = Workbench()
        >>> run = wb.generate("a ceramic coffee mug on a walnut table", aspect="3:2")
        >>> run.images[0]
        PosixPath('outputs/images/…/….png')
        >>> wb.runs()[["status", "credits", "size"]]
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        backend: str = DEFAULT_BACKEND,
        model: str | None = None,
        prompts: tuple[str | Path, ...] | list[str | Path] = (),
        prices: PriceTable | None = None,
        backend_options: Mapping[str, Mapping[str, Any]] | None = None,
        database: str | Path | None = None,
        store: str | None = None,
        store_options: Mapping[str, Any] | None = None,
        user: str | None = None,
        project: str | None = None,
    ) -> None:
        check_backend_name(backend)  # an unknown default backend: before anything is made
        for name, options in (backend_options or {}).items():  # a misspelt option or a wrong value too
            get_backend_class(name).check_options(options)
        self.root = Path(root) if root is not None else default_root()
        self.default_backend = backend
        self.default_model = model
        # The price table first: a broken one is refused before the run log or the wallet is touched.
        self.prices = prices or PriceTable.load(self.root)
        # The store and a team's database are opened (and reached) before anything is written, so a
        # wrong or unreachable URL is one sentence and leaves no folder or file behind.
        self.store = Store.open(self.root, store, dict(store_options) if store_options else None)
        self.ledger: Ledger = _open_ledger(self.root, database)
        self.root.mkdir(parents=True, exist_ok=True)
        self.user = user or current_user()
        self.project = project or os.environ.get("WORKBENCH_PROJECT") or None
        self.wallet = Wallet(self.ledger, user=self.user, project=self.project)
        self.batches = BatchLog(self.ledger)  # the batches' record, for the batch code and the CLI
        self._prompt_folders = tuple(Path(p) for p in prompts)
        self._templates: TemplateLibrary | None = None
        self.backend_options = {k: dict(v) for k, v in (backend_options or {}).items()}
        self._backends: dict[str, Backend] = {}
        self._models: ModelTable | None = None
        self._views: weakref.WeakSet[Any] = weakref.WeakSet()

    # -- views --------------------------------------------------------------------------------
    def watch(self, view: Any) -> None:
        """Keep ``view`` (anything with a ``refresh()``, e.g. a gallery) showing the current run
        log while it lives: ``refresh_views`` calls it after a change made from a notebook."""
        self._views.add(view)

    def refresh_views(self) -> None:
        """Refresh every live view watching this workbench (after a panel run or a text check)."""
        for view in list(self._views):
            view.refresh()

    # -- prompts ------------------------------------------------------------------------------
    @property
    def prompt_folders(self) -> tuple[Path, ...]:
        """The extra template folders this workbench was made with (``prompts=``, ``--prompts``)."""
        return self._prompt_folders

    @property
    def templates(self) -> TemplateLibrary:
        """The template library: the project's ``prompts/`` plus the folders given."""
        if self._templates is None:
            from workbench.templates import TemplateLibrary

            self._templates = TemplateLibrary.default(extra=self._prompt_folders, root=self.root)
        return self._templates

    def spec(
        self, spec: PromptSpec | str | None = None, *, preset: str | None = None, **fields: Any
    ) -> PromptSpec:
        """Build a spec from a prompt text, a preset and/or fields (fields win over the preset)."""
        if isinstance(spec, str):
            from workbench.quotes import texts_in

            # A free prompt's quoted words are its exact texts: recorded, drawn and checked.
            quoted = [{"text": text, "role": role} for text, role in texts_in(spec)]
            fields = {"subject": spec, **({"texts": quoted} if quoted else {}), **fields}
            spec = None
        if spec is None:
            if preset is None and not fields:
                raise SpecError(
                    "The prompt is empty: give a subject, details or a text to render.", field="subject"
                )
            return self.templates.spec(preset, **fields) if preset else PromptSpec.from_dict(fields)
        if preset is not None:
            raise SpecError("Give either a spec or a preset, not both.", field="preset")
        return spec.replace(**fields) if fields else spec

    def compose(self, spec: PromptSpec | str | None = None, **fields: Any) -> str:
        """The prompt text a spec composes to (template references resolved)."""
        return compose(self.spec(spec, **fields), self.templates)

    def lint(self, spec_or_prompt: PromptSpec | str) -> list[Finding]:
        """Prompt findings: each with a code, a message and a suggested fix. Never blocking."""
        from workbench.lint import lint

        return lint(spec_or_prompt, templates=self.templates)

    # -- backends -----------------------------------------------------------------------------
    def backend(self, name: str | None = None) -> Backend:
        """The backend instance for ``name`` (created once, with this workbench's options)."""
        name = name or self.default_backend
        if name not in self._backends:
            cls = get_backend_class(name)
            options = dict(self.backend_options.get(name, {}))
            if cls.uses_model_table:
                options.setdefault("models", self.models)  # the root's models.yaml over the packaged
            self._backends[name] = cls(**options)
        return self._backends[name]

    @property
    def models(self) -> ModelTable:
        """The model table of this root: ``workbench/data/models.yaml`` with ``root/models.yaml`` over it."""
        if self._models is None:
            from workbench.models import ModelTable

            self._models = ModelTable.load(self.root)
        return self._models

    # -- planning -----------------------------------------------------------------------------
    def plan(
        self,
        spec: PromptSpec | str | None = None,
        *,
        preset: str | None = None,
        kind: str = "generate",
        backend: str | None = None,
        model: str | None = None,
        prompt: str | None = None,
        size: tuple[int, int] | None = None,
        transparent: bool | None = None,
        output_format: str = "png",
        output_compression: int | None = None,
        moderation: str = "auto",
        inputs: tuple[Any, ...] | list[Any] = (),
        mask: bytes | None = None,
        variant: int = 0,
        partial_images: int = 0,
        input_fidelity: str | None = None,
        safety_identifier: str | None = None,
        complexity: str | None = None,
        frame_count: int | None = None,
        frame_duration_ms: int | None = None,
        svg_model: str | None = None,
        svg_effort: str | None = None,
        markup: Any = None,
        parent_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Plan:
        """Validate a run and price it, without sending or charging anything.

        Raises ``SpecError``/``CapabilityError``/``TemplateError`` for anything the chosen backend
        and model cannot do — before any request leaves the machine. The Python face of
        ``--dry-run``: ``plan.backend``, ``plan.model``, ``plan.request.size``/``quality`` and
        ``plan.estimate`` (credits, dollars, cached) say where the run would go and what it costs.

        ``size`` (width, height) replaces the size the model's table gives the spec's aspect and
        quality (a size the model cannot make names the nearest it can); ``inputs`` on a generate
        are reference images (paths, bytes, PIL images or Runs, each checked as an upload: a file
        that is not a PNG, JPEG or WebP image is one sentence, nothing sent or charged);
        ``input_fidelity`` (low/high, on models that take it) and ``safety_identifier`` (the run's
        user, for the service's abuse monitoring) go to the service. ``complexity`` (low, medium,
        high: planning effort, apart from quality), ``output_format="gif"`` with ``frame_count``
        and ``frame_duration_ms``, and ``output_format="svg"`` with ``svg_model``/``svg_effort``
        (the SVG author) go where the model's table row lists them, and so does ``markup`` on an
        edit (a transparent PNG, path or bytes, drawn over the image to guide it; not with a mask);
        elsewhere they are refused in one sentence naming what the model takes.
        """
        if fields:  # response_format, user, markup...: the API's own names get their own sentence
            from workbench.models import refuse_unsent

            refuse_unsent(fields)
        spec = self.spec(spec, preset=preset, **fields)
        if kind == "generate" and inputs:
            inputs = _references(self, inputs)
        backend = backend or self.default_backend
        cls = get_backend_class(backend)
        if model is None and backend == self.default_backend:
            model = self.default_model
        model = model or cls.default_model
        table = self.models if cls.uses_model_table else None
        if table is not None:
            table.info(model)  # unknown or retired: one sentence, naming the replacement
        else:
            try:
                cls.capabilities(model)
            except CapabilityError:
                if model in self.models.models:  # a service model asked of another backend
                    raise CapabilityError(
                        f"{model!r} is a model of the openai backend, not of {backend}: add "
                        "--backend openai (backend='openai' in Python).",
                        field="backend",
                    ) from None
                raise
        if size is not None:  # "1536x1024" or (1536, 1024); anything else is one sentence
            from workbench.models import parse_size

            size = parse_size(size)
        if size and fields.get("aspect") is not None:
            from workbench.models import check_size_aspect

            check_size_aspect(size, str(fields["aspect"]))
        width, height = size or (table and table.size_for(model, spec.aspect, spec.quality)) or spec.size
        request = ImageRequest(
            prompt=prompt if prompt is not None else compose(spec, self.templates),
            width=width,
            height=height,
            quality=spec.quality,
            kind=kind,
            n=spec.n,
            seed=spec.seed,
            model=model,
            background={None: "auto", True: "transparent", False: "opaque"}[transparent],
            output_format=output_format,
            output_compression=output_compression,
            moderation=moderation,
            inputs=tuple(inputs),
            mask=mask,
            spec=self.templates.resolve(spec) if cls.uses_spec else None,
            variant=variant,
            partial_images=partial_images,
            input_fidelity=input_fidelity,
            safety_identifier=safety_identifier,
            complexity=complexity,
            frame_count=frame_count,
            frame_duration_ms=frame_duration_ms,
            svg_model=svg_model,
            svg_effort=svg_effort,
            markup=_markup(markup),
        )
        if table is not None:
            table.check(request)
        else:
            cls.check(request)
        fingerprint = request.fingerprint(backend=backend, version=cls.version, uses_spec=cls.uses_spec)
        cached = pipeline.cached_row(self, fingerprint) is not None
        estimate = replace(
            self.prices.estimate(backend, model, request), cached=cached, fingerprint=fingerprint
        )
        run_params = {
            "background": request.background,
            "output_format": output_format,
            "output_compression": output_compression,
            "moderation": moderation,
            "partial_images": partial_images,
            **({"input_fidelity": input_fidelity} if input_fidelity else {}),
            **{
                name: value
                for name, value in (
                    ("complexity", complexity),
                    ("frame_count", frame_count),
                    ("frame_duration_ms", frame_duration_ms),
                    ("svg_model", svg_model),
                    ("svg_effort", svg_effort),
                )
                if value is not None
            },
            **dict(params or {}),
        }
        return Plan(request, backend, model, fingerprint, estimate, spec, run_params, parent_id)

    def estimate(self, spec: PromptSpec | str | None = None, **options: Any) -> Estimate:
        """Credits and dollars a run would cost, and whether it would come from the cache (0)."""
        return self.plan(spec, **options).estimate

    # -- running ------------------------------------------------------------------------------
    def generate(
        self,
        spec: PromptSpec | str | None = None,
        *,
        fresh: bool = False,
        batch_id: str | None = None,
        shard: int | None = None,
        on_partial: PartialCallback | None = None,
        raise_errors: bool = True,
        until: Mapping[str, float] | None = None,
        max_attempts: int = 3,
        budget: int | None = None,
        **options: Any,
    ) -> Run | RepairResult:
        """Make images for a spec (or a prompt text), log the run and charge the wallet.

        A repeat of a successful request returns its stored images as a ``cached`` run at 0
        credits; ``fresh=True`` or a new ``variant`` asks for a new sample on purpose.

        Args:
            spec: a PromptSpec, or a prompt text (becomes the subject).
            fresh: skip the cache.
            batch_id/shard: recorded in the ledger for batch runs.
            on_partial: called with (index, image bytes) as previews stream in.
            raise_errors: raise the backend's error after recording a failed or blocked run
                (default); when False, return the Run with its status and error.
            **options: ``Workbench.plan`` options (preset, backend, model, transparent, …) and
                spec fields (aspect, quality, texts, …).
            until: render → check → repair: check name → minimum score (``{"text_accuracy":
                0.98, "palette": 0.8}``); failing images are repaired the cheapest way (a local
                text overlay for wrong texts, else a new variant) up to ``max_attempts``, within
                ``budget`` credits; returns a ``RepairResult`` (``workbench.repair``).

        Raises:
            SpecError, TemplateError, CapabilityError: bad input; nothing is logged or charged.
            BudgetError: the wallet cannot pay; nothing is logged or charged.
            BackendError: the service failed; the run is logged as failed or blocked at 0 credits.
        """
        if until is not None:
            from workbench.repair import generate_until

            return generate_until(
                self, spec, until=until, max_attempts=max_attempts, budget=budget, **options
            )
        plan = self.plan(spec, **options)
        return self.run_plan(
            plan,
            fresh=fresh,
            batch_id=batch_id,
            shard=shard,
            on_partial=on_partial,
            raise_errors=raise_errors,
        )

    async def agenerate(
        self,
        spec: PromptSpec | str | None = None,
        *,
        fresh: bool = False,
        batch_id: str | None = None,
        shard: int | None = None,
        on_partial: PartialCallback | None = None,
        raise_errors: bool = True,
        **options: Any,
    ) -> Run:
        """Async twin of ``generate``, for batches running many requests at once."""
        plan = self.plan(spec, **options)
        return await self.arun_plan(
            plan,
            fresh=fresh,
            batch_id=batch_id,
            shard=shard,
            on_partial=on_partial,
            raise_errors=raise_errors,
        )

    def run_plan(
        self,
        plan: Plan,
        *,
        fresh: bool = False,
        batch_id: str | None = None,
        shard: int | None = None,
        on_partial: PartialCallback | None = None,
        raise_errors: bool = True,
    ) -> Run:
        """Run a plan: cache, reserve, send, store, record, charge (see ``workbench.runs``)."""
        return pipeline.run_plan(
            self,
            plan,
            fresh=fresh,
            batch_id=batch_id,
            shard=shard,
            on_partial=on_partial,
            raise_errors=raise_errors,
        )

    async def arun_plan(
        self,
        plan: Plan,
        *,
        fresh: bool = False,
        batch_id: str | None = None,
        shard: int | None = None,
        on_partial: PartialCallback | None = None,
        raise_errors: bool = True,
    ) -> Run:
        """Async twin of ``run_plan``: the answer is stored and recorded in a worker thread."""
        return await pipeline.arun_plan(
            self,
            plan,
            fresh=fresh,
            batch_id=batch_id,
            shard=shard,
            on_partial=on_partial,
            raise_errors=raise_errors,
        )

    def record_result(
        self,
        plan: Plan,
        *,
        result: ImageResult | None = None,
        error: BaseException | None = None,
        batch_id: str | None = None,
        shard: int | None = None,
        latency_ms: float = 0.0,
        batch_pricing: bool = False,
        escrow: Any = None,
    ) -> Run:
        """Log a run whose request was sent another way, e.g. an answer collected from the OpenAI
        Batch API: store its images, record the row and charge the wallet in one transaction, or
        log the error as a failed or blocked run at 0 credits. ``batch_pricing`` bills the dollars
        at the Batch API's discount; ``escrow`` (the batch's reservation) pays for it."""
        return pipeline.record_result(
            self,
            plan,
            result=result,
            error=error,
            batch_id=batch_id,
            shard=shard,
            latency_ms=latency_ms,
            batch_pricing=batch_pricing,
            escrow=escrow,
        )

    # -- editing and finishing ----------------------------------------------------------------
    def edit(
        self,
        image: Any,
        instruction: str,
        *,
        regions: Any = None,
        mask: Any = None,
        references: tuple[Any, ...] | list[Any] = (),
        backend: str | None = None,
        fresh: bool = False,
        raise_errors: bool = True,
        max_bytes: int | None = None,
        **options: Any,
    ) -> Run:
        """Edit an image by instruction: a run with the source as its parent.

        An instruction that needs no model ("convert to black and white, high contrast", "make
        the lighting warmer", "replace the background with a white studio wall", "crop to 3:2",
        "upscale to 4K") runs locally on the draft backend at 0 credits; anything else goes to
        the image service (backend ``openai``), with every region merged into one mask.

        Args:
            image: a Run, a path, bytes or a PIL image (paths and bytes are checked as uploads).
            instruction: what to change, in words.
            regions: rectangles ``(x, y, w, h)``, polygons ``[(x, y), ...]`` or painted masks:
                the areas to edit (see ``workbench.imaging.masks``).
            mask: a painted mask (alpha 0, or non-zero grey, where to edit).
            references: more images (a character series, a product to keep).
            backend: force a backend; by default chosen by the instruction as above.
            max_bytes: the upload limit (10 MiB, or ``$WORKBENCH_MAX_UPLOAD_MB``, by default).
            **options: ``Workbench.plan`` options and spec fields (quality, variant, ...).

        Example:
            >>> wb.edit(run, "Make the overall lighting warmer, golden hour tone")
            <Run … ok draft/draft-1 1024x1024 0 credits, 1 image(s)>
        """
        plan = editing.plan_edit(
            self,
            image,
            instruction,
            regions=regions,
            mask=mask,
            references=references,
            backend=backend,
            max_bytes=max_bytes,
            **options,
        )
        return self.run_plan(plan, fresh=fresh, raise_errors=raise_errors)

    async def aedit(
        self,
        image: Any,
        instruction: str,
        *,
        regions: Any = None,
        mask: Any = None,
        references: tuple[Any, ...] | list[Any] = (),
        backend: str | None = None,
        fresh: bool = False,
        raise_errors: bool = True,
        max_bytes: int | None = None,
        **options: Any,
    ) -> Run:
        """Async twin of ``edit``, for batches editing many images at once."""
        plan = editing.plan_edit(
            self,
            image,
            instruction,
            regions=regions,
            mask=mask,
            references=references,
            backend=backend,
            max_bytes=max_bytes,
            **options,
        )
        return await self.arun_plan(plan, fresh=fresh, raise_errors=raise_errors)

    def plan_edit(
        self,
        image: Any,
        instruction: str,
        *,
        regions: Any = None,
        mask: Any = None,
        references: tuple[Any, ...] | list[Any] = (),
        backend: str | None = None,
        max_bytes: int | None = None,
        **options: Any,
    ) -> Plan:
        """Validate and price an edit without sending or charging anything (no key needed).

        The plan shows where ``edit`` would send it (``plan.backend``, ``plan.model``), at what
        size and cost (``plan.estimate``), and the one mask every region merges into
        (``plan.request.mask``: an RGBA PNG, alpha 0 where the image is to change).

        Example:
            >>> plan = wb.plan_edit(run, "Replace the mug with a glass teapot",
            ...                     regions=[(300, 200, 400, 500)])
            >>> plan.backend, plan.estimate.credits
            ('openai', 4)
        """
        return editing.plan_edit(
            self,
            image,
            instruction,
            regions=regions,
            mask=mask,
            references=references,
            backend=backend,
            max_bytes=max_bytes,
            **options,
        )

    def finish(
        self,
        image: Any,
        operation: str,
        *,
        regions: Any = None,
        mask: Any = None,
        fresh: bool = False,
        max_bytes: int | None = None,
        **params: Any,
    ) -> Run:
        """Free local finishing (draft backend, 0 credits), logged as an edit of the source.

        ``operation`` is an instruction ("make it warmer") or an operation name with its
        parameters: ``black_and_white(contrast=)``, ``tone(warmth=, contrast=, saturation=,
        brightness=)``, ``crop(aspect=)``, ``upscale(long_edge=3840)``, ``remove_background()``,
        ``replace_background(background=colour|image|path, to=colour)``, ``overlay_text(texts=)``.

        Example:
            >>> wb.finish(run, "upscale")                      # 3840 px on the long side
            >>> wb.finish(run, "replace_background", background="#FFFFFF")
        """
        plan = editing.plan_finish(
            self, image, operation, regions=regions, mask=mask, max_bytes=max_bytes, **params
        )
        return self.run_plan(plan, fresh=fresh)

    def overlay(self, image: Any, texts: Any, **options: Any) -> Run:
        """Typeset exact texts over an image at their slots (headline, subtext, label); a free run."""
        return self.finish(image, "overlay_text", texts=texts, **options)

    def export(
        self,
        image: Any,
        *,
        format: str = "auto",
        path: str | Path | None = None,
        min_ssim: float | None = None,
        force: bool = False,
    ) -> Any:
        """Write an image in the format that suits it (PNG, WebP or JPEG), smallest within the
        quality bar (SSIM ≥ 0.98 against the original), with its recipe; see
        ``workbench.imaging.formats``. An animated GIF keeps every frame: as it is, or as an
        animated WebP (``format="webp"``); PNG and JPEG are refused for it. A file ``path`` says
        the format (under ``auto`` its suffix is honoured; a suffix that would say another format
        than the one written is corrected, and the summary says so). Returns an ``ExportResult``
        (format, bytes, saved_bytes, ssim, path). An existing file is overwritten only with
        ``force``; the run log, the store and files that are not regular files never are
        (``workbench.exporting``).

        Example:
            >>> self.export(run).summary()
            'JPEG q84 (photo): 214,387 bytes, 1,402,911 bytes (87 %) smaller than PNG, SSIM 0.9812'
        """
        import hashlib
        import io

        from PIL import Image

        from workbench.exporting import check_export_target, write_export
        from workbench.imaging.formats import MIN_SSIM, choose_format, export_animation
        from workbench.imaging.uploads import resolve_source

        named = Path(path) if path is not None and not Path(path).is_dir() else None
        if named is not None:
            check_export_target(self, named, force=force)  # refused before any work is done
        source = resolve_source(image, store_root=self.root, max_bytes=1 << 31)
        recipe = source.recipe  # read from the file (or the upload) by resolve_source
        said = _SUFFIX_FORMATS.get(named.suffix.lower()) if named is not None else None
        with Image.open(io.BytesIO(source.data)) as opened:
            opened.load()
            if getattr(opened, "n_frames", 1) > 1:  # an animated GIF: every frame is kept
                wanted = said if format == "auto" and said in ("gif", "webp") else format
                result = export_animation(opened, source.data, format=wanted, recipe=recipe)
            else:
                wanted = said if format == "auto" and said in ("png", "jpeg", "webp") else format
                result = choose_format(opened, format=wanted, min_ssim=min_ssim or MIN_SSIM, recipe=recipe)
        target = Path(path) if path is not None else self.root / "exports"
        if named is None:
            stem = (recipe or {}).get("run_id") or hashlib.sha256(source.data).hexdigest()
            target = target / f"{stem[:12]}.{result.extension}"
        elif said != result.format:  # the name would say another format: the right suffix, said so
            target = named.with_suffix(f".{result.extension}")
            check_export_target(self, target, force=force)
            result.renamed_from = named
        result.path = write_export(self, target, result.data, force=force)
        return result

    def check_text(
        self, image: Any, texts: Any = None, *, lang: str | None = None, record: bool = True
    ) -> pd.DataFrame:
        """Read the exact texts back from an image with OCR; score each (character accuracy).

        ``texts`` default to the spec's exact texts (of the run, or of the recipe in the file).
        When the image is a run in this ledger, the scores are stored, and ``runs()`` shows their
        mean as ``text_accuracy``.

        Returns:
            A DataFrame with text, role, read and accuracy, one row per text.
        """
        import pandas as pd

        from workbench.imaging.ocr import check_texts
        from workbench.imaging.uploads import resolve_source

        source = resolve_source(image, store_root=self.root, max_bytes=1 << 31)
        run_id = source.parent_id
        spec = None
        if hasattr(image, "spec"):
            spec = image.spec
        elif source.recipe and source.recipe.get("spec"):
            spec = PromptSpec.from_dict(source.recipe["spec"])
        if texts is None:
            texts = list(spec.texts) if spec is not None else []
            if not texts:
                raise SpecError("There are no exact texts to check: pass texts=[...].", field="texts")
        elif isinstance(texts, str):
            texts = [texts]
        import io

        from PIL import Image

        with Image.open(io.BytesIO(source.data)) as opened:
            opened.load()
            layout = (source.recipe or {}).get("layout") or {}
            results = check_texts(opened, texts, lang=lang, regions=layout.get("texts"))
        if record and run_id and self.ledger.get(run_id) is not None:
            self.ledger.record_text_checks(run_id, results)
            self.refresh_views()
        return pd.DataFrame(results, columns=["text", "role", "read", "accuracy"])

    def check(
        self,
        image: Any,
        checks: str | list[str] | tuple[str, ...] | None = None,
        *,
        record: bool = True,
        **targets: Any,
    ) -> pd.DataFrame:
        """Score an image against its brief with checks (``workbench.checks``): text_accuracy,
        palette, contrast, safe_area, aspect (offline, the default) and judge (a vision model,
        priced and logged as a run). A run of this run log gets its scores stored: ``runs()``
        shows one column per check.

        ``targets`` replace what the spec says: ``palette=["#FF6600"]``, ``texts=[...]``,
        ``aspect="2:3"``, ``size=(1024, 1536)``, ``margins=0.08``, ``rubric="..."``, and
        ``options={"judge": {"model": ...}}``.

        Returns:
            A DataFrame with check, score, passed, threshold, reason, credits, usd, judge_run_id.

        Example:
            >>> wb.check(run, ["palette", "contrast"])[["check", "score", "passed"]]
        """
        from workbench.checks.api import check_image, results_frame

        results, _run_id = check_image(self, image, checks, record=record, **targets)
        return results_frame(results)

    def record_scores(self, run_id: str, results: Iterable[CheckResult], *, image_index: int = 0) -> None:
        """Store check results under a run of this run log, together: one score row per scored
        check (``runs()`` shows one column per check) and the text check's reads."""
        results = list(results)
        scored = [r.as_row() for r in results if r.score is not None]
        reads = [r.details["texts"] for r in results if r.check == "text_accuracy" and r.details.get("texts")]
        with self.ledger.transaction() as db:
            for texts in reads:
                self.ledger.record_text_checks(run_id, texts, image_index=image_index, db=db)
            if scored:
                self.ledger.record_scores(run_id, scored, image_index=image_index, db=db)

    # -- notebook front ends ------------------------------------------------------------------
    def panel(self, *, preset: str | None = None, **options: Any) -> Panel:
        """The prompt panel: build, check, price and generate without writing code.

        Example:
            >>> self.panel(preset="marketing-poster")   # the last line of a cell shows it
        """
        from workbench.widgets.panel import Panel

        return Panel(self, preset=preset, **options)

    def gallery(self, *, limit: int | None = 200, **filters: Any) -> Gallery:
        """Thumbnails of the newest runs, with filters (batch_id, preset, status) and comparison."""
        from workbench.widgets.gallery import Gallery

        return Gallery(self, limit=limit, **filters)

    def mask_painter(self, image: Any, *, display_size: int = 640, brush: int | None = None) -> MaskPainter:
        """Paint the regions to edit over an image (a Run, a path, bytes or a PIL image).

        Example:
            >>> painter = wb.mask_painter(run)    # paint, then:
            >>> wb.edit(run, "replace the mug with a teapot", regions=painter.regions_for_edit())
        """
        from workbench.widgets.mask_painter import MaskPainter

        return MaskPainter(image, display_size=display_size, brush=brush)

    # -- reading ------------------------------------------------------------------------------
    def run_count(self) -> int:
        """How many runs the run log holds (cheap: views poll it to see whether anything changed)."""
        return self.ledger.count()

    def text_checks(self, run_id: str | None = None) -> pd.DataFrame:
        """The OCR text checks stored (all, or one run's): text, role, read, accuracy per text."""
        return self.ledger.text_checks(run_id)

    def thumbnail(self, image: str | Path, size: int = 256) -> bytes:
        """A stored image's thumbnail (WebP bytes, at most ``size`` px a side), from the store's
        disk cache; ``image`` is its path in the store, as in ``runs()``'s ``images``."""
        return self.store.thumbnail(image, size)

    def runs(self, **filters: Any) -> pd.DataFrame:
        """The run log as a typed pandas DataFrame; see ``Ledger.runs`` for the filters."""
        return self.ledger.runs(**filters)

    def run(self, run_id: str) -> Run:
        """One run by id."""
        row = self.ledger.get(run_id)
        if row is None:
            raise SpecError(f"No run with id {run_id!r} in {self.ledger.path}.", field="run_id")
        return Run.from_row(row, self.store)

    def recipe(self, path: str | Path) -> dict[str, Any]:
        """The recipe embedded in an image file made by Workbench."""
        path = Path(path)
        if not path.is_file() and not path.is_absolute() and path.parts[:1] == ("images",):
            path = self.store.path(path)  # a store path, as the run log has it (fetched if shared)
        if not path.is_file():
            raise InputImageError(f"No image at {path}.", path=str(path))
        recipe = read_recipe(path)
        if recipe is None:
            raise InputImageError(f"{path} carries no Workbench recipe.", path=str(path))
        return recipe

    def recall(self, path: str | Path) -> PromptSpec:
        """The spec an image was made from, read from the image file's own metadata."""
        recipe = self.recipe(path)
        if not recipe.get("spec"):
            raise InputImageError(f"{path} was not made from a prompt spec.", path=str(path))
        return PromptSpec.from_dict(recipe["spec"])

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self.ledger.close()

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Workbench root={str(self.root)!r} backend={self.default_backend!r}>"
