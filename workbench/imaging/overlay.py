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


# Where a role may go when its usual slot is busy (the subject is there): calmest first wins.
_ALTERNATIVES: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "headline": ((0.06, 0.05, 0.94, 0.22), (0.06, 0.72, 0.94, 0.89), (0.06, 0.40, 0.94, 0.57)),
    "label": ((0.1, 0.84, 0.9, 0.95), (0.1, 0.05, 0.9, 0.16)),
}
_PLATE_BUSY = 16.0  # busyness above which the text gets a contrast plate beneath it


def _busyness(grey: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """How much is going on in a region: its luminance spread plus its edges (0 = flat)."""
    x0, y0, x1, y1 = box
    region = grey[y0:y1, x0:x1]
    if region.size == 0:
        return 0.0
    step = max(1, min(region.shape) // 96)
    small = region[::step, ::step].astype(np.float32)
    edges = (
        np.abs(np.diff(small, axis=0)).mean() + np.abs(np.diff(small, axis=1)).mean()
        if min(small.shape) > 1
        else 0.0
    )
    return float(small.std() + 2.0 * edges * step)


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
    plate: bool | None = None,
    laid: list[dict[str, Any]] | None = None,
) -> Image.Image:
    """Draw exact ``texts`` at their slots; returns a new image (the input is unchanged).

    A headline or label whose usual slot is busy (the subject is there) moves to the calmest
    free band; where no band is calm, a contrast plate goes beneath the text, so it reads.

    Args:
        texts: ``TextItem`` objects, dicts with ``text``/``role``, ``{role: text}``, or strings
            (the first a headline, the rest subtexts).
        slots: override or add slots (fractions of the image); a slot given here stays put.
        library: fonts to use (a brand's); the default library when omitted.
        ink: a fixed text colour; by default dark or light against what is beneath.
        plate: force (True) or forbid (False) the contrast plate; by default where it is busy.
        laid: when given, receives where each text was drawn (``text``, ``role``, ``box``, ``lines``).
    """
    layout = {**SLOTS, **(slots or {})}
    fixed = set(slots or ())
    by_slot: dict[str, list[str]] = {}
    for text, role in _items(texts):
        if role not in layout:
            raise SpecError(f"Unknown text slot {role!r}: use one of {', '.join(layout)}.", field="texts")
        by_slot.setdefault(role, []).append(text)
    out = image.copy()
    if out.mode not in ("RGB", "RGBA"):
        out = out.convert("RGBA" if "A" in out.mode else "RGB")
    pixels = np.asarray(out)
    grey = np.asarray(out.convert("L"))
    draw = ImageDraw.Draw(out, "RGBA")
    width, height = out.size

    def pixels_of(fractions: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
        fl, ft, fr, fb = fractions
        return round(fl * width), round(ft * height), round(fr * width), round(fb * height)

    chosen: dict[str, tuple[float, float, float, float]] = {}
    for role in by_slot:
        options = _ALTERNATIVES.get(role, ()) if role not in fixed else ()
        if not options:
            chosen[role] = layout[role]
            continue
        scores = [_busyness(grey, pixels_of(option)) for option in options]
        best = int(np.argmin(scores))
        chosen[role] = options[0] if scores[0] <= scores[best] * 1.25 + 2 else options[best]
    if "subtext" in by_slot and "subtext" not in fixed and "headline" in chosen:
        fl, ft, fr, fb = chosen["headline"]
        chosen["subtext"] = (0.08, fb + 0.01, 0.92, min(0.98, fb + 0.10))  # just below the headline
    for role, lines in by_slot.items():
        box = pixels_of(chosen[role])
        text = "\n".join(lines)
        font, wrapped = fit_text(
            draw, text, box, box[3] - box[1], bold=_BOLD.get(role, False), min_size=8, library=library
        )
        busy = _busyness(grey, box)
        fill, outline = _ink(pixels[box[1] : box[3], box[0] : box[2]]) if ink is None else (ink, None)
        use_plate = plate if plate is not None else busy > _PLATE_BUSY
        stroke = max(1, round(font.size * 0.05)) if outline is not None and not use_plate else 0
        if use_plate:
            # Measure where the lines will fall, then lay a plate of the outline colour under them.
            probe = draw_lines(
                ImageDraw.Draw(Image.new("L", out.size)), wrapped, font, box, fill=255, valign="middle"
            )
            pad = round(font.size * 0.35)
            back = outline if outline is not None else (_LIGHT if fill == _DARK else _DARK)
            draw.rounded_rectangle(
                (probe[0] - pad, probe[1] - pad, probe[2] + pad, probe[3] + pad),
                radius=pad,
                fill=(*back[:3], 225),
            )
        drawn = draw_lines(
            draw, wrapped, font, box, fill=fill, valign="middle", stroke_width=stroke, stroke_fill=outline
        )
        if laid is not None:
            for item in lines:
                laid.append(
                    {"text": item, "role": role, "box": [int(v) for v in drawn], "lines": len(wrapped)}
                )
    return out
