"""Draft renderer speed: median time to render and encode one PNG, pinned to one core.

Targets: 1024x1024 (medium, 1:1) within 40 ms, 3840x2160 (high, 16:9) within 300 ms, with a
realistic spec: a gradient background with a texture, light from the upper left, a subject, a
headline and a subtext; beside each, the PNG encoding alone. Run with ``python -m bench draft``.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable

from PIL import Image

from bench._common import median, pin_to_one_core, report, timeit
from workbench.backends.base import ImageRequest
from workbench.backends.draft import DraftBackend, encode_png
from workbench.spec import PromptSpec, TextItem, compose

SPEC = PromptSpec(
    subject="a white leather sneaker on a concrete plinth",
    background="gradient from navy to #3A6EA5 with a subtle concrete texture",
    lighting="soft studio light from the upper left",
    texts=(TextItem("MOVE FORWARD"), TextItem("The new Aero runner, lighter than ever", "subtext")),
    details="accent colour #F07F6B",
)


def _cpu_times(fn: Callable[[], object], repeat: int) -> list[float]:
    """The thread's CPU milliseconds of each call: what other processes' load inflates least."""
    times = []
    for _ in range(repeat):
        start = time.thread_time()
        fn()
        times.append((time.thread_time() - start) * 1000)
    return times


def main() -> None:
    pinned = pin_to_one_core()
    backend = DraftBackend()
    figures = []
    for aspect, quality, target, repeat in (("1:1", "medium", 40, 21), ("16:9", "high", 300, 7)):
        spec = SPEC.replace(aspect=aspect, quality=quality)
        width, height = spec.size
        request = ImageRequest(compose(spec), width, height, quality=quality, spec=spec)
        png = backend.generate(request).images[0]
        size = len(png)
        times = timeit(lambda request=request: backend.generate(request), repeat=repeat, warmup=2)
        cpu = _cpu_times(lambda request=request: backend.generate(request), repeat)
        image = Image.open(io.BytesIO(png)).convert("RGB")  # the same pixels the renderer drew
        encoding = timeit(lambda image=image: encode_png(image), repeat=repeat, warmup=2)
        figures.append(
            {
                "name": f"render+encode PNG {width}x{height} ({quality} {aspect})",
                "value": median(times),
                "unit": "ms",
                "target": target,
                "min": min(times),
                "max": max(times),
                "bytes": size,
                "pinned": pinned,
            }
        )
        figures.append({"name": "  ... of which PNG encoding", "value": median(encoding), "unit": "ms"})
        figures.append(
            {"name": "  ... its CPU time (less swayed by load)", "value": median(cpu), "unit": "ms"}
        )
    figures.append({"name": "load average (1 min) when done", "value": os.getloadavg()[0], "unit": ""})
    report("draft", figures)


if __name__ == "__main__":
    main()
