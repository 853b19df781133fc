"""A generated set of product shots with known masks, for background removal tests and benchmarks.

Objects of several shapes (circle, rounded rectangle, polygon, bottle) and colours — some close to
the background — on plain, vertical-gradient and lightly noise-textured backgrounds. Edges are
anti-aliased (drawn at 4x and reduced); the true mask is the reduced coverage at ≥ 50 %.

``shaded_shots`` makes the hard case product photos are: each object lit from one side (its far
side falls into its own shade, with a highlight near the light), standing in a soft contact
shadow and casting a soft shadow away from the light onto the background. The shadows are not
part of the object's mask: a cut-out must leave them behind and keep the object's own shading.
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


# (object colour, background top, background bottom) for the shaded set: saturated, dark, pale
# and close-to-background objects.
SHADED_PALETTE = (
    ((200, 40, 40), (240, 240, 236), (214, 214, 209)),
    ((30, 90, 200), (236, 230, 220), (204, 194, 178)),
    ((40, 140, 80), (248, 248, 248), (222, 226, 231)),
    ((24, 24, 28), (205, 212, 222), (160, 172, 190)),
    ((236, 200, 64), (66, 68, 76), (34, 36, 42)),
    ((212, 208, 200), (236, 236, 232), (218, 218, 214)),  # pale grey on a light grey sweep
    ((186, 140, 108), (226, 196, 166), (206, 172, 142)),  # tan on beige
    ((250, 250, 250), (214, 220, 228), (178, 188, 204)),  # a white object on blue-grey
)


def shaded_shot(shape: str, background: str, palette: int, *, size: int = 512, seed: int = 0) -> Shot:
    """One lit product: the object shaded from a side light, a soft contact shadow and a cast shadow."""
    rng = np.random.default_rng(seed)
    obj, top, bottom = (np.array(c, np.float32) for c in SHADED_PALETTE[palette % len(SHADED_PALETTE)])
    if background == "plain":
        bottom = top
    ramp = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    back = np.broadcast_to(top * (1 - ramp) + bottom * ramp, (size, size, 3)).copy()
    if background == "texture":
        noise = rng.normal(0, 6, (size // 6, size // 6)).astype(np.float32)
        noise = np.asarray(Image.fromarray(noise).resize((size, size), Image.Resampling.BICUBIC))[..., None]
        back += noise + rng.normal(0, 3, (size, size, 1)).astype(np.float32)
    scale = 4
    big = Image.new("L", (size * scale, size * scale), 0)
    span = rng.uniform(0.34, 0.52) * size * scale
    aspect = 0.45 if shape == "bottle" else rng.uniform(0.75, 1.25)
    w, h = (span * aspect, span) if aspect < 1 else (span, span / aspect)
    cx = size * scale / 2 + rng.uniform(-0.08, 0.08) * size * scale
    cy = size * scale * 0.46 + rng.uniform(-0.05, 0.05) * size * scale
    box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    _shape(ImageDraw.Draw(big), shape, box, rng)
    coverage = np.asarray(big.reduce(scale), np.float32) / 255.0
    side = -1.0 if rng.random() < 0.5 else 1.0  # the light: from the left (-1) or the right
    x0, y0, x1, y1 = (v / scale for v in box)

    # Shadows on the background: a soft contact shadow under the object and a cast shadow away
    # from the light, both blurred (soft), darkening the background multiplicatively.
    def blurred(mask: Image.Image, sigma: float) -> np.ndarray:
        from PIL import ImageFilter

        return np.asarray(mask.filter(ImageFilter.GaussianBlur(sigma)), np.float32) / 255.0

    contact = Image.new("L", (size, size), 0)
    ImageDraw.Draw(contact).ellipse(
        (x0 + (x1 - x0) * 0.05, y1 - (y1 - y0) * 0.06, x1 - (x1 - x0) * 0.05, y1 + (y1 - y0) * 0.06), fill=255
    )
    cast = Image.fromarray((coverage * 255).astype(np.uint8)).transform(
        (size, size),
        Image.Transform.AFFINE,
        (1, 0.35 * side, -side * size * 0.07, 0, 1, -size * 0.025),
        resample=Image.Resampling.BILINEAR,
    )
    shadow = np.maximum(blurred(contact, size * 0.018) * 0.55, blurred(cast, size * 0.03) * 0.42)
    back = back * (1 - shadow[..., None])

    # The object's own shading: a side light on a rounded body (brighter toward the light, its
    # far side in shade), and a soft highlight.
    xs = np.clip((np.arange(size, dtype=np.float32) - (x0 + x1) / 2) / max(1.0, (x1 - x0) / 2), -1, 1)
    ys = np.clip((np.arange(size, dtype=np.float32) - (y0 + y1) / 2) / max(1.0, (y1 - y0) / 2), -1, 1)
    lambert = np.clip(0.5 - 0.5 * side * xs[None, :] - 0.15 * ys[:, None], 0, 1)
    gain = 0.5 + 0.62 * lambert
    spot = np.exp(-(((xs[None, :] + side * 0.45) ** 2) / 0.05 + ((ys[:, None] + 0.35) ** 2) / 0.08))
    shaded = obj * gain[..., None] + (255 - obj * gain[..., None]) * (0.55 * spot)[..., None]
    cov = coverage[..., None]
    pixels = back * (1 - cov) + np.clip(shaded, 0, 255) * cov
    image = Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8), "RGB")
    return Shot(f"shaded-{shape}-{background}-{palette}", image, coverage >= 0.5)


def shaded_shots(*, size: int = 512) -> Iterator[Shot]:
    """Every shape on every background in two palettes, then the close colours (32 shots)."""
    index = 0
    for shape in SHAPES:
        for background in BACKGROUNDS:
            for turn in range(2):
                yield shaded_shot(
                    shape, background, (index + turn * 3) % 5, size=size, seed=100 + index * 2 + turn
                )
            index += 1
    for palette in (5, 6, 7):
        for background in (
            ("plain", "gradient", "texture")[: 3 if palette == 7 else 2]
            if palette != 7
            else ("plain", "texture")
        ):
            yield shaded_shot(SHAPES[(palette + index) % 4], background, palette, size=size, seed=200 + index)
            index += 1
