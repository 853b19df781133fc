"""The mask painter: paint or drag regions over an image in the notebook, then edit just those.

An anywidget; its front end is ``mask_painter.js`` beside this file. The image is shown as a
thumbnail (``preview``, at most ``display_size`` px), while everything painted is kept in the
image's own pixels: ``regions`` holds the rectangles and polygons (in image coordinates),
``painted`` the brush strokes and ``erased`` the eraser's strokes, each a PNG (data URI) the size
of the image. The eraser cuts through strokes and shapes alike (a shape drawn later wins over
earlier erasing inside it). ``regions_for_edit()`` hands the result to ``Workbench.edit``, which
merges it into one mask. In the notebook what is painted shows as a tint with a dark-and-light
outline (visible on light and dark images), the brush as a ring of its size; Undo (or Ctrl+Z)
steps back one action; a polygon closes on a double-click, a click on its first point or Enter.

``Workbench.mask_painter(run)`` makes one.

Example:
    >>> painter = wb.mask_painter(run)      # a Run, a path, bytes or a PIL image
    >>> painter                             # paint in the notebook
    >>> wb.edit(run, "replace the mug with a teapot", regions=painter.regions_for_edit())
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
from PIL import Image

from workbench.imaging.uploads import resolve_source
from workbench.widgets.html import data_uri

__all__ = ["MaskPainter"]

HERE = Path(__file__).parent
MODES = ("brush", "rect", "polygon", "erase")


def _preview_uri(image: Image.Image, display_size: int) -> str:
    thumb = image.copy()
    thumb.thumbnail((display_size, display_size))
    buffer = io.BytesIO()
    thumb.convert("RGB").save(buffer, "JPEG", quality=85)
    return data_uri(buffer.getvalue(), "image/jpeg")


class MaskPainter(anywidget.AnyWidget):
    """Paint edit regions over an image.

    Args:
        image: a Run, a path, bytes or a PIL image.
        display_size: the preview's longest side in pixels (the mask keeps the image's own size).
        brush: the brush diameter in image pixels.

    Traits (synced with the front end):
        preview: the thumbnail data URI shown under the canvas.
        width/height: the image's size; every coordinate is in these pixels.
        mode: ``brush``, ``rect``, ``polygon`` or ``erase``.
        brush: the brush diameter (image pixels).
        regions: rectangles ``{"x", "y", "w", "h"}`` and polygons ``{"points": [[x, y], ...]}``.
        painted: a PNG data URI of the brush strokes (white where painted), or "".
        erased: a PNG data URI of the eraser's strokes (white where erased), or "".
    """

    _esm = HERE / "mask_painter.js"

    preview = traitlets.Unicode("").tag(sync=True)
    width = traitlets.Int(0).tag(sync=True)
    height = traitlets.Int(0).tag(sync=True)
    mode = traitlets.Unicode("brush").tag(sync=True)
    brush = traitlets.Int(40).tag(sync=True)
    regions = traitlets.List(traitlets.Dict()).tag(sync=True)
    painted = traitlets.Unicode("").tag(sync=True)
    erased = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self, image: Any, *, display_size: int = 640, brush: int | None = None, **kwargs: Any
    ) -> None:
        # The image exactly as Workbench.edit will see it (an upload checked and turned upright by
        # its EXIF orientation), so every painted pixel lands where the edit expects it.
        path = Path(image) if isinstance(image, (str, Path)) else None
        store_root = path.parents[2] if path is not None and path.parent.parent.name == "images" else None
        source = resolve_source(image, store_root=store_root)
        with Image.open(io.BytesIO(source.data)) as opened:
            size = opened.size
            preview = _preview_uri(opened, display_size)
        super().__init__(
            preview=preview,
            width=size[0],
            height=size[1],
            brush=brush or max(4, round(max(size) / 25)),
            **kwargs,
        )
        self.source = image

    @traitlets.validate("mode")
    def _check_mode(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in MODES:
            raise traitlets.TraitError(f"Unknown mode {proposal['value']!r}: use one of {', '.join(MODES)}.")
        return proposal["value"]

    def _layer(self, uri: str) -> np.ndarray | None:
        if not uri:
            return None
        data = base64.b64decode(uri.split(",", 1)[1])
        with Image.open(io.BytesIO(data)) as image:
            if image.size != (self.width, self.height):
                image = image.resize((self.width, self.height), Image.Resampling.NEAREST)
            array = np.asarray(image.convert("RGBA"))
        layer = (array[..., 3] > 127) & (array[..., :3].max(axis=2) > 127)
        return layer if layer.any() else None

    @property
    def painted_mask(self) -> np.ndarray | None:
        """The brush strokes as a bool array of the image's size (True = edit), or None."""
        return self._layer(self.painted)

    @property
    def erased_mask(self) -> np.ndarray | None:
        """Where the eraser went, as a bool array of the image's size, or None."""
        return self._layer(self.erased)

    def regions_for_edit(self) -> list[Any]:
        """Rectangles, polygons and the painted strokes, for ``Workbench.edit(regions=...)``.

        When something was erased, everything is merged into one painted area (shapes and
        strokes minus what the eraser took), so erasing works on every shape."""
        items: list[Any] = [dict(region) for region in self.regions]
        painted = self.painted_mask
        if painted is not None:
            items.append(painted)
        erased = self.erased_mask
        if erased is None or not items:
            return items
        from workbench.imaging.masks import region_area

        area = np.zeros((self.height, self.width), bool)
        for item in items:
            area |= region_area(item, (self.width, self.height))
        area &= ~erased
        return [area] if area.any() else []

    def mask_png(self) -> bytes | None:
        """Everything painted, merged into one RGBA PNG (alpha 0 = edit), or None when nothing is."""
        from workbench.imaging.masks import build_mask

        items = self.regions_for_edit()
        return build_mask(items, (self.width, self.height)) if items else None

    def clear(self) -> None:
        """Forget every region and stroke."""
        self.regions = []
        self.painted = ""
        self.erased = ""

    # -- static fallback -------------------------------------------------------------------------
    def to_html(self) -> str:
        """The painter as static HTML: the image and what is marked on it (no tools)."""
        count = len(self.regions) + (1 if self.painted else 0)
        return (
            '<div class="workbench-mask-painter-static" style="font:13px system-ui,sans-serif">'
            f'<img src="{self.preview}" style="max-width:320px;display:block" alt="image to paint">'
            f"<div>Mask painter: {self.width}×{self.height} px · {count} marked "
            f"area{'' if count == 1 else 's'} "
            "(open the notebook in JupyterLab to paint).</div></div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/html"] = self.to_html()
        return bundle
