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


@pytest.mark.parametrize("deflate", ["isal", "zlib"])
@pytest.mark.parametrize(("size", "channels"), [((1023, 517), 3), ((640, 480), 4)])
def test_the_png_encoder_keeps_every_pixel(
    monkeypatch, deflate: str, size: tuple[int, int], channels: int
) -> None:
    """Repeated rows (Up), others (Sub), an odd row length, RGBA; ISA-L's deflate and zlib's."""
    from PIL import ImageDraw

    import workbench.backends.draft as draft

    if deflate == "zlib":
        monkeypatch.setattr(draft, "_isal_zlib", None)
    small = np.random.default_rng(7).integers(
        0, 256, (size[1] // 4 + 1, size[0] // 4 + 1, channels), np.uint8
    )
    image = Image.fromarray(small).resize(size, Image.Resampling.NEAREST)
    ImageDraw.Draw(image).text((10, 10), "MOVE FORWARD", fill=(255,) * channels)
    data = draft.encode_png(image)
    back = Image.open(io.BytesIO(data))
    back.load()
    assert (back.format, back.mode, back.size) == ("PNG", image.mode, size)
    assert np.array_equal(np.asarray(back), np.asarray(image))
    assert draft.encode_png(image) == data
    assert len(data) < size[0] * size[1] * channels // 4  # the repeated rows and pixels compress


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
        ("a bold lifestyle poster of a runner mid-stride", "runner mid-stride"),
        ("a close-up photo of a steaming cup of coffee", "coffee cup"),
        ("a portrait of a smiling woman in a red coat", "smiling woman"),
        ("a white sneaker with a photo of a cat printed on it", "white sneaker"),
        ("a white leather sneaker on a plinth", "white leather sneaker"),
    ],
)
def test_subject_labels_name_the_subject(subject, label):
    from workbench.backends.draft import short_label

    assert short_label(subject) == label


# -- the draft follows the spec ---------------------------------------------------------------
def _result(spec: PromptSpec) -> tuple[Image.Image, dict]:
    from workbench.templates import TemplateLibrary

    spec = TemplateLibrary.default().resolve(spec)
    result = BACKEND.generate(request_for(spec))
    image = Image.open(io.BytesIO(result.images[0])).convert("RGB")
    return image, result.raw


def _background_pixels(image: Image.Image, layout: dict) -> np.ndarray:
    """The pixels away from the subject, its shadow, the texts and the badge."""
    pixels = np.asarray(image)
    keep = np.ones(pixels.shape[:2], bool)
    height, width = keep.shape
    x0, y0, x1, y1 = layout["subject"]
    pad = round(0.25 * max(x1 - x0, y1 - y0))
    keep[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = False
    for text in layout["texts"]:
        x0, y0, x1, y1 = text["box"]
        keep[max(0, y0 - 10) : y1 + 10, max(0, x0 - 10) : x1 + 10] = False
    keep[round(height * 0.9) :, round(width * 0.75) :] = False  # the DRAFT badge
    return pixels[keep]


# The product walkthrough's brand colours, and the issue's, written as people write them.
WALKTHROUGH_HEXES = [
    ("solid deep navy background (#1B2A4A)", "#1B2A4A"),
    ("warm white (#FAF8F5) backdrop", "#FAF8F5"),
    ("bright orange (#FF6600) background", "#FF6600"),
]


@pytest.mark.parametrize(("words", "code"), WALKTHROUGH_HEXES)
@pytest.mark.parametrize("field", ["background", "details"])
def test_hex_colours_are_painted_within_delta_e_3(words, code, field):
    from workbench.vocabulary import delta_e2000, hex_rgb

    image, raw = _result(
        PromptSpec(subject="a white leather sneaker", texts=[TextItem("MOVE FORWARD")], **{field: words})
    )
    background = _background_pixels(image, raw["layout"][0])
    median = np.median(background, axis=0)
    assert delta_e2000(median, hex_rgb(code)) <= 3, (median, code)
    worst = np.percentile(
        [delta_e2000(p, hex_rgb(code)) for p in background[:: max(1, len(background) // 400)]], 95
    )
    assert worst <= 3, worst  # not just the median: nearly every background pixel


def test_the_dark_concrete_template_renders_dark():
    from workbench.vocabulary import luminance

    image, raw = _result(PromptSpec(subject="@sneaker", background="@dark-concrete"))
    assert luminance(np.median(_background_pixels(image, raw["layout"][0]), axis=0)) < 0.12


def test_the_subject_keeps_its_colour_whatever_unrelated_details_say():
    plain, raw = _result(PromptSpec(subject="a ceramic mug", texts=[TextItem("MORNING")]))
    detailed, raw2 = _result(
        PromptSpec(subject="a ceramic mug", texts=[TextItem("MORNING")], details="large white serif headline")
    )

    def centre(image, layout):
        x0, y0, x1, y1 = layout["subject"]
        return np.asarray(image)[y0 + (y1 - y0) // 6, (x0 + x1) // 2]  # above the subject's label

    assert (
        np.abs(centre(plain, raw["layout"][0]).astype(int) - centre(detailed, raw2["layout"][0])).max() <= 40
    )


@pytest.mark.parametrize(
    ("details", "check"),
    [
        ("headline at the bottom", lambda h, s, W, H: h[1] >= 2 * H / 3),
        ("the headline in the lower left corner", lambda h, s, W, H: h[1] >= 2 * H / 3 and h[2] <= 0.75 * W),
        ("headline at the top right", lambda h, s, W, H: h[3] <= H / 3 and h[0] >= 0.25 * W),
        ("space for text on the right", lambda h, s, W, H: s[2] <= 2 * W / 3 and h[0] >= 2 * W / 3 - 1),
        ("space for text on the left", lambda h, s, W, H: s[0] >= W / 3 and h[2] <= W / 3 + 1),
        ("product placed on the left", lambda h, s, W, H: (s[0] + s[2]) / 2 < 0.45 * W),
    ],
    ids=["bottom", "lower-left", "top-right", "space-right", "space-left", "subject-left"],
)
def test_placement_words_move_the_boxes(details, check):
    spec = PromptSpec(subject="a white leather sneaker", texts=[TextItem("MOVE FORWARD")], details=details)
    image, raw = _result(spec)
    layout = raw["layout"][0]
    headline = layout["texts"][0]["box"]
    assert check(headline, layout["subject"], *image.size), layout


def test_space_for_text_keeps_the_right_third_free_of_the_subject_in_pixels():
    spec = PromptSpec(subject="a red mug", background="#FFFFFF", details="space for text on the right")
    image, raw = _result(spec)
    pixels = np.asarray(image).astype(int)
    width = image.width
    right = pixels[: round(image.height * 0.85), round(width * 2 / 3) + 2 :]
    assert np.abs(right - 255).max() <= 12  # only white (and no subject) in the right third


def test_a_free_prompt_follows_placement_and_draws_its_quoted_text():
    result = BACKEND.generate(
        ImageRequest("a red sneaker, headline at the bottom, text reading 'MOVE FORWARD'", 1024, 1024)
    )
    layout = result.raw["layout"][0]
    assert [t["text"] for t in layout["texts"]] == ["MOVE FORWARD"]
    assert layout["texts"][0]["box"][1] >= 1024 * 2 / 3


@pytest.mark.parametrize(
    ("subject", "label"),
    [
        ("@headphones", "over-ear wireless headphones"),
        ("@skincare-set", "amber glass skincare bottles"),
        ("@ramen-bowl", "tonkotsu ramen bowl"),
        ("@storybook-girl", "girl"),
        ("a set of three ceramic mugs", "ceramic mugs"),
    ],
)
def test_subject_labels_read_as_the_subject(subject, label):
    _, raw = _result(PromptSpec(subject=subject))
    assert raw["scene"]["subject"] == label


def _palette(image: Image.Image, k: int = 6) -> list[tuple[tuple[int, ...], float]]:
    quantized = image.resize((192, 192)).quantize(k, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette()[: 3 * k]
    counts = np.bincount(np.asarray(quantized).ravel(), minlength=k)[:k]
    return [(tuple(palette[3 * i : 3 * i + 3]), c / counts.sum()) for i, c in enumerate(counts) if c]


def palette_distance(a: Image.Image, b: Image.Image) -> float:
    """Mean ΔE2000 from each image's palette (6 colours, area-weighted) to the other's nearest."""
    from workbench.vocabulary import delta_e2000

    pa, pb = _palette(a), _palette(b)

    def one(x, y):
        return sum(w * min(delta_e2000(c, d) for d, _ in y) for c, w in x)

    return (one(pa, pb) + one(pb, pa)) / 2


def texture_ratio(a: Image.Image, b: Image.Image) -> float:
    """How many times more fine detail (mean |Laplacian|) one image has than the other."""
    import cv2

    def energy(image):
        grey = np.asarray(image.convert("L").resize((512, 512)), np.float32)
        return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())

    ea, eb = energy(a), energy(b)
    return max(ea, eb) / max(1e-6, min(ea, eb))


@pytest.mark.parametrize(
    ("preset", "styles", "background"),
    [
        ("ecommerce-product", ("@product-photo", "@editorial"), None),
        ("marketing-poster", ("@poster-minimal", "@social-graphic"), "@navy-solid"),
        ("marketing-poster", ("@poster-minimal", "@social-graphic"), "@pastel-gradient"),
        ("marketing-poster", ("@poster-minimal", "@social-graphic"), "@dark-concrete"),
    ],
    ids=["catalogue-styles", "poster-navy", "poster-pastel", "poster-concrete"],
)
def test_style_columns_of_the_example_experiments_differ_by_a_measured_margin(preset, styles, background):
    from workbench.templates import TemplateLibrary

    spec = TemplateLibrary.default().spec(preset)
    if background:
        spec = spec.replace(background=background)
    a, _ = _result(spec.replace(style=styles[0]))
    b, _ = _result(spec.replace(style=styles[1]))
    assert palette_distance(a, b) >= 10 or texture_ratio(a, b) >= 1.5


# -- a style grades a scene background, it does not replace it; free prompts' backgrounds -----
def _median_background(spec: PromptSpec) -> np.ndarray:
    image, raw = _result(spec)
    return np.median(_background_pixels(image, raw["layout"][0]), axis=0)


@pytest.mark.parametrize("background", ["@forest-floor", "@city-street-night", "@kitchen-counter"])
@pytest.mark.parametrize("style", ["@product-photo", "@lifestyle-photo", "@editorial"])
def test_a_style_keeps_a_scene_backgrounds_colours(background, style):
    from workbench.vocabulary import delta_e2000, luminance

    own = _median_background(PromptSpec(subject="a ceramic vase", background=background))
    styled = _median_background(PromptSpec(subject="a ceramic vase", background=background, style=style))
    studio = _median_background(PromptSpec(subject="a ceramic vase", style=style))
    # A photo style keeps the scene's colours; editorial grades them (hue, saturation), no more.
    assert delta_e2000(styled, own) <= (16 if style == "@editorial" else 5), (styled, own)
    if background != "@kitchen-counter":  # a dark scene stays dark, far from the style's studio
        assert luminance(styled) < 0.2, styled
        assert delta_e2000(styled, studio) >= 30, (styled, studio)


FREE_BACKGROUNDS = [
    ("a watch on a lavender background", "lavender"),
    ("a watch on a background of #00A3E0", "#00A3E0"),
    ("a poster with a coral (#FF7F50) background and the text 'HELLO'", "#FF7F50"),
]


@pytest.mark.parametrize(("prompt", "colour"), FREE_BACKGROUNDS)
def test_a_one_clause_free_prompt_keeps_its_background_colour(prompt, colour):
    from workbench.vocabulary import COLOURS, delta_e2000, hex_rgb

    result = BACKEND.generate(ImageRequest(prompt, 1024, 1024))
    image = Image.open(io.BytesIO(result.images[0])).convert("RGB")
    corner = np.asarray(image)[:, 8:72].reshape(-1, 3)  # the left edge, clear of subject and badge
    median = np.median(corner, axis=0)
    target = hex_rgb(colour if colour.startswith("#") else COLOURS[colour])
    assert delta_e2000(median, target) <= 3, (median, colour)
    assert result.raw["scene"]["subject"] in ("watch", "poster")


def test_a_free_prompts_style_words_anywhere_set_its_look():
    from workbench.backends.draft.scene import look_for

    result = BACKEND.generate(
        ImageRequest("a noir poster of a detective in the rain, headline 'CASE CLOSED'", 1024, 1024)
    )
    assert result.raw["scene"]["family"] == look_for("noir").family != "plain"


def test_a_background_phrase_takes_only_its_own_words():
    from workbench.vocabulary import hex_rgb, luminance

    result = BACKEND.generate(ImageRequest("a cup of tea with lemon on a dark green background", 512, 512))
    scene = result.raw["scene"]
    assert scene["subject"] == "tea cup"  # "lemon" is no background colour here
    assert all(luminance(hex_rgb(c)) < 0.1 for c in scene["background"]["colours"]), scene["background"]
