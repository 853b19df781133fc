"""Fonts: which script a text is in, which installed font covers it, and how big it fits a box.

``font_for(text, size)`` finds an installed font that covers the script of ``text`` (Latin, Han,
Japanese, Korean, Arabic, Devanagari, ...): first in the folders named by ``$WORKBENCH_FONTS``
(``os.pathsep``-separated), then well-known files under the system font folders (Noto Sans, Noto
Sans CJK with the right face of the ``.ttc`` for Japanese, Korean or Chinese, DejaVu, Liberation),
then whatever fontconfig lists for the script's language. Scripts that need shaping (Arabic,
Devanagari, ...) are laid out with libraqm. When nothing covers the script, ``FontMissingError``
says what to install.

``fit_text(draw, text, box, max_size)`` wraps and shrinks a text until it fits a box;
``draw_lines`` draws the result. A ``FontLibrary`` with its own folders (and no system fonts)
makes the lookup testable and lets later work pin a brand's fonts.

Example:
    >>> font, lines = fit_text(draw, "MOVE FORWARD", (40, 40, 984, 200), 160, bold=True)
    >>> draw_lines(draw, lines, font, (40, 40, 984, 200), fill="black")
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fontTools import unicodedata as ft_unicodedata
from PIL import ImageDraw, ImageFont, features

from workbench.errors import FontMissingError

__all__ = [
    "FontFace",
    "FontLibrary",
    "default_library",
    "draw_lines",
    "fit_text",
    "font_for",
    "line_pitch",
    "needs_shaping",
    "script_name",
    "script_of",
]

FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
ENV_VAR = "WORKBENCH_FONTS"

# Scripts whose glyphs must be shaped (joined, reordered, combined) or laid out right to left.
SHAPED_SCRIPTS = frozenset(
    {
        "arabic", "hebrew", "syriac", "thaana", "nko", "devanagari", "bengali", "gurmukhi",
        "gujarati", "oriya", "tamil", "telugu", "kannada", "malayalam", "sinhala", "thai", "lao",
        "khmer", "myanmar", "tibetan",
    }
)  # fmt: skip

_DISPLAY = {"han": "Chinese (Han)", "nko": "N'Ko"}
_CJK = frozenset({"han", "japanese", "korean"})

_LATIN_LIKE = frozenset({"latin", "greek", "cyrillic"})

# Well-known font files per script, best first: (file name, .ttc face tag). Bold files are
# listed by the same rule with "Regular" replaced by "Bold".
_NOTO_CJK = (
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKjp-Regular.otf",
    "NotoSansCJKkr-Regular.otf",
    "NotoSansCJKsc-Regular.otf",
    "NotoSansCJKtc-Regular.otf",
)
_KNOWN_FILES: dict[str, tuple[str, ...]] = {
    "latin": ("NotoSans-Regular.ttf", "DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf",
              "arial.ttf", "Helvetica.ttc", "FreeSans.ttf"),
    "greek": ("NotoSans-Regular.ttf", "DejaVuSans.ttf", "LiberationSans-Regular.ttf", "arial.ttf"),
    "cyrillic": ("NotoSans-Regular.ttf", "DejaVuSans.ttf", "LiberationSans-Regular.ttf", "arial.ttf"),
    "han": (*_NOTO_CJK, "NotoSansSC-Regular.otf", "NotoSansSC-Regular.ttf", "wqy-zenhei.ttc",
            "wqy-microhei.ttc", "DroidSansFallbackFull.ttf", "PingFang.ttc", "msyh.ttc"),
    "japanese": (*_NOTO_CJK, "NotoSansJP-Regular.otf", "NotoSansJP-Regular.ttf", "ipagp.ttf",
                 "Hiragino Sans GB.ttc", "msgothic.ttc"),
    "korean": (*_NOTO_CJK, "NotoSansKR-Regular.otf", "NotoSansKR-Regular.ttf", "NanumGothic.ttf",
               "AppleSDGothicNeo.ttc", "malgun.ttf"),
    "arabic": ("NotoSansArabic-Regular.ttf", "NotoNaskhArabic-Regular.ttf", "NotoKufiArabic-Regular.ttf",
               "DejaVuSans.ttf", "arial.ttf"),
    "hebrew": ("NotoSansHebrew-Regular.ttf", "DejaVuSans.ttf", "arial.ttf"),
    "devanagari": ("NotoSansDevanagari-Regular.ttf", "Lohit-Devanagari.ttf", "mangal.ttf"),
}  # fmt: skip
_TTC_TAGS = {"han": ("SC", "TC", "HK", "JP", "KR"), "japanese": ("JP",), "korean": ("KR",)}
# fontconfig language per script, for scripts the tables above do not settle.
_FC_LANG = {
    "han": "zh-cn", "japanese": "ja", "korean": "ko", "arabic": "ar", "hebrew": "he",
    "devanagari": "hi", "bengali": "bn", "tamil": "ta", "telugu": "te", "kannada": "kn",
    "malayalam": "ml", "gujarati": "gu", "gurmukhi": "pa", "oriya": "or", "sinhala": "si",
    "thai": "th", "lao": "lo", "khmer": "km", "myanmar": "my", "tibetan": "bo", "armenian": "hy",
    "georgian": "ka", "ethiopic": "am", "greek": "el", "cyrillic": "ru", "latin": "en",
}  # fmt: skip
# A few letters that any font for the script has.
_SAMPLES = {
    "latin": "Aaeg", "greek": "Ωα", "cyrillic": "Жж", "han": "永中", "japanese": "あア永",
    "korean": "한글", "arabic": "بع", "hebrew": "שא", "devanagari": "कअ",
}  # fmt: skip


def _system_dirs() -> list[Path]:
    home = Path.home()
    dirs = [
        Path("/usr/share/fonts"),
        Path("/usr/local/share/fonts"),
        home / ".local/share/fonts",
        home / ".fonts",
    ]
    if sys.platform == "darwin":
        dirs += [Path("/System/Library/Fonts"), Path("/Library/Fonts"), home / "Library/Fonts"]
    if sys.platform == "win32":
        dirs.append(Path(os.environ.get("WINDIR", r"C:\Windows")) / "Fonts")
    return dirs


# -- scripts ---------------------------------------------------------------------------------


# ISO 15924 codes (fontTools.unicodedata) whose font-lookup name is not their English name.
_ISO_SCRIPTS = {
    "Latn": "latin",
    "Grek": "greek",
    "Cyrl": "cyrillic",
    "Hani": "han",
    "Bopo": "han",
    "Hira": "japanese",
    "Kana": "japanese",
    "Hrkt": "japanese",
    "Hang": "korean",
}
_COMMON = frozenset({"Zyyy", "Zinh", "Zzzz"})  # common and inherited: any font's (µ, ª, marks)


@functools.lru_cache(maxsize=4096)
def _char_script(ch: str) -> str | None:
    """The script of one character (by ``fontTools.unicodedata``), or ``None`` for digits, spaces,
    punctuation, symbols and letters common to every script (the micro sign µ)."""
    category = unicodedata.category(ch)
    if category[0] != "L" and category != "Nl":
        return None
    code = ft_unicodedata.script(ch)
    if code in _COMMON:
        return None
    if code in _ISO_SCRIPTS:
        return _ISO_SCRIPTS[code]
    return ft_unicodedata.script_name(code, default=code).lower().replace(" ", "_")


@functools.lru_cache(maxsize=2048)
def script_of(text: str) -> str:
    """Name the script a text needs: ``latin``, ``han``, ``japanese``, ``korean``, ``arabic``, ...

    Han with any kana is ``japanese``, Han with Hangul ``korean``. When a text mixes Latin with
    another script the other one wins (its fonts usually carry Latin too); digits, spaces and
    punctuation alone count as ``latin``.

    Example:
        >>> script_of("東京へようこそ"), script_of("नमस्ते"), script_of("MOVE FORWARD")
        ('japanese', 'devanagari', 'latin')
    """
    counts: dict[str, int] = {}
    for ch in text:
        script = _char_script(ch)
        if script:
            counts[script] = counts.get(script, 0) + 1
    if "han" in counts or "japanese" in counts or "korean" in counts:
        if "japanese" in counts:
            return "japanese"
        if "korean" in counts:
            return "korean"
        return "han"
    others = {s: c for s, c in counts.items() if s != "latin"}
    if others:
        return max(sorted(others), key=lambda s: others[s])
    return "latin"


def script_name(script: str) -> str:
    """The script's name for people: ``Devanagari``, ``Chinese (Han)``."""
    return _DISPLAY.get(script, script.replace("_", " ").title())


def needs_shaping(script: str) -> bool:
    """Whether the script's text must be shaped by libraqm to read correctly."""
    return script in SHAPED_SCRIPTS


def _package_for(script: str) -> str:
    return "fonts-noto-cjk" if script in _CJK else "fonts-noto-core"


# -- font files ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FontFace:
    """One face of a font file: its path and, for a collection (``.ttc``), its index."""

    path: str
    index: int = 0


def _bold_name(name: str) -> str:
    """The bold sibling of a regular font file's name: NotoSans-Regular.ttf → NotoSans-Bold.ttf."""
    if "Regular" in name:
        return name.replace("Regular", "Bold")
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}bd.{suffix}" if stem.islower() else f"{stem}-Bold{dot}{suffix}"


@functools.lru_cache(maxsize=256)
def _faces_of(path: str) -> tuple[str, ...]:
    """The family names of every face in a font file (one for .ttf/.otf)."""
    names = []
    for index in range(64):
        try:
            font = ImageFont.truetype(path, 12, index=index, layout_engine=ImageFont.Layout.BASIC)
        except OSError:
            break
        names.append(" ".join(str(part) for part in font.getname() if part))
        if not path.lower().endswith((".ttc", ".otc")):
            break
    return tuple(names)


def _face_index(path: str, script: str) -> int:
    """Pick the face of a collection that suits the script (the JP face for Japanese...)."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    names = _faces_of(path)
    for tag in _TTC_TAGS.get(script, ()):
        for index, name in enumerate(names):
            if f" {tag} " in f" {name} " and "Mono" not in name:
                return index
    for index, name in enumerate(names):
        if "Mono" not in name:
            return index
    return 0


class _Coverage:
    """Which characters one face has glyphs for (compared with its missing-glyph box), asked
    once per character: labels of a contact sheet each have other letters, and loading the face
    for every new set of letters was most of a sheet's font time."""

    def __init__(self, path: str, index: int) -> None:
        try:
            self.font: ImageFont.FreeTypeFont | None = ImageFont.truetype(
                path, 24, index=index, layout_engine=ImageFont.Layout.BASIC
            )
        except OSError:
            self.font = None
            return
        missing = self.font.getmask("\U0010fffd")
        self.missing = (missing.size, bytes(missing))
        self.known: dict[str, bool] = {}

    def covers(self, chars: str) -> bool:
        if self.font is None:
            return False
        for ch in chars:
            found = self.known.get(ch)
            if found is None:
                mask = self.font.getmask(ch)
                found = self.known[ch] = (mask.size, bytes(mask)) != self.missing
            if not found:
                return False
        return True


@functools.lru_cache(maxsize=256)
def _coverage(path: str, index: int) -> _Coverage:
    return _Coverage(path, index)


_COVERAGE_LOCK = threading.Lock()


def _covers(path: str, index: int, chars: str) -> bool:
    """Whether every character has a glyph in the face (compared with the missing-glyph box)."""
    with _COVERAGE_LOCK:  # one face's glyph cache, filled from report threads too
        return _coverage(path, index).covers(chars)


@functools.lru_cache(maxsize=512)
def _load(path: str, index: int, size: int, raqm: bool) -> ImageFont.FreeTypeFont:
    engine = ImageFont.Layout.RAQM if raqm else ImageFont.Layout.BASIC
    return ImageFont.truetype(path, size, index=index, layout_engine=engine)


def _fc_list(lang: str) -> list[str]:
    """Font files fontconfig lists for a language; empty when fc-list is absent."""
    exe = shutil.which("fc-list")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, f":lang={lang}", "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.strip().rstrip(":") for line in out.splitlines() if line.strip()})


class FontLibrary:
    """Finds fonts in a set of folders, optionally with the system's fonts after them.

    Args:
        dirs: folders searched first (recursively), in order.
        system: also search the system font folders and fontconfig.
        shaping: whether libraqm is available to shape complex scripts; ``None`` asks Pillow.

    Example:
        >>> FontLibrary([tmp_path], system=False).font_for("नमस्ते", 40)
        Traceback (most recent call last):
        FontMissingError: No font for Devanagari text is installed: ...
    """

    def __init__(
        self, dirs: Iterable[str | os.PathLike[str]] = (), *, system: bool = True, shaping: bool | None = None
    ) -> None:
        self.dirs = tuple(Path(d).expanduser() for d in dirs)
        self.system = system
        self.shaping = features.check("raqm") if shaping is None else shaping
        self._faces: dict[tuple[str, bool, str], FontFace | None] = {}

    def __repr__(self) -> str:
        return f"FontLibrary({[str(d) for d in self.dirs]!r}, system={self.system}, shaping={self.shaping})"

    @functools.cached_property
    def _user_files(self) -> list[str]:
        return _font_files(self.dirs)

    @functools.cached_property
    def _system_files(self) -> list[str]:
        return _font_files(_system_dirs()) if self.system else []

    @functools.cached_property
    def _by_name(self) -> dict[str, str]:
        by_name: dict[str, str] = {}
        for path in self._user_files + self._system_files:
            by_name.setdefault(os.path.basename(path), path)
        return by_name

    def _candidates(self, script: str, bold: bool) -> Iterable[FontFace]:
        """Font faces that may cover the script, best first."""
        seen: set[FontFace] = set()

        def faces(paths: Iterable[str]) -> Iterable[FontFace]:
            for path in paths:
                face = FontFace(path, _face_index(path, script))
                if face not in seen:
                    seen.add(face)
                    yield face

        user = sorted(self._user_files, key=lambda p: ("bold" in p.lower()) != bold)
        yield from faces(user)
        known = list(_KNOWN_FILES.get(script, ()))
        known += [
            f"NotoSans{script.title().replace('_', '')}-Regular.ttf",
            f"NotoSerif{script.title()}-Regular.ttf",
        ]
        names = [n for name in known for n in ((_bold_name(name), name) if bold else (name,))]
        yield from faces(self._by_name[n] for n in names if n in self._by_name)
        if self.system:
            lang = _FC_LANG.get(script)
            if lang:
                listed = [p for p in _fc_list(lang) if p.lower().endswith(FONT_SUFFIXES)]
                yield from faces(sorted(listed, key=lambda p: ("bold" in p.lower()) != bold))
            word = script.replace("_", "").lower()
            yield from faces(p for p in self._system_files if word in os.path.basename(p).lower())

    def face_for(self, text: str, *, bold: bool = False) -> FontFace | None:
        """The best installed face for ``text``, or ``None`` when no font covers its script."""
        script = script_of(text)
        # Every visible character counts, symbols too: "Shop now →" needs a face with the arrow.
        letters = "".join(sorted({ch for ch in text if not ch.isspace()}))
        key = (script, bold, letters)
        if key in self._faces:
            return self._faces[key]
        sample = _SAMPLES.get(script) or "".join(ch for ch in letters if _char_script(ch) == script)[:4]
        fallback = None
        for face in self._candidates(script, bold):
            if letters and _covers(face.path, face.index, letters):
                fallback = face
                break
            if fallback is None and _covers(face.path, face.index, sample):
                fallback = face
                if not letters:
                    break
        self._faces[key] = fallback
        return fallback

    def font_for(self, text: str, size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
        """A font of ``size`` pixels that covers the script of ``text``.

        Raises:
            FontMissingError: no installed font covers the script, or it needs shaping and
                Pillow has no libraqm.
        """
        size = max(1, int(size))
        script = script_of(text)
        if needs_shaping(script) and not self.shaping:
            raise FontMissingError(
                f"{script_name(script)} text needs shaping, which this Pillow cannot do: install libraqm "
                "(apt-get install libraqm0) and restart Python.",
                script=script,
            )
        face = self.face_for(text, bold=bold)
        if face is not None:
            return _load(face.path, face.index, size, self.shaping)
        if script == "latin":
            return ImageFont.load_default(size)  # type: ignore[return-value]
        where = f"${ENV_VAR}"
        raise FontMissingError(
            f"No font for {script_name(script)} text is installed: install Debian's {_package_for(script)} "
            f"(apt-get install {_package_for(script)}) or put a .ttf/.otf file in {where}.",
            script=script,
        )


def _font_files(dirs: Iterable[Path]) -> list[str]:
    files: list[str] = []
    for folder in dirs:
        if not folder.is_dir():
            continue
        for root, subdirs, names in os.walk(folder):
            subdirs.sort()
            files += [os.path.join(root, n) for n in sorted(names) if n.lower().endswith(FONT_SUFFIXES)]
    return files


@functools.lru_cache(maxsize=8)
def _library_for(extra: str) -> FontLibrary:
    return FontLibrary([d for d in extra.split(os.pathsep) if d])


def default_library() -> FontLibrary:
    """The library of ``$WORKBENCH_FONTS`` folders plus the system's fonts (one per setting)."""
    return _library_for(os.environ.get(ENV_VAR, ""))


def font_for(text: str, size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """A font of ``size`` pixels that covers the script of ``text``, from the default library.

    Raises:
        FontMissingError: no installed font covers the script (the message says what to install).

    Example:
        >>> font_for("こんにちは", 48).getname()
        ('Noto Sans CJK JP', 'Regular')
    """
    return default_library().font_for(text, size, bold=bold)


# -- layout ----------------------------------------------------------------------------------

# A CJK character, or a run of other non-space characters: lines may break between CJK characters.
_TOKEN = re.compile(
    r"\s+|[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+"
)
_NO_LINE_START = frozenset("、。，．,.!?！？：；:;）)」』】〕〉》ーゃゅょっャュョッぁぃぅぇぉァィゥェォ々")


def line_pitch(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, spacing: float = 1.12) -> int:
    """The distance between the tops of two lines of ``font``."""
    ascent, descent = font.getmetrics()
    return max(1, round((ascent + descent) * spacing))


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Words and CJK characters, each with whether a space precedes it."""
    tokens: list[tuple[str, bool]] = []
    space = False
    for match in _TOKEN.finditer(text):
        piece = match.group()
        if piece.isspace():
            space = bool(tokens)
            continue
        if tokens and not space and piece[0] in _NO_LINE_START:
            tokens[-1] = (tokens[-1][0] + piece, tokens[-1][1])
        else:
            tokens.append((piece, space))
        space = False
    return tokens


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: float
) -> list[str] | None:
    """Greedy line breaking; ``None`` when a single word is wider than ``width``."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for token, space in _tokens(paragraph):
            candidate = f"{line} {token}" if line and space else line + token
            if draw.textlength(candidate, font=font) <= width:
                line = candidate
                continue
            if draw.textlength(token, font=font) > width:
                return None
            if line:
                lines.append(line)
            line = token
        lines.append(line)
    return lines


def _hard_wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Break anywhere, for a word too long for the box at the smallest size."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for ch in paragraph:
            if line and draw.textlength(line + ch, font=font) > width:
                lines.append(line.rstrip())
                line = ch.lstrip()
            else:
                line += ch
        lines.append(line)
    return lines


def fit_text(
    draw: ImageDraw.ImageDraw,
    text: str,
    box: Sequence[float],
    max_size: int,
    *,
    bold: bool = False,
    min_size: int = 10,
    spacing: float = 1.12,
    max_lines: int | None = None,
    library: FontLibrary | None = None,
) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """Find the largest font size (≤ ``max_size``) at which ``text`` wraps to fit ``box``.

    Lines break between words, and between characters in Chinese and Japanese. The text is never
    changed or cut: when even ``min_size`` does not fit, long words are broken and the lines may
    overflow the box's height.

    Args:
        draw: the drawing the text will go on (for measuring).
        text: the exact text.
        box: (left, top, right, bottom) in pixels.
        max_size: the largest font size in pixels.
        bold: prefer a bold face.
        min_size: the smallest size to try.
        spacing: line pitch as a multiple of the font's height.
        max_lines: at most this many lines (when the size allows).
        library: where to find fonts; the default library when omitted.

    Returns:
        The font and the lines to draw (see ``draw_lines``).

    Raises:
        FontMissingError: no installed font covers the script of ``text``.
    """
    library = library or default_library()
    width = max(1.0, box[2] - box[0])
    height = max(1.0, box[3] - box[1])
    min_size = max(1, min(min_size, max_size))

    def attempt(size: int) -> tuple[ImageFont.FreeTypeFont, list[str]] | None:
        font = library.font_for(text, size, bold=bold)
        lines = _wrap(draw, text, font, width)
        if lines is None or (max_lines and len(lines) > max_lines):
            return None
        ascent, descent = font.getmetrics()
        used = line_pitch(font, spacing) * (len(lines) - 1) + ascent + descent
        return (font, lines) if used <= height else None

    low, high = min_size, max(min_size, int(max_size))
    best = attempt(low)
    if best is None:
        font = library.font_for(text, low, bold=bold)
        return font, _wrap(draw, text, font, width) or _hard_wrap(draw, text, font, width)
    # Largest fitting size, by bisection: fit(low) holds, and we look for the edge below high.
    while low < high:
        middle = (low + high + 1) // 2
        result = attempt(middle)
        if result is None:
            high = middle - 1
        else:
            low, best = middle, result
    return best


def draw_lines(
    draw: ImageDraw.ImageDraw,
    lines: Sequence[str],
    font: ImageFont.FreeTypeFont,
    box: Sequence[float],
    *,
    fill: object,
    align: str = "center",
    valign: str = "top",
    spacing: float = 1.12,
    stroke_width: int = 0,
    stroke_fill: object = None,
) -> tuple[int, int, int, int]:
    """Draw lines from ``fit_text`` inside ``box``; returns the box the text really used.

    Args:
        align: ``left``, ``center`` or ``right`` within the box.
        valign: ``top``, ``middle`` or ``bottom`` within the box.
    """
    pitch = line_pitch(font, spacing)
    ascent, descent = font.getmetrics()
    total = pitch * (len(lines) - 1) + ascent + descent
    left, top, right, bottom = box
    if valign == "middle":
        y = top + (bottom - top - total) / 2
    elif valign == "bottom":
        y = bottom - total
    else:
        y = top
    x, anchor = {"left": (left, "la"), "right": (right, "ra")}.get(align, ((left + right) / 2, "ma"))
    used = [int(right), int(y), int(left), int(y + total)]
    for line in lines:
        if line:
            draw.text(
                (x, y),
                line,
                font=font,
                fill=fill,
                anchor=anchor,
                stroke_width=stroke_width,
                stroke_fill=stroke_fill,
            )
            length = draw.textlength(line, font=font)
            start = {"la": x, "ra": x - length}.get(anchor, x - length / 2)
            used[0] = min(used[0], int(start))
            used[2] = max(used[2], int(start + length))
        y += pitch
    return used[0], used[1], used[2], used[3]
