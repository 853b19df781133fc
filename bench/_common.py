"""Shared bits of the benchmarks: print each figure beside its target, write JSON results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def pin_to_one_core() -> str:
    """Run on one core (the targets are per core); say which, for the results."""
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"core {core}"
    return "not pinned (no sched_setaffinity)"


def timeit(fn: Callable[[], object], *, repeat: int = 7, warmup: int = 1) -> list[float]:
    """Run ``fn`` and return the wall times in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(name: str, figures: list[dict]) -> Path:
    """Print ``figures`` (dicts with name, value, unit, target, and optional lower_is_better)
    and write them to ``bench/results/<name>.json``."""
    print(f"== {name}")
    for fig in figures:
        target = fig.get("target")
        lower = fig.get("lower_is_better", True)
        verdict = ""
        if target is not None:
            ok = fig["value"] <= target if lower else fig["value"] >= target
            verdict = f"  target {'≤' if lower else '≥'} {target:g} {fig['unit']}  {'ok' if ok else 'MISSED'}"
            fig["met"] = ok
        print(f"  {fig['name']:<48} {fig['value']:>10.2f} {fig['unit']}{verdict}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "figures": figures,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
