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
    align: str = "center"
    role: str = "headline"


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
    *,
    align: str = "center",
    role: str = "headline",
) -> TextBlock:
    """A text fitted into a column; its box is the ink's extent (as wide as its widest line)."""
    font, lines = _fit(library, text, width, height, max_size, bold, max_lines)
    ascent, descent = font.getmetrics()
    used = line_pitch(font) * (len(lines) - 1) + ascent + descent
    text_w = min(width, max(1, round(max(_MEASURE.textlength(line, font=font) for line in lines))))
    if align == "left":
        x0 = left
    elif align == "right":
        x0 = left + width - text_w
    else:
        x0 = left + (width - text_w) // 2
    return TextBlock(text, (x0, top, x0 + text_w, top + min(height, used)), font, lines, bold, align, role)


def _moved(block: TextBlock, dy: int) -> TextBlock:
    x0, y0, x1, y1 = block.box
    return TextBlock(
        block.text, (x0, y0 + dy, x1, y1 + dy), block.font, block.lines, block.bold, block.align, block.role
    )


@lru_cache(maxsize=32)
def _layout(scene: Scene, width: int, height: int, library: FontLibrary) -> Layout:
    """Where the texts, the subject's area and the labelled steps go, as the placement words say.

    Texts sit in a band at the top (the default) or the bottom, centred or to one side (a
    corner), or in a column at the side kept free for them ("space for text on the right");
    the subject's area is what remains, less any side kept free.
    """
    place = scene.placement
    bold = scene.look.bold
    short = min(width, height)
    margin = round(short * 0.06)
    gap = round(short * 0.025)
    inner = width - 2 * margin
    area = [margin, margin, width - margin, height - margin]
    headline = subtext = None
    column = place.text_h in ("left", "right") and (place.free == place.text_h or place.text_v == "middle")
    align = {"left": "left", "right": "right"}.get(place.text_h, scene.look.align)
    if column:
        # A column a third of the width, on the side kept free; the subject keeps the rest.
        col_w = round(width / 3) - margin
        col_left = margin if place.text_h == "left" else width - margin - col_w
        head_h = round(height * 0.3)
        if scene.headlines:
            headline = _block(
                library,
                "\n".join(scene.headlines),
                col_left,
                0,
                col_w,
                head_h,
                round(short * 0.12),
                bold,
                4,
                align=align,
            )
        if scene.subtexts:
            max_size = (
                round(short * 0.04) if headline is None else min(round(short * 0.04), headline.font.size // 2)
            )
            subtext = _block(
                library,
                "\n".join(scene.subtexts),
                col_left,
                0,
                col_w,
                round(height * 0.16),
                max(max_size, 10),
                False,
                4,
                align=align,
                role="subtext",
            )
        blocks = [b for b in (headline, subtext) if b is not None]
        total = sum(b.box[3] - b.box[1] for b in blocks) + gap * (len(blocks) - 1)
        y = {"top": margin, "bottom": height - margin - total}.get(place.text_v, (height - total) // 2)
        placed = []
        for block in blocks:
            placed.append(_moved(block, y - block.box[1]))
            y = placed[-1].box[3] + gap
        headline = placed[0] if scene.headlines else None
        subtext = placed[-1] if scene.subtexts else None
        if place.text_h == "left":
            area[0] = round(width / 3) + gap
        else:
            area[2] = round(width * 2 / 3) - gap
    elif scene.headlines or scene.subtexts:
        at_bottom = place.text_v == "bottom"
        side = place.text_h in ("left", "right")
        text_w = round(inner * 0.62) if side else inner
        text_left = width - margin - text_w if place.text_h == "right" else margin
        head_h = round(min(height * (0.15 if at_bottom else 0.2), short * 0.24))
        sub_h = round(min(height * (0.07 if at_bottom else 0.1), short * 0.12))
        if scene.headlines:
            headline = _block(
                library,
                "\n".join(scene.headlines),
                text_left,
                0,
                text_w,
                head_h,
                head_h,
                bold,
                3,
                align=align,
            )
        if scene.subtexts:
            max_size = (
                round(short * 0.05)
                if headline is None
                else min(round(short * 0.05), headline.font.size * 2 // 5)
            )
            subtext = _block(
                library,
                "\n".join(scene.subtexts),
                text_left,
                0,
                text_w,
                sub_h,
                max(max_size, 10),
                False,
                3,
                align=align,
                role="subtext",
            )
        blocks = [b for b in (headline, subtext) if b is not None]
        total = sum(b.box[3] - b.box[1] for b in blocks) + gap * (len(blocks) - 1)
        y = height - margin - total if at_bottom else margin
        placed = []
        for block in blocks:
            placed.append(_moved(block, y - block.box[1]))
            y = placed[-1].box[3] + gap
        headline = placed[0] if scene.headlines else None
        subtext = placed[-1] if scene.subtexts else None
        if at_bottom:
            area[3] = placed[0].box[1] - 2 * gap
        else:
            area[1] = placed[-1].box[3] + 2 * gap
    steps = None
    if len(scene.labels) >= 2:
        row = round(short * 0.25)
        steps = (margin, area[3] - row, width - margin, area[3])
        area[3] = steps[1] - gap
    # A side kept free of the subject: its third of the image.
    if place.free == "right":
        area[2] = min(area[2], round(width * 2 / 3) - gap)
    elif place.free == "left":
        area[0] = max(area[0], round(width / 3) + gap)
    elif place.free == "top":
        area[1] = max(area[1], round(height / 3) + gap)
    elif place.free == "bottom":
        area[3] = min(area[3], round(height * 2 / 3) - gap)
    area[3] = max(area[3], area[1] + gap)
    area[2] = max(area[2], area[0] + gap)
    tag_room = round((area[2] - area[0]) * 0.3) if len(scene.labels) == 1 else 0
    return Layout(margin, headline, subtext, (area[0], area[1], area[2], area[3]), steps, tag_room)


def _subject_box(scene: Scene, layout: Layout, rng: np.random.Generator) -> tuple[int, int, int, int]:
    left, top, right, bottom = layout.area
    right -= layout.tag_room
    place = scene.placement
    # "on the left", "in the lower right corner": the subject keeps to that part of its area.
    if place.subject_h == "left":
        right = left + round((right - left) * 0.55)
    elif place.subject_h == "right":
        left = right - round((right - left) * 0.55)
    if place.subject_v == "top":
        bottom = top + round((bottom - top) * 0.6)
    elif place.subject_v == "bottom":
        top = bottom - round((bottom - top) * 0.6)
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
