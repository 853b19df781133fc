"""Layout: where the texts, the subject and the labelled steps go."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from workbench.backends.draft.scene import Scene
from workbench.imaging.fonts import FontLibrary, fit_text, line_pitch
from workbench.vocabulary import RGB

INK_DARK: RGB = (22, 24, 28)
INK_LIGHT: RGB = (250, 250, 247)
_MEASURE = ImageDraw.Draw(Image.new("L", (1, 1)))
_ASPECTS = {"box": 1.0, "tall": 0.62, "wide": 1.65, "round": 1.0, "figure": 0.66}


@dataclass(frozen=True)
class TextBlock:
    text: str
    box: tuple[int, int, int, int]
    font: ImageFont.FreeTypeFont
    lines: tuple[str, ...]
    bold: bool


@dataclass(frozen=True)
class Layout:
    """Where everything goes; the same for every image of a request except the subject's jitter."""

    margin: int
    headline: TextBlock | None
    subtext: TextBlock | None
    area: tuple[int, int, int, int]  # the subject's composition area
    steps: tuple[int, int, int, int] | None  # the labelled steps' row
    tag_room: int  # width kept free right of the subject for a single label


@lru_cache(maxsize=128)
def _fit(
    library: FontLibrary, text: str, width: int, height: int, max_size: int, bold: bool, max_lines: int | None
) -> tuple[Any, tuple[str, ...]]:
    """``fit_text`` remembered: the n images of a run, and reruns, lay out the same texts."""
    font, lines = fit_text(
        _MEASURE,
        text,
        (0, 0, width, height),
        max_size,
        bold=bold,
        min_size=8,
        max_lines=max_lines,
        library=library,
    )
    return font, tuple(lines)


def _block(
    library: FontLibrary,
    text: str,
    left: int,
    top: int,
    width: int,
    height: int,
    max_size: int,
    bold: bool,
    max_lines: int | None = None,
) -> TextBlock:
    font, lines = _fit(library, text, width, height, max_size, bold, max_lines)
    ascent, descent = font.getmetrics()
    used = line_pitch(font) * (len(lines) - 1) + ascent + descent
    return TextBlock(text, (left, top, left + width, top + min(height, used)), font, lines, bold)


@lru_cache(maxsize=32)
def _layout(scene: Scene, width: int, height: int, library: FontLibrary) -> Layout:
    """Text blocks at the top, labelled steps at the bottom, the subject's area between."""
    short = min(width, height)
    margin = round(short * 0.06)
    gap = round(short * 0.025)
    inner = width - 2 * margin
    top = margin
    headline = subtext = None
    if scene.headlines:
        box_height = round(min(height * 0.2, short * 0.24))
        headline = _block(
            library, "\n".join(scene.headlines), margin, top, inner, box_height, box_height, True, 3
        )
        top = headline.box[3] + gap
    if scene.subtexts:
        box_height = round(min(height * 0.1, short * 0.12))
        max_size = (
            round(short * 0.05) if headline is None else min(round(short * 0.05), headline.font.size * 2 // 5)
        )
        subtext = _block(
            library, "\n".join(scene.subtexts), margin, top, inner, box_height, max(max_size, 10), False, 3
        )
        top = subtext.box[3] + gap
    if headline or subtext:
        top += gap
    bottom = height - margin
    steps = None
    if len(scene.labels) >= 2:
        row = round(short * 0.25)
        steps = (margin, bottom - row, width - margin, bottom)
        bottom = steps[1] - gap
    tag_room = round(inner * 0.3) if len(scene.labels) == 1 else 0
    return Layout(
        margin, headline, subtext, (margin, top, width - margin, max(bottom, top + gap)), steps, tag_room
    )


def _subject_box(scene: Scene, layout: Layout, rng: np.random.Generator) -> tuple[int, int, int, int]:
    left, top, right, bottom = layout.area
    right -= layout.tag_room
    area_w, area_h = right - left, bottom - top
    aspect = _ASPECTS[scene.shape]
    scale = 0.8 + 0.06 * rng.random()
    box_h = min(area_h * scale, area_w * 0.78 / aspect)
    box_w = box_h * aspect
    cx = left + area_w / 2 + (rng.random() - 0.5) * 0.08 * area_w
    cy = top + area_h / 2 + (rng.random() - 0.5) * 0.06 * area_h
    cx = min(max(cx, left + box_w / 2), right - box_w / 2)
    cy = min(max(cy, top + box_h / 2), bottom - box_h / 2)
    return round(cx - box_w / 2), round(cy - box_h / 2), round(cx + box_w / 2), round(cy + box_h / 2)


def _shape_mask(shape: str, size: tuple[int, int], scale: int = 1) -> Image.Image:
    """The subject's silhouette as an L mask, drawn ``scale`` times larger then reduced (smooth edges)."""
    w, h = max(1, size[0] * scale), max(1, size[1] * scale)
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    if shape == "round":
        draw.ellipse((0, 0, w - 1, h - 1), fill=255)
    elif shape == "figure":
        head = w * 0.42
        draw.ellipse(((w - head) / 2, 0, (w + head) / 2, head), fill=255)
        draw.rounded_rectangle((0, head * 1.08, w - 1, h - 1), radius=w * 0.32, fill=255)
    else:
        draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=min(w, h) * 0.16, fill=255)
    return mask.reduce(scale) if scale > 1 else mask
