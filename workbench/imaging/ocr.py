"""Exact-text check: read each quoted text back from an image with OCR and score it.

Tesseract (through pytesseract) reads the image in a few preparations — greyscale upscaled to
a readable size (as whole lines and as sparse text), its inverse for light-on-dark text, an
Otsu-binarised copy, and one with thin frame and leader lines erased (a tag's box) — stopping as
soon as every text reads exactly; every line it finds is kept. For each expected text the
best-matching line, or run of consecutive lines (a headline wraps), is found by edit distance;
its **character accuracy** is ``1 - distance / len(expected)``, clipped at 0, after collapsing
whitespace. A text rendered
exactly scores about 1.0; a different text scores low.

Example:
    >>> [c["accuracy"] for c in check_texts(Image.open("poster.png"), ["MOVE FORWARD"])]
    [1.0]
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from workbench.errors import WorkbenchError

__all__ = ["accuracy", "check_texts", "edit_distance", "ocr_available", "read_lines"]


def ocr_available() -> bool:
    """Whether pytesseract and the tesseract program are both installed."""
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return shutil.which("tesseract") is not None


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("‘", "'").replace("’", "'").replace("“", '"').replace("”", '"')
    text = text.replace("—", "-").replace("–", "-").replace("|", "I")
    return " ".join(text.split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions and substitutions cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _substring_distance(expected: str, read: str) -> tuple[int, str]:
    """The edit distance of ``expected`` to its best-matching substring of ``read`` (and that substring)."""
    n = len(read)
    previous = [0] * (n + 1)  # free start anywhere in ``read``
    starts = list(range(n + 1))
    for i, ce in enumerate(expected, 1):
        current, cur_starts = [i], [0]
        for j, cr in enumerate(read, 1):
            options = (
                (previous[j - 1] + (ce != cr), starts[j - 1]),
                (previous[j] + 1, starts[j]),
                (current[j - 1] + 1, cur_starts[j - 1]),
            )
            cost, start = min(options)
            current.append(cost)
            cur_starts.append(start)
        previous, starts = current, cur_starts
    end = min(range(n + 1), key=lambda j: (previous[j], -j))
    return previous[end], read[starts[end] : end]


def accuracy(expected: str, read: str) -> float:
    """Character accuracy of ``read`` against ``expected``: 1 - edit distance / length, in 0..1."""
    expected, read = _normal(expected), _normal(read)
    if not expected:
        return 1.0
    return max(0.0, 1.0 - edit_distance(expected, read) / len(expected))


def _grey(image: Image.Image) -> Image.Image:
    """Greyscale at a readable size; transparent images on white."""
    if "A" in image.mode or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGB", image.size, "white")
        white.paste(rgba, mask=rgba.getchannel("A"))
        image = white
    grey = ImageOps.grayscale(image)
    short = min(grey.size)
    if short < 1200:
        factor = min(3.0, 1200 / short)
        size = (round(grey.width * factor), round(grey.height * factor))
        grey = grey.resize(size, Image.Resampling.LANCZOS)
    return grey


def _without_thin_lines(grey: Image.Image) -> Image.Image:
    """Otsu ink with long thin lines (a tag's frame, a leader line, a rule) erased: they glue
    onto the letters beside them and tesseract reads them as brackets and dashes."""
    import cv2

    _, ink = cv2.threshold(np.asarray(grey), 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    length, thick = max(30, min(grey.size) // 20), 11

    def kernel(w: int, h: int) -> np.ndarray:
        return cv2.getStructuringElement(cv2.MORPH_RECT, (w, h))

    lines = np.zeros_like(ink)
    for long, wide in (
        (kernel(length, 1), kernel(length, thick)),
        (kernel(1, length), kernel(thick, length)),
    ):
        lines |= cv2.morphologyEx(ink, cv2.MORPH_OPEN, long) & ~cv2.morphologyEx(ink, cv2.MORPH_OPEN, wide)
    lines = cv2.dilate(lines, np.ones((5, 5), np.uint8))
    return Image.fromarray(255 - (ink & ~lines))


def _preparations(image: Image.Image) -> Iterator[tuple[Image.Image, int]]:
    """(prepared image, page segmentation mode) pairs, cheapest and likeliest first; lazily, so an
    image whose texts read exactly on the first pass costs one pass."""
    import cv2

    grey = _grey(image)
    yield grey, 3  # automatic layout: whole lines, even with wide gaps between words
    yield grey, 11  # sparse text: labels and tags scattered over the picture
    inverted = ImageOps.invert(grey)
    yield inverted, 3  # light text on dark
    yield inverted, 11
    _, otsu = cv2.threshold(np.asarray(grey), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    yield Image.fromarray(otsu), 11
    yield Image.fromarray(255 - otsu), 11
    yield _without_thin_lines(grey), 11
    yield _without_thin_lines(inverted), 11


def read_lines(image: Image.Image, *, lang: str = "eng") -> list[str]:
    """Every line of text tesseract finds in ``image``, over several preparations (duplicates removed).

    Raises:
        WorkbenchError: pytesseract or the tesseract program is not installed (with how to install).
    """
    lines: list[str] = []
    for prepared, psm in _preparations(image):
        lines.extend(line for line in _lines_of(prepared, lang, psm) if line not in lines)
    return lines


def _best(expected: str, lines: Sequence[str], groups: Sequence[Sequence[str]]) -> tuple[float, str]:
    target = _normal(expected)
    if not target:
        return 1.0, ""
    candidates: list[str] = list(lines)
    for group in groups:  # consecutive lines of one pass, joined: a wrapped headline
        for size in range(2, 5):
            for start in range(0, max(0, len(group) - size + 1)):
                candidates.append(" ".join(group[start : start + size]))
    best_score, best_read = 0.0, ""
    for candidate in candidates:
        distance, matched = _substring_distance(target, candidate)
        score = max(0.0, 1.0 - distance / len(target))
        if score > best_score:
            best_score, best_read = score, matched.strip()
            if score == 1.0:
                break
    return best_score, best_read


def _text_items(texts: Iterable[Any]) -> list[tuple[str, str | None]]:
    items = []
    for item in texts:
        if isinstance(item, str):
            items.append((item, None))
        elif isinstance(item, dict):
            items.append((item["text"], item.get("role")))
        else:  # a TextItem
            items.append((item.text, getattr(item, "role", None)))
    return items


def check_texts(image: Image.Image, texts: Iterable[Any], *, lang: str = "eng") -> list[dict[str, Any]]:
    """Read each expected text back; one dict per text: ``text``, ``role``, ``read``, ``accuracy``.

    Args:
        image: the image to read.
        texts: strings, ``TextItem`` objects or dicts with ``text`` (and ``role``).
        lang: tesseract language(s), e.g. ``eng`` or ``eng+deu``.
    """
    items = _text_items(texts)
    if not items:
        return []
    lines: list[str] = []
    groups: list[list[str]] = []
    best: dict[int, tuple[float, str]] = {}
    for prepared, psm in _preparations(image):
        group = _lines_of(prepared, lang, psm)
        groups.append(group)
        lines.extend(line for line in group if line not in lines)
        for index, (text, _role) in enumerate(items):
            if best.get(index, (0.0, ""))[0] < 1.0:
                found = _best(text, lines, groups)
                if found[0] >= best.get(index, (-1.0, ""))[0]:
                    best[index] = found
        if all(best[i][0] >= 1.0 for i in range(len(items))):
            break  # every text read exactly: the other preparations cannot do better
    return [
        {"text": text, "role": role, "read": best[i][1], "accuracy": round(best[i][0], 4)}
        for i, (text, role) in enumerate(items)
    ]


def _lines_of(prepared: Image.Image, lang: str, psm: int = 11) -> list[str]:
    try:
        import pytesseract
    except ImportError:
        raise WorkbenchError("The text check needs pytesseract: pip install pytesseract.") from None
    try:
        text = pytesseract.image_to_string(prepared, lang=lang, config=f"--psm {psm}")
    except pytesseract.TesseractNotFoundError:
        raise WorkbenchError(
            "The text check needs the tesseract program: install tesseract-ocr "
            "(apt install tesseract-ocr, or brew install tesseract)."
        ) from None
    except pytesseract.TesseractError as exc:
        missing = [code for code in lang.split("+") if code not in pytesseract.get_languages()]
        if missing:
            raise WorkbenchError(
                f"Tesseract has no data for {', '.join(missing)}: install it "
                f"(e.g. apt install {' '.join('tesseract-ocr-' + code for code in missing)})."
            ) from None
        raise WorkbenchError(f"Tesseract could not read the image: {exc.message or exc}.") from None
    return [line for line in (_normal(raw) for raw in re.split(r"\n", text)) if line]
