"""Static HTML for widgets and runs: thumbnails as small data URIs, and the fallbacks that papermill,
nbconvert and GitHub show where no widget can run.

Every image here is a thumbnail from the store's cache (WebP, a few KB), never the full file, so a
notebook that shows twenty results stays well under a megabyte.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.credits import credits_value, format_credits
from workbench.errors import InputImageError
from workbench.store import Store

if TYPE_CHECKING:
    from workbench.core import Run
    from workbench.lint import Finding

__all__ = [
    "data_uri",
    "escape",
    "findings_html",
    "gallery_html",
    "run_html",
    "text_score",
    "thumbnail_from_bytes",
    "thumbnail_uri",
]

THUMB = 256
# Inline styles only: the fallback must look right where no stylesheet of ours is loaded.
_CARD = (
    "display:inline-block;vertical-align:top;margin:4px;padding:6px;border:1px solid #ddd;border-radius:6px;"
)
_CAPTION = "font:12px/1.35 system-ui,sans-serif;color:#333;max-width:{w}px;overflow-wrap:anywhere;"


def escape(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def data_uri(data: bytes, mime: str = "image/webp") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _store_of(path: Path) -> tuple[Store, str]:
    """A stored image's store and relative path: ``<root>/images/<xx>/<sha>.<ext>``."""
    path = Path(path)
    root = path.parents[2]
    return Store(root), path.relative_to(root).as_posix()


def thumbnail_uri(path: str | Path, size: int = THUMB, *, store: Store | None = None) -> str:
    """A data URI of the cached thumbnail of a stored image (absolute path, or relative with ``store``)."""
    if store is None:
        store, relative = _store_of(Path(path))
    else:
        relative = str(path)
    return data_uri(store.thumbnail(relative, size))


def thumbnail_from_bytes(data: bytes, size: int = THUMB) -> str:
    """A data URI of a small WebP made from encoded image bytes (streamed previews)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((size, size))
            if image.mode not in ("RGB", "RGBA"):
                image = image.convert("RGB")
            buffer = io.BytesIO()
            image.save(buffer, "WEBP", quality=70)
    except OSError as exc:
        raise InputImageError(f"A preview image cannot be read: {exc}.") from None
    return data_uri(buffer.getvalue())


def _img(src: str, size: int, alt: str = "") -> str:
    return (
        f'<img src="{src}" alt="{escape(alt)}" '
        f'style="max-width:{size}px;max-height:{size}px;display:block;margin:0 auto 4px;" />'
    )


def _credits(value: Any) -> str:
    value = credits_value(value)
    return f"{format_credits(value)} credit{'' if value == 1 else 's'}"


def text_score(accuracy: float | None) -> str:
    """A run's OCR text accuracy as a card shows it: ``text 98 %`` (rounded down, so 100 % means
    every character read back exactly), or ``""`` when its texts were never checked."""
    if accuracy is None or math.isnan(accuracy):
        return ""
    return f"text {math.floor(float(accuracy) * 100 + 1e-9)} %"


def _scores_html(scores: dict[str, float] | None) -> str:
    """The checks' scores of a run (workbench.checks), on a line of their own; empty when unchecked."""
    if not scores:
        return ""
    shown = " · ".join(f"{escape(name)} {score:.2f}" for name, score in scores.items())
    return f'<br><span class="workbench-scores">{shown}</span>'


def _text_score_html(accuracy: float | None) -> str:
    score = text_score(accuracy)
    if not score:
        return ""
    colour = "#1b5e20" if accuracy >= 0.98 else "#b26a00" if accuracy >= 0.9 else "#b00020"
    style = f"color:{colour};white-space:nowrap"
    return f' · <span class="workbench-text-accuracy" style="{style}">{score}</span>'


def run_html(run: Run, *, size: int = THUMB) -> str:
    """A run as a small card: its first image's thumbnail, status, size, credits, dollars."""
    picture = ""
    if run.images:
        try:
            picture = _img(thumbnail_uri(run.images[0], size), size, run.prompt)
        except InputImageError as exc:
            picture = f"<em>{escape(exc)}</em>"
    more = f" · {len(run.images)} images" if len(run.images) > 1 else ""
    error = f'<br><span style="color:#b00020">{escape(run.error)}</span>' if run.error else ""
    return (
        f'<div class="workbench-run" style="{_CARD}">{picture}'
        f'<div style="{_CAPTION.format(w=size)}"><b>{escape(run.status)}</b> · {escape(run.size)} · '
        f"{_credits(run.credits)} · ${run.usd:.4f}{more}<br>"
        f'<span style="color:#666">{escape(run.backend)}/{escape(run.model)} '
        f"· run {escape(run.id[:8])}</span>"
        f"{error}</div></div>"
    )


def findings_html(findings: Sequence[Finding]) -> str:
    """Lint findings as a list: code, message and the fix to make."""
    if not findings:
        return '<div style="color:#1b5e20">✓ No findings: the prompt reads clearly.</div>'
    items = []
    for finding in findings:
        colour = "#b26a00" if finding.severity == "warning" else "#555"
        items.append(
            f'<li style="margin-bottom:3px"><b style="color:{colour}">{escape(finding.code)}</b> '
            f"{escape(finding.message)} <i>Fix:</i> {escape(finding.fix)}</li>"
        )
    return f'<ul class="workbench-findings" style="margin:0;padding-left:18px">{"".join(items)}</ul>'


def gallery_html(
    runs: Iterable[Mapping[str, Any]],
    *,
    total: int | None = None,
    selected: Sequence[str] = (),
    limit: int = 24,
) -> str:
    """The static gallery: a grid of run cards (``Gallery`` run dicts), then a comparison of the
    selected runs when two or more are selected."""
    runs = list(runs)
    shown = runs[:limit]
    cards = []
    for run in shown:
        thumb = run.get("thumb")
        picture = (
            _img(thumb, 160, run.get("prompt", "")) if thumb else '<div style="height:60px">no image</div>'
        )
        cards.append(
            f'<div style="{_CARD}">{picture}<div style="{_CAPTION.format(w=160)}">'
            f"<b>{escape(run.get('status'))}</b> · {escape(run.get('preset') or 'no preset')}<br>"
            f"{escape(run.get('backend') or '?')}{'/' + escape(run['model']) if run.get('model') else ''}<br>"
            f"{escape(run.get('size'))} · {_credits(run.get('credits'))}"
            f"{_text_score_html(run.get('text_accuracy'))}"
            f"{_scores_html(run.get('scores'))}"
            + (
                "<br>" + escape(" · ".join(f"{k}: {v}" for k, v in run["factors"].items()))
                if run.get("factors")
                else ""
            )
            + "</div></div>"
        )
    total = len(runs) if total is None else total
    more = f"<p>… and {total - len(shown)} more runs.</p>" if total > len(shown) else ""
    head = f"<p><b>Gallery</b>: {total} run{'s' if total != 1 else ''}.</p>"
    picked = [r for r in runs if r["id"] in set(selected)]
    compare = ""
    if len(picked) >= 2:
        columns = "".join(
            f'<td style="vertical-align:top;padding:6px">{_img(r["thumb"], 256) if r.get("thumb") else ""}'
            f'<div style="{_CAPTION.format(w=256)}">{escape(r.get("prompt"))}<br>'
            f"{escape(r.get('backend'))}/{escape(r.get('model'))} · {escape(r.get('quality'))} · "
            f"{escape(r.get('size'))} · {_credits(r.get('credits'))} · ${float(r.get('usd') or 0):.4f}"
            f"{_text_score_html(r.get('text_accuracy'))}{_scores_html(r.get('scores'))}</div></td>"
            for r in picked
        )
        compare = f"<p><b>Comparing {len(picked)} runs</b></p><table><tr>{columns}</tr></table>"
    if not runs:
        return head + "<p>No runs yet: make one with <code>wb.generate(...)</code> or the panel.</p>"
    return f'<div class="workbench-gallery">{head}<div>{"".join(cards)}</div>{more}{compare}</div>'


# A live widget hides the static view shown beside it (CSS :has, no script): in JupyterLab the
# static copy disappears once the widget renders; in an nbconvert HTML export, where the widget
# cannot render offline, the static copy is what a reader sees.
_HIDE_WHEN_LIVE = {
    "panel": ".jp-OutputArea:has(.workbench-panel) .wb-static-panel",
    "gallery": ".jp-OutputArea:has(.wb-gallery) .wb-static-gallery",
}


def static_view(kind: str, body: str) -> str:
    """The static HTML of a widget as its own output, hidden wherever the live widget shows."""
    rule = f"{_HIDE_WHEN_LIVE[kind]}, .jp-OutputArea:has(.widget-view-{kind}) .wb-static-{kind}"
    return f'<div class="wb-static wb-static-{kind}"><style>{rule}{{display:none}}</style>{body}</div>'


def display_with_static(widget: Any, kind: str) -> None:
    """Show a widget as two outputs: its static HTML (what nbconvert exports and a notebook viewer
    shows) and the live view (whose bundle carries a one-line text/html of its own)."""
    from IPython.display import HTML, display

    display(HTML(static_view(kind, widget.to_html())))
    bundle = widget._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    data["text/html"] = f"<p><i>The live {kind} (static view above).</i></p>"
    display(data, raw=True)
