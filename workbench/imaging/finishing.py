"""Free local finishing: tone, black and white, warmer or cooler light, crop to an aspect, 4K,
resize, blur, noise reduction, vignette, invert, sepia, a hue shift, and a chain of these.

Each operation takes and returns a Pillow image, is deterministic, and needs no model. The
draft backend runs them as edits (0 credits) so each is a run in the ledger, linked to its source;
``apply`` is the one entry point it calls, by operation name and parameters.

Example:
    >>> apply(image, "upscale")            # 3840 px on the long side
    >>> apply(image, "crop", aspect="3:2")
    >>> apply(image, "tone", warmth=0.5)   # warmer; negative is cooler
    >>> apply(image, "chain", steps=[{"operation": "tone", "params": {"contrast": 0.5}},
    ...                              {"operation": "crop", "params": {"aspect": "1:1"}}])
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
    "blur",
    "chain",
    "chain_size",
    "operation_size",
    "crop_to_aspect",
    "denoise",
    "flip",
    "hue_shift",
    "invert",
    "resize",
    "resize_size",
    "restore_aspect",
    "rotate",
    "rotate_size",
    "sepia",
    "sharpen",
    "tone",
    "upscale",
    "vignette",
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


def rotate(image: Image.Image, *, degrees: float = -90) -> Image.Image:
    """Turn the image by ``degrees`` counter-clockwise (negative: clockwise; the default is a
    quarter turn clockwise, as "rotate it" means). Quarter turns are exact (no resampling); other
    angles expand the canvas, filling the corners transparent or white."""
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
    """The size ``rotate`` gives: Pillow's own expanded canvas (the corners' extent, floor to
    ceil), computed the way ``Image.rotate(expand=True)`` does, so a dry run and the result agree."""
    import math

    width, height = size
    if float(degrees / 90).is_integer():
        return (height, width) if int(degrees / 90) % 2 else (width, height)
    angle = -math.radians(degrees)
    cos, sin = round(math.cos(angle), 15), round(math.sin(angle), 15)
    cx, cy = width / 2, height / 2
    xs = [cos * (x - cx) + sin * (y - cy) + cx for x, y in ((0, 0), (width, 0), (width, height), (0, height))]
    ys = [
        -sin * (x - cx) + cos * (y - cy) + cy for x, y in ((0, 0), (width, 0), (width, height), (0, height))
    ]
    return math.ceil(max(xs)) - math.floor(min(xs)), math.ceil(max(ys)) - math.floor(min(ys))


def restore_aspect(data: bytes, size: tuple[int, int] | list[int]) -> bytes:
    """A service's answer at its nearest size, cropped (centred) or, when cropping would lose more
    than an eighth, padded with its edge colour back to the aspect of ``size``; the same format.

    Never raises: it runs between the service's answer and its row, so on any trouble the answer
    is returned as it came. An animated GIF or an SVG is kept as it came too: cropping would
    flatten the one to its first frame, and the other has no pixels to crop.
    """
    import io

    from workbench.store import sniff_stored_format

    if sniff_stored_format(data) in ("gif", "svg"):
        return data
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


def resize_size(
    size: tuple[int, int],
    *,
    factor: float | None = None,
    width: int | None = None,
    height: int | None = None,
    long_edge: int | None = None,
) -> tuple[int, int]:
    """The size ``resize`` gives: each side times ``factor``, or ``width`` and/or ``height`` in px
    (one of them alone keeps the aspect, within a pixel), or ``long_edge`` px on the long side."""
    w, h = size
    if long_edge is not None and width is None and height is None:
        width, height = (long_edge, None) if w >= h else (None, long_edge)
    for name, value in (("width", width), ("height", height), ("long_edge", long_edge)):
        if value is not None and (not isinstance(value, int) or not 1 <= value <= 16384):
            raise SpecError(f"A resize {name} must be 1 to 16384 px, not {value!r}.", field=name)
    if width is not None and height is not None:
        return width, height
    if width is not None:
        return width, max(1, round(h * width / w))
    if height is not None:
        return max(1, round(w * height / h)), height
    if factor is None:
        raise SpecError("A resize needs a factor, a width, a height or a long edge.", field="factor")
    if not isinstance(factor, (int, float)) or not 0 < factor <= 8:
        raise SpecError(f"A resize factor must be above 0 and at most 8, not {factor!r}.", field="factor")
    return max(1, round(w * factor)), max(1, round(h * factor))


def resize(
    image: Image.Image,
    *,
    factor: float | None = None,
    width: int | None = None,
    height: int | None = None,
    long_edge: int | None = None,
) -> Image.Image:
    """Resize by ``factor``, to ``width``/``height`` px or to ``long_edge`` px on the long side:
    area averaging when shrinking, Lanczos when enlarging (no sharpening: ``upscale`` is the one
    for enlargements that must stay crisp)."""
    import cv2

    target = resize_size(image.size, factor=factor, width=width, height=height, long_edge=long_edge)
    rgb, alpha = _split_alpha(image)
    shrinking = target[0] * target[1] < image.width * image.height
    method = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    out = Image.fromarray(cv2.resize(np.asarray(rgb), target, interpolation=method), "RGB")
    if alpha is not None:
        alpha = Image.fromarray(cv2.resize(np.asarray(alpha), target, interpolation=method), "L")
    return _with_alpha(out, alpha)


def blur(image: Image.Image, *, radius: float = 3.0) -> Image.Image:
    """A Gaussian blur of ``radius`` px (0.3-50) over the whole image (a region with a mask)."""
    import cv2

    if not isinstance(radius, (int, float)) or not 0.3 <= radius <= 50:
        raise SpecError(f"A blur radius must be 0.3 to 50 px, not {radius!r}.", field="radius")
    rgb, alpha = _split_alpha(image)
    out = cv2.GaussianBlur(np.asarray(rgb), (0, 0), float(radius))
    return _with_alpha(Image.fromarray(out, "RGB"), alpha)


def denoise(image: Image.Image, *, strength: float = 0.5) -> Image.Image:
    """Noise reduction (non-local means, OpenCV): ``strength`` 0..1, edges kept; alpha kept."""
    import cv2

    strength = float(np.clip(strength, 0.05, 1.0))
    rgb, alpha = _split_alpha(image)
    h = 3 + 9 * strength
    # 5 px patches in an 11 px search window: a third of OpenCV's default 7/21 time, about as clean
    out = cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(np.asarray(rgb)), None, h, h, 5, 11)
    return _with_alpha(Image.fromarray(out, "RGB"), alpha)


def vignette(image: Image.Image, *, amount: float = 0.5) -> Image.Image:
    """Darken the corners: ``amount`` 0..1 is how dark they get (a smooth radial fall-off)."""
    rgb, alpha = _split_alpha(image)
    pixels = np.asarray(rgb, dtype=np.float32)
    h, w = pixels.shape[:2]
    yy = ((np.arange(h, dtype=np.float32) - (h - 1) / 2) / (h / 2))[:, None] ** 2
    xx = ((np.arange(w, dtype=np.float32) - (w - 1) / 2) / (w / 2))[None, :] ** 2
    r = np.sqrt((xx + yy) / 2)
    fall = 1 - np.float32(np.clip(amount, 0, 1)) * np.clip((r - 0.35) / 0.65, 0, 1) ** 2
    out = np.round(pixels * fall[..., None]).clip(0, 255).astype(np.uint8)
    return _with_alpha(Image.fromarray(out, "RGB"), alpha)


def invert(image: Image.Image) -> Image.Image:
    """A negative: every colour inverted; alpha kept."""
    rgb, alpha = _split_alpha(image)
    return _with_alpha(ImageOps.invert(rgb), alpha)


def sepia(image: Image.Image, *, amount: float = 1.0) -> Image.Image:
    """A sepia (brown, old-photo) tone; ``amount`` 0..1 blends it over the colours."""
    rgb, alpha = _split_alpha(image)
    pixels = np.asarray(rgb, dtype=np.float32)
    matrix = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)
    toned = pixels @ matrix.T
    mix = float(np.clip(amount, 0, 1))
    out = np.round(pixels * (1 - mix) + toned * mix).clip(0, 255).astype(np.uint8)
    return _with_alpha(Image.fromarray(out, "RGB"), alpha)


def hue_shift(image: Image.Image, *, degrees: float = 30) -> Image.Image:
    """Turn every hue round the colour wheel by ``degrees`` (red +120 is green); greys stay grey."""
    rgb, alpha = _split_alpha(image)
    hsv = np.asarray(rgb.convert("HSV"), dtype=np.int16)
    hsv[..., 0] = (hsv[..., 0] + round(float(degrees) / 360 * 256)) % 256
    out = Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")
    return _with_alpha(out, alpha)


def _steps(steps: Any) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(steps, (list, tuple)) or not steps:
        raise SpecError("A chain needs a list of steps, each an operation and its params.", field="steps")
    out = []
    for step in steps:
        if (
            not isinstance(step, dict)
            or step.get("operation") not in OPERATIONS
            or step["operation"] == "chain"
        ):
            raise SpecError(f"A chain step must name a finishing operation, not {step!r}.", field="steps")
        out.append((step["operation"], dict(step.get("params") or {})))
    return out


def chain(image: Image.Image, *, steps: Any) -> Image.Image:
    """Several operations in order (``[{"operation": "tone", "params": {...}}, ...]``): one edit."""
    for operation, params in _steps(steps):
        image = apply(image, operation, **params)
    return image


def chain_size(size: tuple[int, int], steps: Any) -> tuple[int, int]:
    """The size a chain gives, step by step."""
    for operation, params in _steps(steps):
        size = operation_size(operation, params, size)
    return size


def operation_size(operation: str, params: dict[str, Any], size: tuple[int, int]) -> tuple[int, int]:
    """The size an operation's result will have, from the input's size (without running it)."""
    if operation == "upscale":
        return upscale_size(size, int(params.get("long_edge", UHD_EDGE)), params.get("factor"))
    if operation == "resize":
        keys = ("factor", "width", "height", "long_edge")
        return resize_size(size, **{k: params[k] for k in keys if k in params})
    if operation == "rotate":
        return rotate_size(size, float(params.get("degrees", -90)))
    if operation == "crop":
        return crop_size(size, params.get("aspect", "1:1"))
    if operation == "chain":
        return chain_size(size, params.get("steps"))
    return size


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
    "resize": resize,
    "blur": blur,
    "denoise": denoise,
    "vignette": vignette,
    "invert": invert,
    "sepia": sepia,
    "hue_shift": hue_shift,
    "chain": chain,
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
