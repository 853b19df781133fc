"""Run every benchmark: ``python -m bench`` (or ``make bench``); ``python -m bench draft`` runs one."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

names = sys.argv[1:] or sorted(
    m.name.removeprefix("bench_")
    for m in pkgutil.iter_modules([str(Path(__file__).parent)])
    if m.name.startswith("bench_")
)
for name in names:
    importlib.import_module(f"bench.bench_{name}").main()
