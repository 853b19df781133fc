from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from workbench import InputImageError
from workbench.store import Store, embed_recipe, read_recipe

RECIPE = {
    "run_id": "abc",
    "prompt": "a poster reading 'MOVE FORWARD' · 日本語",
    "spec": {"subject": "poster"},
}


def _encode(fmt: str, mode: str = "RGB", **options) -> bytes:
    image = Image.new(mode, (96, 64), (30, 60, 200, 255)[: len(mode)])
    if mode == "RGBA":
        image.paste((0, 0, 0, 0), (0, 0, 32, 32))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mode", "options"),
    [
        ("PNG", "RGB", {}),
        ("PNG", "RGBA", {}),
        ("JPEG", "RGB", {"quality": 90}),
        ("WEBP", "RGB", {"quality": 80}),
        ("WEBP", "RGBA", {"lossless": True}),
    ],
)
def test_recipe_survives_every_format_and_pixels_do_not_change(fmt, mode, options):
    original = _encode(fmt, mode, **options)
    data = embed_recipe(original, RECIPE)
    assert read_recipe(data) == RECIPE
    before, after = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(data))
    assert after.size == (96, 64) and after.mode == before.mode
    assert after.tobytes() == before.tobytes()


def test_store_is_content_addressed(tmp_path):
    store = Store(tmp_path)
    first = store.put(_encode("PNG"), recipe=RECIPE)
    second = store.put(_encode("PNG"), recipe=RECIPE)
    assert first == second and first.startswith("images/") and first.endswith(".png")
    sha = first.rsplit("/", 1)[1].split(".")[0]
    assert first.split("/")[1] == sha[:2]
    assert len(list((tmp_path / "images").rglob("*.png"))) == 1
    assert read_recipe(store.path(first)) == RECIPE
    assert not list((tmp_path / "images").rglob("*.tmp"))


def test_store_refuses_what_is_not_an_image(tmp_path):
    for data in (b"BM6\x00\x00\x00....", b"<html><body>not an svg</body></html>", b"GIF88a...."):
        with pytest.raises(InputImageError, match="Only PNG, JPEG, WebP, GIF and SVG"):
            Store(tmp_path).put(data)
    assert not (tmp_path / "images").exists()


def test_image_without_recipe(tmp_path):
    assert read_recipe(_encode("PNG")) is None


def test_thumbnails_are_small_webp_cached_on_disk_and_leave_no_temporary_files(tmp_path):
    store = Store(tmp_path)
    big = Image.new("RGB", (1536, 1024), (200, 40, 40))
    buffer = io.BytesIO()
    big.save(buffer, "PNG")
    relative = store.put(buffer.getvalue(), recipe=RECIPE)
    data = store.thumbnail(relative, size=128)
    thumb = Image.open(io.BytesIO(data))
    assert thumb.format == "WEBP" and thumb.size == (128, 85)
    cached = list((tmp_path / "thumbs" / "128").iterdir())
    assert [path.suffix for path in cached] == [".webp"]
    assert store.thumbnail(relative, size=128) == data
    assert not list(tmp_path.rglob("*.tmp"))
    with pytest.raises(InputImageError, match="No image at"):
        store.thumbnail("images/00/missing.png")


def test_a_service_run_makes_its_thumbnail_from_the_answer_as_the_file_would(
    root, openai_server, monkeypatch
):
    from workbench import Workbench

    monkeypatch.setenv("OPENAI_API_KEY", "wbtest-not-a-key")
    wb = Workbench(root, backend="openai", backend_options={"openai": {"base_url": openai_server.base_url}})
    try:
        wb.wallet.topup(100)
        run = wb.generate("a ceramic mug", quality="low")
        cached = root / "thumbs" / "256" / f"{run.images[0].stem}.webp"
        assert cached.is_file()  # made where the image was stored, before anyone asked
        made = cached.read_bytes()
        cached.unlink()
        assert wb.thumbnail(run.images[0]) == made  # the same thumbnail as one from the stored file
        assert Image.open(io.BytesIO(made)).size == (256, 256)
    finally:
        wb.close()


@pytest.mark.parametrize(
    "size",
    [
        (1024, 1024),
        (1536, 1024),
        (1024, 1536),
        (3840, 2160),
        (999, 7),
        (262, 1024),
        (270, 10),
        (300, 200),
        (100, 80),
    ],
)
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA", "L", "P"])
def test_a_thumbnail_of_decoded_pixels_is_pillows_own_and_leaves_the_pixels_as_they_were(size, mode):
    """Shapes where Pillow's rounding of the other side matters (262x1024: 65.5 px), and modes."""
    from workbench.store import _thumbnail_pixels

    rng = np.random.default_rng(size[0] * size[1])
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)
    if mode == "P":
        image.info["transparency"] = 0
    before = (image.tobytes(), image.size, image.mode, dict(image.info))
    expected = image.copy()
    expected.thumbnail((256, 256), Image.Resampling.LANCZOS, reducing_gap=1.0)
    made = _thumbnail_pixels(image, 256)
    assert (made.size, made.mode) == (expected.size, expected.mode)
    assert made.tobytes() == expected.tobytes()
    assert (image.tobytes(), image.size, image.mode, dict(image.info)) == before
