"""Painting: the soft layer (background, light, texture, shadow) and the sharp one (subject,
texts, steps, badge), and ``render`` that puts them together."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from workbench.backends.draft.layout import (
    INK_DARK,
    INK_LIGHT,
    Layout,
    TextBlock,
    _fit,
    _layout,
    _shape_mask,
    _subject_box,
)
from workbench.backends.draft.scene import Scene, _grade
from workbench.imaging.fonts import FontLibrary, default_library, draw_lines, line_pitch
from workbench.vocabulary import RGB
from workbench.vocabulary import contrast as _contrast
from workbench.vocabulary import luminance as _luminance
from workbench.vocabulary import shade as _shade

# -- the soft layer: background, light, texture, shadow --------------------------------------


def _texture(
    kind: str, shape: tuple[int, int], rng: np.random.Generator, fine: bool, dark: bool = False
) -> np.ndarray:
    """A brightness offset (in 0-255 units) for a texture, made from low-resolution noise.

    ``dark`` backgrounds get light marble veins instead of dark ones.
    """
    h, w = shape

    def blotches(cells: int, amplitude: float) -> np.ndarray:
        small = rng.random((max(2, h // cells), max(2, w // cells)), dtype=np.float32)
        image = Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
        return (np.asarray(image, dtype=np.float32) / 255 - 0.5) * amplitude

    def grain(amplitude: float) -> np.ndarray:
        if not fine:
            return np.zeros((h, w), np.float32)
        return (rng.random((h, w), dtype=np.float32) - 0.5) * amplitude

    if kind == "concrete":
        pits = (rng.random((h, w), dtype=np.float32) > 0.996) * -22.0
        return blotches(max(8, w // 40), 16) + blotches(3, 6) + grain(8) + pits
    if kind == "marble":
        # Veins: the zero lines of a sine across the slab, bent by smooth noise.
        turbulence = blotches(max(8, w // 5), 1.0) + blotches(max(8, w // 14), 0.35)
        y, x = np.ogrid[0:h, 0:w]
        phase = ((x * 1.0 + y * 0.55) / max(w, h) * 2.6 + turbulence * 1.6).astype(np.float32)
        veins = 1.0 - np.abs(np.sin(phase * np.float32(math.pi))) ** 0.12
        fine_veins = 1.0 - np.abs(np.sin(phase * np.float32(3.1 * math.pi) + 1.3)) ** 0.08
        sign = 1.0 if dark else -1.0
        return sign * (veins * 34 + fine_veins * 12) + blotches(max(8, w // 24), 6) + grain(2)
    if kind == "wood":
        rows = rng.random((max(2, h // 3), 6), dtype=np.float32)
        streaks = Image.fromarray((rows * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
        streak = (np.asarray(streaks, dtype=np.float32) / 255 - 0.5) * 22
        y = np.arange(h, dtype=np.float32)[:, None]
        rings = np.sin(y / max(h, 1) * 60 + blotches(max(8, w // 16), 4)) * 5
        return streak + rings + grain(4)
    if kind == "fabric":
        rows = (rng.random((h, 1), dtype=np.float32) - 0.5) * 9
        cols = (rng.random((1, w), dtype=np.float32) - 0.5) * 9
        return rows + cols + blotches(max(8, w // 20), 6) + grain(3)
    if kind == "paper":
        return blotches(max(8, w // 24), 8) + grain(6)
    if kind == "sand":
        return blotches(max(8, w // 30), 10) + grain(14)
    return np.zeros((h, w), np.float32)


def _soft_layer(
    scene: Scene,
    size: tuple[int, int],
    factor: int,
    subject: tuple[int, int, int, int],
    rng: np.random.Generator,
    *,
    transparent: bool,
    fine: bool,
) -> np.ndarray:
    """Background, light, texture and the subject's shadow at 1/``factor`` of the size.

    Returns an (h, w, 3) RGB or, when transparent, (h, w, 4) RGBA float array in 0-255.
    """
    width, height = size
    w, h = -(-width // factor), -(-height // factor)
    short = min(width, height) / 2
    x = ((np.arange(w, dtype=np.float32) + 0.5) * factor - width / 2) / short
    y = ((np.arange(h, dtype=np.float32) + 0.5) * factor - height / 2) / short
    px, py = x[None, :], y[:, None]
    light = scene.light
    lx, ly = light.direction
    norm = math.hypot(lx, ly) or 1.0
    lx, ly = lx / norm, ly / norm

    # The shadow: the subject's silhouette, moved away from the light, blurred at low resolution.
    sx0, sy0, sx1, sy1 = subject
    sw, sh = sx1 - sx0, sy1 - sy0
    shrink = 8 * factor
    small = (max(1, -(-width // shrink)), max(1, -(-height // shrink)))
    shadow_img = Image.new("L", small, 0)
    draw = ImageDraw.Draw(shadow_img)
    reach = 0.09 * max(sw, sh) * (0.7 + 0.3 * light.strength)
    if light.kind in ("overhead", "back", "front"):
        spread = 0.55 if light.kind == "overhead" else 0.75
        drop = {"overhead": 0.0, "back": 0.035, "front": 0.02}[light.kind] * sh
        cx, base = (sx0 + sx1) / 2, sy1 + drop
        ellipse = (cx - sw * spread, base - sh * 0.05, cx + sw * spread, base + sh * 0.05)
        draw.ellipse([v / shrink for v in ellipse], fill=255)
    else:
        dx, dy = -lx * reach, -ly * reach
        mask = _shape_mask(scene.shape, (max(1, round(sw / shrink)), max(1, round(sh / shrink))))
        shadow_img.paste(255, (round((sx0 + dx) / shrink), round((sy0 + dy) / shrink)), mask)
        # A contact shadow where the subject meets the ground.
        cx, half = (sx0 + sx1) / 2, sw * (0.25 if scene.shape == "round" else 0.45)
        draw.ellipse([v / shrink for v in (cx - half, sy1 - sh * 0.04, cx + half, sy1 + sh * 0.04)], fill=255)
    blur = max(0.8, 0.05 * max(sw, sh) / shrink / max(0.5, light.strength))
    shadow_img = shadow_img.filter(ImageFilter.GaussianBlur(blur)).resize((w, h), Image.Resampling.BILINEAR)
    look = scene.look
    opacity = min(0.75, (0.32 * light.strength + 0.08) * look.shadow)
    shadow = np.asarray(shadow_img, dtype=np.float32) * (opacity / 255)

    if transparent:
        layer = np.zeros((h, w, 4), np.float32)
        layer[..., 3] = shadow * 255
        return layer

    # Everything below works on (h, w) fields or on rows/columns and meets in two full-size steps:
    # out = (colour + texture * tint) * gain * (1 - shadow) + neon.
    tint = np.ones(3, np.float32)
    if light.tint is not None:
        tint = 1 - light.tint_amount + light.tint_amount * 1.25 * np.array(light.tint, np.float32) / 255
    colours = np.array(scene.backdrop.colours, dtype=np.float32) * tint
    kind = scene.backdrop.gradient
    if len(colours) == 1:
        colour = colours[0][None, None, :]
    elif kind == "horizontal":
        colour = (
            colours[0] + (colours[1] - colours[0]) * ((x - x[0]) / max(1e-6, float(x[-1] - x[0])))[:, None]
        )[None]
    elif kind == "vertical":
        colour = (
            colours[0] + (colours[1] - colours[0]) * ((y - y[0]) / max(1e-6, float(y[-1] - y[0])))[:, None]
        )[:, None]
    else:
        if kind == "diagonal":
            t = (px - x[0]) + (py - y[0])
            t = t / max(1e-6, float(t.max()))
        else:
            t = np.clip(np.sqrt(px**2 + py**2) / 1.4, 0, 1)
        colour = colours[0] + (colours[1] - colours[0]) * t[..., None]

    # Brightness from the light: brighter toward it, a gentle vignette, a glow behind for back light.
    if light.kind == "back":
        cx = ((sx0 + sx1) / 2 - width / 2) / short
        cy = ((sy0 + sy1) / 2 - height / 2) / short
        gain = 0.82 + 0.45 * np.exp(-((px - cx) ** 2 + (py - cy) ** 2) / 0.45)
    elif light.kind == "front":
        gain = 1.03 - 0.05 * (px**2 + py**2)
    else:
        k = 0.1 * light.strength
        gain = 1.0 + k * np.clip(px * lx + py * ly, -1.6, 1.6) - 0.035 * (px**2 + py**2)
    # The style's light: flat graphics barely fall off, 3D and film looks fall off hard; a brand's
    # hex colour keeps within a few ΔE of itself.
    falloff = look.light * (0.25 if scene.backdrop.exact else 1.0)
    gain = 1.0 + (gain - 1.0) * falloff
    gain = gain * (1.0 - shadow)

    out = colour * gain[..., None]
    if scene.backdrop.texture:
        dark = _luminance(scene.backdrop.colours[0]) < 0.12
        texture = _texture(scene.backdrop.texture, (h, w), rng, fine, dark) * gain
        out += texture[..., None] * tint
    if look.grain and fine:
        out += ((rng.random((h, w), dtype=np.float32) - 0.5) * (2 * look.grain))[..., None]
    if look.paper:
        out += _texture("paper", (h, w), rng, fine)[..., None] * (look.paper / 8)
    if light.neon:
        # Magenta from the left edge, cyan from the right: the two-tone glow of neon signs.
        magenta = np.exp(-((x + 1.3) ** 2) / 0.35)[:, None] * np.array([140, 24, 118], np.float32)
        cyan = np.exp(-((x - 1.3) ** 2) / 0.35)[:, None] * np.array([15, 104, 115], np.float32)
        out += (magenta + cyan)[None]
    return out


# -- the sharp layer: subject, texts, steps, badge --------------------------------------------


def _ink_for(region: np.ndarray) -> tuple[RGB, RGB | None]:
    """Text colour for a background region, and an outline colour when one colour cannot read."""
    if region.size == 0:
        return INK_DARK, None
    sample = region.reshape(-1, region.shape[-1])[:, :3]
    sample = sample[:: max(1, len(sample) // 2048)].astype(np.float32) / 255
    linear = np.where(sample <= 0.03928, sample / 12.92, ((sample + 0.055) / 1.055) ** 2.4)
    lum = np.sort(linear @ np.array([0.2126, 0.7152, 0.0722], np.float32))
    low, mid, high = (float(lum[int(q * (len(lum) - 1))]) for q in (0.05, 0.5, 0.95))
    dark, light = _luminance(INK_DARK), _luminance(INK_LIGHT)
    ink = INK_DARK if _contrast(dark, mid) >= _contrast(light, mid) else INK_LIGHT
    worst = min(_contrast(_luminance(ink), low), _contrast(_luminance(ink), high))
    outline = (INK_LIGHT if ink == INK_DARK else INK_DARK) if worst < 3.0 else None
    return ink, outline


def _region(soft: np.ndarray, box: Sequence[int], factor: int) -> np.ndarray:
    x0, y0, x1, y1 = (max(0, int(v) // factor) for v in box)
    return soft[y0 : max(y0 + 1, y1), x0 : max(x0 + 1, x1)]


_FAMILY_SUBJECT = {
    "flat": (255, 122, 89),
    "graphic": (255, 214, 64),
    "poster": (250, 250, 247),
    "storybook": (226, 112, 84),
    "3d": (120, 104, 230),
    "watercolour": (86, 140, 196),
}


def _default_subject_colour(scene: Scene) -> RGB:
    """A placeholder colour that stands off the background and suits the style's family; varied
    a little by the subject's name only (not by the seed or unrelated details)."""
    backdrop = scene.backdrop
    light_background = _luminance(backdrop.colours[0]) > 0.35
    base = _FAMILY_SUBJECT.get(scene.look.family) or ((84, 102, 128) if light_background else (206, 214, 226))
    digest = hashlib.sha256(scene.subject.lower().encode()).digest()
    jitter = (np.frombuffer(digest[:3], np.uint8).astype(np.float32) / 255 - 0.5) * 26
    colour = tuple(int(v) for v in np.clip(np.array(base, np.float32) + jitter, 0, 255))
    return _grade(colour, scene.look) if scene.look.family not in _FAMILY_SUBJECT else colour  # type: ignore[arg-type]


def _stand_off(colour: RGB, background: RGB) -> RGB:
    """Nudge a colour until it differs enough from the background to read as a shape."""
    distance = math.dist(colour, background)
    if distance >= 90 or _contrast(_luminance(colour), _luminance(background)) >= 1.6:
        return colour
    return _shade(colour, 0.45) if _luminance(background) > 0.3 else _shade(colour, -0.5)


def _draw_subject(
    canvas: Image.Image, scene: Scene, box: tuple[int, int, int, int], colour: RGB, library: FontLibrary
) -> None:
    """The subject's placeholder: its silhouette shaded along the light, its short name inside."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w < 2 or h < 2:
        return
    scale = 2 if w * h < 1_600_000 else 1
    mask = _shape_mask(scene.shape, (w, h), scale)
    # Shade the fill along the light: a 16x16 ramp scaled up smoothly.
    lx, ly = scene.light.direction
    grid = np.linspace(-1, 1, 16, dtype=np.float32)
    ramp = grid[None, :] * lx + grid[:, None] * ly
    if scene.light.kind == "back":
        ramp = np.broadcast_to(np.abs(grid[None, :]) * 0.8 - 0.6, (16, 16))  # bright rims, dark centre
    look = scene.look
    amount = 0.16 * scene.light.strength * (0.4 + 0.6 * look.light)
    base = np.array(colour, np.float32)
    if look.subject == "flat":
        shaded = np.broadcast_to(base, (16, 16, 3)).astype(np.uint8)  # one flat colour
    elif look.subject == "glossy":
        # Strong shading along the light and a specular spot toward it: a rendered, lit object.
        spot = np.exp(-((grid[None, :] - lx * 0.55) ** 2 + (grid[:, None] - ly * 0.55) ** 2) / 0.08)
        lit = base * (1 + amount * 1.8 * ramp[..., None]) + (255 - base) * 0.55 * spot[..., None]
        shaded = np.clip(lit, 0, 255).astype(np.uint8)
    elif look.subject == "wash":
        # Watercolour: pale in the middle, pigment pooling at the edges.
        edge = np.maximum(np.abs(grid[None, :]), np.abs(grid[:, None])) ** 3
        washed = base + (255 - base) * (0.45 - 0.35 * edge[..., None])
        shaded = np.clip(washed, 0, 255).astype(np.uint8)
    else:
        shaded = np.clip(base * (1 + amount * ramp[..., None]), 0, 255).astype(np.uint8)
    fill = Image.fromarray(np.ascontiguousarray(shaded)).resize((w, h), Image.Resampling.BILINEAR)
    if canvas.mode == "RGBA":
        fill = fill.convert("RGBA")
    stroke = max(2, round(min(w, h) * 0.018))
    if look.subject == "outline" or look.outline:
        # Line art (only the silhouette's outline) or a flat shape with an ink outline.
        import cv2  # only line art needs it: not imported on a draft's cold path (~0.2 s)

        solid = np.asarray(mask)
        kernel = np.ones((2 * stroke + 1, 2 * stroke + 1), np.uint8)
        eroded = cv2.erode(solid, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        ring = Image.fromarray(np.clip(solid.astype(np.int16) - eroded, 0, 255).astype(np.uint8))
        if look.subject != "outline":
            canvas.paste(fill, (x0, y0), mask)
        else:
            colour = (250, 250, 247)
        canvas.paste(INK_DARK, (x0, y0, x1, y1), ring)
    else:
        canvas.paste(fill, (x0, y0), mask)

    # The label: the subject's short name (or the character's), centred on the body.
    draw = ImageDraw.Draw(canvas)
    if scene.shape == "figure":
        inner = (x0 + w * 0.12, y0 + h * 0.52, x1 - w * 0.12, y1 - h * 0.12)
    elif scene.shape == "round":
        inner = (x0 + w * 0.17, y0 + h * 0.3, x1 - w * 0.17, y1 - h * 0.3)
    else:
        inner = (x0 + w * 0.1, y0 + h * 0.28, x1 - w * 0.1, y1 - h * 0.28)
    iw, ih = round(inner[2] - inner[0]), round(inner[3] - inner[1])
    if iw < 8 or ih < 8:
        return
    label = scene.subject.upper() if look.upper else scene.subject
    font, lines = _fit(library, label, iw, ih, max(10, round(min(w, h) * 0.12)), look.bold, 3)
    mid = tuple(int(c) for c in colour)
    ink = (
        INK_DARK
        if _contrast(_luminance(INK_DARK), _luminance(mid))
        >= _contrast(_luminance(INK_LIGHT), _luminance(mid))
        else INK_LIGHT
    )
    draw_lines(draw, lines, font, inner, fill=ink, valign="middle")


def _draw_block(
    draw: ImageDraw.ImageDraw, block: TextBlock, soft: np.ndarray, factor: int, transparent: bool
) -> None:
    if transparent:
        ink, outline = INK_DARK, INK_LIGHT
    else:
        ink, outline = _ink_for(_region(soft, block.box, factor))
    stroke = max(1, round(block.font.size * 0.06)) if outline else 0
    draw_lines(
        draw,
        block.lines,
        block.font,
        block.box,
        fill=ink,
        align=block.align,
        stroke_width=stroke,
        stroke_fill=outline,
    )


def _arrow(
    draw: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float], width: int, colour: RGB
) -> None:
    (x0, y), (x1, _) = start, end
    head = width * 3.2
    draw.line((x0, y, x1 - head * 0.8, y), fill=colour, width=width)
    draw.polygon([(x1, y), (x1 - head, y - head * 0.6), (x1 - head, y + head * 0.6)], fill=colour)


def _draw_steps(
    canvas: Image.Image,
    scene: Scene,
    row: tuple[int, int, int, int],
    soft: np.ndarray,
    factor: int,
    accent: RGB,
    transparent: bool,
    library: FontLibrary,
) -> None:
    """Labels as numbered steps: circles in a row joined by arrows, each label under its circle."""
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = row
    count = len(scene.labels)
    cell = (right - left) / count
    diameter = round(min((bottom - top) * 0.46, cell * 0.52))
    label_top = top + diameter + round(diameter * 0.14)
    label_w, label_h = round(cell * 0.92), max(8, bottom - label_top)
    max_size = max(10, round(diameter * 0.36))
    size = min(_fit(library, text, label_w, label_h, max_size, True, 3)[0].size for text in scene.labels)
    if transparent:
        ink, outline = INK_DARK, INK_LIGHT
    else:
        ink, outline = _ink_for(_region(soft, row, factor))
    number_ink = INK_DARK if _luminance(accent) > 0.4 else INK_LIGHT
    arrow_colour = (
        ink if transparent else tuple(int(v) for v in (np.array(ink) * 0.6 + np.array(accent) * 0.4))
    )
    cy = top + diameter / 2
    for i, text in enumerate(scene.labels):
        cx = left + cell * (i + 0.5)
        draw.ellipse((cx - diameter / 2, top, cx + diameter / 2, top + diameter), fill=accent)
        number = str(i + 1)
        number_font = library.font_for(number, round(diameter * 0.5), bold=True)
        draw.text((cx, cy), number, font=number_font, fill=number_ink, anchor="mm")
        font, lines = _fit(library, text, label_w, label_h, size, True, 3)
        box = (round(cx - label_w / 2), label_top, round(cx + label_w / 2), bottom)
        stroke = max(1, round(font.size * 0.06)) if outline else 0
        draw_lines(draw, lines, font, box, fill=ink, stroke_width=stroke, stroke_fill=outline)
        if i + 1 < count and cell - diameter > diameter * 0.45:
            gap = (cell - diameter) * 0.18
            _arrow(
                draw,
                (cx + diameter / 2 + gap, cy),
                (cx + cell - diameter / 2 - gap, cy),
                max(2, round(diameter * 0.05)),
                arrow_colour,
            )


def _draw_tag(
    canvas: Image.Image, text: str, subject: tuple[int, int, int, int], layout: Layout, library: FontLibrary
) -> tuple[tuple[int, int, int, int], int]:
    """A single label: a pill beside the subject, joined to it by a leader line."""
    draw = ImageDraw.Draw(canvas)
    x0, y0, x1, y1 = subject
    area = layout.area
    room = area[2] - x1 - round(layout.margin * 0.5)
    short = min(canvas.size)
    pill_w = max(room, round(short * 0.2))
    font, lines = _fit(
        library, text, round(pill_w * 0.84), round(short * 0.14), max(10, round(short * 0.045)), True, 3
    )
    ascent, descent = font.getmetrics()
    text_h = line_pitch(font) * (len(lines) - 1) + ascent + descent
    text_w = max(draw.textlength(line, font=font) for line in lines)
    pad = round(font.size * 0.55)
    box_w, box_h = round(text_w + 2 * pad), round(text_h + 1.2 * pad)
    if room >= box_w:
        bx = x1 + (room - box_w) // 2 + round(layout.margin * 0.5)
        by = round(y0 + (y1 - y0) * 0.22)
        anchor_point, joint = (bx, by + box_h / 2), (x1 - (x1 - x0) * 0.08, by + box_h / 2)
    else:
        bx = round((x0 + x1 - box_w) / 2)
        by = min(y1 + round(short * 0.02), area[3] - box_h)
        anchor_point, joint = ((x0 + x1) / 2, by), ((x0 + x1) / 2, y1 - (y1 - y0) * 0.08)
    line_width = max(2, round(short * 0.004))
    draw.line((*joint, *anchor_point), fill=INK_DARK, width=line_width)
    r = line_width * 2.2
    draw.ellipse((joint[0] - r, joint[1] - r, joint[0] + r, joint[1] + r), fill=INK_DARK)
    draw.rounded_rectangle(
        (bx, by, bx + box_w, by + box_h),
        radius=box_h * 0.3,
        fill=INK_LIGHT,
        outline=INK_DARK,
        width=line_width,
    )
    draw_lines(
        draw, lines, font, (bx + pad, by, bx + box_w - pad, by + box_h), fill=INK_DARK, valign="middle"
    )
    return (int(bx), int(by), int(bx + box_w), int(by + box_h)), len(lines)


def _draw_badge(canvas: Image.Image, index: int, count: int, library: FontLibrary) -> None:
    """The DRAFT badge, bottom right: this image is a stand-in, not a model's output."""
    width, height = canvas.size
    short = min(width, height)
    text = "DRAFT" if count == 1 else f"DRAFT {index + 1}/{count}"
    font = library.font_for(text, max(10, round(short * 0.026)), bold=True)
    draw = ImageDraw.Draw(canvas)
    text_w = draw.textlength(text, font=font)
    ascent, descent = font.getmetrics()
    pad_x, pad_y = round(font.size * 0.7), round(font.size * 0.32)
    inset = round(short * 0.016)
    box = (
        width - inset - text_w - 2 * pad_x,
        height - inset - ascent - descent - 2 * pad_y,
        width - inset,
        height - inset,
    )
    draw.rounded_rectangle(box, radius=(box[3] - box[1]) * 0.28, fill=(200, 36, 36))
    draw.text(((box[0] + box[2]) / 2, box[1] + pad_y), text, font=font, fill=(255, 255, 255), anchor="ma")


# -- rendering --------------------------------------------------------------------------------


def _paint_shape(
    soft8: np.ndarray, scene: Scene, subject: tuple[int, int, int, int], factor: int
) -> np.ndarray:
    """The style's colour shape behind the subject, on the soft layer (texts pick their ink over it):
    a disc for social graphics, a broad band across the lower part for posters."""
    small = Image.fromarray(soft8)
    draw = ImageDraw.Draw(small)
    colour = scene.look.shape_colour or (255, 92, 168)
    if (
        _contrast(_luminance(colour), _luminance(tuple(int(v) for v in soft8[soft8.shape[0] // 2, 2][:3])))
        < 1.3
    ):
        colour = _shade(colour, 0.4)
    x0, y0, x1, y1 = (v / factor for v in subject)
    if scene.look.shape == "disc":
        r = 0.75 * max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:
        top = y0 + (y1 - y0) * 0.45
        draw.rectangle((0, top, small.width, small.height), fill=colour)
    return np.asarray(small)


def _factor(width: int, height: int, quality: str) -> int:
    """How much smaller the soft layer is drawn: 3 up to about 2.5K, 4 beyond, one more at low."""
    factor = 3 if max(width, height) <= 2560 else 4
    return factor + 1 if quality == "low" else factor


def render(
    scene: Scene,
    width: int,
    height: int,
    *,
    seed: int,
    index: int = 0,
    count: int = 1,
    transparent: bool = False,
    quality: str = "medium",
    fonts: FontLibrary | None = None,
    laid: dict[str, Any] | None = None,
) -> Image.Image:
    """Draw one draft image of exactly ``width`` x ``height`` (RGB, or RGBA when transparent).

    ``fonts`` is where texts find their fonts; the default library when omitted. ``laid``, when
    given, receives where each thing was drawn: ``texts`` (text, role, box) and ``subject`` (box),
    in pixels (left, top, right, bottom), for the text check and for re-laying texts after edits.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    library = fonts or default_library()
    layout = _layout(scene, width, height, library)
    subject = _subject_box(scene, layout, rng)
    factor = _factor(width, height, quality)
    soft = _soft_layer(
        scene, (width, height), factor, subject, rng, transparent=transparent, fine=quality != "low"
    )
    soft8 = np.clip(soft, 0, 255, out=soft).astype(np.uint8)
    if scene.look.shape and not transparent:
        soft8 = _paint_shape(soft8, scene, subject, factor)
    canvas = Image.fromarray(soft8).resize((width, height), Image.Resampling.NEAREST)

    background = (
        tuple(int(v) for v in soft8[soft8.shape[0] // 2, 2][:3]) if not transparent else (255, 255, 255)
    )
    colour = scene.subject_colour or _default_subject_colour(scene)
    colour = _stand_off(colour, background) if not transparent else colour
    _draw_subject(canvas, scene, subject, colour, library)

    draw = ImageDraw.Draw(canvas)
    for block in (layout.headline, layout.subtext):
        if block is not None:
            _draw_block(draw, block, soft8, factor, transparent)
    if layout.steps is not None:
        accent = scene.accent or ((47, 111, 214) if _luminance(background) > 0.25 else (255, 196, 61))
        accent = _stand_off(accent, background) if not transparent else accent
        _draw_steps(canvas, scene, layout.steps, soft8, factor, accent, transparent, library)
    tag = None
    if layout.steps is None and len(scene.labels) == 1:
        tag = _draw_tag(canvas, scene.labels[0], subject, layout, library)
    _draw_badge(canvas, index, count, library)
    if laid is not None:
        laid["subject"] = list(subject)
        laid["texts"] = [
            {"text": block.text, "role": block.role, "box": list(block.box), "lines": len(block.lines)}
            for block in (layout.headline, layout.subtext)
            if block is not None
        ]
        if layout.steps is not None:
            laid["texts"] += [
                {"text": text, "role": "label", "box": list(layout.steps)} for text in scene.labels
            ]
        if tag is not None:
            laid["texts"].append(
                {"text": scene.labels[0], "role": "label", "box": list(tag[0]), "lines": tag[1]}
            )
    return canvas
