"""Colour arithmetic for the checks: sRGB to CIELAB, CIEDE2000, dominant colours, WCAG ink.

Vectorised with numpy so a 1024² image costs a few milliseconds: the image is reduced to at most
``DOMINANT_SIDE`` pixels a side before its dominant colours are found.

Example:
    >>> round(float(delta_e2000(rgb_to_lab([27, 42, 74]), rgb_to_lab([255, 102, 0]))), 1)
    57.1
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

__all__ = ["DOMINANT_SIDE", "delta_e2000", "dominant_colours", "rgb_to_lab", "wcag_luminance"]

DOMINANT_SIDE = 96
_WHITE = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)


def _linear(rgb: np.ndarray) -> np.ndarray:
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def rgb_to_lab(rgb: Sequence[float] | np.ndarray) -> np.ndarray:
    """sRGB (0-255, any leading shape, last axis 3) to CIELAB under D65."""
    xyz = _linear(np.asarray(rgb)[..., :3]) @ _RGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def delta_e2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference of CIELAB colours (broadcasting; last axis L, a, b)."""
    lab1, lab2 = np.asarray(lab1, dtype=np.float64), np.asarray(lab2, dtype=np.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dl, dc = l2 - l1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dhh = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    l_bar, cp_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    hsum = h1p + h2p
    h_bar = np.where(
        c1p * c2p == 0,
        hsum,
        np.where(
            np.abs(h1p - h2p) <= 180, hsum / 2, np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2)
        ),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(h_bar - 30))
        + 0.24 * np.cos(np.radians(2 * h_bar))
        + 0.32 * np.cos(np.radians(3 * h_bar + 6))
        - 0.20 * np.cos(np.radians(4 * h_bar - 63))
    )
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(cp_bar**7 / (cp_bar**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * cp_bar
    s_h = 1 + 0.015 * cp_bar * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.sqrt((dl / s_l) ** 2 + (dc / s_c) ** 2 + (dhh / s_h) ** 2 + r_t * (dc / s_c) * (dhh / s_h))


def dominant_colours(image: Image.Image, *, count: int = 8) -> list[tuple[tuple[int, int, int], float]]:
    """The image's ``count`` dominant colours with their share of its pixels (largest first).

    Transparent pixels do not count. Median-cut on a copy at most ``DOMINANT_SIDE`` px a side.
    """
    factor = max(1, -(-max(image.size) // DOMINANT_SIDE))
    small = image.reduce(factor) if factor > 1 else image
    pixels = np.asarray(small.convert("RGBA")).reshape(-1, 4)
    pixels = pixels[pixels[:, 3] >= 128][:, :3]
    if not len(pixels):
        return []
    strip = Image.fromarray(np.ascontiguousarray(pixels.reshape(1, -1, 3)), "RGB")
    quantised = strip.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette = quantised.getpalette() or []
    found = []
    for share, index in sorted(quantised.getcolors(count) or [], reverse=True):
        rgb = tuple(palette[3 * index : 3 * index + 3])
        found.append(((int(rgb[0]), int(rgb[1]), int(rgb[2])), share / len(pixels)))
    return found


_LUMINANCE_LUT = _linear(np.arange(256)[:, None] * np.ones(3)) * np.array([0.2126, 0.7152, 0.0722])


def wcag_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of sRGB colours (0-255, last axis 3), 0-1 (a table for uint8)."""
    rgb = np.asarray(rgb)[..., :3]
    if rgb.dtype == np.uint8:
        return (
            _LUMINANCE_LUT[rgb[..., 0], 0] + _LUMINANCE_LUT[rgb[..., 1], 1] + _LUMINANCE_LUT[rgb[..., 2], 2]
        )
    return _linear(rgb) @ np.array([0.2126, 0.7152, 0.0722])
