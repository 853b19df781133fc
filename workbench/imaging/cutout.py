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


def background_mask(image: Image.Image, *, grabcut: bool = True, iterations: int = 4) -> np.ndarray:
    """The foreground mask (uint8, 255 = subject) of ``image`` at full size, before feathering."""
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
    smooth = cv2.GaussianBlur(small, (0, 0), 1.5).astype(np.float32)
    band = max(2, round(min(h, w) * 0.02))
    surface, border_residual = _background_surface(smooth, band)
    distance = np.linalg.norm(smooth - surface, axis=2)
    spread = float(np.percentile(border_residual, 99)) if border_residual.size else 0.0
    threshold = max(10.0, 2.0 * spread)
    mask = (distance > threshold).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    mask = _fill_holes(_largest_components(mask))
    if not mask.any():
        return np.zeros((full_h, full_w), np.uint8)

    if grabcut:
        radius = max(2, round(min(h, w) * 0.012))
        element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        inner = cv2.erode(mask, element)
        outer = cv2.dilate(mask, element)
        labels = np.full((h, w), cv2.GC_BGD, np.uint8)
        labels[outer > 0] = cv2.GC_PR_BGD
        labels[mask > 0] = cv2.GC_PR_FGD
        labels[inner > 0] = cv2.GC_FGD
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(
                cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                labels,
                None,
                bgd,
                fgd,
                iterations,
                cv2.GC_INIT_WITH_MASK,
            )
            refined = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
            refined = _fill_holes(_largest_components(refined))
            # GrabCut may wander on colours close to the background; keep it near the first mask.
            if refined.sum() > 0.5 * mask.sum():
                mask = refined
        except cv2.error:
            pass

    if scale < 1:
        # Scale up smoothly, then re-decide the band around the edge at full size from colour.
        soft = cv2.resize(mask.astype(np.float32), (full_w, full_h), interpolation=cv2.INTER_LINEAR)
        full = (soft >= 0.5).astype(np.uint8)
        edge = (soft > 0.02) & (soft < 0.98)
        if edge.any():
            full_smooth = cv2.GaussianBlur(rgb, (0, 0), 0.8).astype(np.float32)
            up_surface = cv2.resize(surface, (full_w, full_h), interpolation=cv2.INTER_LINEAR)
            d = np.linalg.norm(full_smooth - up_surface, axis=2)
            full[edge] = (d[edge] > threshold).astype(np.uint8)
            full = cv2.morphologyEx(full, cv2.MORPH_OPEN, kernel)
            full = _fill_holes(_largest_components(full))
        mask = full
    return mask * 255


def remove_background(image: Image.Image, *, feather: float = 1.0, grabcut: bool = True) -> Image.Image:
    """The subject on a transparent background (RGBA); the edge softened by ``feather`` px."""
    mask = background_mask(image, grabcut=grabcut)
    alpha = mask.astype(np.float32)
    if feather > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), feather)
        alpha[mask == 255] = np.maximum(alpha[mask == 255], 128)  # the subject stays at alpha ≥ 128
        alpha[mask == 0] = np.minimum(alpha[mask == 0], 127)
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
        if re.fullmatch(r"\s*(?:(?:pure|plain|solid|clean|bright|a|an|the)\s+)*white\s*", text, re.I):
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
