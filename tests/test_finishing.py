"""Local finishing: black and white, tone, crop to aspect and 4K upscale, as free draft runs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from workbench.imaging.finishing import apply, black_and_white, crop_to_aspect, tone, upscale


def _scene(size=(300, 200)) -> Image.Image:
    x = np.linspace(0, 1, size[0])[None, :, None]
    y = np.linspace(0, 1, size[1])[:, None, None]
    pixels = np.concatenate([x * 200 + 30 + y * 0, y * 180 + 40 + x * 0, (1 - x) * 150 + 60 + y * 0], axis=2)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def test_black_and_white_high_contrast_is_grey_with_a_wider_range():
    image = _scene()
    flat = np.asarray(black_and_white(image))
    strong = np.asarray(black_and_white(image, contrast=1.0))
    assert (strong[..., 0] == strong[..., 1]).all() and (strong[..., 1] == strong[..., 2]).all()
    assert strong.std() > flat.std()
    assert strong.min() == 0 and strong.max() == 255


def test_warmer_and_cooler_move_the_red_blue_balance():
    image = _scene()
    base = np.asarray(image, dtype=float)
    warm = np.asarray(tone(image, warmth=0.6), dtype=float)
    cool = np.asarray(tone(image, warmth=-0.6), dtype=float)
    balance = lambda a: (a[..., 0] - a[..., 2]).mean()  # noqa: E731
    assert balance(warm) > balance(base) > balance(cool)


@pytest.mark.parametrize(
    "aspect,expected", [("1:1", (200, 200)), ("3:2", (300, 200)), ("2:3", (133, 200)), ("16:9", (300, 169))]
)
def test_crop_to_aspect(aspect, expected):
    assert crop_to_aspect(_scene(), aspect).size == expected


@pytest.mark.parametrize("size", [(1024, 1024), (1536, 1024), (1024, 1536), (1000, 563), (333, 999)])
def test_upscale_gives_3840_on_the_long_side_and_keeps_the_aspect(size):
    image = _scene(size)
    out = upscale(image)
    assert max(out.size) == 3840
    w, h = size
    if w >= h:
        assert abs(out.height - h * 3840 / w) <= 1
    else:
        assert abs(out.width - w * 3840 / h) <= 1


def test_upscale_keeps_alpha():
    image = _scene((200, 100)).convert("RGBA")
    assert upscale(image).mode == "RGBA"


def test_unknown_operation_names_the_known_ones():
    with pytest.raises(ValueError, match="Unknown finishing operation 'posterize'.*upscale"):
        apply(_scene(), "posterize")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_finish_is_a_free_draft_run_linked_to_its_source(wb):
    source = wb.generate("a red mug on a walnut table", aspect="3:2")
    run = wb.finish(source, "convert to black and white, high contrast")
    assert run.status == "ok" and run.kind == "edit" and run.backend == "draft" and run.credits == 0
    assert run.parent_id == source.id
    image = run.image()
    assert image.size == Image.open(source.images[0]).size
    pixels = np.asarray(image.convert("RGB"))
    assert (pixels[..., 0] == pixels[..., 2]).all()
    recipe = wb.recipe(run.images[0])
    assert recipe["parent_id"] == source.id and recipe["params"]["operation"] == "black_and_white"
    again = wb.finish(source, "convert to black and white, high contrast")
    assert again.cached and again.credits == 0
    frame = wb.runs()
    assert list(frame["parent_id"])[-2:] == [source.id, source.id]


def test_finish_upscale_from_a_file_path(wb, tmp_path):
    path = tmp_path / "shot.png"
    path.write_bytes(_png(_scene((512, 341))))
    run = wb.finish(path, "upscale to 4K")
    assert run.image().size == (3840, 2558)
    assert run.parent_id is None and run.credits == 0


def test_edit_with_a_local_instruction_runs_on_the_draft_backend(wb):
    source = wb.generate("a ceramic mug", aspect="1:1")
    warm = wb.edit(source, "make the lighting warmer, golden hour tone")
    assert warm.backend == "draft" and warm.credits == 0 and warm.parent_id == source.id
    before = np.asarray(source.image().convert("RGB"), dtype=float)
    after = np.asarray(warm.image().convert("RGB"), dtype=float)
    assert (after[..., 0] - after[..., 2]).mean() > (before[..., 0] - before[..., 2]).mean()


# -- sharpen, rotate, flip, and the service's answer back at the upload's aspect ---------------
def test_rotate_quarter_turns_are_exact_and_other_angles_expand():
    from workbench.imaging.finishing import rotate, rotate_size

    image = Image.new("RGB", (300, 200), (10, 20, 30))
    image.putpixel((0, 0), (255, 0, 0))
    turned = rotate(image, degrees=-90)  # clockwise: the top-left corner goes to the top-right
    assert turned.size == (200, 300) and turned.getpixel((199, 0)) == (255, 0, 0)
    assert rotate(image, degrees=180).getpixel((299, 199)) == (255, 0, 0)
    assert rotate(image, degrees=30).size == rotate_size((300, 200), 30)


def test_flip_and_sharpen():
    from workbench.imaging.finishing import flip, sharpen

    image = Image.new("RGB", (40, 20), (100, 100, 100))
    image.paste((200, 200, 200), (20, 0, 40, 20))
    assert flip(image).getpixel((0, 0)) == (200, 200, 200)
    edge = np.asarray(sharpen(image, amount=1.0)).astype(int)[10]
    assert edge[:, 0].min() < 100 and edge[:, 0].max() > 200  # the step overshoots on both sides


def test_restore_aspect_crops_or_pads_back_and_never_raises():
    from workbench.imaging.finishing import restore_aspect

    buffer = io.BytesIO()
    Image.new("RGB", (1024, 1280), "grey").save(buffer, "PNG")
    out = Image.open(io.BytesIO(restore_aspect(buffer.getvalue(), (512, 600))))
    assert abs(out.width / out.height - 512 / 600) < 0.003 and out.format == "PNG"
    wide = io.BytesIO()
    Image.new("RGB", (1536, 1024), "grey").save(wide, "PNG")
    padded = Image.open(io.BytesIO(restore_aspect(wide.getvalue(), (500, 700))))
    assert padded.width == 1536 and abs(padded.width / padded.height - 5 / 7) < 0.003  # padded, not cut
    assert restore_aspect(b"not an image", (10, 10)) == b"not an image"
