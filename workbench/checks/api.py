"""Checking a run's image through a Workbench: ``Workbench.check`` and the front ends call this.

The image (a Run, a stored path, a file, bytes or a Pillow image) is resolved as an edit's source
is; its spec and recipe say what it was meant to be; the checks run; and, when it is a run in this
run log, every score is stored (``Workbench.record_scores``) and the text check's reads too.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from PIL import Image

from workbench.checks import CheckResult, check_names, run_checks
from workbench.checks.targets import check_spec
from workbench.errors import SpecError
from workbench.spec import PromptSpec

if TYPE_CHECKING:
    import pandas as pd

    from workbench.core import Workbench

__all__ = ["RESULT_COLUMNS", "check_image", "results_frame"]

_TARGETS = {"texts", "palette", "aspect", "size", "margins", "rubric", "options"}
RESULT_COLUMNS = ["check", "score", "passed", "threshold", "reason", "credits", "usd", "judge_run_id"]


def check_image(
    wb: Workbench,
    image: Any,
    checks: str | Iterable[str] | None = None,
    *,
    record: bool = True,
    spec: PromptSpec | None = None,
    **targets: Any,
) -> tuple[list[CheckResult], str | None]:
    """Run ``checks`` on ``image``; returns the results and the run id they were stored under
    (None when the image is not a run of this run log, or ``record=False``). ``spec``: what the
    image was meant to be, when not its own (a repair's source spec).

    ``targets``: ``texts``, ``palette``, ``aspect``, ``size``, ``margins``, ``rubric``, and
    ``options`` (per check, e.g. ``{"judge": {"model": "gpt-4.1-mini"}}``) instead of the spec's.
    """
    from workbench.imaging.uploads import resolve_source

    unknown = sorted(set(targets) - _TARGETS)
    if unknown:
        raise SpecError(
            f"Unknown check option {unknown[0]!r}: use {', '.join(sorted(_TARGETS))}.", field=unknown[0]
        )
    names = check_names(checks)
    source = resolve_source(image, store_root=wb.root, max_bytes=1 << 31)
    run_id = source.parent_id
    recipe = source.recipe or {}
    spec = spec if spec is not None else getattr(image, "spec", None)
    if spec is None and recipe.get("spec"):
        spec = PromptSpec.from_dict(recipe["spec"])
    known = run_id is not None and wb.ledger.get(run_id) is not None
    target = check_spec(
        spec,
        recipe,
        context=wb,
        run_id=run_id if known else None,
        **{k: v for k, v in targets.items() if v is not None},
    )
    with Image.open(io.BytesIO(source.data)) as opened:
        opened.load()  # an animation's first frame
        results = run_checks(_checkable(opened), target, names)
    if record and known and run_id is not None:
        wb.record_scores(run_id, results, image_index=int(recipe.get("index") or 0))
        wb.refresh_views()
    return results, (run_id if known and record else None)


def _checkable(image: Image.Image) -> Image.Image:
    """The pixels the checks read: RGB, or RGBA when the image has transparency (a GIF's
    palette frame with a transparent index, a grey PNG with alpha)."""
    if image.mode in ("RGB", "RGBA"):
        return image
    alpha = image.mode in ("LA", "La", "PA", "RGBa") or "transparency" in image.info
    return image.convert("RGBA" if alpha else "RGB")


def results_frame(results: Iterable[CheckResult]) -> pd.DataFrame:
    """Check results as a DataFrame: check, score, passed, threshold, reason, credits, usd, judge_run_id."""
    import pandas as pd

    frame = pd.DataFrame([r.as_row() for r in results], columns=RESULT_COLUMNS)
    frame["score"] = frame["score"].astype("float64")
    return frame


def scores_of(results: Iterable[CheckResult]) -> Mapping[str, float | None]:
    """``{check: score}`` of some results."""
    return {r.check: r.score for r in results}
