"""The prompt panel: build, check, price and generate an image without writing code.

``Workbench.panel()`` returns one. Every input change recomposes the prompt, lints it and prices
it (a few milliseconds, so no debounce); Generate runs through the same ``Workbench.generate`` as
code does. A user error — an unknown template, an aspect the model cannot make, a run the wallet
cannot pay for — shows as one sentence in the panel and changes nothing.

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
from workbench.errors import WorkbenchError
from workbench.spec import ASPECTS, QUALITIES, TEXT_ROLES, PromptSpec, TextItem
from workbench.widgets import html as H

if TYPE_CHECKING:
    from workbench.core import Run, Workbench
    from workbench.lint import Finding
    from workbench.pricing import Estimate

__all__ = ["Panel", "parse_texts", "texts_to_lines"]

TEMPLATE_FIELDS = ("subject", "background", "lighting", "style")
NO_PRESET = ""
RESULT_SIZE = 384


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
        self.status = widgets.HTML()
        self.result = widgets.HTML()
        self.button.on_click(self._on_click)

        left = widgets.VBox(
            [self.inputs[k] for k in ("preset", *TEMPLATE_FIELDS, "texts", "details")],
            layout=widgets.Layout(width="50%"),
        )
        settings = widgets.HBox(
            [self.inputs[k] for k in ("aspect", "quality", "backend", "model")],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        right = widgets.VBox(
            [
                widgets.HTML("<b>Prompt</b>"),
                self.preview,
                widgets.HTML("<b>Findings</b>"),
                self.findings_box,
                self.cost,
                self.message,
                widgets.HBox([self.button, self.status]),
                self.result,
            ],
            layout=widgets.Layout(width="50%", padding="0 0 0 12px"),
        )
        super().__init__(
            [
                widgets.HTML("<h3 style='margin:4px 0'>Workbench prompt panel</h3>"),
                settings,
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
                self._fill_from_preset(preset)
            self.set(**fields)
        finally:
            self._loading = False
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
        }

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
        unknown = set(values) - set(self.inputs)
        if unknown:
            raise TypeError(
                f"The panel has no input {sorted(unknown)[0]!r}: it has {', '.join(self.inputs)}."
            )
        was_loading, self._loading = self._loading, True
        try:
            if "preset" in values:
                self.inputs["preset"].value = values.pop("preset") or NO_PRESET
                self._fill_from_preset(self.preset)
            if "backend" in values:
                self.inputs["backend"].value = values.pop("backend")
                self._backend_changed()
            if "model" in values:
                self.inputs["model"].value = values.pop("model")
                self._backend_changed(models=False)
            for name, value in values.items():
                if name == "texts" and not isinstance(value, str):
                    value = texts_to_lines(tuple(TextItem.coerce(t) for t in value))
                self.inputs[name].value = value if value is not None else ""
        finally:
            self._loading = was_loading
        if not self._loading:
            self.refresh()
        return self

    def _fill_from_preset(self, name: str | None) -> None:
        if not name:
            return
        spec = self.wb.templates.preset(name).spec
        for field_name in (*TEMPLATE_FIELDS, "details"):
            self.inputs[field_name].value = getattr(spec, field_name)
        self.inputs["texts"].value = texts_to_lines(spec.texts)
        self.inputs["aspect"].value = spec.aspect
        self.inputs["quality"].value = spec.quality

    def _model_options(self) -> list[str]:
        try:
            cls = get_backend_class(self.backend)
        except Exception:  # noqa: BLE001 — the plan will say what is wrong with the backend
            return [""]
        return [cls.default_model] + sorted(set(cls.models) - {cls.default_model})

    def _backend_changed(self, *, models: bool = True) -> None:
        """New backend or model: offer its models, and its prices in the quality labels."""
        if models:
            self.inputs["model"].options = self._model_options()
            self.inputs["model"].value = self.inputs["model"].options[0]
        quality = self._value("quality")
        self.inputs["quality"].options = self._quality_options()
        self.inputs["quality"].value = quality

    def _quality_options(self) -> list[tuple[str, str]]:
        backend = self.backend
        model = self.inputs["model"].value if "model" in self.inputs else None
        options = []
        for quality in QUALITIES:
            try:
                cls = get_backend_class(backend)
                credits = self.wb.prices.credits_per_image(backend, model or cls.default_model, quality)
                label = f"{quality} · {credits} credit{'' if credits == 1 else 's'}"
            except Exception:  # noqa: BLE001 — no price: still offer the quality
                label = quality
            options.append((label, quality))
        return options

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
        finally:
            self._loading = False
        self.refresh()

    # -- the live preview ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompose, lint and price the inputs, and show the wallet balance."""
        try:
            plan = self.wb.plan(self.spec, backend=self.backend, model=self.model or None)
        except WorkbenchError as exc:
            self._prompt, self._findings, self._estimate = "", [], None
            # An untouched panel is not an error: it waits for a subject or a preset.
            self._plan_error = None if self._is_blank() else str(exc)
        else:
            self._plan_error = None
            self._prompt = plan.request.prompt
            self._estimate = plan.estimate
            self._findings = self.wb.lint(plan.spec) if plan.spec is not None else []
        self._balance = self.wb.wallet.balance
        self._render()

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
            self.preview.value = "<i>No prompt yet: pick a preset or type a subject.</i>"
        self.findings_box.value = H.findings_html(self._findings) if self._prompt else ""
        self.cost.value = self._cost_html()
        self.message.value = (
            f'<div class="workbench-error" style="color:#b00020">{H.escape(self._plan_error)}</div>'
            if self._plan_error
            else ""
        )

    def _cost_html(self) -> str:
        balance = f"wallet: <b>{self._balance}</b> credits"
        estimate = self._estimate
        if estimate is None:
            return f'<div class="workbench-cost">{balance}</div>'
        if estimate.cached:
            cost = "<b>0 credits</b> — the same request was made before; it comes from the store"
        else:
            plural = "" if estimate.credits == 1 else "s"
            cost = f"<b>{estimate.credits} credit{plural}</b> (~${estimate.usd:.3f})"
        warn = ""
        if not estimate.cached and self._balance is not None and estimate.credits > self._balance:
            short = estimate.credits - self._balance
            warn = (
                f'<br><span style="color:#b26a00">The wallet is {short} credit{"" if short == 1 else "s"} '
                f"short: top up with <code>wb.wallet.topup({short})</code>.</span>"
            )
        return f'<div class="workbench-cost">Estimate: {cost} · {estimate.size} · {balance}{warn}</div>'

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

    def generate(self) -> Run | None:
        """What the Generate button does: run the spec, show the result or the error sentence.

        Returns the Run, or None when the inputs or the run failed (``panel.error`` says why).
        """
        self.button.disabled = True
        self.button.description = "Generating…"
        self.status.value = '<span class="workbench-progress">⏳ running…</span>'
        self.last_error = None
        try:
            spec = self.spec
            run = self.wb.generate(
                spec,
                backend=self.backend,
                model=self.model or None,
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
            self.button.disabled = False
            self.button.description = "Generate"
        self.last_run = run
        self.status.value = (
            f'<span class="workbench-done">✓ {H.escape(run.status)} in '
            f"{(run.latency_ms or 0) / 1000:.1f} s</span>"
        )
        self.result.value = H.run_html(run, size=RESULT_SIZE)
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
        self._plan_error = sentence
        self.status.value = ""
        self.message.value = f'<div class="workbench-error" style="color:#b00020">{H.escape(sentence)}</div>'

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

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/html"] = self.to_html()
        return bundle

    def __repr__(self) -> str:
        return f"<Panel preset={self.preset!r} backend={self.backend!r} prompt={self._prompt[:60]!r}>"
