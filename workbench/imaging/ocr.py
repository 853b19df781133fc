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

import itertools
import re
import shutil
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from workbench.errors import WorkbenchError

__all__ = [
    "SCRIPT_LANGS",
    "OCRLanguageError",
    "accuracy",
    "available_languages",
    "check_texts",
    "edit_distance",
    "find_text_regions",
    "lang_for",
    "ocr_available",
    "read_lines",
    "require_languages",
]


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
    start = starts[end]
    if start == end:
        return previous[end], ""
    # Whole words: a match that starts or ends inside a word takes the rest of that word, so
    # "SSUMMER SALEE" or "150% OFF" is not a perfect read of "SUMMER SALE" or "50% OFF";
    # and a neighbouring word on the same line that reads as a word counts too ("NIGHT
    # MARKET" for "MARKET"), while stray marks (a dot, a bar read from a frame) do not.
    while start > 0 and not read[start - 1].isspace() and not expected[:1].isspace():
        start -= 1
    while end < n and not read[end].isspace() and not expected[-1:].isspace():
        end += 1
    left, right = read[:start].split(), read[end:].split()
    if left and _wordlike(left[-1]):
        start = read.rindex(left[-1], 0, start)
    if right and _wordlike(right[0]):
        end = read.index(right[0], end) + len(right[0])
    span = read[start:end]
    return edit_distance(expected, span), span


def _wordlike(word: str) -> bool:
    """A word of text, not a stray mark: two or more letters or digits, mostly letters or digits."""
    alnum = sum(ch.isalnum() for ch in word)
    return alnum >= 2 and alnum >= 0.75 * len(word)


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


# ISO 15924 script (fontTools.unicodedata) → tesseract's language pack for it.
SCRIPT_LANGS = {
    "Latn": "eng",
    "Hang": "kor",
    "Hira": "jpn",
    "Kana": "jpn",
    "Hani": "chi_sim",
    "Arab": "ara",
    "Deva": "hin",
    "Hebr": "heb",
    "Thai": "tha",
    "Cyrl": "rus",
    "Grek": "ell",
    "Geor": "kat",
    "Armn": "hye",
    "Beng": "ben",
    "Taml": "tam",
    "Telu": "tel",
    "Knda": "kan",
    "Mlym": "mal",
    "Gujr": "guj",
    "Guru": "pan",
    "Orya": "ori",
    "Sinh": "sin",
    "Ethi": "amh",
    "Khmr": "khm",
    "Laoo": "lao",
    "Mymr": "mya",
    "Tibt": "bod",
    "Thaa": "div",
    "Syrc": "syr",
}
_PACK_NAMES = {
    "eng": "English", "kor": "Korean", "jpn": "Japanese", "chi_sim": "Chinese (simplified)",
    "chi_tra": "Chinese (traditional)", "ara": "Arabic", "hin": "Hindi (Devanagari)", "heb": "Hebrew",
    "tha": "Thai", "rus": "Russian (Cyrillic)", "ell": "Greek", "kat": "Georgian", "hye": "Armenian",
    "ben": "Bengali", "tam": "Tamil", "tel": "Telugu", "kan": "Kannada", "mal": "Malayalam",
    "guj": "Gujarati", "pan": "Punjabi (Gurmukhi)", "sin": "Sinhala", "amh": "Amharic (Ethiopic)",
    "khm": "Khmer", "lao": "Lao", "mya": "Burmese", "bod": "Tibetan", "fra": "French", "deu": "German",
    "spa": "Spanish", "pol": "Polish", "por": "Portuguese", "ita": "Italian", "ces": "Czech", "nld": "Dutch",
}  # fmt: skip


class OCRLanguageError(WorkbenchError):
    """Tesseract has no language pack for a text's script: the check cannot read it."""


def lang_for(text: str) -> str:
    """The tesseract language(s) that read ``text``, from its scripts (``fontTools.unicodedata``).

    Han with kana is Japanese, Han with Hangul Korean; Latin letters beside another script add
    English. Latin letters English lacks add the packs that have them (French for "É", Polish
    for "Ł", ...). Digits and punctuation alone read as English.

    Example:
        >>> lang_for("SUMMER SALE"), lang_for("세일 50%"), lang_for("セール"), lang_for("SALE 세일")
        ('eng', 'kor', 'jpn', 'kor+eng')
    """
    from fontTools import unicodedata as ft_unicodedata

    scripts = {ft_unicodedata.script(ch) for ch in text if ch.isalpha()}
    langs: list[str] = []
    if scripts & {"Hira", "Kana"}:
        langs.append("jpn")
    elif "Hang" in scripts:
        langs.append("kor")
    elif "Hani" in scripts:
        langs.append("chi_sim")
    for script in sorted(scripts - {"Latn", "Hani", "Hira", "Kana", "Hang"}):
        lang = SCRIPT_LANGS.get(script)
        if lang and lang not in langs:
            langs.append(lang)
    if "Latn" in scripts:
        langs.extend(_latin_langs(text))
    if "Latn" in scripts or not langs:
        langs.append("eng")
    return "+".join(langs)


# Letters beyond English's, by the tesseract pack that knows them (English alone reads "ÉTÉ" as
# "ETE" and "Ł" as "L"). A text's accented letters pick the fewest packs that cover them.
_LATIN_LETTERS = {
    "fra": "éèêëàâçœæîïôûùüÿ",
    "deu": "äöüß",
    "spa": "ñáéíóúü¡¿",
    "pol": "ąćęłńóśźż",
    "por": "ãõáâàçéêíóôú",
    "ita": "àèéìíòóù",
    "ces": "áčďéěíňóřšťúůýž",
    "nld": "ëïéèáóú",
}


def _latin_langs(text: str) -> list[str]:
    """The packs for ``text``'s accented Latin letters (fewest that cover them; English's own none)."""
    wanted = {ch for ch in text.lower() if ch.isalpha() and not ch.isascii() and ch != "µ"}
    chosen: list[str] = []
    while wanted:
        lang, letters = max(_LATIN_LETTERS.items(), key=lambda item: len(wanted & set(item[1])))
        if not wanted & set(letters):
            break  # letters no pack here lists: English reads them as well as any
        chosen.append(lang)
        wanted -= set(letters)
    return chosen


_LANGUAGES: set[str] | None = None


def available_languages() -> set[str]:
    """The language packs tesseract has installed (empty without tesseract)."""
    global _LANGUAGES
    if _LANGUAGES is None:
        try:
            import pytesseract

            _LANGUAGES = set(pytesseract.get_languages(config=""))
        except Exception:  # no pytesseract or no tesseract program: _lines_of says how to install
            return set()
    return _LANGUAGES


def require_languages(lang: str, text: str | None = None) -> None:
    """Raise one sentence naming the pack to install when tesseract lacks any of ``lang``."""
    have = available_languages()
    if not have:
        return  # tesseract itself is missing: reading says so, with how to install it
    missing = [code for code in lang.split("+") if code not in have]
    if missing:
        names = ", ".join(f"{_PACK_NAMES.get(code, code)} ({code})" for code in missing)
        packages = " ".join("tesseract-ocr-" + code.replace("_", "-") for code in missing)
        what = f" to check {text!r}" if text else ""
        raise OCRLanguageError(
            f"Tesseract has no {names} data{what}: install it (apt-get install {packages}), "
            "or pass lang= for the packs you have."
        )


def _crop(image: Image.Image, box: Sequence[float], lines: int) -> Image.Image:
    """A text's region with a margin, scaled so a line of it is about 64 px tall for tesseract."""
    x0, y0, x1, y1 = (float(v) for v in box)
    height = max(1.0, y1 - y0)
    pad = max(8.0, 0.35 * height / max(1, lines))
    x0, y0 = max(0, round(x0 - pad)), max(0, round(y0 - pad))
    x1, y1 = min(image.width, round(x1 + pad)), min(image.height, round(y1 + pad))
    crop = image.crop((x0, y0, max(x0 + 1, x1), max(y0 + 1, y1)))
    factor = min(4.0, max(0.25, 64 * max(1, lines) / height))
    if abs(factor - 1) > 0.05:
        size = (max(1, round(crop.width * factor)), max(1, round(crop.height * factor)))
        crop = crop.resize(size, Image.Resampling.LANCZOS)
    return crop


def _region_preparations(crop: Image.Image, lines: int) -> Iterator[tuple[Image.Image, int]]:
    import cv2

    if "A" in crop.mode:
        rgba = crop.convert("RGBA")
        white = Image.new("RGB", crop.size, "white")
        white.paste(rgba, mask=rgba.getchannel("A"))
        crop = white
    grey = ImageOps.grayscale(crop)
    psm = 7 if lines == 1 else 6
    yield grey, psm
    inverted = ImageOps.invert(grey)
    yield inverted, psm
    _, otsu = cv2.threshold(np.asarray(grey), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if otsu.mean() < 128:  # keep dark ink on light paper
        otsu = 255 - otsu
    yield Image.fromarray(otsu), psm
    yield grey, 6 if psm == 7 else 3
    yield Image.fromarray(otsu), 11


def find_text_regions(image: Image.Image, *, limit: int = 12) -> list[tuple[int, int, int, int]]:
    """Boxes that look like lines of text (for images whose layout is unknown: a service's).

    Strong local contrast (a morphological gradient), joined along lines, in boxes wider than
    tall and of a text's height; largest first.
    """
    import cv2

    grey = np.asarray(ImageOps.grayscale(image.convert("RGB")))
    scale = min(1.0, 1024 / max(grey.shape))
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
    h, w = small.shape
    gradient = cv2.morphologyEx(
        small, cv2.MORPH_GRADIENT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    )
    _, ink = cv2.threshold(gradient, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    joined = cv2.morphologyEx(
        ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (max(9, w // 40), 3))
    )
    count, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    boxes = []
    for x, y, bw, bh, area in stats[1:count]:
        if bh < max(6, h * 0.012) or bh > h * 0.35 or bw < bh * 1.2 or area < 0.3 * bw * bh * 0.5:
            continue
        boxes.append((round(x / scale), round(y / scale), round((x + bw) / scale), round((y + bh) / scale)))
    boxes = _join_words(boxes)
    boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    return boxes[:limit]


def _join_words(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Boxes of one line joined: big type's word gap splits a line ("NIGHT" | "MARKET"), and a
    word read alone would look like a whole text."""
    boxes = sorted(boxes)
    joined = True
    while joined:
        joined = False
        for i, a in enumerate(boxes):
            for j in range(i + 1, len(boxes)):
                b = boxes[j]
                ha, hb = a[3] - a[1], b[3] - b[1]
                overlap = min(a[3], b[3]) - max(a[1], b[1])
                gap = max(a[0], b[0]) - min(a[2], b[2])
                if (
                    overlap >= 0.6 * min(ha, hb)
                    and gap <= 1.0 * max(ha, hb)
                    and max(ha, hb) <= 1.6 * min(ha, hb)
                ):
                    boxes[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del boxes[j]
                    joined = True
                    break
            if joined:
                break
    return boxes


def _region_for(text: str, regions: Sequence[Any] | None) -> list[tuple[Sequence[float], int]]:
    """The laid boxes (with their line counts) that hold ``text``, from a draft's or overlay's record."""
    found = []
    for region in regions or ():
        laid = region.get("text", "") if isinstance(region, dict) else ""
        box = region.get("box") if isinstance(region, dict) else None
        if box and (laid == text or text in laid.split("\n")):
            found.append((box, max(1, len(laid.split("\n")), region.get("lines", 1) or 1)))
    return found


def check_texts(
    image: Image.Image,
    texts: Iterable[Any],
    *,
    lang: str | None = None,
    regions: Sequence[Any] | None = None,
) -> list[dict[str, Any]]:
    """Read each expected text back; one dict per text: ``text``, ``role``, ``read``, ``accuracy``
    and ``lang``.

    Args:
        image: the image to read.
        texts: strings, ``TextItem`` objects or dicts with ``text`` (and ``role``).
        lang: tesseract language(s) for every text, e.g. ``eng+deu``; by default each text is
            read in the language of its script (``lang_for``).
        regions: where the texts were laid (``[{"text", "box": [l, t, r, b]}]``, as a draft's or
            an overlay's recipe records them): each text is read in its own region first. Without
            them, text-like regions are found first, then the whole image is read.

    Raises:
        OCRLanguageError: tesseract lacks the language pack a text needs (one sentence naming it).
    """
    items = _text_items(texts)
    if not items:
        return []
    langs = [lang or lang_for(text) for text, _role in items]
    for (text, _role), code in zip(items, langs, strict=True):
        require_languages(code, text)
    results = []
    whole: dict[str, tuple[list[str], list[list[str]]]] = {}
    passes: dict[str, Iterator[tuple[Image.Image, int]]] = {}
    found_regions: list[tuple[int, int, int, int]] | None = None
    found_lines: dict[str, tuple[list[str], list[list[str]]]] = {}
    for (text, role), code in zip(items, langs, strict=True):
        best = (0.0, "")
        boxes = _region_for(text, regions)
        lines = max(1, len(text.split("\n")))
        if not boxes and not regions:
            # No layout: the text-like regions, each read once (two quick passes) for every text.
            if found_regions is None:
                found_regions = find_text_regions(image, limit=8)
            if code not in found_lines:
                found_lines[code] = ([], [])
                for box in found_regions:
                    crop = _crop(image, box, 1)
                    for prepared, psm in itertools.islice(_region_preparations(crop, 1), 2):
                        group = _lines_of(prepared, code, psm)
                        found_lines[code][1].append(group)
                        found_lines[code][0].extend(
                            line for line in group if line not in found_lines[code][0]
                        )
            best = _best(text, *found_lines[code])
        for box, count in boxes:
            crop = _crop(image, box, max(lines, count))
            group_lines: list[str] = []
            for prepared, psm in _region_preparations(crop, max(lines, count)):
                group = _lines_of(prepared, code, psm)
                group_lines.extend(line for line in group if line not in group_lines)
                found = _best(text, group_lines, [group, group_lines])
                if found[0] > best[0]:
                    best = found
                if best[0] >= 1.0:
                    break
            if best[0] >= 1.0:
                break
        if best[0] < 1.0 and not _region_for(text, regions):
            # No record of where it was laid: read the whole image too, in several preparations,
            # continuing where an earlier text's reading stopped until this one reads exactly.
            if code not in whole:
                whole[code] = ([], [])
                passes[code] = _preparations(image)
            for prepared, psm in passes[code]:
                group = _lines_of(prepared, code, psm)
                whole[code][1].append(group)
                whole[code][0].extend(line for line in group if line not in whole[code][0])
                if _best(text, whole[code][0], whole[code][1])[0] >= 1.0:
                    break
            found = _best(text, *whole[code])
            if found[0] > best[0]:
                best = found
        results.append(
            {"text": text, "role": role, "read": best[1], "accuracy": round(best[0], 4), "lang": code}
        )
    return results


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
