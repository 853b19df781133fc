"""Format choice: photo → JPEG/WebP, flat poster → PNG/WebP, cut-out → PNG/WebP; each within the
quality bar, each carrying its recipe."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bench.cutout_set import shot
from workbench.imaging.cutout import remove_background
from workbench.imaging.formats import MIN_SSIM, choose_format, classify, ssim
from workbench.store import read_recipe


def photo(size=(768, 512), seed=1) -> Image.Image:
    """Smooth light and colour fields with fine grain, as a camera gives."""
    rng = np.random.default_rng(seed)
    fields = rng.normal(0, 1, (24, 24, 3))
    fields = ((fields - fields.min()) / np.ptp(fields) * 255).astype(np.uint8)
    base = np.asarray(Image.fromarray(fields).resize(size, Image.Resampling.BICUBIC), dtype=np.float32)
    grain = rng.normal(0, 1.0, (size[1], size[0], 3))
    return Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8))


def poster(size=(768, 1024)) -> Image.Image:
    image = Image.new("RGB", size, (240, 200, 60))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 600, size[0], size[1]), fill=(30, 40, 90))
    draw.ellipse((200, 150, 560, 510), fill=(200, 40, 40))
    draw.text((90, 700), "BIG SALE", fill="white", font_size=120)
    return image


def cutout() -> Image.Image:
    return remove_background(shot("bottle", "gradient", 1, size=640, seed=2).image)


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    "make,kind,allowed",
    [
        (photo, "photo", {"jpeg", "webp"}),
        (poster, "flat", {"png", "webp"}),
        (cutout, "alpha", {"png", "webp"}),
    ],
)
def test_auto_format_by_content_keeps_the_bar_and_the_recipe(make, kind, allowed):
    image = make()
    recipe = {"run_id": "abc123", "prompt": "a test", "spec": {"subject": "ünïcode ✓"}}
    result = choose_format(image, recipe=recipe)
    assert result.kind == kind and result.format in allowed
    decoded = _decode(result.data)
    assert decoded.format.lower() == result.format
    assert ssim(image, decoded) >= MIN_SSIM
    assert read_recipe(result.data) == recipe
    assert result.saved_bytes == result.png_bytes - len(result.data)
    assert result.saved_bytes >= 0
    if kind == "photo":
        assert result.saved_bytes > result.png_bytes * 0.5  # lossy pays off on photos
    if kind == "alpha":
        assert decoded.mode == "RGBA"


def test_ssim_is_one_for_identical_images_and_drops_with_damage():
    image = photo()
    assert ssim(image, image) == pytest.approx(1.0)
    noisy = np.clip(
        np.asarray(image, np.float32) + np.random.default_rng(0).normal(0, 25, (512, 768, 3)), 0, 255
    )
    assert ssim(image, Image.fromarray(noisy.astype(np.uint8))) < 0.8


def test_forced_formats_and_jpeg_refuses_transparency():
    assert choose_format(poster(), format="jpeg").format == "jpeg"
    with pytest.raises(ValueError, match="JPEG cannot keep that"):
        choose_format(cutout(), format="jpeg")
    with pytest.raises(ValueError, match="Unknown format 'gif'"):
        choose_format(poster(), format="gif")


def test_classify_by_content():
    assert classify(poster()) == "flat" and classify(photo()) == "photo" and classify(cutout()) == "alpha"


@pytest.mark.slow
def test_workbench_export_writes_each_kind_and_recall_works(wb, tmp_path):
    generated = wb.generate(preset=None, subject="a red mug", texts=["HELLO"], aspect="1:1")
    path = tmp_path / "photo.png"
    photo().save(path)
    photo_run = wb.finish(path, "tone", warmth=0.1)
    cut_run = wb.edit(generated, "remove the background")
    results = {
        name: wb.export(run, path=tmp_path)
        for name, run in (("poster", generated), ("photo", photo_run), ("cutout", cut_run))
    }
    assert results["photo"].format in {"jpeg", "webp"}
    assert results["cutout"].format in {"png", "webp"}
    for result in results.values():
        assert result.path.is_file() and result.path.suffix == "." + result.extension
        recipe = wb.recipe(result.path)
        assert recipe["run_id"] in {generated.id, photo_run.id, cut_run.id}
    assert wb.recall(results["poster"].path).texts[0].text == "HELLO"
    assert "smaller than PNG" in results["photo"].summary()


def _stored_gif(wb, frames: int = 3) -> tuple[object, bytes]:
    """An animated GIF in the store, as a GIF answer is kept (its recipe in it)."""
    colours = [(27, 42, 74), (255, 102, 0), (240, 240, 240), (20, 160, 60)][:frames]
    stills = [
        Image.new("RGB", (256, 192), colour).convert("P", palette=Image.Palette.ADAPTIVE)
        for colour in colours
    ]
    buffer = io.BytesIO()
    stills[0].save(buffer, "GIF", save_all=True, append_images=stills[1:], duration=120, loop=0)
    relative = wb.store.put(buffer.getvalue(), recipe={"run_id": "gif0123456789", "prompt": "a spinning mug"})
    path = wb.root / relative
    return path, path.read_bytes()


def test_an_animated_gif_exports_with_every_frame_and_never_under_another_formats_name(wb, tmp_path, cli):
    from workbench.errors import SpecError

    path, data = _stored_gif(wb)
    kept = wb.export(path, path=tmp_path)  # auto: the GIF as it is, with its recipe
    assert kept.format == "gif" and kept.path.suffix == ".gif" and kept.path.read_bytes() == data
    assert (
        "GIF animation of 3 frames" in kept.summary() and read_recipe(kept.path)["run_id"] == "gif0123456789"
    )
    webp = wb.export(path, format="webp", path=tmp_path / "spin.webp")
    with Image.open(webp.path) as opened:
        assert opened.format == "WEBP" and opened.n_frames == 3
        opened.seek(1)
        assert opened.convert("RGB").getpixel((5, 5)) == (255, 102, 0)
    assert read_recipe(webp.path)["run_id"] == "gif0123456789"
    for fmt in ("png", "jpeg"):
        with pytest.raises(SpecError) as caught:
            wb.export(path, format=fmt, path=tmp_path / f"one.{fmt}")
        assert "animated GIF of 3 frames" in str(caught.value) and "\n" not in str(caught.value)
    assert not list(tmp_path.glob("one.*"))
    # The file's name says the format: .gif keeps the animation, a GIF asked as WebP is renamed.
    named = wb.export(path, path=tmp_path / "named.gif")
    assert named.format == "gif" and named.path == tmp_path / "named.gif" and named.renamed_from is None
    renamed = wb.export(path, format="webp", path=tmp_path / "asked.gif")
    assert renamed.path == tmp_path / "asked.webp" and not (tmp_path / "asked.gif").exists()
    assert "written as .webp: asked.gif would not be a WEBP" in renamed.summary()
    code, out, err = cli("export", str(path), "--out", str(tmp_path / "cli.gif"))
    assert code == 0, err
    assert (tmp_path / "cli.gif").read_bytes() == data and "3 frames" in out


def test_an_exports_file_name_says_its_format(wb, tmp_path):
    run = wb.generate(preset=None, subject="a red mug", texts=["HELLO"], aspect="1:1")
    for name, fmt in (("a.png", "png"), ("a.webp", "webp"), ("a.jpg", "jpeg")):
        result = wb.export(run, path=tmp_path / name)  # auto honours the name
        assert result.format == fmt and result.path == tmp_path / name
        with Image.open(result.path) as opened:
            assert opened.format == {"png": "PNG", "webp": "WEBP", "jpeg": "JPEG"}[fmt]
    still = wb.export(run, path=tmp_path / "still.gif")  # a still is never written as a GIF
    assert still.path.suffix in (".png", ".webp", ".jpg") and not (tmp_path / "still.gif").exists()
    assert f"written as .{still.extension}: still.gif" in still.summary()
    forced = wb.export(run, format="jpeg", path=tmp_path / "b.png")
    assert forced.path == tmp_path / "b.jpg" and not (tmp_path / "b.png").exists()
