"""The prompt panel: build, check, price and generate an image without writing code.

``Workbench.panel()`` returns one. Every input change recomposes the prompt, lints it and prices
it (a few milliseconds, so no debounce); Generate runs through the same ``Workbench.generate`` as
code does. A user error — an unknown template, an aspect the model cannot make, a run the wallet
cannot pay for — shows as one sentence in the panel and changes nothing.

Beside the spec's fields the panel sets how many images (count), the seed, the size (the sizes
the chosen model makes, or the aspect's own), a transparent background and the file format.
"New sample" asks for another image of the same request (the next ``variant``: a new image and a
new row, never the cached one). Generate is disabled, with the reason beside it, whenever the run
cannot go (an input error, a wallet too short). On a free backend (draft) the estimate also says
what the same run would cost on the service. A preset change fills only the fields not typed in
(a note offers to overwrite them too). "Edit an image" takes an upload and an instruction, shows
where the edit would run and what it costs, then edits ("make the lighting warmer" runs locally,
at 0 credits). An error replaces the old result, so a stale image never sits under a new error.

Where no widget front end runs (papermill, nbconvert, GitHub), the panel's mime bundle carries a
static HTML rendering of the same information beside the widget view.

Example:
    >>> panel = wb.panel(preset="marketing-poster")
    >>> panel.set(subject="a red bicycle", aspect="3:2")
    >>> panel.prompt, panel.estimate.credits
    >>> run = panel.generate()       # what the Generate button does
    >>> spec = panel.spec            # keep going in code
"""

from __future__ import annotations

import threading
import traceback
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from workbench.backends.base import available_backends, get_backend_class
from workbench.credits import credits_value, format_credits, whole_credits_for
from workbench.errors import SpecError, WorkbenchError
from workbench.spec import ASPECTS, QUALITIES, TEMPLATE_KINDS, TEXT_ROLES, PromptSpec, TextItem
from workbench.widgets import html as H
from workbench.widgets.download import Downloads

if TYPE_CHECKING:
    from workbench.core import Run, Workbench
    from workbench.lint import Finding
    from workbench.pricing import Estimate

__all__ = ["Panel", "parse_texts", "texts_to_lines"]

TEMPLATE_FIELDS = TEMPLATE_KINDS  # the fields with a template picker, named as their kind
PRESET_FIELDS = (*TEMPLATE_FIELDS, "details", "texts", "aspect", "quality")
NO_PRESET = ""
AUTO_SIZE = ""
RESULT_SIZE = 384
FORMAT_CHOICES = ("png", "webp", "jpeg")
# Sizes offered for a model that makes any size within its limits (plus the aspect's own).
COMMON_SIZES = (
    (1024, 1024),
    (1536, 1024),
    (1024, 1536),
    (1536, 864),
    (864, 1536),
    (2048, 2048),
    (3840, 2160),
)
SERVICE = "openai"


def parse_texts(value: str) -> list[TextItem]:
    """Exact texts from the panel's text box: one per line, ``role: text`` or just the text
    (a headline). ``SpecError`` for an unknown role never happens: an unknown prefix is text."""
    items = []
    for line in value.splitlines():
        line = line.strip()
        if not line:
            continue
        role, sep, rest = line.partition(":")
        if sep and role.strip().lower() in TEXT_ROLES and rest.strip():
            items.append(TextItem(rest.strip(), role.strip().lower()))
        else:
            items.append(TextItem(line))
    return items


def texts_to_lines(texts: tuple[TextItem, ...]) -> str:
    return "\n".join(f"{t.role}: {t.text}" for t in texts)


def _usable_backends(wb: Workbench) -> list[str]:
    names = []
    for name in available_backends():
        try:
            get_backend_class(name)
        except Exception:  # noqa: BLE001 — a broken plugin must not break the panel
            continue
        names.append(name)
    if wb.default_backend not in names:
        names.insert(0, wb.default_backend)
    return names


class Panel(widgets.VBox):
    """The prompt panel (an ipywidgets ``VBox``).

    Args:
        wb: the Workbench every run goes through.
        preset: a preset to start from (its fields fill the inputs).
        backend: the backend to start with (default: the workbench's).
        model: the model to start with (default: the backend's).
        threaded: Generate clicks run in a background thread so the kernel stays responsive
            (``panel.wait()`` joins it); ``panel.generate()`` itself is always synchronous.
        previews: how many streamed previews to ask for (0-3) where the backend has them.
        **fields: spec fields to start with (subject, background, texts, aspect, …).
    """

    def __init__(
        self,
        wb: Workbench,
        *,
        preset: str | None = None,
        backend: str | None = None,
        model: str | None = None,
        threaded: bool = True,
        previews: int = 2,
        **fields: Any,
    ) -> None:
        self.wb = wb
        self.threaded = threaded
        self.previews = previews
        self.last_run: Run | None = None
        self.last_error: BaseException | None = None
        self._traceback: str | None = None  # of an unexpected failure, for whoever debugs it
        self._thread: threading.Thread | None = None
        self._loading = False
        self._plan_error: str | None = None
        self._prompt = ""
        self._findings: list[Finding] = []
        self._estimate: Estimate | None = None
        self._balance: int | None = None
        self._blocked: str | None = None  # why Generate cannot run now
        self._typed: set[str] = set()  # fields typed in since the preset filled them
        self._kept: list[str] = []  # typed fields a preset change left alone
        self._variant = 0
        self._upload: bytes | None = None
        self._upload_name = ""
        self._edit_plan: Any = None
        self.last_edit: Run | None = None

        library = wb.templates
        style = {"description_width": "84px"}
        wide = widgets.Layout(width="98%")
        self.inputs: dict[str, widgets.Widget] = {}
        self.inputs["preset"] = widgets.Dropdown(
            description="Preset",
            options=[("(none)", NO_PRESET)] + [(n, n) for n in library.names("preset")],
            value=NO_PRESET,
            style=style,
            layout=wide,
        )
        for name in TEMPLATE_FIELDS:
            self.inputs[name] = widgets.Combobox(
                description=name.capitalize(),
                options=[f"@{n}" for n in library.names(name)],
                ensure_option=False,
                placeholder=f"free text or @{name} template",
                style=style,
                layout=wide,
            )
        self.inputs["texts"] = widgets.Textarea(
            description="Texts",
            placeholder="one per line: headline: SALE · subtext: … · label: …",
            rows=3,
            style=style,
            layout=wide,
        )
        self.inputs["details"] = widgets.Textarea(
            description="Details",
            placeholder="composition, colours (#hex), mood",
            rows=2,
            style=style,
            layout=wide,
        )
        self.inputs["aspect"] = widgets.Dropdown(
            description="Aspect", options=list(ASPECTS), value="1:1", style=style
        )
        backends = _usable_backends(wb)
        self.inputs["backend"] = widgets.Dropdown(
            description="Backend",
            options=backends,
            value=backend if backend in backends else wb.default_backend,
            style=style,
        )
        self.inputs["model"] = widgets.Dropdown(
            description="Model", options=self._model_options(), style=style
        )
        if model is not None:
            self.inputs["model"].value = model
        self.inputs["quality"] = widgets.Dropdown(
            description="Quality", options=self._quality_options(), value="medium", style=style
        )
        self.inputs["n"] = widgets.BoundedIntText(
            description="Count", value=1, min=1, max=10, style=style, layout=widgets.Layout(width="150px")
        )
        self.inputs["seed"] = widgets.Text(
            description="Seed", placeholder="any", style=style, layout=widgets.Layout(width="190px")
        )
        self.inputs["size"] = widgets.Dropdown(description="Size", options=self._size_options(), style=style)
        self.inputs["transparent"] = widgets.Checkbox(description="Transparent background", indent=False)
        self.inputs["format"] = widgets.Dropdown(
            description="Format",
            options=self._format_options(),
            value="png",
            style=style,
            layout=widgets.Layout(width="170px"),
        )

        self.preview = widgets.HTML(layout=wide)
        self.findings_box = widgets.HTML(layout=wide)
        self.cost = widgets.HTML(layout=wide)
        self.message = widgets.HTML(layout=wide)
        self.button = widgets.Button(
            description="Generate",
            button_style="primary",
            icon="image",
            tooltip="Make the image, log the run and charge the wallet",
        )
        self.sample_button = widgets.Button(
            description="New sample",
            icon="refresh",
            tooltip="Another image of the same request (a new variant: a new image and a new row)",
        )
        self.reason = widgets.HTML()
        self.status = widgets.HTML()
        self.result = widgets.HTML()
        self.downloads = Downloads()
        self.edit_downloads = Downloads()
        self.button.on_click(self._on_click)
        self.sample_button.on_click(self._on_sample)
        self.overwrite_button = widgets.Button(
            description="Use the preset's values",
            tooltip="Replace what you typed with the preset's fields",
            layout=widgets.Layout(display="none"),
        )
        self.overwrite_button.on_click(lambda _b: self.apply_preset(overwrite=True))
        # Edit an uploaded image.
        self.upload = widgets.FileUpload(
            accept="image/png,image/jpeg,image/webp", multiple=False, description="Upload image"
        )
        self.instruction = widgets.Text(
            description="Edit", placeholder="make the lighting warmer", style=style, layout=wide
        )
        self.edit_route = widgets.HTML()
        self.edit_button = widgets.Button(description="Edit image", icon="magic", disabled=True)
        self.edit_result = widgets.HTML()
        self.upload.observe(self._on_upload, names="value")
        self.instruction.observe(lambda _c: self._plan_edit(), names="value")
        self.edit_button.on_click(lambda _b: self.edit())

        left = widgets.VBox(
            [self.inputs[k] for k in ("preset", *TEMPLATE_FIELDS, "texts", "details")],
            layout=widgets.Layout(width="50%"),
        )
        settings = widgets.HBox(
            [self.inputs[k] for k in ("aspect", "quality", "backend", "model", "size")],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        output = widgets.HBox(
            [self.inputs[k] for k in ("n", "seed", "format", "transparent")],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        editor = widgets.VBox(
            [
                widgets.HTML("<b>Edit an image</b> (upload a PNG, JPEG or WebP, say what to change)"),
                widgets.HBox([self.upload, self.edit_button]),
                self.instruction,
                self.edit_route,
                self.edit_result,
                self.edit_downloads,
            ],
            layout=widgets.Layout(border="1px solid #ddd", padding="4px 8px", margin="8px 0 0 0"),
        )
        editor.add_class("workbench-editor")
        right = widgets.VBox(
            [
                widgets.HTML("<b>Prompt</b>"),
                self.preview,
                widgets.HTML("<b>Findings</b>"),
                self.findings_box,
                self.cost,
                self.message,
                self.overwrite_button,
                widgets.HBox([self.button, self.sample_button, self.status]),
                self.reason,
                self.result,
                self.downloads,
                editor,
            ],
            layout=widgets.Layout(width="50%", padding="0 0 0 12px"),
        )
        super().__init__(
            [
                widgets.HTML("<h3 style='margin:4px 0'>Workbench prompt panel</h3>"),
                settings,
                output,
                widgets.HBox([left, right]),
            ]
        )
        self.add_class("workbench-panel")

        for widget in self.inputs.values():
            widget.observe(self._on_change, names="value")
        self._loading = True
        try:
            if preset:
                self.inputs["preset"].value = preset
                self._fill_from_preset(preset, overwrite=True)
            self.set(**fields)
        finally:
            self._loading = False
        self._typed.clear()
        self.refresh()

    # -- reading the inputs ----------------------------------------------------------------------
    def _value(self, name: str) -> Any:
        return self.inputs[name].value

    def fields(self) -> dict[str, Any]:
        """The spec fields the inputs hold now."""
        return {
            **{name: self._value(name) for name in (*TEMPLATE_FIELDS, "details")},
            "texts": parse_texts(self._value("texts")),
            "aspect": self._value("aspect"),
            "quality": self._value("quality"),
            "n": int(self._value("n") or 1),
            "seed": self._seed(),
        }

    def _seed(self) -> int | None:
        text = str(self._value("seed")).strip()
        if not text:
            return None
        try:
            seed = int(text)
        except ValueError:
            raise SpecError(f"The seed must be a whole number, not {text!r}.", field="seed") from None
        if seed < 0:
            raise SpecError(f"The seed must be 0 or more, not {seed}.", field="seed")
        return seed

    def run_options(self) -> dict[str, Any]:
        """The run options beside the spec: backend, model, size, transparency, format."""
        size = self._value("size")
        options: dict[str, Any] = {
            "backend": self.backend,
            "model": self.model or None,
            "output_format": self._value("format"),
        }
        if size:
            width, height = (int(x) for x in size.split("x"))
            options["size"] = (width, height)
        if self._value("transparent"):
            options["transparent"] = True
        return options

    @property
    def preset(self) -> str | None:
        return self._value("preset") or None

    @property
    def backend(self) -> str:
        return self._value("backend")

    @property
    def model(self) -> str:
        return self._value("model")

    @property
    def spec(self) -> PromptSpec:
        """The spec the panel describes (raises the user's error as a ``WorkbenchError``)."""
        return self.wb.spec(preset=self.preset, **self.fields())

    @property
    def prompt(self) -> str:
        """The composed prompt shown in the preview ("" while the inputs have an error)."""
        return self._prompt

    @property
    def findings(self) -> list[Finding]:
        return list(self._findings)

    @property
    def estimate(self) -> Estimate | None:
        return self._estimate

    @property
    def error(self) -> str | None:
        """The sentence the panel shows for the current inputs or the last Generate, if any."""
        return self._plan_error

    # -- changing the inputs ---------------------------------------------------------------------
    def set(self, **values: Any) -> Panel:
        """Set inputs from code: any of preset, subject, background, lighting, style, texts
        (a string, TextItems or strings), details, aspect, quality, backend. Refreshes once."""
        unknown = set(values) - set(self.inputs) - {"overwrite"}
        if unknown:
            raise TypeError(
                f"The panel has no input {sorted(unknown)[0]!r}: it has {', '.join(self.inputs)}."
            )
        was_loading, self._loading = self._loading, True
        try:
            if "preset" in values:
                self.inputs["preset"].value = values.pop("preset") or NO_PRESET
                self._fill_from_preset(self.preset, overwrite=bool(values.pop("overwrite", False)))
            if "backend" in values:
                self.inputs["backend"].value = values.pop("backend")
                self._backend_changed()
            if "model" in values:
                self.inputs["model"].value = values.pop("model")
                self._backend_changed(models=False)
            for name, value in values.items():
                if name == "texts" and not isinstance(value, str):
                    value = texts_to_lines(tuple(TextItem.coerce(t) for t in value))
                if name == "seed" and value is not None:
                    value = str(value)
                if name == "size" and isinstance(value, tuple):
                    value = f"{value[0]}x{value[1]}"
                if name == "size" and value and value not in [v for _, v in self.inputs["size"].options]:
                    self.inputs["size"].options = [*self.inputs["size"].options, (value, value)]
                default = {"n": 1, "transparent": False, "format": "png", "size": AUTO_SIZE}.get(name, "")
                self.inputs[name].value = value if value is not None else default
                if name in PRESET_FIELDS:
                    self._typed.add(name)
            if "aspect" in values and self.backend == SERVICE:
                self._backend_changed(models=False)  # the sizes this aspect comes in
        finally:
            self._loading = was_loading
        if not self._loading:
            self.refresh()
        return self

    def _fill_from_preset(self, name: str | None, *, overwrite: bool = False) -> None:
        """Fill the fields from a preset; fields typed in since are kept unless ``overwrite``."""
        self._kept = []
        if not name:
            return
        spec = self.wb.templates.preset(name).spec
        values = {f: getattr(spec, f) for f in (*TEMPLATE_FIELDS, "details")}
        values |= {"texts": texts_to_lines(spec.texts), "aspect": spec.aspect, "quality": spec.quality}
        for field_name, value in values.items():
            current = self.inputs[field_name].value
            if not overwrite and field_name in self._typed and current and current != value:
                self._kept.append(field_name)
                continue
            self.inputs[field_name].value = value
        if overwrite:
            self._typed.clear()

    def apply_preset(self, *, overwrite: bool = True) -> Panel:
        """Fill the fields from the chosen preset again, replacing what was typed (by default)."""
        was_loading, self._loading = self._loading, True
        try:
            self._fill_from_preset(self.preset, overwrite=overwrite)
        finally:
            self._loading = was_loading
        self.refresh()
        return self

    def _capabilities(self) -> Any:
        """The chosen model's capabilities (the root's models.yaml over the packaged table for the
        service), or None when the backend or model is unknown: the plan says what is wrong."""
        try:
            cls = get_backend_class(self.backend)
            model = self.inputs["model"].value if "model" in self.inputs else None
            if cls.uses_model_table:
                return self.wb.models.capabilities(model or cls.default_model)
            return cls.models.get(model or cls.default_model) or cls.models.get(cls.default_model)
        except Exception:  # noqa: BLE001 — the plan will say what is wrong with the backend
            return None

    def _format_options(self) -> list[str]:
        """The output formats the chosen model writes (GIF and SVG on the models that make them)."""
        capabilities = self._capabilities()
        return list(capabilities.formats) if capabilities is not None else list(FORMAT_CHOICES)

    def _size_options(self) -> list[tuple[str, str]]:
        """ "from aspect" and the sizes the chosen model makes (its fixed set, or common ones)."""
        options = [("from aspect", AUTO_SIZE)]
        model = self.inputs["model"].value if "model" in self.inputs else None
        capabilities = self._capabilities()
        if capabilities is None:
            return options
        sizes = (
            sorted(capabilities.sizes)
            if capabilities.sizes is not None
            else [s for s in COMMON_SIZES if capabilities.supports_size(*s)]
        )
        if self.backend == SERVICE and "aspect" in self.inputs:
            # The service's model table knows the sizes each model makes for an aspect: first.
            try:
                fitting = [tuple(s) for s in self.wb.models.allowed_sizes(model, self._value("aspect"))]
            except Exception:  # noqa: BLE001 — an unknown model: the plan says so
                fitting = []
            sizes = fitting + [s for s in sizes if s not in fitting]
        return options + [(f"{w}x{h}", f"{w}x{h}") for w, h in sizes]

    def _model_options(self) -> list[str]:
        try:
            cls = get_backend_class(self.backend)
        except Exception:  # noqa: BLE001 — the plan will say what is wrong with the backend
            return [""]
        if cls.uses_model_table:  # the root's models.yaml too (a gateway's own model names)
            return self.wb.models.names()
        return [cls.default_model] + sorted(set(cls.models) - {cls.default_model})

    def _backend_changed(self, *, models: bool = True) -> None:
        """New backend or model: offer its models, and its prices in the quality labels."""
        if models:
            self.inputs["model"].options = self._model_options()
            self.inputs["model"].value = self.inputs["model"].options[0]
        quality = self._value("quality")
        self.inputs["quality"].options = self._quality_options()
        qualities = [v for _, v in self.inputs["quality"].options]
        fallback = "medium" if "medium" in qualities else qualities[0]
        self.inputs["quality"].value = quality if quality in qualities else fallback
        if "format" in self.inputs:
            fmt = self._value("format")
            self.inputs["format"].options = self._format_options()
            self.inputs["format"].value = fmt if fmt in self.inputs["format"].options else "png"
        if "size" in self.inputs:
            size = self._value("size")
            self.inputs["size"].options = self._size_options()
            values = [v for _, v in self.inputs["size"].options]
            self.inputs["size"].value = size if size in values else AUTO_SIZE

    def _quality_options(self) -> list[tuple[str, str]]:
        backend = self.backend
        model = self.inputs["model"].value if "model" in self.inputs else None
        options = []
        aspect = self._value("aspect") if "aspect" in self.inputs else "1:1"
        size = self._value("size") if "size" in self.inputs else AUTO_SIZE
        capabilities = self._capabilities()
        for quality in capabilities.qualities if capabilities is not None else QUALITIES:
            try:
                cls = get_backend_class(backend)
                name = model or cls.default_model
                credits = self.wb.prices.credits_per_image(
                    backend, name, quality, **self._priced_size(cls, name, aspect, quality, size)
                )
                label = f"{quality} · {format_credits(credits)} credit{'' if credits == 1 else 's'}"
                if credits == 0 and backend != SERVICE:
                    service_model = self.wb.models.default
                    at = self._priced_size(get_backend_class(SERVICE), service_model, aspect, quality, size)
                    service = self.wb.prices.credits_per_image(SERVICE, service_model, quality, **at)
                    label = f"{quality} · free (service {format_credits(service)})"
            except Exception:  # noqa: BLE001 — no price: still offer the quality
                label = quality
            options.append((label, quality))
        return options

    def _priced_size(self, cls: Any, model: str, aspect: str, quality: str, size: str) -> dict[str, int]:
        """The size a quality label is priced at: the chosen size, else the size the model's
        table gives this aspect and quality (high on gpt-image-2 at 1:1 is 2048x2048)."""
        if size and size != AUTO_SIZE:
            width, height = (int(part) for part in size.split("x"))
            return {"width": width, "height": height}
        if cls.uses_model_table:
            found = self.wb.models.size_for(model, aspect, quality)
            if found:
                return {"width": found[0], "height": found[1]}
        return {}

    def _on_change(self, change: dict[str, Any]) -> None:
        if self._loading:
            return
        owner = change["owner"]
        self._loading = True
        try:
            if owner is self.inputs["preset"]:
                self._fill_from_preset(self.preset)
            elif owner is self.inputs["backend"]:
                self._backend_changed()
            elif owner is self.inputs["model"]:
                self._backend_changed(models=False)
            elif owner is self.inputs["aspect"] or ("size" in self.inputs and owner is self.inputs["size"]):
                self._backend_changed(models=False)  # the sizes this aspect comes in, and their prices
            if owner is not self.inputs["preset"]:
                self._typed.update(f for f in PRESET_FIELDS if owner is self.inputs[f])
        finally:
            self._loading = False
        self.refresh()

    # -- the live preview ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompose, lint and price the inputs, and show the wallet balance."""
        self._service = None
        try:
            plan = self.wb.plan(self.spec, **self.run_options())
        except WorkbenchError as exc:
            self._prompt, self._findings, self._estimate = "", [], None
            # An untouched panel is not an error: it waits for a subject or a preset.
            self._plan_error = None if self._is_blank() else str(exc)
        else:
            self._plan_error = None
            self._prompt = plan.request.prompt
            self._estimate = plan.estimate
            self._findings = self.wb.lint(plan.spec) if plan.spec is not None else []
            if plan.backend != SERVICE and plan.estimate.credits == 0:
                self._service = self._service_price(plan)
        self._balance = self.wb.wallet.balance
        self._blocked = self._why_blocked()
        self._render()

    def _service_price(self, plan: Any) -> Any:
        """What the same request would cost on the image service (for a free draft estimate)."""
        from dataclasses import replace

        try:
            model = get_backend_class(SERVICE).default_model
        except Exception:  # noqa: BLE001 — no service backend installed: no comparison
            model = None
        try:
            request = replace(plan.request, spec=None, model=model)
            return (model or SERVICE, self.wb.prices.estimate(SERVICE, model, request))
        except (WorkbenchError, TypeError, ValueError):
            return None

    def _why_blocked(self) -> str | None:
        """Why Generate cannot run now, or None."""
        if self._plan_error:
            return f"Generate is off until the inputs are fixed: {self._plan_error}"
        if self._estimate is None:
            return "Generate is off: pick a preset or type a subject first."
        if not self._estimate.cached and self._balance is not None and self._estimate.credits > self._balance:
            cost, short = self._estimate.credits, credits_value(self._estimate.credits - self._balance)
            return (
                f"Not enough credits: this run costs {format_credits(cost)}, the wallet has "
                f"{format_credits(self._balance)} (short by {format_credits(short)}); "
                f"top up with wb.wallet.topup({whole_credits_for(short)})."
            )
        return None

    def _is_blank(self) -> bool:
        return not self.preset and not any(
            self._value(n).strip() for n in (*TEMPLATE_FIELDS, "texts", "details")
        )

    def _render(self) -> None:
        if self._prompt:
            self.preview.value = (
                f'<div class="workbench-prompt" style="font-family:ui-monospace,monospace;'
                f"font-size:12px;line-height:1.45;background:#f6f8fa;color:#24292f;padding:6px;border-radius:4px;"
                f'white-space:pre-wrap">'
                f"{H.escape(self._prompt)}</div>"
            )
        else:
            self.preview.value = (
                "<i>The prompt cannot be composed until the error below is fixed.</i>"
                if self._plan_error
                else "<i>No prompt yet: pick a preset or type a subject.</i>"
            )
        self.findings_box.value = H.findings_html(self._findings) if self._prompt else ""
        self.cost.value = self._cost_html()
        self.message.value = (
            f'<div class="workbench-error" style="color:#b00020">{H.escape(self._plan_error)}</div>'
            if self._plan_error
            else ""
        )
        if self._kept:
            kept = ", ".join(self._kept)
            self.message.value += (
                '<div class="workbench-kept" style="color:#555">'
                f"The preset left what you typed in {H.escape(kept)}; "
                "use the button below to take the preset's values instead.</div>"
            )
        self.overwrite_button.layout.display = "" if self._kept else "none"
        running = self._thread is not None and self._thread.is_alive()
        if not running:
            self.button.disabled = self._blocked is not None
            self.sample_button.disabled = self._blocked is not None or self.last_run is None
        self.button.tooltip = self._blocked or "Make the image, log the run and charge the wallet"
        self.reason.value = (
            f'<div class="workbench-reason" style="color:#b26a00">{H.escape(self._blocked)}</div>'
            if self._blocked and not self._is_blank()
            else ""
        )

    def _cost_html(self) -> str:
        balance = f"wallet: <b>{format_credits(self._balance)}</b> credits"
        estimate = self._estimate
        if estimate is None:
            return f'<div class="workbench-cost">{balance}</div>'
        if estimate.cached:
            cost = "<b>0 credits</b> — the same request was made before; it comes from the store"
        else:
            plural = "" if estimate.credits == 1 else "s"
            cost = f"<b>{format_credits(estimate.credits)} credit{plural}</b> (~${estimate.usd:.3f})"
        warn = ""
        if not estimate.cached and self._balance is not None and estimate.credits > self._balance:
            short = credits_value(estimate.credits - self._balance)
            # The one top-up hint is the reason beside Generate; here only the shortfall.
            plural = "" if short == 1 else "s"
            warn = (
                f'<br><span style="color:#b26a00">The wallet is {format_credits(short)} credit{plural} '
                "short.</span>"
            )
        service = ""
        if getattr(self, "_service", None):
            model, price = self._service
            plural = "" if price.credits == 1 else "s"
            service = (
                f'<br><span class="workbench-service-price">On the service ({H.escape(model)}, '
                f"{H.escape(self._value('quality'))}): {format_credits(price.credits)} credit{plural} "
                f"(~${price.usd:.3f})</span>"
            )
        count = f" · {estimate.n} images" if estimate.n > 1 else ""
        return (
            f'<div class="workbench-cost">Estimate: {cost} · {estimate.size}{count} · {balance}'
            f"{service}{warn}</div>"
        )

    # -- generating ------------------------------------------------------------------------------
    def _on_click(self, _button: widgets.Button) -> None:
        if self._thread is not None and self._thread.is_alive():
            return  # a second click before the first run has disabled the button
        if self.threaded:
            self._thread = threading.Thread(target=self.generate, name="workbench-panel", daemon=True)
            self._thread.start()
        else:
            self.generate()

    def wait(self, timeout: float | None = None) -> Run | None:
        """Wait for a Generate click's run to finish; return it (None after an error)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.last_run

    def _on_sample(self, _button: widgets.Button) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        if self.threaded:
            self._thread = threading.Thread(target=self.new_sample, name="workbench-panel", daemon=True)
            self._thread.start()
        else:
            self.new_sample()

    def new_sample(self) -> Run | None:
        """What "New sample" does: the same request as a new variant — a new image and a new
        row, not the cached one. Returns the Run (None after an error)."""
        try:
            spec, options = self.spec, self.run_options()
            variant = self._variant + 1
            # Skip variants made before (in an earlier session): each click is a new image.
            while (
                variant < self._variant + 1000
                and self.wb.plan(spec, variant=variant, **options).estimate.cached
            ):
                variant += 1
        except WorkbenchError as exc:
            self._show_error(str(exc))
            return None
        self._variant = variant
        return self.generate(variant=variant)

    def generate(self, *, variant: int = 0) -> Run | None:
        """What the Generate button does: run the spec, show the result or the error sentence.

        Returns the Run, or None when the inputs or the run failed (``panel.error`` says why).
        """
        self.button.disabled = True
        self.sample_button.disabled = True
        self.button.description = "Generating…"
        self.status.value = '<span class="workbench-progress">⏳ running…</span>'
        self.last_error = None
        try:
            spec = self.spec
            run = self.wb.generate(
                spec,
                **self.run_options(),
                variant=variant,
                partial_images=self.previews if self.previews else 0,
                on_partial=self._on_partial,
            )
        except WorkbenchError as exc:
            self.last_error = exc
            self._show_error(str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 — a panel shows a sentence, never a traceback
            self.last_error = exc
            self._show_error(f"The run failed unexpectedly ({type(exc).__name__}: {exc}).")
            self._traceback = traceback.format_exc()
            return None
        finally:
            self.button.description = "Generate"
            if self.last_error is None:
                self.button.disabled = False  # refresh() below decides what holds it now
        self.last_run = run
        self.status.value = (
            f'<span class="workbench-done">✓ {H.escape(run.status)} in '
            f"{(run.latency_ms or 0) / 1000:.1f} s</span>"
        )
        self.result.value = H.run_html(run, size=RESULT_SIZE)
        self.downloads.show(run.images, prefix=f"workbench-{run.id[:8]}")
        self._thread = None if self._thread is threading.current_thread() else self._thread
        self.refresh()
        self.wb.refresh_views()
        return run

    def _on_partial(self, index: int, data: bytes) -> None:
        try:
            self.result.value = (
                f'<div class="workbench-partial" style="opacity:.8">'
                f'<img src="{H.thumbnail_from_bytes(data, RESULT_SIZE)}" '
                f'style="max-width:{RESULT_SIZE}px;max-height:{RESULT_SIZE}px" />'
                f"<div>preview {index + 1}…</div></div>"
            )
        except WorkbenchError:
            pass  # a preview that cannot be shown is no reason to stop the run

    def _show_error(self, sentence: str) -> None:
        self._balance = self.wb.wallet.balance
        self.cost.value = self._cost_html()
        blocked = self._why_blocked()  # before the sentence: a failed run alone blocks nothing
        if (
            blocked is not None
            and blocked.startswith("Not enough credits")
            and sentence.startswith("Not enough")
        ):
            sentence, blocked = blocked, None  # one top-up hint, in the panel's terms
        self._blocked = blocked or (self._blocked if self._plan_error else None)
        self._plan_error = sentence
        self.status.value = ""
        self.result.value = ""  # the error replaces the old result: no stale image under it
        self.downloads.show([])
        self.button.disabled = self._blocked is not None or sentence.startswith("Not enough credits")
        self.reason.value = (
            f'<div class="workbench-reason" style="color:#b26a00">{H.escape(blocked)}</div>'
            if blocked
            else ""
        )
        self.message.value = f'<div class="workbench-error" style="color:#b00020">{H.escape(sentence)}</div>'

    # -- editing an upload -----------------------------------------------------------------------
    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0] if isinstance(files, (list, tuple)) else next(iter(files.values()))
        content = item["content"] if isinstance(item, dict) else item.content
        self._upload = bytes(content.tobytes() if hasattr(content, "tobytes") else content)
        self._upload_name = (
            item.get("name") if isinstance(item, dict) else getattr(item, "name", "")
        ) or "upload"
        self._plan_edit()

    def set_upload(self, data: bytes, name: str = "upload.png") -> Panel:
        """Use ``data`` (an image file's bytes) as the image to edit, as the upload button does."""
        self._upload, self._upload_name = bytes(data), name
        self._plan_edit()
        return self

    def _plan_edit(self) -> None:
        """Show where the edit would run and what it costs, before anything runs."""
        self._edit_plan = None
        instruction = self.instruction.value.strip()
        if self._upload is None:
            self.edit_route.value = "<i>Upload an image to edit it.</i>"
        elif not instruction:
            self.edit_route.value = f"<i>{H.escape(self._upload_name)} is ready: say what to change.</i>"
        else:
            try:
                plan = self.wb.plan_edit(self._upload, instruction)
            except WorkbenchError as exc:
                self.edit_route.value = (
                    f'<div class="workbench-error" style="color:#b00020">{H.escape(exc)}</div>'
                )
            else:
                self._edit_plan = plan
                cost = plan.estimate.credits
                where = (
                    "locally on the draft backend"
                    if plan.backend == "draft"
                    else f"on {H.escape(plan.backend)}/{H.escape(plan.model)}"
                )
                self.edit_route.value = (
                    f'<div class="workbench-edit-route">Route: runs {where} · '
                    f"{format_credits(cost)} credit{'' if cost == 1 else 's'}"
                    f" (~${plan.estimate.usd:.3f}) · {plan.estimate.size}</div>"
                )
        self.edit_button.disabled = self._edit_plan is None

    def edit(self) -> Run | None:
        """What "Edit image" does: edit the upload by the instruction; show the result."""
        if self._upload is None:
            self.edit_route.value = "<i>Upload an image to edit it.</i>"
            return None
        self.edit_button.disabled = True
        try:
            run = self.wb.edit(self._upload, self.instruction.value.strip())
        except WorkbenchError as exc:
            self.edit_result.value = (
                f'<div class="workbench-error" style="color:#b00020">{H.escape(exc)}</div>'
            )
            return None
        finally:
            self.edit_button.disabled = self._edit_plan is None
        self.last_edit = run
        self.edit_result.value = H.run_html(run, size=RESULT_SIZE)
        self.edit_downloads.show(run.images, prefix=f"workbench-{run.id[:8]}")
        self.refresh()
        self.wb.refresh_views()
        return run

    # -- static fallback -------------------------------------------------------------------------
    def to_html(self) -> str:
        """The panel's information as static HTML: inputs, prompt, findings, cost, last result."""
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:8px'>{H.escape(name)}</th>"
            f"<td>{H.escape(self._value(name)).replace(chr(10), '<br>')}</td></tr>"
            for name in self.inputs
            if self._value(name)
        )
        prompt = f"<p><b>Prompt</b><br><code>{H.escape(self._prompt)}</code></p>" if self._prompt else ""
        findings = f"<p><b>Findings</b></p>{H.findings_html(self._findings)}" if self._prompt else ""
        error = f'<p style="color:#b00020">{H.escape(self._plan_error)}</p>' if self._plan_error else ""
        result = H.run_html(self.last_run) if self.last_run is not None else ""
        return (
            '<div class="workbench-panel-static" style="font:13px system-ui,sans-serif">'
            "<p><b>Workbench prompt panel</b> (static view: open the notebook in JupyterLab to use it)</p>"
            f"<table>{rows}</table>{prompt}{findings}<p>{self._cost_html()}</p>{error}{result}</div>"
        )

    def _ipython_display_(self) -> None:
        """A notebook shows the static view as an output of its own beside the live widget, so an
        exported notebook (``jupyter nbconvert --to html``) shows it offline."""
        H.display_with_static(self, "panel")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/html"] = self.to_html()
        return bundle

    def __repr__(self) -> str:
        return f"<Panel preset={self.preset!r} backend={self.backend!r} prompt={self._prompt[:60]!r}>"
