"""Script detection, font lookup (system, $WORKBENCH_FONTS, none) and text fitting."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _skips import require
from PIL import Image, ImageDraw, ImageFont, features

from workbench.errors import FontMissingError
from workbench.imaging.fonts import (
    FontLibrary,
    default_library,
    draw_lines,
    fit_text,
    font_for,
    line_pitch,
    script_of,
)

JAPANESE = "東京へようこそ"
KOREAN = "서울에 오신 것을 환영합니다"
CHINESE = "欢迎来到北京"
ARABIC = "مرحبا بالعالم"
DEVANAGARI = "नमस्ते दुनिया"


def has_font(text: str) -> bool:
    return default_library().face_for(text) is not None


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("MOVE FORWARD", "latin"),
        ("Crème brûlée", "latin"),
        ("2025 — 50% off!", "latin"),
        (JAPANESE, "japanese"),
        ("カタカナ", "japanese"),
        (KOREAN, "korean"),
        (CHINESE, "han"),
        (ARABIC, "arabic"),
        (DEVANAGARI, "devanagari"),
        ("שלום", "hebrew"),
        ("Привет", "cyrillic"),
        ("SALE تخفيض", "arabic"),
        ("Tokyo 東京", "han"),
    ],
)
def test_script_of(text: str, script: str) -> None:
    assert script_of(text) == script


def test_latin_font_is_a_system_font_when_installed() -> None:
    require(has_font("Hello"), "no Latin system font (install fonts-noto-core)")
    font = font_for("Hello", 40)
    assert isinstance(font, ImageFont.FreeTypeFont)
    assert font.size == 40
    assert "Bold" in font_for("Hello", 40, bold=True).getname()[1]


@pytest.mark.parametrize(
    ("text", "face"),
    [(JAPANESE, "JP"), (KOREAN, "KR"), (CHINESE, "SC")],
)
def test_cjk_text_gets_the_right_face_of_the_collection(text: str, face: str) -> None:
    require(has_font(text), "no CJK font installed (install fonts-noto-cjk)")
    family = font_for(text, 32).getname()[0]
    if "CJK" in family:  # Noto Sans CJK: one .ttc, one face per region
        assert family.endswith(f" {face}")


@pytest.mark.parametrize("text", [ARABIC, DEVANAGARI])
def test_complex_scripts_are_shaped_with_raqm(text: str) -> None:
    require(has_font(text), f"no font for {script_of(text)} (install fonts-noto-core)")
    require(features.check("raqm"), "Pillow has no libraqm here")
    font = font_for(text, 40)
    assert font.layout_engine == ImageFont.Layout.RAQM
    # Shaping changes the glyphs: joined Arabic letters, Devanagari conjuncts and vowel signs.
    basic = ImageFont.truetype(font.path, 40, index=font.index, layout_engine=ImageFont.Layout.BASIC)
    shaped, unshaped = font.getmask(text), basic.getmask(text)
    assert (shaped.size, bytes(shaped)) != (unshaped.size, bytes(unshaped))


def test_missing_font_names_the_script_and_the_package(tmp_path: Path) -> None:
    library = FontLibrary([tmp_path], system=False)
    with pytest.raises(FontMissingError) as caught:
        library.font_for(DEVANAGARI, 40)
    assert caught.value.script == "devanagari"
    assert str(caught.value) == (
        "No font for Devanagari text is installed: install Debian's fonts-noto-core "
        "(apt-get install fonts-noto-core) or put a .ttf/.otf file in $WORKBENCH_FONTS."
    )
    with pytest.raises(FontMissingError, match=r"Japanese text .* fonts-noto-cjk") as caught:
        library.font_for(JAPANESE, 40)
    assert caught.value.script == "japanese"


def test_missing_shaping_is_a_missing_font_error() -> None:
    library = FontLibrary(system=True, shaping=False)
    with pytest.raises(FontMissingError, match=r"^Arabic text needs shaping.*libraqm") as caught:
        library.font_for(ARABIC, 40)
    assert caught.value.script == "arabic"


def test_latin_falls_back_to_pillows_own_font(tmp_path: Path) -> None:
    font = FontLibrary([tmp_path], system=False).font_for("MOVE FORWARD", 48)
    image = Image.new("L", (600, 100))
    ImageDraw.Draw(image).text((10, 10), "MOVE FORWARD", font=font, fill=255)
    box = image.getbbox()
    assert box is not None and box[3] - box[1] > 20  # drawn at about the size asked for


def test_workbench_fonts_folder_is_searched_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require(has_font(DEVANAGARI), "no Devanagari font to copy (install fonts-noto-core)")
    source = Path(font_for(DEVANAGARI, 20).path)
    shutil.copy(source, tmp_path / source.name)
    monkeypatch.setenv("WORKBENCH_FONTS", str(tmp_path))
    assert Path(font_for(DEVANAGARI, 20).path).parent == tmp_path
    # A folder of only that font still finds nothing for Japanese without the system's fonts.
    with pytest.raises(FontMissingError):
        FontLibrary([tmp_path], system=False).font_for(JAPANESE, 20)


def test_mixed_latin_and_arabic_gets_a_font_with_both() -> None:
    text = "SALE تخفيض"
    require(has_font(text), "no font covering Latin and Arabic (install fonts-dejavu-core)")
    from workbench.imaging.fonts import _covers

    face = default_library().face_for(text)
    assert face is not None and _covers(face.path, face.index, "SALEتخفيض")


DRAW = ImageDraw.Draw(Image.new("RGB", (1, 1)))


def _height(font: ImageFont.FreeTypeFont, lines: list[str]) -> int:
    ascent, descent = font.getmetrics()
    return line_pitch(font) * (len(lines) - 1) + ascent + descent


def test_fit_text_fits_the_box_and_keeps_every_word() -> None:
    text = "The new Aero runner is lighter than ever and built for the long way home"
    box = (0, 0, 600, 200)
    font, lines = fit_text(DRAW, text, box, 120)
    assert " ".join(lines) == text
    assert len(lines) > 1
    assert all(DRAW.textlength(line, font=font) <= 600 for line in lines)
    assert _height(font, lines) <= 200
    # The next size up would not fit: the text is as big as the box allows.
    bigger, bigger_lines = fit_text(DRAW, text, box, font.size)
    assert bigger.size == font.size


def test_fit_text_shrinks_longer_text_and_grows_in_bigger_boxes() -> None:
    short, _ = fit_text(DRAW, "RUN", (0, 0, 800, 200), 300)
    long, _ = fit_text(DRAW, "RUN FASTER THAN EVER BEFORE", (0, 0, 800, 200), 300)
    wide, _ = fit_text(DRAW, "RUN FASTER THAN EVER BEFORE", (0, 0, 1600, 400), 300)
    assert short.size > long.size
    assert wide.size > long.size
    assert short.size <= 300


def test_fit_text_breaks_japanese_between_characters() -> None:
    text = "新しい季節の味をお届けします"
    require(has_font(text), "no CJK font installed (install fonts-noto-cjk)")
    font, lines = fit_text(DRAW, text, (0, 0, 300, 400), 120)
    assert "".join(lines) == text
    assert len(lines) > 1
    assert all(DRAW.textlength(line, font=font) <= 300 for line in lines)


def test_fit_text_never_cuts_a_word_that_is_too_long() -> None:
    word = "Supercalifragilisticexpialidocious"
    font, lines = fit_text(DRAW, word, (0, 0, 60, 40), 40, min_size=10)
    assert "".join(lines) == word


def test_draw_lines_draws_inside_the_box() -> None:
    image = Image.new("L", (800, 300))
    draw = ImageDraw.Draw(image)
    box = (100, 50, 700, 250)
    font, lines = fit_text(draw, "MOVE FORWARD", box, 200, bold=True)
    used = draw_lines(draw, lines, font, box, fill=255)
    ink = image.getbbox()
    assert ink is not None
    assert ink[0] >= box[0] - 2 and ink[2] <= box[2] + 2
    assert ink[1] >= box[1] - 2 and ink[3] <= box[3] + 2
    assert used[0] <= ink[0] + 8 and used[2] >= ink[2] - 8


def test_require_skips_here_and_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    require(True, "never raised")
    with pytest.raises(pytest.skip.Exception, match="no such font"):
        require(False, "no such font")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no such font"):
        require(False, "no such font")


def test_symbols_in_a_text_choose_a_face_that_has_them():
    from workbench.imaging.fonts import _covers, font_for

    font = font_for("Shop now →", 32)
    require(_covers(font.path, 0, "→"), "no installed font has the arrow '→' (fonts-dejavu-core has it)")


def test_scripts_come_from_fonttools_and_the_micro_sign_is_latin() -> None:
    from workbench.imaging.fonts import font_for, script_of

    assert script_of("5 µm FILTER") == "latin"  # µ is common to every script: no "Micro" fonts
    assert script_of("ქართული") == "georgian" and script_of("Ελληνικά") == "greek"
    font = font_for("5 µm FILTER", 40)
    assert font.getmask("µ").getbbox() is not None  # a real glyph, not an empty box
