"""Crop geometry shared by finishing and the cutout: an aspect's ratio, the largest crop of that
aspect, and the crop itself. A module of its own so neither of them imports the other."""

from __future__ import annotations

from PIL import Image

from workbench.errors import SpecError

__all__ = ["aspect_ratio", "crop_size", "crop_to_aspect"]


def aspect_ratio(aspect: str | float | tuple[int, int]) -> float:
    if isinstance(aspect, (int, float)):
        value = float(aspect)
    elif isinstance(aspect, tuple):
        value = aspect[0] / aspect[1]
    else:
        try:
            w, h = (float(p) for p in aspect.replace("x", ":").replace("/", ":").split(":"))
            value = w / h
        except (ValueError, ZeroDivisionError):
            raise SpecError(
                f"Unknown aspect {aspect!r}: write it as W:H, such as 3:2.", field="aspect"
            ) from None
    if not value > 0:
        raise SpecError(f"Unknown aspect {aspect!r}: write it as W:H, such as 3:2.", field="aspect")
    return value


def crop_size(size: tuple[int, int], aspect: str | float | tuple[int, int]) -> tuple[int, int]:
    """The size of the largest crop of an image of ``size`` with the given aspect (W:H)."""
    ratio = aspect_ratio(aspect)
    width, height = size
    if width / height > ratio:
        return max(1, round(height * ratio)), height
    return width, max(1, round(width / ratio))


def crop_to_aspect(
    image: Image.Image, aspect: str | float | tuple[int, int], *, anchor: tuple[float, float] = (0.5, 0.5)
) -> Image.Image:
    """The largest crop of ``image`` with the given aspect (W:H), placed at ``anchor`` (centre)."""
    width, height = image.size
    new_w, new_h = crop_size(image.size, aspect)
    left = round((width - new_w) * anchor[0])
    top = round((height - new_h) * anchor[1])
    return image.crop((left, top, left + new_w, top + new_h))
