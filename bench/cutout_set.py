"""A generated set of product shots with known masks, for background removal tests and benchmarks.

Objects of several shapes (circle, rounded rectangle, polygon, bottle) and colours — some close to
the background — on plain, vertical-gradient and lightly noise-textured backgrounds. Edges are
anti-aliased (drawn at 4x and reduced); the true mask is the reduced coverage at ≥ 50 %.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "rounded", "polygon", "bottle")
BACKGROUNDS = ("plain", "gradient", "texture")
# (object colour, background top, background bottom); the last pairs are close in colour.
PALETTE = (
    ((200, 40, 40), (240, 240, 236), (215, 215, 210)),
    ((30, 90, 200), (236, 230, 220), (205, 195, 180)),
    ((40, 140, 80), (250, 250, 250), (225, 228, 232)),
    ((20, 20, 24), (200, 210, 222), (150, 165, 185)),
    ((235, 200, 60), (60, 62, 70), (30, 32, 38)),
    ((205, 205, 200), (238, 238, 234), (222, 222, 218)),  # a pale grey object on a light grey sweep
    ((190, 150, 120), (222, 190, 160), (205, 170, 140)),  # a tan object on beige
)


@dataclass(frozen=True)
class Shot:
    name: str
    image: Image.Image
    mask: np.ndarray  # bool, True = object


def _shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float, float], rng) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if shape == "circle":
        draw.ellipse(box, fill=255)
    elif shape == "rounded":
        draw.rounded_rectangle(box, radius=min(w, h) * 0.18, fill=255)
    elif shape == "polygon":
        n = int(rng.integers(5, 8))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(0.7, 1.0, n)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        draw.polygon(
            [
                (cx + r * w / 2 * np.cos(a), cy + r * h / 2 * np.sin(a))
                for a, r in zip(angles, radii, strict=True)
            ],
            fill=255,
        )
    else:  # a bottle: body, shoulders, neck and cap
        body = (x0 + w * 0.2, y0 + h * 0.38, x1 - w * 0.2, y1)
        draw.rounded_rectangle(body, radius=w * 0.12, fill=255)
        draw.ellipse((x0 + w * 0.2, y0 + h * 0.26, x1 - w * 0.2, y0 + h * 0.5), fill=255)
        draw.rectangle((x0 + w * 0.4, y0 + h * 0.04, x1 - w * 0.4, y0 + h * 0.36), fill=255)
        draw.rounded_rectangle((x0 + w * 0.37, y0, x1 - w * 0.37, y0 + h * 0.1), radius=w * 0.03, fill=255)


def shot(shape: str, background: str, palette: int, *, size: int = 512, seed: int = 0) -> Shot:
    rng = np.random.default_rng(seed)
    obj, top, bottom = (np.array(c, np.float32) for c in PALETTE[palette % len(PALETTE)])
    if background == "plain":
        bottom = top
    ramp = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    back = np.broadcast_to(top * (1 - ramp) + bottom * ramp, (size, size, 3)).copy()
    if background == "texture":
        noise = rng.normal(0, 5, (size // 4, size // 4, 1)).astype(np.float32)
        noise = np.asarray(Image.fromarray(noise[..., 0]).resize((size, size), Image.Resampling.BICUBIC))[
            ..., None
        ]
        back += noise + rng.normal(0, 2.5, (size, size, 1)).astype(np.float32)
    scale = 4
    big = Image.new("L", (size * scale, size * scale), 0)
    span = rng.uniform(0.35, 0.6) * size * scale
    aspect = 0.45 if shape == "bottle" else rng.uniform(0.7, 1.3)
    w, h = (span * aspect, span) if aspect < 1 else (span, span / aspect)
    cx = size * scale / 2 + rng.uniform(-0.1, 0.1) * size * scale
    cy = size * scale / 2 + rng.uniform(-0.1, 0.1) * size * scale
    _shape(ImageDraw.Draw(big), shape, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), rng)
    coverage = np.asarray(big.reduce(scale), np.float32)[..., None] / 255.0
    # Shade the object a little (a soft highlight on one side), as a lit product would be.
    xs = np.linspace(-1, 1, size, dtype=np.float32)[None, :, None]
    shaded = np.clip(obj * (1.0 + 0.08 * -xs), 0, 255)
    pixels = back * (1 - coverage) + shaded * coverage
    image = Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8), "RGB")
    return Shot(f"{shape}-{background}-{palette}", image, coverage[..., 0] >= 0.5)


def product_shots(*, size: int = 512) -> Iterator[Shot]:
    """Every shape on every background, cycling through the palette (28 shots at the default)."""
    index = 0
    for shape in SHAPES:
        for background in BACKGROUNDS:
            yield shot(shape, background, index, size=size, seed=index)
            index += 1
    for palette in (5, 6):  # the close colours on each background once more
        for background in BACKGROUNDS:
            yield shot(SHAPES[(palette + index) % 4], background, palette, size=size, seed=index)
            index += 1
