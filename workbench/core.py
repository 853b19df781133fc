"""The ``Workbench`` facade: the one way runs are made, logged and paid for.

Every front end — the CLI, the widget panel, a papermill batch — calls this class; nothing else
writes the ledger or the store. One run goes::

    spec → compose → ImageRequest → fingerprint → cache? → estimate → wallet.reserve
         → backend.run → store.put → ledger.record + wallet.commit (one transaction)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.backends.base import (
    Backend,
    ImageRequest,
    ImageResult,
    PartialCallback,
    get_backend_class,
)
from workbench.errors import BackendError, ContentPolicyError, InputImageError, SpecError
from workbench.ledger import RUN_COLUMNS, Ledger, utc_now
from workbench.pricing import Estimate, PriceTable
from workbench.spec import PromptSpec, compose
from workbench.store import Store, read_recipe, write_atomic
from workbench.wallet import Reservation, Wallet

if TYPE_CHECKING:
    import pandas as pd
    from PIL import Image

    from workbench.lint import Finding
    from workbench.templates import TemplateLibrary
    from workbench.widgets import Gallery, Panel

__all__ = ["Plan", "Run", "Workbench", "default_root"]

DEFAULT_BACKEND = "draft"


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


@dataclass
class Run:
    """One run as the ledger records it. ``images`` are absolute paths in the store."""

    id: str
    status: str
    kind: str
    backend: str
    model: str | None
    prompt: str
    spec: PromptSpec | None
    width: int
    height: int
    quality: str | None
    n: int
    credits: int
    usd: float
    credits_estimated: int
    usd_estimated: float
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: float | None
    fingerprint: str | None
    images: list[Path] = field(default_factory=list)
    error: str | None = None
    batch_id: str | None = None
    parent_id: str | None = None
    cached_from: str | None = None
    created_at: str = ""
    preset: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any], root: Path) -> Run:
        spec = PromptSpec.from_json(row["spec"]) if row.get("spec") else None
        return cls(
            id=row["id"],
            status=row["status"],
            kind=row["kind"],
            backend=row["backend"],
            model=row["model"],
            prompt=row["prompt"],
            spec=spec,
            width=row["width"],
            height=row["height"],
            quality=row["quality"],
            n=row["n"],
            credits=row["credits"],
            usd=row["usd"],
            credits_estimated=row["credits_estimated"],
            usd_estimated=row["usd_estimated"],
            tokens_in=row["tokens_in"],
            tokens_out=row["tokens_out"],
            latency_ms=row["latency_ms"],
            fingerprint=row["fingerprint"],
            images=[root / p for p in row["images"]],
            error=row["error"],
            batch_id=row["batch_id"],
            parent_id=row["parent_id"],
            cached_from=row["cached_from"],
            created_at=row["created_at"],
            preset=row["preset"],
        )

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "cached")

    @property
    def cached(self) -> bool:
        return self.status == "cached"

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def image(self, index: int = 0) -> Image.Image:
        """Open one of the run's images with Pillow."""
        from PIL import Image

        return Image.open(self.images[index])

    def _repr_html_(self) -> str:
        """A small card in notebooks: a thumbnail from the store (never the full image), status,
        size, credits and dollars."""
        from workbench.widgets.html import run_html

        return run_html(self)

    def __repr__(self) -> str:
        return (
            f"<Run {self.id[:8]} {self.status} {self.backend}/{self.model} {self.size} "
            f"{self.credits} credits, {len(self.images)} image(s)>"
        )


@dataclass(frozen=True)
class _Attempt:
    """A run under way: its id, start time, batch, backend and the credits it holds."""

    run_id: str
    started: float
    batch_id: str | None
    shard: int | None
    backend: Backend | None  # None when the request went another way (Batch API answers)
    reservation: Reservation


@dataclass(frozen=True)
class Plan:
    """A validated run before it is paid for or sent: request, backend, fingerprint, estimate."""

    request: ImageRequest
    backend: str
    model: str
    fingerprint: str
    estimate: Estimate
    spec: PromptSpec | None
    params: dict[str, Any]
    parent_id: str | None = None


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
    ) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.default_backend = backend
        self.default_model = model
        self.ledger = Ledger(self.root / "ledger.sqlite")
        self.store = Store(self.root)
        self.wallet = Wallet(self.ledger)
        self.prices = prices or PriceTable.load(self.root)
        self._prompt_folders = tuple(Path(p) for p in prompts)
        self._templates: TemplateLibrary | None = None
        self.backend_options = {k: dict(v) for k, v in (backend_options or {}).items()}
        self._backends: dict[str, Backend] = {}
        self._views: weakref.WeakSet[Any] = weakref.WeakSet()
        get_backend_class(backend)  # an unknown default backend fails here, not at the first run

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
    def templates(self) -> TemplateLibrary:
        """The template library: the project's ``prompts/`` plus the folders given."""
        if self._templates is None:
            from workbench.templates import TemplateLibrary

            self._templates = TemplateLibrary.default(extra=self._prompt_folders)
        return self._templates

    def spec(
        self, spec: PromptSpec | str | None = None, *, preset: str | None = None, **fields: Any
    ) -> PromptSpec:
        """Build a spec from a prompt text, a preset and/or fields (fields win over the preset)."""
        if isinstance(spec, str):
            fields = {"subject": spec, **fields}
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
            self._backends[name] = cls(**self.backend_options.get(name, {}))
        return self._backends[name]

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
        inputs: tuple[bytes, ...] = (),
        mask: bytes | None = None,
        variant: int = 0,
        partial_images: int = 0,
        parent_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Plan:
        """Validate a run and price it, without sending or charging anything.

        Raises ``SpecError``/``CapabilityError``/``TemplateError`` for anything the chosen backend
        and model cannot do — before any request leaves the machine.
        """
        spec = self.spec(spec, preset=preset, **fields)
        backend = backend or self.default_backend
        cls = get_backend_class(backend)
        if model is None and backend == self.default_backend:
            model = self.default_model
        model = model or cls.default_model
        cls.capabilities(model)
        width, height = size or spec.size
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
        )
        cls.check(request)
        fingerprint = request.fingerprint(backend=backend, version=cls.version, uses_spec=cls.uses_spec)
        cached = self._cached_row(fingerprint) is not None
        estimate = replace(
            self.prices.estimate(backend, model, request), cached=cached, fingerprint=fingerprint
        )
        run_params = {
            "background": request.background,
            "output_format": output_format,
            "output_compression": output_compression,
            "moderation": moderation,
            "partial_images": partial_images,
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
        **options: Any,
    ) -> Run:
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

        Raises:
            SpecError, TemplateError, CapabilityError: bad input; nothing is logged or charged.
            BudgetError: the wallet cannot pay; nothing is logged or charged.
            BackendError: the service failed; the run is logged as failed or blocked at 0 credits.
        """
        plan = self.plan(spec, **options)
        return self.execute(
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
        return await self.aexecute(
            plan,
            fresh=fresh,
            batch_id=batch_id,
            shard=shard,
            on_partial=on_partial,
            raise_errors=raise_errors,
        )

    def execute(
        self,
        plan: Plan,
        *,
        fresh: bool = False,
        batch_id: str | None = None,
        shard: int | None = None,
        on_partial: PartialCallback | None = None,
        raise_errors: bool = True,
    ) -> Run:
        """Run a plan: cache, reserve, send, store, record, charge."""
        attempt = self._begin(plan, fresh, batch_id, shard)
        if isinstance(attempt, Run):
            return attempt
        try:
            result = attempt.backend.run(plan.request, on_partial=on_partial)
        except BaseException as exc:
            return self._fail(plan, attempt, exc, raise_errors)
        return self._finish(plan, attempt, result, raise_errors=raise_errors)

    async def aexecute(
        self,
        plan: Plan,
        *,
        fresh: bool = False,
        batch_id: str | None = None,
        shard: int | None = None,
        on_partial: PartialCallback | None = None,
        raise_errors: bool = True,
    ) -> Run:
        """Async twin of ``execute``.

        Storing the images (hashing, writing files) and the ledger commit after an answer mostly
        wait on the disk, so they run in a worker thread: the event loop keeps reading other
        requests' answers meanwhile (about 0.1 x the ideal time of a 200-request batch).
        """
        attempt = self._begin(plan, fresh, batch_id, shard)
        if isinstance(attempt, Run):
            return attempt
        try:
            result = await attempt.backend.arun(plan.request, on_partial=on_partial)
        except BaseException as exc:
            return self._fail(plan, attempt, exc, raise_errors)
        return await asyncio.to_thread(self._finish, plan, attempt, result, raise_errors=raise_errors)

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
    ) -> Run:
        """Log a run whose request was sent another way, e.g. an answer collected from the OpenAI
        Batch API: store its images, record the row and charge the wallet in one transaction, or
        log the error as a failed or blocked run at 0 credits. ``batch_pricing`` bills the dollars
        at the Batch API's discount."""
        run_id = uuid.uuid4().hex
        attempt = _Attempt(
            run_id,
            time.perf_counter() - latency_ms / 1000,
            batch_id,
            shard,
            None,
            Reservation(None, run_id, 0),
        )
        if result is not None:
            return self._finish(plan, attempt, result, raise_errors=False, batch_pricing=batch_pricing)
        failure = error if isinstance(error, Exception) else BackendError("No answer.", backend=plan.backend)
        return self._fail(plan, attempt, failure, False)

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
        plan = self._edit_plan(
            image,
            instruction,
            regions=regions,
            mask=mask,
            references=references,
            backend=backend,
            max_bytes=max_bytes,
            **options,
        )
        return self.execute(plan, fresh=fresh, raise_errors=raise_errors)

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
        plan = self._edit_plan(
            image,
            instruction,
            regions=regions,
            mask=mask,
            references=references,
            backend=backend,
            max_bytes=max_bytes,
            **options,
        )
        return await self.aexecute(plan, fresh=fresh, raise_errors=raise_errors)

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
        return self._edit_plan(
            image,
            instruction,
            regions=regions,
            mask=mask,
            references=references,
            backend=backend,
            max_bytes=max_bytes,
            **options,
        )

    def _edit_plan(
        self,
        image: Any,
        instruction: str,
        *,
        regions: Any,
        mask: Any,
        references: Any,
        backend: str | None,
        max_bytes: int | None,
        **options: Any,
    ) -> Plan:
        from workbench.imaging.masks import build_mask
        from workbench.imaging.uploads import resolve_source
        from workbench.instructions import map_instruction

        source = resolve_source(image, store_root=self.root, max_bytes=max_bytes)
        extra = tuple(resolve_source(r, store_root=self.root, max_bytes=max_bytes).data for r in references)
        mask_png = build_mask(regions, source.size, mask=mask)
        local = map_instruction(instruction) if not extra else None
        name = backend or ("draft" if local is not None else "openai")
        local = local if name == "draft" else None
        return self._plan_for_source(source, instruction, local, name, extra, mask_png, **options)

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
        from workbench.imaging.finishing import OPERATIONS
        from workbench.imaging.masks import build_mask
        from workbench.imaging.uploads import resolve_source
        from workbench.instructions import LocalOperation, map_instruction

        plan_options = {k: params.pop(k) for k in ("variant", "quality", "output_format") if k in params}
        source = resolve_source(image, store_root=self.root, max_bytes=max_bytes)
        extra: tuple[bytes, ...] = ()
        if operation in OPERATIONS:
            if operation == "overlay_text" and "texts" in params:
                params["texts"] = _text_params(params["texts"])
            if operation == "replace_background" and _is_image(params.get("background")):
                backdrop = resolve_source(params["background"], store_root=self.root, max_bytes=max_bytes)
                extra = (backdrop.data,)
                params["background"] = "input:1"
            local = LocalOperation(operation, params)
        else:
            if params:
                raise SpecError(
                    f"Parameters go with an operation name, not with an instruction: {operation!r}.",
                    field="params",
                )
            local = map_instruction(operation)
            if local is None:
                raise SpecError(
                    f"{operation!r} is not a local finishing operation: use edit() to send it to the image "
                    f"service, or one of {', '.join(sorted(OPERATIONS))}.",
                    field="operation",
                )
        mask_png = build_mask(regions, source.size, mask=mask)
        instruction = local.describe() if operation in OPERATIONS else operation
        plan = self._plan_for_source(source, instruction, local, "draft", extra, mask_png, **plan_options)
        return self.execute(plan, fresh=fresh)

    def overlay(self, image: Any, texts: Any, **options: Any) -> Run:
        """Typeset exact texts over an image at their slots (headline, subtext, label); a free run."""
        return self.finish(image, "overlay_text", texts=texts, **options)

    def _plan_for_source(
        self,
        source: Any,
        instruction: str,
        local: Any,
        backend: str,
        extra: tuple[bytes, ...],
        mask_png: bytes | None,
        **options: Any,
    ) -> Plan:
        from workbench.instructions import output_size

        if local is not None:
            size = output_size(local, source.size)
            params = {
                "operation": local.operation,
                "operation_params": local.params,
                "instruction": instruction,
            }
        else:
            cls = get_backend_class(backend)
            size = options.pop("size", None) or _edit_size(
                cls, options.get("model"), source.size, options.get("quality", "medium")
            )
            params = {"instruction": instruction, "references": len(extra)}
        if mask_png is not None:
            params["mask"] = True
        return self.plan(
            instruction,
            kind="edit",
            backend=backend,
            prompt=instruction,
            size=size,
            inputs=(source.data, *extra),
            mask=mask_png,
            parent_id=source.parent_id,
            params=params,
            **options,
        )

    def export(
        self,
        image: Any,
        *,
        format: str = "auto",
        path: str | Path | None = None,
        min_ssim: float | None = None,
    ) -> Any:
        """Write an image in the format that suits it (PNG, WebP or JPEG), smallest within the
        quality bar (SSIM ≥ 0.98 against the original), with its recipe; see
        ``workbench.imaging.formats``. Returns an ``ExportResult`` (format, bytes, saved_bytes,
        ssim, path).

        Example:
            >>> wb.export(run).summary()
            'JPEG q84 (photo): 214,387 bytes, 1,402,911 bytes (87 %) smaller than PNG, SSIM 0.9812'
        """
        import hashlib
        import io

        from PIL import Image

        from workbench.imaging.formats import MIN_SSIM, choose_format
        from workbench.imaging.uploads import resolve_source

        source = resolve_source(image, store_root=self.root, max_bytes=1 << 31)
        recipe = source.recipe  # read from the file (or the upload) by resolve_source
        with Image.open(io.BytesIO(source.data)) as opened:
            opened.load()
            result = choose_format(opened, format=format, min_ssim=min_ssim or MIN_SSIM, recipe=recipe)
        target = Path(path) if path is not None else self.root / "exports"
        if path is None or target.is_dir():
            stem = (recipe or {}).get("run_id") or hashlib.sha256(source.data).hexdigest()
            target = target / f"{stem[:12]}.{result.extension}"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, result.data)
        result.path = target
        return result

    def check_text(
        self, image: Any, texts: Any = None, *, lang: str = "eng", record: bool = True
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
            results = check_texts(opened, texts, lang=lang)
        if record and run_id and self.ledger.get(run_id) is not None:
            self.ledger.record_text_checks(run_id, results)
            self.refresh_views()
        return pd.DataFrame(results, columns=["text", "role", "read", "accuracy"])

    # -- internals ----------------------------------------------------------------------------
    def _begin(self, plan: Plan, fresh: bool, batch_id: str | None, shard: int | None) -> Run | _Attempt:
        """A cached Run when the request was made before, else an attempt holding its credits."""
        attempt_id, started = uuid.uuid4().hex, time.perf_counter()
        hit = None if fresh else self._record_cached(plan, attempt_id, batch_id, shard, started)
        if hit is not None:
            return hit
        backend = self.backend(plan.backend)  # a missing key fails here, before any reservation
        reservation = self.wallet.reserve(plan.estimate.credits, attempt_id)
        return _Attempt(attempt_id, started, batch_id, shard, backend, reservation)

    def _cached_row(self, fingerprint: str) -> dict[str, Any] | None:
        row = self.ledger.find_ok(fingerprint)
        if row and row["images"] and all(self.store.exists(p) for p in row["images"]):
            return row
        return None

    def _row(
        self,
        plan: Plan,
        run_id: str,
        status: str,
        batch_id: str | None,
        shard: int | None,
        started: float,
        **values: Any,
    ) -> dict[str, Any]:
        request = plan.request
        return dict.fromkeys(RUN_COLUMNS) | {
            "id": run_id,
            "created_at": utc_now(),
            "batch_id": batch_id,
            "shard": shard,
            "parent_id": plan.parent_id,
            "kind": request.kind,
            "backend": plan.backend,
            "model": plan.model,
            "preset": plan.spec.preset if plan.spec else None,
            "prompt": request.prompt,
            "spec": plan.spec.to_json() if plan.spec else None,
            "params": _json(plan.params),
            "width": request.width,
            "height": request.height,
            "quality": request.quality,
            "n": request.n,
            "seed": request.seed,
            "variant": request.variant,
            "status": status,
            "credits_estimated": plan.estimate.credits,
            "usd_estimated": plan.estimate.usd,
            "fingerprint": plan.fingerprint,
            "latency_ms": (time.perf_counter() - started) * 1000,
            **values,
        }

    def _record_cached(
        self, plan: Plan, run_id: str, batch_id: str | None, shard: int | None, started: float
    ) -> Run | None:
        source = self._cached_row(plan.fingerprint)
        if source is None:
            return None
        row = self._row(
            plan,
            run_id,
            "cached",
            batch_id,
            shard,
            started,
            credits=0,
            usd=0.0,
            images=source["images"],
            cached_from=source["id"],
            tokens_in=0,
            tokens_out=0,
        )
        self.ledger.record(row)
        return Run.from_row(row, self.root)

    def _finish(
        self,
        plan: Plan,
        attempt: _Attempt,
        result: ImageResult,
        *,
        raise_errors: bool = True,
        batch_pricing: bool = False,
    ) -> Run:
        """Store the answer's images, then record the run and charge the wallet in one transaction."""
        cls = get_backend_class(plan.backend)
        run_id = attempt.run_id
        try:
            images = []
            for index, data in enumerate(result.images):
                recipe = self._recipe(plan, run_id, index, draft=cls.is_draft)
                images.append(self.store.put(data, recipe=recipe))
            if not images:
                raise BackendError(f"The {plan.backend} backend returned no image.", backend=plan.backend)
        except Exception as exc:
            # The request was sent: an answer that cannot be stored is a failed run, logged at 0 credits.
            error = (
                exc
                if isinstance(exc, BackendError)
                else BackendError(
                    f"The {plan.backend} answer could not be stored: {exc}", backend=plan.backend
                )
            )
            error.__cause__ = None if error is exc else exc
            return self._fail(plan, attempt, error, raise_errors)
        except BaseException as exc:  # interrupted: release the credits and stop
            return self._fail(plan, attempt, exc, True)
        credits = self.prices.credits_per_image(plan.backend, plan.model, plan.request.quality) * len(images)
        usage = result.usage
        row = self._row(
            plan,
            run_id,
            "ok",
            attempt.batch_id,
            attempt.shard,
            attempt.started,
            credits=credits,
            usd=round(self.prices.usd_for_usage(plan.backend, plan.model, usage, batch=batch_pricing), 6),
            tokens_in=usage.tokens_in if usage else None,
            tokens_out=usage.tokens_out if usage else None,
            usage=_json(usage.__dict__) if usage else None,
            images=images,
        )
        row["model"] = result.model or plan.model
        try:
            with self.ledger.transaction() as db:
                self.ledger.record(row, db=db)
                self.wallet.commit(attempt.reservation, credits, db=db)
        except BaseException:
            # Nothing was recorded or charged (the transaction rolled back): free the credits now
            # rather than when this process ends. The stored images stay, by content.
            with contextlib.suppress(Exception):
                self.wallet.release(attempt.reservation)
            raise
        return Run.from_row(row, self.root)

    def _fail(self, plan: Plan, attempt: _Attempt, exc: BaseException, raise_errors: bool) -> Run:
        """Release the reservation; log the run as failed or blocked when a request was attempted."""
        if not isinstance(exc, Exception) or isinstance(exc, (SpecError, InputImageError)):
            # Interrupted, or refused before anything left the machine: no row, no charge.
            self.wallet.release(attempt.reservation)
            raise exc
        status = "blocked" if isinstance(exc, ContentPolicyError) else "failed"
        message = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        run_id = attempt.run_id
        row = self._row(
            plan,
            run_id,
            status,
            attempt.batch_id,
            attempt.shard,
            attempt.started,
            credits=0,
            usd=0.0,
            error=message,
        )
        with self.ledger.transaction() as db:
            self.wallet.release(attempt.reservation, db=db)
            self.ledger.record(row, db=db)
        if raise_errors:
            if hasattr(exc, "__dict__"):
                exc.run_id = run_id  # type: ignore[attr-defined]
            raise exc
        return Run.from_row(row | {"images": []}, self.root)

    def _recipe(self, plan: Plan, run_id: str, index: int, *, draft: bool) -> dict[str, Any]:
        from workbench import __version__

        return {
            "workbench": __version__,
            "run_id": run_id,
            "index": index,
            "kind": plan.request.kind,
            "backend": plan.backend,
            "model": plan.model,
            "draft": draft,
            "prompt": plan.request.prompt,
            "spec": plan.spec.to_dict() if plan.spec else None,
            "size": plan.request.size,
            "quality": plan.request.quality,
            "params": plan.params,
            "parent_id": plan.parent_id,
            "fingerprint": plan.fingerprint,
        }

    # -- notebook front ends ------------------------------------------------------------------
    def panel(self, *, preset: str | None = None, **options: Any) -> Panel:
        """The prompt panel: build, check, price and generate without writing code.

        Example:
            >>> wb.panel(preset="marketing-poster")   # the last line of a cell shows it
        """
        from workbench.widgets.panel import Panel

        return Panel(self, preset=preset, **options)

    def gallery(self, *, limit: int | None = 200, **filters: Any) -> Gallery:
        """Thumbnails of the newest runs, with filters (batch_id, preset, status) and comparison."""
        from workbench.widgets.gallery import Gallery

        return Gallery(self, limit=limit, **filters)

    # -- reading ------------------------------------------------------------------------------
    def runs(self, **filters: Any) -> pd.DataFrame:
        """The run log as a typed pandas DataFrame; see ``Ledger.runs`` for the filters."""
        return self.ledger.runs(**filters)

    def run(self, run_id: str) -> Run:
        """One run by id."""
        row = self.ledger.get(run_id)
        if row is None:
            raise SpecError(f"No run with id {run_id!r} in {self.ledger.path}.", field="run_id")
        return Run.from_row(row, self.root)

    def recipe(self, path: str | Path) -> dict[str, Any]:
        """The recipe embedded in an image file made by Workbench."""
        path = Path(path)
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


def _is_image(value: Any) -> bool:
    """Whether a replace_background ``background`` is an image (not a colour)."""
    if isinstance(value, (bytes, bytearray, Path)) or hasattr(value, "images"):
        return True
    if isinstance(value, str):
        return Path(value).suffix.lower() in (".png", ".jpg", ".jpeg", ".webp")
    return type(value).__module__.startswith("PIL")


def _text_params(texts: Any) -> list[dict[str, str]]:
    """Exact texts as JSON-able dicts (they are part of the run's prompt and fingerprint)."""
    from workbench.spec import TextItem

    return [{"text": item.text, "role": item.role} for item in TextItem.coerce_many(texts)]


def _edit_size(cls: type[Backend], model: str | None, size: tuple[int, int], quality: str) -> tuple[int, int]:
    """The source's size when the model can make it, else the model's size nearest its aspect."""
    from workbench.spec import ASPECT_SIZES

    caps = cls.capabilities(model)
    if caps.supports_size(*size):
        return size
    ratio = size[0] / size[1]
    choices = [high if quality == "high" else medium for medium, high in ASPECT_SIZES.values()]
    if caps.sizes is not None:
        choices = sorted(caps.sizes)
    fitting = [c for c in choices if caps.supports_size(*c)] or choices
    import math

    return min(fitting, key=lambda c: abs(math.log(c[0] / c[1] / ratio)))


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
