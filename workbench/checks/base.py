"""What a check is given and what it answers: ``CheckSpec`` and ``CheckResult``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckResult", "CheckSpec"]

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class CheckSpec:
    """What an image was meant to be, as far as the checks need to know.

    Args:
        texts: exact texts, each a dict with ``text``, ``role`` and (when known) ``box``
            (left, top, right, bottom in pixels) and ``lines``.
        palette: the colours asked for, as (label, (r, g, b)).
        aspect: the aspect ratio asked for (``"2:3"``).
        size: the pixel size asked for (width, height).
        subject: the subject's box, when known.
        margins: the safe area's margins as fractions (left, top, right, bottom); by default
            ``safe_margins(aspect)``.
        rubric: for the vision judge, what a good image is, in plain words.
        context: the Workbench a check that needs one (the judge) runs through.
        run_id: the run the image belongs to (the judge's run names it as its parent).
        options: per-check options (``{"judge": {"model": ...}}``).
    """

    texts: tuple[Mapping[str, Any], ...] = ()
    palette: tuple[tuple[str, RGB], ...] = ()
    aspect: str | None = None
    size: tuple[int, int] | None = None
    subject: Box | None = None
    margins: Box | None = None
    rubric: str | None = None
    context: Any = field(default=None, compare=False, repr=False)
    run_id: str | None = None
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def replace(self, **changes: Any) -> CheckSpec:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict on one image: ``score`` in [0, 1] (None: nothing to judge), whether it
    ``passed`` its ``threshold``, the ``reason`` in words, and what it cost (the judge's run)."""

    check: str
    score: float | None
    reason: str
    threshold: float
    details: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None  # the judge's own run in the run log
    credits: float = 0.0
    usd: float = 0.0

    @property
    def passed(self) -> bool | None:
        return None if self.score is None else self.score >= self.threshold - 1e-9

    def as_row(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "score": self.score,
            "passed": self.passed,
            "threshold": self.threshold,
            "reason": self.reason,
            "credits": self.credits,
            "usd": self.usd,
            "judge_run_id": self.run_id,
        }
