"""The draft backend: exact sizes and modes, determinism, what it draws from the spec."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from _skips import require
from PIL import Image

from workbench.backends.base import ImageRequest, get_backend_class
from workbench.backends.draft import (
    DraftBackend,
    colours_in,
    parse_backdrop,
    parse_light,
    short_label,
    spec_from_prompt,
)
from workbench.errors import CapabilityError, FontMissingError, SpecError
from workbench.imaging.fonts import FontLibrary, default_library
from workbench.spec import Character, PromptSpec, TextItem, compose, size_for

BACKEND = DraftBackend()


def request_for(spec: PromptSpec, **options: object) -> ImageRequest:
    width, height = spec.size
    options.setdefault("quality", spec.quality)
    return ImageRequest(compose(spec), width, height, spec=spec, **options)  # type: ignore[arg-type]


def render(spec: PromptSpec, **options: object) -> Image.Image:
    result = BACKEND.generate(request_for(spec, **options))
    image = Image.open(io.BytesIO(result.images[0]))
    image.load()
    return image


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32)


def patch(array: np.ndarray, fx: float, fy: float, size: float = 0.03) -> np.ndarray:
    """The mean colour of a small square around (fx, fy), given as fractions of the image."""
    h, w = array.shape[:2]
    r = max(2, round(min(w, h) * size / 2))
    x, y = round(fx * w), round(fy * h)
    return array[max(0, y - r) : y + r, max(0, x - r) : x + r].reshape(-1, array.shape[2]).mean(axis=0)


# -- the contract ----------------------------------------------------------------------------


def test_declares_itself_a_free_offline_draft() -> None:
    assert get_backend_class("draft") is DraftBackend
    assert DraftBackend.name == "draft"
    assert DraftBackend.is_draft and DraftBackend.uses_spec and not DraftBackend.needs_key
    assert DraftBackend.default_model == "draft-1"
    caps = DraftBackend.capabilities()
    assert caps.sizes is None and caps.transparency and caps.edit  # local finishing edits only
    assert caps.qualities == ("low", "medium", "high")
    assert caps.formats == ("png", "jpeg", "webp")
    assert caps.supports_size(3840, 2160) and not caps.supports_size(4096, 2160)
    assert not caps.supports_size(1000, 1000)  # not a multiple of 16
    assert not caps.supports_size(3840, 1024)  # wider than 3:1


def test_refuses_what_it_cannot_make_before_drawing() -> None:
    with pytest.raises(CapabilityError, match="cannot make 1000x1000"):
        BACKEND.generate(ImageRequest("a cat", 1000, 1000))
    with pytest.raises(CapabilityError, match="cannot edit"):
        BACKEND.send(ImageRequest("a cat", 1024, 1024, kind="edit", inputs=(b"png",)))
    for n in (0, -1, 1.5, True):
        with pytest.raises(SpecError, match="n is the number of images"):
            ImageRequest("a cat", 1024, 1024, n=n)


def test_result_is_labelled_a_draft() -> None:
    spec = PromptSpec(subject="a red bicycle", seed=7)
    result = BACKEND.generate(request_for(spec))
    assert result.model == "draft-1"
    assert result.format == "png"
    assert result.usage is None
    assert result.latency_ms > 0
    assert result.raw["draft"] is True
    assert result.raw["scene"]["subject"] == "red bicycle"
    assert result.images[0].startswith(b"\x89PNG\r\n\x1a\n")


# -- sizes, modes, formats -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aspect", "quality"),
    [
        ("1:1", "low"),
        ("1:1", "medium"),
        ("2:3", "medium"),
        ("3:2", "high"),
        ("9:16", "medium"),
        ("16:9", "high"),
        ("21:9", "medium"),
        ("4:5", "high"),
    ],
)
def test_renders_the_exact_size(aspect: str, quality: str) -> None:
    spec = PromptSpec(
        subject="a ceramic vase",
        background="sage linen",
        texts=[TextItem("SPRING")],
        aspect=aspect,
        quality=quality,
    )
    image = render(spec)
    assert image.format == "PNG"
    assert image.size == size_for(aspect, quality)
    assert image.mode == "RGB"


def test_transparent_background_is_rgba_with_an_opaque_subject() -> None:
    spec = PromptSpec(subject="a perfume bottle", texts=[TextItem("NOIR")], seed=3)
    image = render(spec, background="transparent")
    assert image.mode == "RGBA"
    alpha = np.asarray(image.getchannel("A"))
    h, w = alpha.shape
    assert alpha[2, 2] == 0 and alpha[h // 2, 2] == 0 and alpha[2, w - 3] == 0  # around the subject
    assert (alpha == 255).mean() > 0.05  # the subject, texts and badge
    assert (alpha == 0).mean() > 0.3


@pytest.mark.parametrize(("fmt", "name"), [("jpeg", "JPEG"), ("webp", "WEBP")])
def test_writes_jpeg_and_webp(fmt: str, name: str) -> None:
    spec = PromptSpec(subject="a mug", aspect="3:2")
    image = render(spec, output_format=fmt, output_compression=80)
    assert image.format == name
    assert image.size == (1536, 1024)


def test_partial_previews_arrive_before_the_result() -> None:
    seen: list[tuple[int, tuple[int, int]]] = []
    spec = PromptSpec(subject="a lamp")
    BACKEND.generate(
        request_for(spec, partial_images=2),
        on_partial=lambda i, data: seen.append((i, Image.open(io.BytesIO(data)).size)),
    )
    assert [i for i, _ in seen] == [0, 1]
    assert seen[0][1][0] < seen[1][1][0] < 1024


# -- determinism -----------------------------------------------------------------------------


def test_same_request_same_bytes() -> None:
    spec = PromptSpec(
        subject="a white leather sneaker",
        background="dark concrete",
        lighting="from the left",
        texts=[TextItem("MOVE FORWARD")],
        aspect="2:3",
    )
    first = BACKEND.generate(request_for(spec)).images
    again = DraftBackend().generate(request_for(spec)).images
    assert first == again


def test_seed_variant_and_index_change_the_image() -> None:
    spec = PromptSpec(subject="a white leather sneaker", background="dark concrete")
    base = BACKEND.generate(request_for(spec, seed=1)).images[0]
    assert BACKEND.generate(request_for(spec, seed=2)).images[0] != base
    assert BACKEND.generate(request_for(spec, seed=1, variant=1)).images[0] != base
    assert BACKEND.generate(request_for(spec, seed=1)).images[0] == base
    three = BACKEND.generate(request_for(spec, seed=1, n=3)).images
    assert len(three) == 3 and len(set(three)) == 3
    assert BACKEND.generate(request_for(spec, seed=1, n=3)).images == three


def test_without_a_seed_the_prompt_decides() -> None:
    one = BACKEND.generate(ImageRequest("a teapot, navy background", 1024, 1024)).images[0]
    assert BACKEND.generate(ImageRequest("a teapot, navy background", 1024, 1024)).images[0] == one
    assert BACKEND.generate(ImageRequest("a teapot, navy background", 1024, 1024, variant=1)).images[0] != one


# -- what it draws ---------------------------------------------------------------------------


def test_hex_background_colour_appears() -> None:
    spec = PromptSpec(subject="a gold watch", background="#1B2A4A", lighting="soft even light")
    array = pixels(render(spec))
    for fx, fy in [(0.05, 0.5), (0.95, 0.5), (0.5, 0.95)]:
        assert np.abs(patch(array, fx, fy) - (0x1B, 0x2A, 0x4A)).max() < 16


@pytest.mark.parametrize(
    ("words", "colour"),
    [("coral backdrop", "#F07F6B"), ("cream paper", "#F3E9D2"), ("walnut wood", "#5C4033")],
)
def test_colour_names_set_the_background(words: str, colour: str) -> None:
    target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float32)
    array = pixels(render(PromptSpec(subject="a shoe", background=words, lighting="soft")))
    assert np.abs(patch(array, 0.06, 0.5, size=0.08) - target).max() < 28


def test_gradient_runs_from_the_first_colour_to_the_second() -> None:
    array = pixels(render(PromptSpec(subject="a can", background="gradient from white to black")))
    top, bottom = patch(array, 0.05, 0.04).mean(), patch(array, 0.05, 0.96).mean()
    assert top > 200 and bottom < 60


@pytest.mark.parametrize(
    ("lighting", "brighter"), [("light from the left", "left"), ("hard light from the right", "right")]
)
def test_light_direction_brightens_its_side(lighting: str, brighter: str) -> None:
    array = pixels(render(PromptSpec(subject="a vase", background="grey", lighting=lighting)))
    left, right = patch(array, 0.04, 0.45).mean(), patch(array, 0.96, 0.45).mean()
    assert (left > right + 8) if brighter == "left" else (right > left + 8)


def test_shadow_falls_away_from_the_light() -> None:
    def darkness(lighting: str) -> tuple[float, float]:
        spec = PromptSpec(subject="a box", background="white", lighting=lighting, seed=4)
        result = BACKEND.generate(request_for(spec))
        array = pixels(Image.open(io.BytesIO(result.images[0])))
        return patch(array, 0.22, 0.5, 0.06).mean(), patch(array, 0.78, 0.5, 0.06).mean()

    left_lit = darkness("hard light from the left")
    right_lit = darkness("hard light from the right")
    assert left_lit[1] < right_lit[1]  # light from the left: the shadow is on the right
    assert right_lit[0] < left_lit[0]


def test_draft_badge_stands_out_in_the_corner() -> None:
    array = pixels(render(PromptSpec(subject="a mug", background="white")))
    corner = array[-60:, -160:]
    red = (corner[..., 0] > 150) & (corner[..., 1] < 80) & (corner[..., 2] < 80)
    assert red.mean() > 0.15
    assert np.abs(corner - patch(array, 0.05, 0.5)).max() > 100


def test_headline_and_subtext_are_drawn_at_the_top_with_contrast() -> None:
    plain = PromptSpec(subject="a sneaker", background="white", seed=1)
    with_text = plain.replace(texts=(TextItem("MOVE FORWARD"), TextItem("Lighter than ever", "subtext")))
    for background, ink_is_dark in (("white", True), ("navy", False)):
        a = pixels(render(plain.replace(background=background)))
        b = pixels(render(with_text.replace(background=background)))
        band = slice(0, a.shape[0] // 5)
        changed = np.abs(a[band] - b[band]).max(axis=2) > 60
        assert changed.mean() > 0.02
        ink = b[band][changed].mean()
        assert (ink < 100) if ink_is_dark else (ink > 150)


def test_labels_become_numbered_steps() -> None:
    spec = PromptSpec(
        subject="a coffee cup",
        background="cream",
        details="accent colour #2F6FD6",
        texts=[
            TextItem("How we brew"),
            TextItem("Grind", "label"),
            TextItem("Bloom", "label"),
            TextItem("Pour", "label"),
        ],
        seed=2,
    )
    array = pixels(render(spec))
    bottom = array[int(array.shape[0] * 0.68) :]
    accent = np.abs(bottom - (0x2F, 0x6F, 0xD6)).max(axis=2) < 30
    columns = accent.any(axis=0).astype(int)
    runs = int(((columns[1:] == 1) & (columns[:-1] == 0)).sum() + columns[0])
    assert runs == 3  # three step circles side by side


def test_character_is_drawn_with_its_name() -> None:
    spec = PromptSpec(subject="waving", character=Character("Mira", "a small red fox with a blue scarf"))
    result = BACKEND.generate(request_for(spec))
    assert result.raw["scene"]["subject"] == "Mira"
    assert result.raw["scene"]["shape"] == "figure"


@pytest.mark.parametrize(
    ("text", "scrambled"),
    [
        ("東京へようこそ", "そこうよへ京東"),
        ("서울에 오신 것을", "을것 신오 에울서"),
        ("مرحبا بالعالم", "ملاعلاب ابحرم"),
        ("नमस्ते दुनिया", "यानिदु तेस्मन"),
    ],
)
def test_texts_in_other_scripts_render_real_glyphs(text: str, scrambled: str) -> None:
    require(
        default_library().face_for(text) is not None, f"no font for {text!r} (install fonts-noto-core/-cjk)"
    )
    spec = PromptSpec(subject="a tea bottle", background="white", texts=[TextItem(text)], seed=5)
    a = pixels(render(spec))
    b = pixels(render(spec.replace(texts=(TextItem(scrambled),))))
    band = slice(0, a.shape[0] // 4)
    # Missing glyphs would draw the same empty boxes whatever the order; real glyphs move.
    assert np.abs(a[band] - b[band]).max(axis=2).mean() > 1
    assert (a[band].mean(axis=2) < 100).mean() > 0.01  # dark ink on the white background


# -- reading specs and prompts ---------------------------------------------------------------


def test_prompt_without_a_spec_takes_quoted_texts() -> None:
    spec = spec_from_prompt("""a poster of the cat's toy, 'MOVE FORWARD' and "Run more" below it""")
    assert [(t.text, t.role) for t in spec.texts] == [("MOVE FORWARD", "headline"), ("Run more", "subtext")]
    result = BACKEND.generate(ImageRequest("a robot holding a sign 'HELLO'", 1024, 1024))
    assert result.raw["scene"]["texts"]["headline"] == ["HELLO"]
    assert result.raw["scene"]["subject"] == "robot"


def test_composed_prompt_reads_back_its_roles() -> None:
    spec = PromptSpec(
        subject="a coffee cup",
        texts=[
            TextItem("Brew"),
            TextItem("fresh daily", "subtext"),
            TextItem("Grind", "label"),
            TextItem("Pour", "label"),
        ],
    )
    back = spec_from_prompt(compose(spec))
    assert [(t.text, t.role) for t in back.texts] == [(t.text, t.role) for t in spec.texts]


def test_reading_colours_light_and_backdrops() -> None:
    assert colours_in("gradient from navy to #FF8800") == [(0x1B, 0x2A, 0x4A), (0xFF, 0x88, 0x00)]
    assert colours_in("dark grey")[0] < (0x8E, 0x8E, 0x8E)
    backdrop = parse_backdrop("gradient from peach to coral, left to right")
    assert backdrop.gradient == "horizontal" and len(backdrop.colours) == 2
    assert parse_backdrop("dark concrete").texture == "concrete"
    assert parse_backdrop("").colours == parse_backdrop("nothing named").colours  # the grey studio
    assert parse_light("light from the upper left").direction == (-0.7, -0.7)
    assert parse_light("backlit at golden hour").kind == "back"
    assert parse_light("backlit at golden hour").tint is not None
    assert parse_light("overhead").kind == "overhead"
    assert parse_light("neon signs").neon
    assert short_label("a white leather sneaker on a concrete plinth") == "white leather sneaker"


def test_a_text_without_a_font_is_refused_with_what_to_install(tmp_path: Path) -> None:
    no_fonts = DraftBackend(fonts=FontLibrary([tmp_path], system=False))
    spec = PromptSpec(subject="a lamp", texts=[TextItem("नमस्ते")])
    with pytest.raises(FontMissingError, match="Devanagari.*fonts-noto-core") as caught:
        no_fonts.generate(request_for(spec))
    assert caught.value.script == "devanagari"
    # Latin still renders on a machine without fonts, in Pillow's own font.
    image = Image.open(io.BytesIO(no_fonts.generate(request_for(spec.replace(texts=("HELLO",)))).images[0]))
    assert image.size == (1024, 1024)


@pytest.mark.parametrize(
    ("subject", "label"),
    [
        ("a smiling woman in her thirties with short dark hair", "smiling woman"),
        ("a bold lifestyle poster of a runner mid-stride", "bold lifestyle poster"),
        ("a white leather sneaker on a plinth", "white leather sneaker"),
    ],
)
def test_subject_labels_name_the_subject(subject, label):
    from workbench.backends.draft import short_label

    assert short_label(subject) == label
