"""Checks: time per check per 1024x1024 image, pinned to one core.

Targets: palette, contrast and safe area ≤ 50 ms each per 1024² image (a batch checks every image
it makes, so a check must cost far less than a render); aspect and size is printed beside them,
and the OCR text check (tesseract, seconds) without a target here (bench_finishing has its own).
Run with ``python -m bench checks``.
"""

from __future__ import annotations

import io

from PIL import Image

from bench._common import median, pin_to_one_core, report, timeit
from workbench.checks import run_checks
from workbench.checks.targets import check_spec
from workbench.imaging.ocr import ocr_available

TARGETS = {"palette": 50.0, "contrast": 50.0, "safe_area": 50.0, "aspect": None, "text_accuracy": None}


def _poster() -> tuple[Image.Image, dict]:
    """A 1024² draft poster with a headline and a subtext, and the recipe the draft records."""
    from workbench.backends.base import ImageRequest
    from workbench.backends.draft import DraftBackend
    from workbench.spec import PromptSpec, TextItem, compose

    spec = PromptSpec(
        subject="a white leather sneaker",
        background="deep navy (#1B2A4A) with a warm orange (#FF6600) glow",
        aspect="1:1",
        texts=[TextItem("MOVE FORWARD"), TextItem("The new Aero runner, lighter than ever", "subtext")],
    )
    result = DraftBackend().generate(ImageRequest(compose(spec), *spec.size, spec=spec))
    recipe = {"layout": result.raw["layout"][0], "size": "1024x1024"}
    image = Image.open(io.BytesIO(result.images[0]))
    image.load()
    return image, {"spec": spec, "recipe": recipe}


def main() -> None:
    pinned = pin_to_one_core()
    image, made = _poster()
    target = check_spec(made["spec"], made["recipe"])
    figures = []
    for name, limit in TARGETS.items():
        if name == "text_accuracy" and not ocr_available():
            continue
        repeat = 3 if name == "text_accuracy" else 15
        times = timeit(lambda name=name: run_checks(image, target, [name]), repeat=repeat, warmup=1)
        figure = {
            "name": f"{name} check, 1024x1024",
            "value": median(times),
            "unit": "ms",
            "min": min(times),
            "max": max(times),
            "pinned": pinned,
        }
        if limit is not None:
            figure["target"] = limit
        figures.append(figure)
    scores = {r.check: r.score for r in run_checks(image, target, list(TARGETS))}
    print("  scores of the poster:", ", ".join(f"{k} {v}" for k, v in scores.items()))
    report("checks", figures)


if __name__ == "__main__":
    main()
