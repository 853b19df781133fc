"""The offline checks: text accuracy, palette adherence, text contrast, safe area, aspect and size.

Each is a function ``(image, spec) -> CheckResult``; none reaches the network, and palette,
contrast, safe area and aspect each take a few milliseconds on a 1024² image
(``bench/bench_checks.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from workbench.checks.base import CheckResult, CheckSpec
from workbench.checks.colour import delta_e2000, dominant_colours, rgb_to_lab, wcag_luminance
from workbench.vocabulary import rgb_hex

__all__ = [
    "CLOSE_DELTA_E",
    "FAR_DELTA_E",
    "THRESHOLDS",
    "aspect",
    "contrast",
    "palette",
    "safe_area",
    "safe_margins",
    "text_accuracy",
]

THRESHOLDS = {"text_accuracy": 0.98, "palette": 0.8, "contrast": 1.0, "safe_area": 0.98, "aspect": 0.98}
CLOSE_DELTA_E = 10.0  # a dominant colour this close to an asked colour is that colour
FAR_DELTA_E = 25.0  # ... and from this far on it is another colour (linear between)
PRESENT_SHARE = 0.15  # an asked colour covering this share of the image is fully present
NEUTRAL_CHROMA = 15.0  # below this CIELAB chroma a colour is a white, grey or black: never off-palette
OFF_PALETTE_FREE = 0.35  # strong colours not asked for may cover this share before the score falls
WCAG_AA = 4.5  # normal text
WCAG_AA_LARGE = 3.0  # large text: a headline, or lines at least LARGE_LINE_PX tall at 1024 px
LARGE_LINE_PX = 32
# Margins (left, top, right, bottom) a format needs: stories and reels keep the app's bars clear.
_MARGINS = {
    "9:16": (0.06, 0.14, 0.06, 0.20),
    "9:21": (0.06, 0.14, 0.06, 0.20),
    "4:5": (0.05, 0.05, 0.05, 0.05),
}
_DEFAULT_MARGIN = (0.05, 0.05, 0.05, 0.05)


def safe_margins(aspect: str | None) -> tuple[float, float, float, float]:
    """The safe area's margins for an aspect ratio, as fractions (left, top, right, bottom)."""
    return _MARGINS.get(aspect or "", _DEFAULT_MARGIN)


# -- text accuracy --------------------------------------------------------------------------------
def text_accuracy(image: Image.Image, spec: CheckSpec) -> CheckResult:
    """The mean OCR character accuracy of the spec's exact texts, each read where it was laid."""
    threshold = THRESHOLDS["text_accuracy"]
    if not spec.texts:
        return CheckResult("text_accuracy", None, "the spec has no exact texts to read", threshold)
    from workbench.imaging.ocr import check_texts, ocr_available

    if not ocr_available():
        return CheckResult(
            "text_accuracy", None, "OCR is not installed (tesseract-ocr and pytesseract)", threshold
        )
    regions = [t for t in spec.texts if t.get("box")]
    texts = [{"text": t["text"], "role": t.get("role")} for t in spec.texts]
    read = check_texts(image, texts, regions=regions or None)
    score = float(np.mean([r["accuracy"] for r in read]))
    worst = min(read, key=lambda r: r["accuracy"])
    if worst["accuracy"] >= 1.0:
        reason = f"every text reads exactly ({len(read)})"
    else:
        reason = f"{worst['text']!r} reads as {worst['read']!r} ({worst['accuracy']:.0%})"
    return CheckResult("text_accuracy", round(score, 4), reason, threshold, {"texts": read})


# -- palette --------------------------------------------------------------------------------------
def palette(image: Image.Image, spec: CheckSpec) -> CheckResult:
    """How present each asked colour is among the image's dominant colours (CIEDE2000).

    Each asked colour's coverage is the share of the image whose dominant colour lies within
    ``CLOSE_DELTA_E`` of it (counting less up to ``FAR_DELTA_E``); covering ``PRESENT_SHARE`` of
    the image is full marks. The score is the mean over the asked colours, lowered when strong
    colours nobody asked for (beyond ``FAR_DELTA_E`` of every asked one, chroma above
    ``NEUTRAL_CHROMA``) cover more than ``OFF_PALETTE_FREE`` of the image.
    """
    threshold = THRESHOLDS["palette"]
    if not spec.palette:
        return CheckResult("palette", None, "the spec names no colours", threshold)
    dominant = dominant_colours(image)
    if not dominant:
        return CheckResult("palette", 0.0, "the image is fully transparent", threshold)
    shares = np.array([share for _rgb, share in dominant])
    labs = rgb_to_lab(np.array([rgb for rgb, _share in dominant], dtype=np.float64))
    asked = rgb_to_lab(np.array([rgb for _label, rgb in spec.palette], dtype=np.float64))
    distances = delta_e2000(labs[:, None, :], asked[None, :, :])  # dominant x asked
    closeness = np.clip((FAR_DELTA_E - distances) / (FAR_DELTA_E - CLOSE_DELTA_E), 0.0, 1.0)
    coverage = (shares[:, None] * closeness).sum(axis=0)
    presence = np.minimum(1.0, coverage / PRESENT_SHARE)
    # Strong colours nobody asked for (not near any asked colour, not a neutral white, grey or
    # black): up to OFF_PALETTE_FREE of the image is free, beyond it the score falls to 0 at +0.5.
    chroma = np.hypot(labs[:, 1], labs[:, 2])
    off = float(shares[(chroma > NEUTRAL_CHROMA) & (distances.min(axis=1) > FAR_DELTA_E)].sum())
    factor = float(np.clip(1.0 - (off - OFF_PALETTE_FREE) / 0.5, 0.0, 1.0))
    score = float(presence.mean()) * factor
    parts = []
    per_colour = []
    for j, (label, rgb) in enumerate(spec.palette):
        nearest = float(distances[:, j].min())
        name = f"{label} {rgb_hex(rgb)}" if not label.startswith("#") else rgb_hex(rgb)
        parts.append(f"{name} covers {coverage[j]:.0%} of the image (nearest ΔE {nearest:.1f})")
        per_colour.append(
            {"colour": rgb_hex(rgb), "label": label, "coverage": float(coverage[j]), "delta_e": nearest}
        )
    if factor < 1.0:
        parts.append(f"colours not asked for cover {off:.0%}")
    details = {
        "colours": per_colour,
        "off_palette": off,
        "dominant": [{"colour": rgb_hex(c), "share": s} for c, s in dominant],
    }
    return CheckResult("palette", round(score, 4), "; ".join(parts), threshold, details)


# -- contrast -------------------------------------------------------------------------------------
def _clip_box(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int] | None:
    x0, y0, x1, y1 = (int(round(float(v))) for v in box[:4])
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    return (x0, y0, x1, y1) if x1 - x0 >= 2 and y1 - y0 >= 2 else None


def _text_boxes(image: Image.Image, spec: CheckSpec) -> tuple[list[dict[str, Any]], bool]:
    """The laid texts with boxes; for an image without a layout, text-like regions (found)."""
    laid = [dict(t) for t in spec.texts if t.get("box")]
    if laid:
        return laid, False
    if not spec.texts:
        return [], False
    from workbench.imaging.ocr import find_text_regions

    found = find_text_regions(image, limit=max(1, len(spec.texts)))
    return [{"text": "(found text)", "role": "text", "box": list(box)} for box in found], True


def text_contrast(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[float, str, str]:
    """WCAG contrast of the ink in ``box`` against what is behind it, with both colours (hex).

    What is behind is the median of a thin ring just around the box (a plate under the text
    counts as behind it); the ink is the median of the box's pixels furthest in luminance from it.
    """
    width, height = image.size
    bx0, by0, bx1, by1 = box
    pad = max(2, (by1 - by0) // 12)
    ox0, oy0, ox1, oy1 = max(0, bx0 - pad), max(0, by0 - pad), min(width, bx1 + pad), min(height, by1 + pad)
    pixels = np.asarray(image.crop((ox0, oy0, ox1, oy1)).convert("RGB"))  # only the box and its ring
    x0, y0, x1, y1 = bx0 - ox0, by0 - oy0, bx1 - ox0, by1 - oy0
    ring = np.concatenate(
        [
            pixels[:y0].reshape(-1, 3),
            pixels[y1:].reshape(-1, 3),
            pixels[y0:y1, :x0].reshape(-1, 3),
            pixels[y0:y1, x1:].reshape(-1, 3),
        ]
    )
    # A grid sample is enough for the medians (every pixel of a large headline costs 20 ms).
    step = max(1, int(math.sqrt((x1 - x0) * (y1 - y0) / 20_000)))
    inside = pixels[y0:y1:step, x0:x1:step].reshape(-1, 3)
    behind = np.median(ring if len(ring) else inside, axis=0).astype(np.uint8)
    behind_l = float(wcag_luminance(behind))
    lum = wcag_luminance(inside)
    diff = np.abs(lum - behind_l)
    far = float(diff.max()) if len(diff) else 0.0
    ink_mask = diff >= 0.6 * far
    if far < 1e-4 or ink_mask.mean() < 0.003:
        return 1.0, rgb_hex(behind), rgb_hex(behind)
    ink = np.median(inside[ink_mask], axis=0).astype(np.uint8)
    ink_l = float(wcag_luminance(ink))
    ratio = (max(ink_l, behind_l) + 0.05) / (min(ink_l, behind_l) + 0.05)
    return ratio, rgb_hex(ink), rgb_hex(behind)


def contrast(image: Image.Image, spec: CheckSpec) -> CheckResult:
    """Each laid text's WCAG contrast against what is behind it, scored against WCAG AA for its
    size (3:1 for a headline or large lines, 4.5:1 otherwise); the score is the worst text's."""
    threshold = THRESHOLDS["contrast"]
    boxes, found = _text_boxes(image, spec)
    if not boxes:
        return CheckResult(
            "contrast", None, "the spec has no texts, or where they lie is not known", threshold
        )
    scale = 1024 / max(1, min(image.size))
    scores, parts, per_text = [], [], []
    for item in boxes:
        box = _clip_box(item["box"], image.width, image.height)
        if box is None:
            continue
        ratio, ink, behind = text_contrast(image, box)
        line_px = (box[3] - box[1]) / max(1, int(item.get("lines") or 1)) * scale
        large = item.get("role") == "headline" or line_px >= LARGE_LINE_PX
        need = WCAG_AA_LARGE if large else WCAG_AA
        score = min(1.0, ratio / need)
        scores.append(score)
        parts.append(f"{item.get('text')!r} {ink} on {behind} {ratio:.1f}:1 (needs {need:g}:1)")
        per_text.append(
            {"text": item.get("text"), "ratio": ratio, "needs": need, "ink": ink, "behind": behind}
        )
    if not scores:
        return CheckResult("contrast", 0.0, "every laid text lies outside the image", threshold)
    reason = "; ".join(parts) + (" (text regions found, no layout known)" if found else "")
    return CheckResult("contrast", round(min(scores), 4), reason, threshold, {"texts": per_text})


# -- safe area ------------------------------------------------------------------------------------
def safe_area(image: Image.Image, spec: CheckSpec) -> CheckResult:
    """The share of each text's and the subject's box that lies inside the safe area (the image
    less the margins its format needs); the score is the worst element's share."""
    threshold = THRESHOLDS["safe_area"]
    width, height = image.size
    ml, mt, mr, mb = spec.margins or safe_margins(spec.aspect)
    safe = (ml * width, mt * height, (1 - mr) * width, (1 - mb) * height)
    elements = [
        (f"{t.get('role') or 'text'} {t.get('text')!r}", t["box"]) for t in spec.texts if t.get("box")
    ]
    found = False
    if not elements and spec.texts:
        boxes, found = _text_boxes(image, spec)
        elements = [("found text", b["box"]) for b in boxes]
    if spec.subject:
        elements.append(("subject", spec.subject))
    if not elements:
        return CheckResult("safe_area", None, "where the texts and subject lie is not known", threshold)
    scores, outside = [], []
    for label, box in elements:
        x0, y0, x1, y1 = (float(v) for v in box[:4])
        area = max(1e-9, (x1 - x0) * (y1 - y0))
        inter_w = max(0.0, min(x1, safe[2]) - max(x0, safe[0]))
        inter_h = max(0.0, min(y1, safe[3]) - max(y0, safe[1]))
        share = min(1.0, inter_w * inter_h / area)
        scores.append(share)
        if share < 1.0 - 1e-9:
            outside.append(f"{label} is {1 - share:.0%} outside")
    margins = f"margins {ml:.0%}/{mt:.0%}/{mr:.0%}/{mb:.0%} (left/top/right/bottom)"
    reason = "; ".join(outside) if outside else f"{len(elements)} element(s) inside the safe area"
    return CheckResult(
        "safe_area",
        round(min(scores), 4),
        f"{reason}, {margins}" + (" (text regions found, no layout known)" if found else ""),
        threshold,
    )


# -- aspect and size ------------------------------------------------------------------------------
def _ratio(aspect: str) -> float:
    w, h = aspect.split(":")
    return float(w) / float(h)


def aspect(image: Image.Image, spec: CheckSpec) -> CheckResult:
    """The image's aspect ratio against the spec's (10 % off scores 0) times its pixel count
    against the size asked for (smaller scores less; larger is fine)."""
    threshold = THRESHOLDS["aspect"]
    width, height = image.size
    if not spec.aspect and not spec.size:
        return CheckResult("aspect", None, "the spec asks for no aspect or size", threshold)
    parts = []
    aspect_score = 1.0
    if spec.aspect:
        off = abs(math.log((width / height) / _ratio(spec.aspect)))
        aspect_score = max(0.0, 1.0 - off / math.log(1.1))
        parts.append(
            f"{width}x{height} is {width / height:.3f} against {spec.aspect} ({_ratio(spec.aspect):.3f})"
        )
    size_score = 1.0
    if spec.size:
        wanted_w, wanted_h = spec.size
        size_score = min(1.0, (width * height) / max(1, wanted_w * wanted_h))
        if (width, height) != tuple(spec.size):
            parts.append(f"asked {wanted_w}x{wanted_h}")
        else:
            parts.append("the size asked for")
    return CheckResult("aspect", round(aspect_score * size_score, 4), ", ".join(parts), threshold)
