"""Exact-text check: read each quoted text back from an image with OCR and score it.

Tesseract (through pytesseract) reads the image in a few preparations — greyscale upscaled to
a readable size, its inverse for light-on-dark text, and an Otsu-binarised copy — and every line
it finds is kept. For each expected text the best-matching line, or run of consecutive lines (a
headline wraps), is found by edit distance; its **character accuracy** is
``1 - distance / len(expected)``, clipped at 0, after collapsing whitespace. A text rendered
exactly scores about 1.0; a different text scores low.

Example:
    >>> [c["accuracy"] for c in check_texts(Image.open("poster.png"), ["MOVE FORWARD"])]
    [1.0]
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import Iterable, Sequence
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


def _preparations(image: Image.Image) -> list[Image.Image]:
    import cv2

    grey = ImageOps.grayscale(image.convert("RGBA").convert("RGB") if image.mode != "RGB" else image)
    if "A" in image.mode:  # text on a transparent background: put it on white
        white = Image.new("RGB", image.size, "white")
        white.paste(image, mask=image.getchannel("A"))
        grey = ImageOps.grayscale(white)
    short = min(grey.size)
    if short < 1200:
        factor = min(3.0, 1200 / short)
        grey = grey.resize(
            (round(grey.width * factor), round(grey.height * factor)), Image.Resampling.LANCZOS
        )
    array = np.asarray(grey)
    _, otsu = cv2.threshold(array, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return [grey, ImageOps.invert(grey), Image.fromarray(otsu), Image.fromarray(255 - otsu)]


def read_lines(image: Image.Image, *, lang: str = "eng") -> list[str]:
    """Every line of text tesseract finds in ``image``, over several preparations (duplicates removed).

    Raises:
        WorkbenchError: pytesseract or the tesseract program is not installed (with how to install).
    """
    lines: list[str] = []
    for prepared in _preparations(image):
        lines.extend(line for line in _lines_of(prepared, lang) if line not in lines)
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
    for prepared in _preparations(image):
        group = _lines_of(prepared, lang)
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


def _lines_of(prepared: Image.Image, lang: str) -> list[str]:
    try:
        import pytesseract
    except ImportError:
        raise WorkbenchError("The text check needs pytesseract: pip install pytesseract.") from None
    try:
        text = pytesseract.image_to_string(prepared, lang=lang, config="--psm 11")
    except pytesseract.TesseractNotFoundError:
        raise WorkbenchError(
            "The text check needs the tesseract program: install tesseract-ocr "
            "(apt install tesseract-ocr, or brew install tesseract)."
        ) from None
    return [line for line in (_normal(raw) for raw in re.split(r"\n", text)) if line]
