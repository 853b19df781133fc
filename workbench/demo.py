"""The main job, offline: an example of every preset on the draft backend, logged like any run.

Running it again renders nothing new: every request is found in the run log and recorded as a
``cached`` run at 0 credits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from workbench.core import Workbench

BATCH_ID = "demo"

# Follow-ups to a preset's own example: the second scene of a character series keeps the character.
EXTRA_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("character-series", {"subject": "reading a picture book under a big oak tree, legs crossed"}),
    (
        "marketing-poster",
        {
            "aspect": "3:2",
            "texts": [
                {"text": "SUMMER SALE 50% OFF", "role": "headline"},
                {"text": "This weekend only", "role": "subtext"},
            ],
        },
    ),
]


def run_demo(wb: Workbench, *, echo: Callable[[str], None] = print) -> pd.DataFrame:
    """Render every preset (and a few follow-ups) on the draft backend; return this demo's runs."""
    examples = [(preset.name, {}) for preset in wb.templates.presets()] + EXTRA_EXAMPLES
    run_ids = []
    for name, fields in examples:
        run = wb.generate(preset=name, backend="draft", batch_id=BATCH_ID, **fields)
        run_ids.append(run.id)
        echo(f"{run.status:<7} {name:<24} {run.size:>9}  {run.images[0]}")
    return wb.runs(id=run_ids)
