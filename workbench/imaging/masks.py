"""Edit regions → one mask of the image's size, as the image service takes it.

A region is a rectangle ``(x, y, w, h)`` (or a dict with those keys), a polygon (a list of
``(x, y)`` points, or ``{"points": [...]}``), or a painted mask (a Pillow image, a numpy array
or PNG bytes, where painted/edited pixels are non-zero, or RGBA with alpha 0 where to edit). Every
region is merged into one mask: an RGBA PNG the size of the image, **alpha 0 where the image is to
be edited** and 255 elsewhere (the OpenAI Images edit convention).

Example:
    >>> png = build_mask([(10, 10, 100, 80), [(300, 40), (380, 60), (340, 140)]], (512, 512))
    >>> edited_area(png).sum()   # pixels to be edited
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from workbench.errors import InputImageError, SpecError

__all__ = ["Region", "build_mask", "edited_area", "region_area"]

Region = Any  # rectangle tuple/dict, polygon points/dict, or a painted mask (image, array, bytes)


def _painted(region: Any, size: tuple[int, int]) -> np.ndarray:
    """A painted mask as a bool array of edited pixels."""
    if isinstance(region, (bytes, bytearray)):
        try:
            region = Image.open(io.BytesIO(region))
            region.load()
        except OSError as exc:
            raise InputImageError(f"The painted mask cannot be read as an image ({exc}).") from None
    if isinstance(region, Image.Image):
        if region.size != size:
            raise InputImageError(
                f"The mask is {region.width}x{region.height} but the image is {size[0]}x{size[1]}: "
                "paint the mask on the same image."
            )
        if region.mode in ("RGBA", "LA", "PA") or "transparency" in region.info:
            return np.asarray(region.convert("RGBA").getchannel("A")) == 0
        return np.asarray(region.convert("L")) > 127
    array = np.asarray(region)
    if array.shape[:2] != (size[1], size[0]):
        raise InputImageError(
            f"The mask is {array.shape[1]}x{array.shape[0]} but the image is {size[0]}x{size[1]}: "
            "paint the mask on the same image."
        )
    return array.astype(bool) if array.ndim == 2 else array[..., -1] == 0


def region_area(region: Region, size: tuple[int, int]) -> np.ndarray:
    """One region as a bool array (True = to be edited) of the image's size (width, height)."""
    width, height = size
    if isinstance(region, (Image.Image, np.ndarray, bytes, bytearray)):
        return _painted(region, size)
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    if isinstance(region, Mapping):
        if "points" in region:
            region = [tuple(p) for p in region["points"]]
        elif {"x", "y", "w", "h"} <= set(region) or {"x", "y", "width", "height"} <= set(region):
            region = (
                region["x"],
                region["y"],
                region.get("w", region.get("width")),
                region.get("h", region.get("height")),
            )
        else:
            raise SpecError(f"A region needs x, y, w, h or points, got {sorted(region)}.", field="regions")
    if isinstance(region, str):
        try:
            region = tuple(float(v) for v in region.split(","))
        except ValueError:
            raise SpecError(f"Cannot read the region {region!r}: write x,y,w,h.", field="regions") from None
    if isinstance(region, Sequence) and len(region) == 4 and all(isinstance(v, (int, float)) for v in region):
        x, y, w, h = (float(v) for v in region)
        if w <= 0 or h <= 0:
            raise SpecError(
                f"The region {tuple(region)} has no area: width and height must be positive.", field="regions"
            )
        if x >= width or y >= height or x + w <= 0 or y + h <= 0:
            raise SpecError(
                f"The region {tuple(region)} lies outside the {width}x{height} image.", field="regions"
            )
        draw.rectangle((x, y, x + w - 1, y + h - 1), fill=255)
    elif (
        isinstance(region, Sequence)
        and len(region) >= 3
        and all(isinstance(p, Sequence) and len(p) == 2 for p in region)
    ):
        draw.polygon([(float(px), float(py)) for px, py in region], fill=255)
    else:
        raise SpecError(
            f"Cannot read the region {region!r}: give (x, y, w, h), a list of (x, y) points "
            "or a painted mask.",
            field="regions",
        )
    area = np.asarray(canvas) > 0
    if not area.any():
        raise SpecError(f"The region {region!r} lies outside the {width}x{height} image.", field="regions")
    return area


def build_mask(
    regions: Sequence[Region] | Region | None, size: tuple[int, int], *, mask: Any = None
) -> bytes | None:
    """Merge ``regions`` and a painted ``mask`` into one RGBA PNG (alpha 0 = edit); None if neither."""
    items: list[Any] = []
    if regions is not None:
        single = isinstance(regions, (Image.Image, np.ndarray, bytes, bytearray, Mapping, str)) or (
            isinstance(regions, Sequence)
            and len(regions) == 4
            and all(isinstance(v, (int, float)) for v in regions)
        )
        items.extend([regions] if single else list(regions))
    if mask is not None:
        items.append(mask)
    if not items:
        return None
    edited = np.zeros((size[1], size[0]), bool)
    for item in items:
        edited |= region_area(item, size)
    alpha = np.where(edited, 0, 255).astype(np.uint8)
    rgba = np.zeros((size[1], size[0], 4), np.uint8)
    rgba[..., 3] = alpha
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def edited_area(mask_png: bytes) -> np.ndarray:
    """The pixels a mask PNG marks for editing (alpha 0), as a bool array."""
    with Image.open(io.BytesIO(mask_png)) as image:
        return np.asarray(image.convert("RGBA").getchannel("A")) == 0
