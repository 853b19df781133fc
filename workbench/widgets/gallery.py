"""The gallery: thumbnails of runs from the run log, filters, side-by-side comparison, full size.

An anywidget; its front end is ``gallery.js`` (and ``gallery.css``) beside this file. State lives
in synced traits: ``runs`` (one small dict per run: status, backend, size, credits, the batch
factors, the OCR ``text_accuracy`` when its exact texts were checked, …), ``filters``
(batch_id, preset, status), ``selected`` run ids (always among the visible runs: a filter drops
the selections it hides), and ``full_image`` — filled when the front end asks for one run's
full-size image, shown inside the widget (Escape closes it). Thumbnails (data URIs) travel in
``thumbs`` only when a front end asks for them, and the 512 px images of the comparison in
``large``, so a notebook executed by papermill (which stores widget state in the file) does not
carry a thumbnail per run twice. The gallery watches the run log: a run made in a code cell, the
CLI or a batch shows up within about a second, without Refresh. Where no widget front end runs,
the mime bundle carries a static HTML grid of the newest runs with the same information.

Example:
    >>> gallery = wb.gallery(status="ok")
    >>> gallery.selected = gallery.runs[0]["id"], gallery.runs[1]["id"]
    >>> gallery.selection          # the Run objects
"""

from __future__ import annotations

import json
import math
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from workbench.credits import credits_value
from workbench.errors import InputImageError, WorkbenchError
from workbench.widgets import html as H

if TYPE_CHECKING:
    from workbench.core import Run, Workbench

__all__ = ["FILTERS", "Gallery"]

HERE = Path(__file__).parent
FILTERS = ("batch_id", "preset", "status")
THUMB = 160
COMPARE = 512
_MIMES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "svg": "image/svg+xml",
}
_MAX_SVG_THUMB_BYTES = 1 << 20  # an SVG is its own thumbnail up to this size (else none is shown)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _factors(params: Any) -> dict[str, str]:
    """The batch factors a run was made with (``{}`` outside a batch)."""
    if not isinstance(params, str) or '"factors"' not in params:
        return {}
    try:
        factors = json.loads(params).get("factors") or {}
    except (ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in factors.items()} if isinstance(factors, dict) else {}


def _compare_side(size: str | None) -> int:
    """The longest side that makes a compared image at least ``COMPARE`` px wide (a portrait
    1024x1536 needs 768), never more than the image has."""
    try:
        width, height = (int(x) for x in str(size).split("x"))
    except ValueError:
        return COMPARE
    if width <= 0 or height <= 0:
        return COMPARE
    return min(max(width, height), math.ceil(COMPARE * max(width, height) / width))


def _score(value: Any) -> float | None:
    """A text accuracy for the front end: 0–1 rounded to 4 places, or None when never checked."""
    if value is None or math.isnan(value):
        return None
    return round(float(value), 4)


def _watch(ref: weakref.ref[Gallery], stop: threading.Event, seconds: float) -> None:
    """Refresh the gallery when the run log has grown (a run from a code cell, the CLI or a
    batch); ends with the gallery. Holds it only weakly, so a dropped gallery is collected."""
    while not stop.wait(seconds):
        gallery = ref()
        if gallery is None:
            return
        try:
            if gallery._changed():
                gallery.refresh()
        except Exception:  # noqa: BLE001 - a closed workbench or a busy database: try again later
            pass
        del gallery


class Gallery(anywidget.AnyWidget):
    """Thumbnails of the newest runs, filterable, with a compare view for two or more.

    Args:
        wb: the Workbench whose run log is shown.
        limit: how many of the newest runs to show (None: all).
        thumb_size: the thumbnails' longest side in pixels.
        watch_seconds: how often to look for new runs in the run log (None: only on refresh).
        **filters: initial filters: batch_id, preset, status.
    """

    _esm = HERE / "gallery.js"
    _css = HERE / "gallery.css"

    runs = traitlets.List(traitlets.Dict()).tag(sync=True)
    filters = traitlets.Dict().tag(sync=True)
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    thumbs = traitlets.Dict().tag(sync=True)
    large = traitlets.Dict().tag(sync=True)
    full_image = traitlets.Dict().tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)

    def __init__(
        self,
        wb: Workbench,
        *,
        limit: int | None = 200,
        thumb_size: int = THUMB,
        watch_seconds: float | None = 1.0,
        **filters: Any,
    ) -> None:
        unknown = set(filters) - set(FILTERS)
        if unknown:
            raise TypeError(f"The gallery cannot filter on {sorted(unknown)[0]!r}: use {', '.join(FILTERS)}.")
        super().__init__()
        self.wb = wb
        self.limit = limit
        self.thumb_size = thumb_size
        self._thumbs: dict[str, str | None] = {}
        self.filters = {k: str(v) for k, v in filters.items() if v}
        self.on_msg(self._on_message)
        self.observe(self._prune_selection, names=["filters", "runs"])
        self._seen = -1
        self.refresh()
        wb.watch(self)  # a run made elsewhere (the panel) or a text check shows up here at once
        self._stop = threading.Event()
        if watch_seconds:
            threading.Thread(
                target=_watch,
                args=(weakref.ref(self), self._stop, watch_seconds),
                daemon=True,
                name="wb-gallery",
            ).start()

    def _changed(self) -> bool:
        return self.wb.run_count() != self._seen

    def close(self) -> None:
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
        super().close()

    def _prune_selection(self, _change: Any = None) -> None:
        visible = {r["id"] for r in self.visible()}
        kept = [i for i in self.selected if i in visible]
        if kept != list(self.selected):
            self.selected = kept

    # -- data ------------------------------------------------------------------------------------
    def _picture(self, relative: str, side: int) -> str:
        """A stored image as a data URI of at most ``side`` px: a WebP thumbnail, or an SVG
        itself (a vector draws at any size; ``<img>`` runs none of its scripts)."""
        if str(relative).lower().endswith(".svg"):
            path = self.wb.store.path(relative)
            if not path.is_file() or path.stat().st_size > _MAX_SVG_THUMB_BYTES:
                raise InputImageError(f"No SVG thumbnail for {relative}.", path=str(path))
            return H.data_uri(path.read_bytes(), _MIMES["svg"])
        return H.data_uri(self.wb.thumbnail(relative, side))

    def _thumb(self, relative: str) -> str | None:
        if relative not in self._thumbs:
            try:
                self._thumbs[relative] = self._picture(relative, self.thumb_size)
            except InputImageError:
                self._thumbs[relative] = None  # the file was removed: show the run without a picture
        return self._thumbs[relative]

    def refresh(self) -> None:
        """Read the run log again (the newest ``limit`` runs, newest first)."""
        from workbench.ledger.scores import SCORE_FRAME_COLUMNS

        self._seen = self.wb.run_count()
        frame = self.wb.runs(limit=self.limit).iloc[::-1]
        # A vision judge's run has no image: its score shows on the card of the image it judged.
        frame = frame[frame["kind"] != "judge"]
        self.total = self._seen
        columns = {
            name: frame[name].tolist()
            for name in (
                "id",
                "created_at",
                "status",
                "preset",
                "batch_id",
                "backend",
                "model",
                "quality",
                "size",
                "n",
                "credits",
                "usd",
                "latency_ms",
                "prompt",
                "images",
                "error",
                "cached_from",
                "kind",
                "text_accuracy",
                "params",
            )
        }
        # The checks' scores (workbench.checks), each run's non-empty ones on its card and in compare.
        scored = [c for c in SCORE_FRAME_COLUMNS if c in frame]
        score_columns = {name: frame[name].tolist() for name in scored}
        runs = []
        for i in range(len(frame)):
            images = columns["images"][i]
            created = columns["created_at"][i]
            runs.append(
                {
                    "id": columns["id"][i],
                    "created_at": created.isoformat(timespec="seconds") if created is not None else "",
                    "status": _text(columns["status"][i]),
                    "preset": _text(columns["preset"][i]),
                    "batch_id": _text(columns["batch_id"][i]),
                    "backend": _text(columns["backend"][i]),
                    "model": _text(columns["model"][i]),
                    "quality": _text(columns["quality"][i]),
                    "size": _text(columns["size"][i]),
                    "kind": _text(columns["kind"][i]),
                    "n": int(columns["n"][i] or 1),
                    "credits": credits_value(columns["credits"][i]),
                    "usd": float(columns["usd"][i] or 0.0),
                    "latency_ms": None
                    if math.isnan(columns["latency_ms"][i])
                    else round(columns["latency_ms"][i], 1),
                    "prompt": columns["prompt"][i],
                    "error": _text(columns["error"][i]),
                    "cached_from": _text(columns["cached_from"][i]),
                    "text_accuracy": _score(columns["text_accuracy"][i]),
                    "scores": {
                        name: round(float(values[i]), 4)
                        for name, values in score_columns.items()
                        if values[i] is not None and values[i] == values[i]
                    },
                    "images": len(images),
                    "image": images[0] if images else None,
                    "factors": _factors(columns["params"][i]),
                }
            )
        self.runs = runs
        if self.thumbs:
            self.load_thumbs([r["id"] for r in runs])
        if self.large:
            self.load_large([i for i in self.selected])

    def load_thumbs(self, run_ids: list[str] | None = None) -> dict[str, str]:
        """Fill ``thumbs`` (run id → data URI) for these runs (default: every run shown)."""
        wanted = None if run_ids is None else set(run_ids)
        thumbs = dict(self.thumbs)
        todo = [
            r
            for r in self.runs
            if (wanted is None or r["id"] in wanted) and r["image"] and r["id"] not in thumbs
        ]
        cold = sorted({r["image"] for r in todo} - set(self._thumbs))
        if len(cold) > 4:
            # Making a thumbnail decodes a full image (Pillow releases the GIL): use every core.
            with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
                list(pool.map(self._thumb, cold))
        for run in todo:
            uri = self._thumb(run["image"])
            if uri:
                thumbs[run["id"]] = uri
        self.thumbs = thumbs
        return thumbs

    def load_large(self, run_ids: list[str]) -> dict[str, str]:
        """Fill ``large`` (run id → data URI of a 512 px image) for the compared runs."""
        large = dict(self.large)
        by_id = {r["id"]: r for r in self.runs}
        for run_id in run_ids:
            run = by_id.get(run_id)
            if run is None or not run["image"] or run_id in large:
                continue
            try:
                large[run_id] = self._picture(run["image"], _compare_side(run.get("size")))
            except InputImageError:
                continue
        self.large = large
        return large

    def visible(self) -> list[dict[str, Any]]:
        """The runs the filters let through."""
        active = {k: v for k, v in self.filters.items() if v}
        return [r for r in self.runs if all((r.get(k) or "") == v for k, v in active.items())]

    @property
    def selection(self) -> list[Run]:
        """The selected runs the filters let through, as Run objects."""
        visible = {r["id"] for r in self.visible()}
        return [self.wb.run(run_id) for run_id in self.selected if run_id in visible]

    def open_full(self, run_id: str, index: int = 0) -> dict[str, Any]:
        """Put one run's full-size image in ``full_image`` (what "open full size" asks for)."""
        try:
            run = self.wb.run(run_id)
            path = run.images[index]
            data = path.read_bytes()
        except (WorkbenchError, IndexError, OSError) as exc:
            self.full_image = {"id": run_id, "error": f"The full image cannot be opened: {exc}"}
            return self.full_image
        mime = _MIMES.get(path.suffix[1:].lower(), "image/png")
        self.full_image = {"id": run_id, "src": H.data_uri(data, mime), "size": run.size, "path": str(path)}
        return self.full_image

    def _on_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("type") == "open":
            self.open_full(str(content.get("id")), int(content.get("index", 0)))
        elif content.get("type") == "thumbs":
            ids = content.get("ids")
            self.load_thumbs([str(i) for i in ids] if isinstance(ids, list) else None)
        elif content.get("type") == "large":
            ids = content.get("ids")
            self.load_large([str(i) for i in ids] if isinstance(ids, list) else [])
        elif content.get("type") == "refresh":
            self.refresh()

    # -- static fallback -------------------------------------------------------------------------
    def to_html(self, limit: int = 24) -> str:
        """The static gallery: the newest ``limit`` visible runs and the comparison, as HTML."""
        runs = self.visible()
        keep = {r["id"] for r in runs[:limit]} | set(self.selected)
        cards = [
            r | {"thumb": self._thumb(r["image"]) if r["id"] in keep and r["image"] else None} for r in runs
        ]
        return H.gallery_html(cards, selected=self.selected, limit=limit)

    def _ipython_display_(self) -> None:
        """A notebook shows the static view as an output of its own beside the live widget, so an
        exported notebook (``jupyter nbconvert --to html``) shows it offline."""
        H.display_with_static(self, "gallery")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/html"] = self.to_html()
        return bundle

    def __repr__(self) -> str:
        return f"<Gallery {len(self.runs)} of {self.total} runs, filters={self.filters}>"
