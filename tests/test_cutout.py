"""Background removal and replacement on generated product shots with known masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.cutout_set import product_shots, shot
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
