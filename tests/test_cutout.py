"""Background removal and replacement on generated product shots with known masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.cutout_set import product_shots, shaded_shot, shaded_shots, shot
from workbench.imaging.cutout import iou, remove_background, replace_background


def _alpha_mask(image: Image.Image) -> np.ndarray:
    return np.asarray(image.getchannel("A")) >= 128


@pytest.mark.slow
def test_mean_iou_on_the_generated_set_is_at_least_095():
    shots = list(product_shots(size=384))
    scores = {s.name: iou(_alpha_mask(remove_background(s.image)), s.mask) for s in shots}
    assert len(shots) >= 18
    assert {s.name.split("-")[1] for s in shots} == {"plain", "gradient", "texture"}
    assert np.mean(list(scores.values())) >= 0.95, scores
    assert min(scores.values()) >= 0.85, scores


def test_large_images_are_cut_at_full_resolution():
    s = shot("bottle", "gradient", 1, size=1200, seed=3)
    cut = remove_background(s.image)
    assert cut.mode == "RGBA" and cut.size == (1200, 1200)
    assert iou(_alpha_mask(cut), s.mask) >= 0.95


def test_edge_is_feathered_but_subject_and_background_are_solid():
    s = shot("circle", "plain", 0, size=256, seed=1)
    alpha = np.asarray(remove_background(s.image).getchannel("A"))
    assert alpha[128, 128] == 255 and alpha[2, 2] == 0
    assert ((alpha > 0) & (alpha < 255)).sum() > 0  # a soft edge


def test_replace_background_with_a_colour_and_a_gradient():
    s = shot("rounded", "plain", 2, size=256, seed=2)
    white = np.asarray(replace_background(s.image, "white"))
    assert white.shape == (256, 256, 3)
    assert tuple(white[3, 3]) == (247, 247, 245)  # the draft palette's white
    inside = np.argwhere(s.mask)[len(np.argwhere(s.mask)) // 2]
    assert abs(int(white[tuple(inside)][1]) - int(np.asarray(s.image)[tuple(inside)][1])) <= 2
    ramp = np.asarray(replace_background(s.image, "#FF0000", to="#0000FF"))
    assert ramp[1, 1, 0] > 200 and ramp[-2, 1, 2] > 200


def test_replace_background_with_another_image():
    s = shot("polygon", "plain", 0, size=200, seed=4)
    backdrop = Image.new("RGB", (400, 300), (10, 120, 10))
    out = np.asarray(replace_background(s.image, backdrop))
    assert tuple(out[2, 2]) == (10, 120, 10)


@pytest.mark.parametrize("instruction", ["remove the background", "make the background transparent"])
def test_background_removal_is_a_free_run_with_a_transparent_png(wb, tmp_path, instruction):
    s = shot("bottle", "texture", 3, size=320, seed=5)
    path = tmp_path / "product.png"
    s.image.save(path)
    run = wb.edit(path, instruction)
    assert run.backend == "draft" and run.credits == 0 and run.kind == "edit"
    out = run.image()
    assert out.format == "PNG" and out.mode == "RGBA"
    assert iou(_alpha_mask(out), s.mask) >= 0.95


def test_replace_background_instruction_paints_a_white_studio_wall(wb, tmp_path):
    s = shot("circle", "gradient", 1, size=320, seed=6)
    path = tmp_path / "mug.jpg"
    s.image.save(path, quality=95)
    run = wb.edit(path, "Replace the background with a white studio wall, keep the subject")
    assert run.backend == "draft" and run.credits == 0
    assert run.image().mode == "RGB"
    corner = np.asarray(run.image())[4, 4]
    assert corner.min() >= 240


def test_finish_replaces_the_background_with_an_image_file(wb, tmp_path):
    s = shot("rounded", "plain", 0, size=256, seed=7)
    product, backdrop = tmp_path / "p.png", tmp_path / "b.png"
    s.image.save(product)
    Image.new("RGB", (256, 256), (0, 0, 200)).save(backdrop)
    run = wb.finish(product, "replace_background", background=backdrop)
    assert tuple(np.asarray(run.image())[3, 3]) == (0, 0, 200)


# -- lit products with soft shadows: the shadows stay behind, the object's shading stays -------
@pytest.mark.slow
def test_shaded_objects_with_soft_shadows_cut_without_halos():
    shots = list(shaded_shots(size=384))
    assert len(shots) >= 24
    assert {s.name.split("-")[2] for s in shots} == {"plain", "gradient", "texture"}
    scores = {s.name: iou(_alpha_mask(remove_background(s.image)), s.mask) for s in shots}
    assert np.mean(list(scores.values())) >= 0.95, scores
    assert min(scores.values()) >= 0.90, scores


def test_the_shadow_stays_behind_and_the_shaded_side_stays_with_the_object():
    s = shaded_shot("circle", "plain", 0, size=320, seed=101)
    alpha = np.asarray(remove_background(s.image).getchannel("A"))
    outside = ~s.mask
    shadowed = outside & (np.asarray(s.image.convert("L")) < 200)  # the soft shadows on the sweep
    assert shadowed.sum() > 500
    assert (alpha[shadowed] < 128).mean() >= 0.97  # left behind
    ys, xs = np.nonzero(s.mask)
    dark_side = s.mask & (np.asarray(s.image.convert("L")) < 90)  # the object's own shade
    assert dark_side.sum() > 100 and (alpha[dark_side] >= 128).mean() >= 0.97
    ring = cv2_dilate(s.mask, 12) & ~cv2_dilate(s.mask, 2)  # 2-12 px around the object
    assert (alpha[ring] >= 128).mean() <= 0.05  # no halo


def cv2_dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def test_a_background_replacement_keeps_the_exact_texts(wb):
    from workbench.imaging.ocr import ocr_available
    from workbench.spec import TextItem

    run = wb.generate(
        subject="a red sneaker",
        background="solid navy background (#1B2A4A)",
        texts=[TextItem("MOVE FORWARD"), TextItem("Lighter than ever", "subtext")],
    )
    edited = wb.edit(run, "white background")
    assert edited.backend == "draft" and edited.credits == 0
    image = np.asarray(edited.image().convert("RGB"))
    laid = wb.recipe(edited.images[0])["layout"]["texts"]
    assert [t["text"] for t in laid] == ["MOVE FORWARD", "Lighter than ever"]
    x0, y0, x1, y1 = laid[0]["box"]
    assert (image[y0:y1, x0:x1].min(axis=2) < 80).mean() > 0.1  # dark ink on the new white
    if ocr_available():
        checked = wb.check_text(edited, texts=["MOVE FORWARD", "Lighter than ever"])
        assert (checked["accuracy"] >= 0.98).all(), checked
