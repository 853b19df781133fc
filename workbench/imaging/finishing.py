"""Free local finishing: tone, black and white, warmer or cooler light, crop to an aspect, 4K.

Each operation takes and returns a Pillow image, is deterministic, and needs no model. The
draft backend runs them as edits (0 credits) so each is a run in the ledger, linked to its source;
``apply`` is the one entry point it calls, by operation name and parameters.

Example:
    >>> apply(image, "upscale")            # 3840 px on the long side
    >>> apply(image, "crop", aspect="3:2")
    >>> apply(image, "tone", warmth=0.5)   # warmer; negative is cooler
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from workbench.errors import SpecError
from workbench.imaging.geometry import crop_size, crop_to_aspect

__all__ = [
    "OPERATIONS",
    "UHD_EDGE",
    "apply",
    "black_and_white",
    "crop_to_aspect",
    "restore_aspect",
    "flip",
    "rotate",
    "sharpen",
    "tone",
    "upscale",
]

UHD_EDGE = 3840


def _split_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return rgba.convert("RGB"), rgba.getchannel("A")
    return image.convert("RGB"), None


def _with_alpha(rgb: Image.Image, alpha: Image.Image | None) -> Image.Image:
    if alpha is None:
        return rgb
    rgb = rgb.convert("RGBA")
    rgb.putalpha(alpha)
    return rgb


def black_and_white(image: Image.Image, *, contrast: float = 0.0) -> Image.Image:
    """Greyscale by luminance; ``contrast`` 0..1 stretches the tones (1: strong S-curve, clipped ends).

    The result stays RGB(A), so it can be saved and edited like any other image.
    """
    rgb, alpha = _split_alpha(image)
    grey = np.asarray(rgb.convert("L"), dtype=np.float32) / 255.0
    if contrast > 0:
        low, high = np.percentile(grey, [1 + 3 * contrast, 99 - 3 * contrast])
        if high - low > 1e-3:
            grey = np.clip((grey - low) / (high - low), 0, 1)
        curve = 0.5 - 0.5 * np.cos(np.pi * grey)  # smooth S: deepens shadows, lifts highlights
        grey = (1 - contrast) * grey + contrast * curve
    out = Image.fromarray(np.round(grey * 255).astype(np.uint8), "L").convert("RGB")
    return _with_alpha(out, alpha)


def tone(
    image: Image.Image,
    *,
    warmth: float = 0.0,
    contrast: float = 0.0,
    saturation: float = 0.0,
    brightness: float = 0.0,
) -> Image.Image:
    """Shift colour temperature and tone. Each amount is -1..1; 0 leaves the image as it is.

    ``warmth`` > 0 is warmer (golden: red up, blue down), < 0 cooler.
    """
    rgb, alpha = _split_alpha(image)
    pixels = np.asarray(rgb, dtype=np.float32) / 255.0
    if warmth:
        w = float(np.clip(warmth, -1, 1)) * 0.18
        gains = np.array([1 + w, 1 + w * 0.35, 1 - w], dtype=np.float32)
        pixels = pixels * gains
    if brightness:
        pixels = pixels + float(brightness) * 0.2
    if contrast:
        pixels = (pixels - 0.5) * (1 + float(contrast) * 0.6) + 0.5
    if saturation:
        grey = pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        pixels = grey[..., None] + (pixels - grey[..., None]) * (1 + float(saturation))
    out = Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8), "RGB")
    return _with_alpha(out, alpha)


def upscale_size(
    size: tuple[int, int], long_edge: int = UHD_EDGE, factor: float | None = None
) -> tuple[int, int]:
    """The size ``upscale`` gives: ``long_edge`` on the long side (or each side times ``factor``,
    exactly), the aspect kept within a pixel."""
    width, height = size
    if factor is not None:
        if not isinstance(factor, (int, float)) or not 0 < factor <= 8:
            raise SpecError(
                f"An upscale factor must be above 0 and at most 8, not {factor!r}.", field="factor"
            )
        return max(1, round(width * factor)), max(1, round(height * factor))
    if width >= height:
        return long_edge, max(1, round(height * long_edge / width))
    return max(1, round(width * long_edge / height)), long_edge


def upscale(
    image: Image.Image, *, long_edge: int = UHD_EDGE, sharpen: float = 0.6, factor: float | None = None
) -> Image.Image:
    """Resize to exactly ``long_edge`` px on the long side (aspect kept within a pixel), or by
    exactly ``factor`` ("upscale 2x" doubles each side).

    Lanczos resampling (8x8 taps, OpenCV) in one step, then an unsharp mask whose radius grows
    with the enlargement, so 4K prints do not look soft. Alpha is resampled the same way, unsharpened.
    """
    import cv2

    width, height = image.size
    target = upscale_size(image.size, long_edge, factor)
    rgb, alpha = _split_alpha(image)
    factor = max(target) / max(width, height)
    shrinking = factor < 1
    method = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    pixels = cv2.resize(np.asarray(rgb), target, interpolation=method)
    if sharpen > 0 and factor > 1:
        radius = min(3.0, 0.5 + 0.35 * factor)
        amount = 0.8 * sharpen
        blurred = cv2.GaussianBlur(pixels, (0, 0), radius)
        pixels = cv2.addWeighted(pixels, 1 + amount, blurred, -amount, 0)
    out = Image.fromarray(pixels, "RGB")
    if alpha is not None:
        alpha = Image.fromarray(cv2.resize(np.asarray(alpha), target, interpolation=method), "L")
    return _with_alpha(out, alpha)


def sharpen(image: Image.Image, *, amount: float = 0.6, radius: float = 1.2) -> Image.Image:
    """An unsharp mask: edges crisper by ``amount`` (0-2) at ``radius`` px; alpha kept."""
    import cv2

    rgb, alpha = _split_alpha(image)
    pixels = np.asarray(rgb)
    blurred = cv2.GaussianBlur(pixels, (0, 0), max(0.3, float(radius)))
    out = cv2.addWeighted(pixels, 1 + float(amount), blurred, -float(amount), 0)
    return _with_alpha(Image.fromarray(out, "RGB"), alpha)


def rotate(image: Image.Image, *, degrees: float = 90) -> Image.Image:
    """Turn the image by ``degrees`` counter-clockwise (negative: clockwise). Quarter turns are
    exact (no resampling); other angles expand the canvas, filling the corners transparent or white."""
    turns = degrees / 90
    if float(turns).is_integer():
        method = {1: Image.Transpose.ROTATE_90, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_270}
        quarter = int(turns) % 4
        return image.copy() if quarter == 0 else image.transpose(method[quarter])
    fill = (0, 0, 0, 0) if "A" in image.mode else (255, 255, 255)
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)


def flip(image: Image.Image, *, direction: str = "horizontal") -> Image.Image:
    """Mirror the image left-right (``horizontal``) or upside down (``vertical``)."""
    if direction not in ("horizontal", "vertical"):
        raise SpecError(f"Flip horizontal or vertical, not {direction!r}.", field="direction")
    return image.transpose(
        Image.Transpose.FLIP_LEFT_RIGHT if direction == "horizontal" else Image.Transpose.FLIP_TOP_BOTTOM
    )


def rotate_size(size: tuple[int, int], degrees: float) -> tuple[int, int]:
    """The size ``rotate`` gives."""
    import math

    width, height = size
    if float(degrees / 90).is_integer():
        return (height, width) if int(degrees / 90) % 2 else (width, height)
    rad = math.radians(degrees)
    c, s = abs(math.cos(rad)), abs(math.sin(rad))
    return math.ceil(width * c + height * s - 1e-9), math.ceil(width * s + height * c - 1e-9)


def restore_aspect(data: bytes, size: tuple[int, int] | list[int]) -> bytes:
    """A service's answer at its nearest size, cropped (centred) or, when cropping would lose more
    than an eighth, padded with its edge colour back to the aspect of ``size``; the same format.

    Never raises: it runs between the service's answer and its row, so on any trouble the answer
    is returned as it came.
    """
    import io

    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            image = opened.copy()
            fmt = opened.format or "PNG"
        width, height = image.size
        target = size[0] / size[1]
        if abs(width / height - target) < 1e-3:
            return data
        crop_w, crop_h = crop_size(image.size, target)
        if crop_w * crop_h >= 0.875 * width * height:
            out = crop_to_aspect(image, target)
        else:
            new_w, new_h = (
                (round(height * target), height)
                if width / height < target
                else (width, round(width / target))
            )
            corner = image.convert("RGBA" if "A" in image.mode else "RGB").getpixel((0, 0))
            out = Image.new(image.mode if image.mode in ("RGB", "RGBA") else "RGB", (new_w, new_h), corner)
            out.paste(image, ((new_w - width) // 2, (new_h - height) // 2))
        buffer = io.BytesIO()
        out.save(buffer, fmt)
        return buffer.getvalue()
    except Exception:
        return data


def autocontrast(image: Image.Image) -> Image.Image:
    rgb, alpha = _split_alpha(image)
    return _with_alpha(ImageOps.autocontrast(rgb, cutoff=1), alpha)


def _cutout(image: Image.Image, **params: Any) -> Image.Image:
    from workbench.imaging.cutout import remove_background

    return remove_background(image, **params)


def _replace(image: Image.Image, **params: Any) -> Image.Image:
    from workbench.imaging.cutout import replace_background

    return replace_background(image, **params)


def _overlay(image: Image.Image, texts: Any = (), **params: Any) -> Image.Image:
    from workbench.imaging.overlay import overlay_texts

    return overlay_texts(image, texts, **params)


OPERATIONS: dict[str, Callable[..., Image.Image]] = {
    "black_and_white": black_and_white,
    "tone": tone,
    "autocontrast": autocontrast,
    "crop": lambda image, aspect="1:1", **kw: crop_to_aspect(image, aspect, **kw),
    "upscale": upscale,
    "sharpen": sharpen,
    "rotate": rotate,
    "flip": flip,
    "remove_background": _cutout,
    "replace_background": _replace,
    "overlay_text": _overlay,
}


def apply(image: Image.Image, operation: str, **params: Any) -> Image.Image:
    """Run one finishing operation by name (see ``OPERATIONS``) with its parameters."""
    try:
        fn = OPERATIONS[operation]
    except KeyError:
        raise SpecError(
            f"Unknown finishing operation {operation!r}: choose one of {', '.join(sorted(OPERATIONS))}.",
            field="operation",
        ) from None
    try:
        return fn(image, **params)
    except TypeError as exc:
        raise SpecError(f"Wrong parameters for {operation}: {exc}.", field="params") from None
