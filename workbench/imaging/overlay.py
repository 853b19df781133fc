"""Exact text, typeset locally over an image at layout slots: headline, subtext, label.

A model may misspell; a typesetter does not. ``overlay_texts`` draws each text with the fonts of
``workbench.imaging.fonts`` (any script they cover), as large as fits its slot, in an ink that
stands out from what is beneath it (dark on light, light on dark, with a thin outline).

Slots, as fractions of the image (left, top, right, bottom):

- ``headline``: the top band; ``subtext``: just below it; ``label``: a band near the bottom.

Example:
    >>> poster = overlay_texts(image, [TextItem("MOVE FORWARD"), TextItem("Lighter than ever", "subtext")])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from workbench.errors import SpecError
from workbench.imaging.fonts import FontLibrary, draw_lines, fit_text
from workbench.spec import TextItem

__all__ = ["SLOTS", "overlay_texts"]

SLOTS: dict[str, tuple[float, float, float, float]] = {
    "headline": (0.06, 0.05, 0.94, 0.22),
    "subtext": (0.08, 0.23, 0.92, 0.32),
    "label": (0.1, 0.84, 0.9, 0.95),
}
_BOLD = {"headline": True, "subtext": False, "label": True}
_DARK, _LIGHT = (22, 24, 28), (250, 250, 247)


def _items(texts: Iterable[Any] | Mapping[str, str]) -> list[tuple[str, str]]:
    return [(item.text, item.role) for item in TextItem.coerce_many(texts)]


def _ink(region: np.ndarray) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    luminance = (
        float((region[..., :3].reshape(-1, 3) @ np.array([0.299, 0.587, 0.114])).mean())
        if region.size
        else 255
    )
    return (_DARK, _LIGHT) if luminance >= 140 else (_LIGHT, _DARK)


def overlay_texts(
    image: Image.Image,
    texts: Iterable[Any] | Mapping[str, str],
    *,
    slots: Mapping[str, tuple[float, float, float, float]] | None = None,
    library: FontLibrary | None = None,
    ink: Any = None,
) -> Image.Image:
    """Draw exact ``texts`` at their slots; returns a new image (the input is unchanged).

    Args:
        texts: ``TextItem`` objects, dicts with ``text``/``role``, ``{role: text}``, or strings
            (the first a headline, the rest subtexts).
        slots: override or add slots (fractions of the image).
        library: fonts to use (a brand's); the default library when omitted.
        ink: a fixed text colour; by default dark or light against what is beneath.
    """
    layout = {**SLOTS, **(slots or {})}
    by_slot: dict[str, list[str]] = {}
    for text, role in _items(texts):
        if role not in layout:
            raise SpecError(f"Unknown text slot {role!r}: use one of {', '.join(layout)}.", field="texts")
        by_slot.setdefault(role, []).append(text)
    out = image.copy()
    if out.mode not in ("RGB", "RGBA"):
        out = out.convert("RGBA" if "A" in out.mode else "RGB")
    pixels = np.asarray(out)
    draw = ImageDraw.Draw(out)
    width, height = out.size
    for role, lines in by_slot.items():
        fl, ft, fr, fb = layout[role]
        box = (round(fl * width), round(ft * height), round(fr * width), round(fb * height))
        text = "\n".join(lines)
        font, wrapped = fit_text(
            draw, text, box, box[3] - box[1], bold=_BOLD.get(role, False), min_size=8, library=library
        )
        fill, outline = _ink(pixels[box[1] : box[3], box[0] : box[2]]) if ink is None else (ink, None)
        stroke = max(1, round(font.size * 0.05)) if outline is not None else 0
        draw_lines(
            draw, wrapped, font, box, fill=fill, valign="middle", stroke_width=stroke, stroke_fill=outline
        )
    return out
