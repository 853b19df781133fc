"""Background removal and replacement for product shots on plain or studio backgrounds.

Classical segmentation, no model download:

1. Model the background from the image's border: a smooth colour surface (a low-order polynomial
   in x and y per channel, fitted robustly to a band of border pixels) captures plain, gradient
   and vignetted studio sweeps.
2. Mark as foreground what differs from that surface by more than the border's own spread (noise
   and texture), on a lightly blurred image; clean up with morphology, keep the large connected
   components and fill their holes.
3. Refine with OpenCV's GrabCut, initialised from that mask (sure inside, sure outside, a band of
   "probable" between), which moves the edge onto the real colour boundary.
4. Feather the alpha edge by about a pixel.

The work happens at up to ``WORK_EDGE`` px; the mask is scaled back up and the final edge is
re-decided at full size from the colour distance, so the cut-out is sharp at 4K too.

Example:
    >>> cut = remove_background(Image.open("mug.jpg"))      # RGBA, background alpha 0
    >>> replace_background(cut, "white")                    # RGB on a white studio wall
"""

from __future__ import annotations

import re
from typing import Any

import cv2
import numpy as np
from PIL import Image

from workbench.errors import SpecError

__all__ = ["WORK_EDGE", "background_mask", "iou", "remove_background", "replace_background"]

WORK_EDGE = 512


def _poly_terms(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.stack(
        [np.ones_like(xs), xs, ys, xs * ys, xs**2, ys**2, ys**3, xs**2 * ys, xs * ys**2, xs**3], axis=-1
    )


def _background_surface(image: np.ndarray, band: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit the border band with a smooth surface; return (surface, border distances)."""
    h, w, _ = image.shape
    border = np.zeros((h, w), bool)
    border[:band], border[-band:], border[:, :band], border[:, -band:] = True, True, True, True
    yy, xx = np.nonzero(border)
    xs, ys = xx / max(1, w - 1) * 2 - 1, yy / max(1, h - 1) * 2 - 1
    terms = _poly_terms(xs.astype(np.float64), ys.astype(np.float64))
    values = image[yy, xx].astype(np.float64)
    keep = np.ones(len(values), bool)
    for _ in range(3):  # robust: refit without border pixels that belong to an object
        coef, *_ = np.linalg.lstsq(terms[keep], values[keep], rcond=None)
        residual = np.linalg.norm(values - terms @ coef, axis=1)
        limit = max(4.0, 3.0 * float(np.median(residual[keep])) * 1.4826)
        new = residual <= limit
        if new.sum() < 0.5 * len(values) or (new == keep).all():
            break
        keep = new
    gx = np.linspace(-1, 1, w)
    gy = np.linspace(-1, 1, h)
    gxx, gyy = np.meshgrid(gx, gy)
    surface = (_poly_terms(gxx, gyy) @ coef).astype(np.float32)
    return surface, residual[keep]


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    h, w = mask.shape
    flood = np.zeros((h + 2, w + 2), np.uint8)
    flood[1:-1, 1:-1] = mask
    filled = flood.copy()
    cv2.floodFill(filled, None, (0, 0), 2)
    return (filled[1:-1, 1:-1] != 2).astype(np.uint8)


def _largest_components(mask: np.ndarray, keep_fraction: float = 0.08) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    biggest = areas.max()
    keep = [i + 1 for i, a in enumerate(areas) if a >= keep_fraction * biggest]
    return np.isin(labels, keep).astype(np.uint8)


def _shadow_aware(
    smooth: np.ndarray, surface: np.ndarray, border: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel: luminance ratio to the background (``k``), chroma change (``cd``) and whether the
    pixel is shadow-like: darker than the background by a factor a shadow can have, same hue.

    A shadow multiplies the background by about the same factor in every channel; an object
    changes hue, gets brighter, or is darker than any soft shadow.
    """
    ratio = (smooth + 1.0) / (surface + 1.0)
    k = ratio.mean(axis=2)
    cd = np.abs(ratio / k[..., None] - 1.0).max(axis=2)
    k_spread = float(np.percentile(np.abs(k[border] - 1.0), 95)) if border.any() else 0.02
    cd_spread = float(np.percentile(cd[border], 95)) if border.any() else 0.02
    chroma_limit = max(0.015, 3.0 * cd_spread)
    shadowish = (k < 1.0 - max(0.02, 1.5 * k_spread)) & (k > 0.3) & (cd < chroma_limit)
    return k, cd, shadowish


def _sharp_edges(grey: np.ndarray, limit: float, border: np.ndarray | None = None) -> np.ndarray:
    """Where luminance steps (an object's outline), not where it ramps (a soft shadow's rim) or
    flickers (the background's own texture): a step's gradient is much stronger at a fine scale
    than at a coarse one, a ramp's is not, and it stands above the border's texture."""

    def gradient(sigma: float) -> np.ndarray:
        blurred = cv2.GaussianBlur(grey, (0, 0), sigma)
        gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3) / 8
        gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3) / 8
        return np.hypot(gx, gy)

    fine, coarse = gradient(1.0), gradient(3.0)
    if border is not None and border.any():
        limit = max(limit, 1.8 * float(np.percentile(fine[border], 95)))  # above the texture's own
    return ((fine > limit) & (fine > 1.7 * coarse)).astype(np.uint8)


def _filled_outline(outline: np.ndarray, solid: np.ndarray | None = None) -> np.ndarray:
    """The inside of an object's outline, bridging small gaps in it (closing with growing disks
    until the outline encloses something)."""
    if not outline.any():
        return outline
    for size in (5, 9, 15, 21):
        closed = cv2.morphologyEx(
            outline, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        )
        filled = _fill_holes(closed)
        if filled.sum() > 1.6 * closed.sum():
            return filled
    # Still open (a highlight meets a background of its own brightness): the outline's convex hull,
    # when the outline runs along most of the hull's border.
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return outline
    points = np.concatenate(contours)
    hull = cv2.convexHull(points)
    hull_mask = np.zeros_like(outline)
    cv2.drawContours(hull_mask, [hull], -1, 1, thickness=1)
    near = cv2.dilate(closed, np.ones((7, 7), np.uint8)) > 0
    coverage = float((near & (hull_mask > 0)).sum()) / max(1, int(hull_mask.sum()))
    if coverage >= 0.6:
        cv2.drawContours(hull_mask, [hull], -1, 1, thickness=cv2.FILLED)
        if solid is None or _fill_holes(solid).sum() < 0.5 * hull_mask.sum():
            return hull_mask  # the colour alone found too little of it: the outline decides
    return outline


def _objects_among_shadows(shadowish: np.ndarray, candidate: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The shadow-like regions that are objects after all (a grey object on a grey sweep, the
    object's own shaded side): those whose border with the background is a sharp outline, not a
    soft rim. Sharp edges split an object from the shadow it stands in."""
    regions = (shadowish & (edges == 0)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(regions, connectivity=4)
    keep = np.zeros(count, bool)
    background = ~candidate
    edge_zone = cv2.dilate(edges, np.ones((5, 5), np.uint8)) > 0
    soft_rim = background & ~edge_zone
    sharp_zone = cv2.dilate(edges, np.ones((3, 3), np.uint8)) > 0
    if count <= 1:
        return np.zeros_like(regions)
    # Per component: how much of its outer border is a soft rim onto the plain background.
    h, w = regions.shape
    for index in range(1, count):
        x, y, bw, bh, area = stats[index]
        if area < 12:
            continue
        y0, y1, x0, x1 = max(0, y - 2), min(h, y + bh + 2), max(0, x - 2), min(w, x + bw + 2)
        own = (labels[y0:y1, x0:x1] == index).astype(np.uint8)
        border = (cv2.dilate(own, np.ones((3, 3), np.uint8)) > 0) & (own == 0)
        total = int(border.sum())
        soft = int((border & soft_rim[y0:y1, x0:x1]).sum())
        sharp = int((border & sharp_zone[y0:y1, x0:x1]).sum())
        keep[index] = total > 0 and soft / total < 0.25 and sharp / total >= 0.5
    return keep[labels].astype(np.uint8)


def _matte_band(rgb: np.ndarray, mask: np.ndarray, band_px: int) -> np.ndarray:
    """Alpha (0-1) from local colours in a band around the mask's edge.

    Each band pixel is compared with the mean colour of the sure object and of the sure background
    (shadows included) near it, and takes the fraction of the way from one to the other: soft
    shadows and background rings fall to the background, the object's edge keeps its coverage.
    """
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band_px + 1, 2 * band_px + 1))
    inner = cv2.erode(mask, element)
    outer = cv2.dilate(mask, element)
    band = (outer > 0) & (inner == 0)
    alpha = mask.astype(np.float32)
    if not band.any():
        return alpha
    ys, xs = np.nonzero(band)
    y0, y1 = max(0, ys.min() - 3 * band_px), min(mask.shape[0], ys.max() + 3 * band_px + 1)
    x0, x1 = max(0, xs.min() - 3 * band_px), min(mask.shape[1], xs.max() + 3 * band_px + 1)
    img = rgb[y0:y1, x0:x1].astype(np.float32)
    fg = (inner[y0:y1, x0:x1] > 0).astype(np.float32)
    bg = (outer[y0:y1, x0:x1] == 0).astype(np.float32)
    sigma = max(1.5, band_px * 1.2)

    def local_mean(weight: np.ndarray) -> np.ndarray:
        total = cv2.GaussianBlur(weight, (0, 0), sigma) + 1e-4
        return cv2.GaussianBlur(img * weight[..., None], (0, 0), sigma) / total[..., None]

    f_col, b_col = local_mean(fg), local_mean(bg)
    diff = f_col - b_col
    t = ((img - b_col) * diff).sum(axis=2) / np.maximum((diff * diff).sum(axis=2), 25.0)
    local_band = band[y0:y1, x0:x1]
    region = alpha[y0:y1, x0:x1]
    region[local_band] = np.clip(t[local_band], 0.0, 1.0)
    return alpha


def background_mask(image: Image.Image, *, grabcut: bool = False, iterations: int = 3) -> np.ndarray:
    """The foreground mask (uint8, 255 = subject) of ``image`` at full size."""
    return (_alpha(image, grabcut=grabcut, iterations=iterations) >= 0.5).astype(np.uint8) * 255


def _alpha(image: Image.Image, *, grabcut: bool = False, iterations: int = 3) -> np.ndarray:
    """The subject's alpha (0-1 floats) at full size: shadow-aware segmentation, then edge matting.

    1. The background is a smooth surface fitted to the border (plain, gradient, vignette).
    2. What differs from it is the object or its shadows; a pixel darker by a factor a soft shadow
       can have, with the background's hue, is shadow-like, and stays behind unless it lies within
       the object's sharp outline (its own shaded side, enclosed by the outline, stays).
    3. The mask's edge band is matted at full size from the nearby object and background colours.
    """
    rgb = np.asarray(image.convert("RGB"))
    full_h, full_w = rgb.shape[:2]
    scale = min(1.0, WORK_EDGE / max(full_w, full_h))
    small = (
        cv2.resize(
            rgb, (max(1, round(full_w * scale)), max(1, round(full_h * scale))), interpolation=cv2.INTER_AREA
        )
        if scale < 1
        else rgb.copy()
    )
    h, w = small.shape[:2]
    smooth = cv2.GaussianBlur(small, (0, 0), 1.2).astype(np.float32)
    band = max(2, round(min(h, w) * 0.02))
    surface, border_residual = _background_surface(smooth, band)
    border = np.zeros((h, w), bool)
    border[:band], border[-band:], border[:, :band], border[:, -band:] = True, True, True, True
    distance = np.linalg.norm(smooth - surface, axis=2)
    spread = float(np.percentile(border_residual, 99)) if border_residual.size else 0.0
    threshold = max(10.0, 2.0 * spread)
    _k, cd, shadowish = _shadow_aware(smooth, surface, border)
    # A different hue counts even where the brightness matches the background's (a white
    # object's mid-tones on a pale blue sweep).
    hue_limit = max(0.03, 5.0 * float(np.percentile(cd[border], 99)))
    candidate = (distance > threshold) | (cv2.medianBlur((cd > hue_limit).astype(np.uint8), 5) > 0)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    edges = _sharp_edges(grey, 3.0, border) & cv2.dilate(
        candidate.astype(np.uint8), np.ones((3, 3), np.uint8)
    )
    solid = (candidate & ~shadowish).astype(np.uint8) | _objects_among_shadows(
        shadowish & candidate, candidate, edges
    )
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    solid = cv2.morphologyEx(solid, cv2.MORPH_OPEN, kernel)
    outline = _filled_outline(edges | solid, solid)
    mask = solid | outline
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    mask = _fill_holes(_largest_components(mask))
    # The outline's own width is half outside the object: trim it back to the solid colour edge.
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    mask = _fill_holes(_largest_components(mask))
    if not mask.any():
        return np.zeros((full_h, full_w), np.float32)

    if grabcut:
        radius = max(2, round(min(h, w) * 0.012))
        element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        labels = np.full((h, w), cv2.GC_BGD, np.uint8)
        labels[cv2.dilate(mask, element) > 0] = cv2.GC_PR_BGD
        labels[mask > 0] = cv2.GC_PR_FGD
        labels[cv2.erode(mask, element) > 0] = cv2.GC_FGD
        labels[shadowish & (mask == 0)] = cv2.GC_BGD  # shadows are background, never the object
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), labels, None, bgd, fgd, iterations,
                        cv2.GC_INIT_WITH_MASK)  # fmt: skip
            refined = _fill_holes(
                _largest_components(np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8))
            )
            if refined.sum() > 0.5 * mask.sum():
                mask = refined
        except cv2.error:
            pass

    if scale < 1:
        soft = cv2.resize(mask.astype(np.float32), (full_w, full_h), interpolation=cv2.INTER_LINEAR)
        mask = (soft >= 0.5).astype(np.uint8)
    band_px = max(2, round(1.5 / scale)) if scale < 1 else 2
    alpha = _matte_band(rgb, mask, band_px)
    solid_alpha = _fill_holes(_largest_components((alpha >= 0.5).astype(np.uint8)))
    alpha = np.where(solid_alpha > 0, np.maximum(alpha, 0.5), np.minimum(alpha, 0.49))
    return alpha


def remove_background(image: Image.Image, *, feather: float = 0.0, grabcut: bool = False) -> Image.Image:
    """The subject on a transparent background (RGBA).

    The edge's alpha comes from matting its band (soft where the object's edge is soft); shadows
    and the background's ring stay behind. ``feather`` (px) softens the edge further.
    """
    alpha = _alpha(image, grabcut=grabcut) * 255.0
    if feather > 0:
        inside = alpha >= 127.5
        alpha = cv2.GaussianBlur(alpha, (0, 0), feather)
        alpha[inside] = np.maximum(alpha[inside], 128)  # the subject stays at alpha ≥ 128
        alpha[~inside] = np.minimum(alpha[~inside], 127)
    out = image.convert("RGBA")
    out.putalpha(Image.fromarray(np.clip(alpha + 0.5, 0, 255).astype(np.uint8), "L"))
    return out


_NAMED_BACKGROUNDS = {"studio": (236, 236, 233), "white studio": (246, 246, 244), "transparent": None}


def _colour(value: Any) -> tuple[int, int, int]:
    if isinstance(value, (tuple, list)) and len(value) >= 3:
        return tuple(int(v) for v in value[:3])  # type: ignore[return-value]
    text = str(value).strip().lower()
    if text in _NAMED_BACKGROUNDS and _NAMED_BACKGROUNDS[text] is not None:
        return _NAMED_BACKGROUNDS[text]  # type: ignore[return-value]
    from workbench.vocabulary import colours_in

    found = colours_in(text)
    if not found:
        raise SpecError(
            f"Unknown background colour {value!r}: name a colour or give #RRGGBB.", field="background"
        )
    return found[0]


def replace_background(
    image: Image.Image, background: Any = "white", *, to: Any = None, subject_mask: np.ndarray | None = None
) -> Image.Image:
    """Put the subject on a new background: a colour, a vertical gradient (``to``) or an image.

    Args:
        image: a photo (its background is removed first) or an RGBA cut-out.
        background: a colour (name, ``#RRGGBB`` or RGB tuple), or an image (scaled to cover).
        to: with a colour, the gradient's bottom colour.
    """
    if image.mode == "RGBA" and image.getchannel("A").getextrema()[0] < 255:
        cut = image
    elif subject_mask is not None:
        cut = image.convert("RGBA")
        cut.putalpha(Image.fromarray(subject_mask))
    else:
        cut = remove_background(image)
    width, height = cut.size
    if isinstance(background, Image.Image):
        from workbench.imaging.geometry import crop_to_aspect

        base = crop_to_aspect(background.convert("RGB"), width / height).resize(
            (width, height), Image.Resampling.LANCZOS
        )
    else:
        top = np.array(_colour(background), np.float32)
        bottom = np.array(_colour(to), np.float32) if to is not None else top
        ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        column = top * (1 - ramp) + bottom * ramp
        base = Image.fromarray(np.broadcast_to(np.round(column), (height, width, 3)).astype(np.uint8), "RGB")
    base = base.convert("RGBA")
    base.alpha_composite(cut)
    return base.convert("RGB")


def _hex(colour: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*colour)


def parse_background(text: str) -> dict[str, Any]:
    """Read "a gradient from coral to peach" / "a white studio wall" into replace_background options."""
    from workbench.vocabulary import colours_in

    colours = colours_in(text)
    if re.search(r"\bgradient\b", text, re.I) and len(colours) >= 2:
        return {"background": _hex(colours[0]), "to": _hex(colours[1])}
    if colours:
        if re.fullmatch(
            r"\s*(?:(?:pure|plain|solid|clean|bright|a|an|the)\s+)*white(?:\s+(?:background|backdrop))?\s*",
            text,
            re.I,
        ):
            return {"background": "#FFFFFF"}  # "white" alone: the shop-listing white people mean
        return {"background": _hex(colours[0])}
    if re.search(r"\bstudio\b", text, re.I):
        return {"background": "studio"}
    return {"background": "white"}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two masks (truthy = inside)."""
    a, b = np.asarray(a).astype(bool), np.asarray(b).astype(bool)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
