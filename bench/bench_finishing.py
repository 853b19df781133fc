"""Free local finishing: background removal and 4K upscale time per 1024x1024 image, the cut-out's
IoU on the generated product-shot sets (flat-lit, and shaded with soft contact and cast shadows),
format choice and the OCR text check, pinned to one core.

Targets: background removal ≤ 1 s and 4K upscale ≤ 1 s per 1024x1024 image (a designer waits for
them interactively); mean IoU ≥ 0.95 on each set (worst shot ≥ 0.90 printed beside it); format
choice ≤ 2 s; OCR check ≤ 5 s per poster.
Run with ``python -m bench finishing``.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from bench._common import median, pin_to_one_core, report, timeit
from bench.cutout_set import product_shots, shaded_shot, shaded_shots, shot
from workbench.imaging.cutout import iou, remove_background
from workbench.imaging.finishing import upscale


def _poster() -> tuple[Image.Image, list, list]:
    from workbench.backends.base import ImageRequest
    from workbench.backends.draft import DraftBackend
    from workbench.spec import PromptSpec, TextItem, compose

    spec = PromptSpec(
        subject="a white leather sneaker",
        background="dark concrete",
        aspect="1:1",
        texts=[TextItem("MOVE FORWARD"), TextItem("The new Aero runner, lighter than ever", "subtext")],
    )
    result = DraftBackend().generate(ImageRequest(compose(spec), *spec.size, spec=spec))
    return Image.open(io.BytesIO(result.images[0])), list(spec.texts), result.raw["layout"][0]["texts"]


def main() -> None:
    pinned = pin_to_one_core()
    figures = []
    product = shot("bottle", "texture", 3, size=1024, seed=11).image
    lit = shaded_shot("bottle", "texture", 1, size=1024, seed=11).image
    for name, step in (
        ("background removal 1024x1024", remove_background),
        ("background removal 1024x1024, lit with soft shadows", lambda _image: remove_background(lit)),
        ("4K upscale 1024x1024 -> 3840x3840", upscale),
    ):
        times = timeit(lambda step=step: step(product), repeat=5, warmup=1)
        figures.append(
            {
                "name": name,
                "value": median(times),
                "unit": "ms",
                "target": 1000,
                "min": min(times),
                "max": max(times),
                "pinned": pinned,
            }
        )
    for size, make, kind in (
        (512, product_shots, "flat-lit"),
        (1024, product_shots, "flat-lit"),
        (512, shaded_shots, "shaded, soft shadows"),
        (1024, shaded_shots, "shaded, soft shadows"),
    ):
        shots = list(make(size=size))
        scores = {
            s.name: iou(np.asarray(remove_background(s.image).getchannel("A")) >= 128, s.mask) for s in shots
        }
        figures.append(
            {
                "name": f"cut-out mean IoU, {len(shots)} {kind} shots at {size}px",
                "value": float(np.mean(list(scores.values()))),
                "unit": "IoU",
                "target": 0.95,
                "lower_is_better": False,
                "min": min(scores.values()),
                "worst": min(scores, key=scores.get),
            }
        )
        figures.append(
            {
                "name": f"cut-out worst IoU, {kind} at {size}px",
                "value": min(scores.values()),
                "unit": "IoU",
                "target": 0.90,
                "lower_is_better": False,
                "shot": min(scores, key=scores.get),
            }
        )
    from workbench.imaging.formats import choose_format

    poster, texts, regions = _poster()
    photo = shot("circle", "texture", 1, size=1024, seed=2).image
    for name, image in (("draft poster", poster), ("textured product photo", photo)):
        result = choose_format(image)
        times = timeit(lambda image=image: choose_format(image), repeat=3, warmup=0)
        figures.append(
            {
                "name": f"format choice 1024x1024 {name}",
                "value": median(times),
                "unit": "ms",
                "target": 2000,
                "chosen": result.summary(),
            }
        )
    from workbench.imaging.ocr import check_texts, ocr_available

    if ocr_available():
        # As Workbench.check_text reads a draft (its recipe says where the texts were laid), and as
        # it reads an image without a layout (a service's: text regions found first).
        for name, laid in (("laid regions", regions), ("no layout", None)):
            times = timeit(lambda laid=laid: check_texts(poster, texts, regions=laid), repeat=3, warmup=0)
            accuracy = min(r["accuracy"] for r in check_texts(poster, texts, regions=laid))
            figures.append(
                {
                    "name": f"OCR text check 1024x1024 poster, {name}",
                    "value": median(times),
                    "unit": "ms",
                    "target": 5000,
                    "accuracy": accuracy,
                }
            )
    report("finishing", figures)


if __name__ == "__main__":
    main()
