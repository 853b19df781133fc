"""The vision judge (placeholder until the Responses API judge lands)."""

from __future__ import annotations

from PIL import Image

from workbench.checks.base import CheckResult, CheckSpec

__all__ = ["judge"]


def judge(image: Image.Image, spec: CheckSpec) -> CheckResult:
    """A vision model's score of the image against a rubric."""
    return CheckResult("judge", None, "the vision judge is not available yet", 0.7)
