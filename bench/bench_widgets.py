"""Widget speed: a panel input change to an updated preview (target ≤ 20 ms) and a gallery of 1,000
runs built with every thumbnail the front end asks for (≤ 1 s, thumbnails cached on disk)."""

from __future__ import annotations

import io
import json
import random
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

from bench._common import median, report, timeit
from workbench import Workbench
from workbench.ledger import utc_now

RUNS = 1000


def _image(i: int) -> bytes:
    """A distinct 1024x1024 PNG (a gradient in its own colour), cheap to make."""
    rng = np.random.default_rng(i)
    base = rng.integers(0, 255, size=3)
    ramp = np.linspace(0, 1, 1024, dtype=np.float32)[:, None, None]
    pixels = (base * (0.4 + 0.6 * ramp) * np.ones((1, 1024, 1))).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _fill(wb: Workbench, count: int) -> None:
    presets = ["ecommerce-product", "marketing-poster", "character-series", None]
    with wb.ledger.transaction() as db:
        for i in range(count):
            relative = wb.store.put(_image(i), recipe={"run_id": str(i)})
            wb.ledger.record(
                {
                    "id": uuid.uuid4().hex,
                    "created_at": utc_now(),
                    "batch_id": f"batch-{i // 100}",
                    "kind": "generate",
                    "backend": "draft",
                    "model": "draft-1",
                    "preset": random.choice(presets),
                    "prompt": f"a matte black water bottle number {i} on white marble, "
                    "soft light from the left",
                    "spec": json.dumps({"subject": f"bottle {i}"}),
                    "params": "{}",
                    "width": 1024,
                    "height": 1024,
                    "quality": "medium",
                    "n": 1,
                    "status": random.choice(["ok", "ok", "ok", "cached"]),
                    "latency_ms": random.uniform(20, 900),
                    "fingerprint": uuid.uuid4().hex,
                    "images": [relative],
                },
                db=db,
            )


def _gallery(root: Path) -> int:
    """What showing the gallery costs: a fresh Workbench (cold run log), the gallery, and the
    thumbnails of every run it shows (what the front end asks for)."""
    wb = Workbench(root)
    gallery = wb.gallery(limit=None)
    gallery.load_thumbs()
    count = len(gallery.thumbs)
    wb.close()
    return count


def main() -> None:
    random.seed(7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "outputs"
        wb = Workbench(root)
        _fill(wb, RUNS)
        wb.generate(preset="marketing-poster")  # one real run, so the estimate has a cache to look in

        panel = wb.panel(preset="marketing-poster", threaded=False)
        counter = iter(range(10**6))
        subject = lambda: setattr(panel.inputs["subject"], "value", f"a red bicycle number {next(counter)}")  # noqa: E731
        preview = timeit(subject, repeat=50, warmup=3)
        aspect_values = iter(["3:2", "2:3"] * 100)
        aspect = timeit(lambda: setattr(panel.inputs["aspect"], "value", next(aspect_values)), repeat=20)
        preset_values = iter(["ecommerce-product", "character-series"] * 100)
        preset = timeit(lambda: setattr(panel.inputs["preset"], "value", next(preset_values)), repeat=20)

        start = time.perf_counter()
        shown = _gallery(root)
        cold = (time.perf_counter() - start) * 1000
        assert shown == RUNS + 1, shown
        warm = timeit(lambda: _gallery(root), repeat=5, warmup=0)
        build_only = timeit(lambda: Workbench(root).gallery(limit=None), repeat=5, warmup=0)
        wb.close()

    report(
        "widgets",
        [
            {
                "name": "panel: subject typed → preview, lint, estimate, wallet",
                "value": median(preview),
                "unit": "ms",
                "target": 20,
            },
            {"name": "panel: aspect changed → updated", "value": median(aspect), "unit": "ms", "target": 20},
            {
                "name": "panel: preset changed → inputs filled, updated",
                "value": median(preset),
                "unit": "ms",
                "target": 20,
            },
            {
                "name": f"gallery of {RUNS + 1:,} runs + all thumbnails (cached)",
                "value": median(warm),
                "unit": "ms",
                "target": 1000,
            },
            {"name": f"gallery of {RUNS + 1:,} runs, rows only", "value": median(build_only), "unit": "ms"},
            {"name": f"gallery of {RUNS + 1:,} runs + thumbnails made cold", "value": cold, "unit": "ms"},
        ],
    )


if __name__ == "__main__":
    main()
