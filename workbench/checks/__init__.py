"""Checks: functions of (image, spec) that score how well an image meets its brief.

A check takes a Pillow image and a ``CheckSpec`` (what the image was meant to be: its exact texts
and where they were laid, its colours, aspect, size, subject box, margins, a rubric) and returns a
``CheckResult``: a score in [0, 1], whether it passes its threshold, and a reason in words. A check
that has nothing to judge (no texts, no colours named) returns ``score=None`` and says why.

Checks are registered like backends, under the entry-point group ``workbench.checks``
(``pyproject.toml``); the built-in ones are:

=================  ===========================================================  =========
name               what it scores                                               passes at
=================  ===========================================================  =========
``text_accuracy``  OCR character accuracy of the exact texts (mean)             0.98
``palette``        the spec's colours among the dominant ones (CIEDE2000)       0.8
``contrast``       WCAG contrast of each laid text against what is behind it    1.0 (AA)
``safe_area``      texts and subject inside the margins the format needs        0.98
``aspect``         aspect ratio and pixel size against the spec's               0.98
``judge``          a vision model's score against a rubric (online, priced)     0.7
=================  ===========================================================  =========

Example:
    >>> results = run_checks(image, CheckSpec(palette=(("navy", (27, 42, 74)),)), ["palette"])
    >>> results[0].score, results[0].reason
    (1.0, 'navy #1B2A4A covers 61% of the image (nearest ΔE 1.2)')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import entry_points
from typing import Any

from PIL import Image

from workbench.checks.base import CheckResult, CheckSpec
from workbench.errors import SpecError

__all__ = [
    "ENTRY_POINT_GROUP",
    "OFFLINE_CHECKS",
    "CheckResult",
    "CheckSpec",
    "available_checks",
    "check_names",
    "get_check",
    "register_check",
    "run_checks",
]

ENTRY_POINT_GROUP = "workbench.checks"
OFFLINE_CHECKS = ("text_accuracy", "palette", "contrast", "safe_area", "aspect")
_ALIASES = {"text": "text_accuracy", "texts": "text_accuracy", "ocr": "text_accuracy", "size": "aspect"}

CheckFunction = Callable[[Image.Image, CheckSpec], CheckResult]
_REGISTRY: dict[str, CheckFunction] = {}
_LOADED: dict[str, CheckFunction] = {}


def register_check(name: str, function: CheckFunction) -> None:
    """Register a check in this process (installed packages use the entry-point group instead)."""
    _REGISTRY[name] = function


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_checks() -> list[str]:
    """Every registered check's name: the built-in ones first, then the others sorted."""
    names = set(_REGISTRY) | set(_entry_points()) | set(OFFLINE_CHECKS) | {"judge"}
    builtin = [*OFFLINE_CHECKS, "judge"]
    return builtin + sorted(names - set(builtin))


def _builtin(name: str) -> CheckFunction | None:
    # The package's own checks work even where the entry points are not installed (a source tree).
    from workbench.checks import offline

    if name == "judge":
        from workbench.checks.judge import judge

        return judge
    return getattr(offline, name, None) if name in OFFLINE_CHECKS else None


def get_check(name: str) -> CheckFunction:
    """The check registered as ``name`` (aliases: text, ocr, size); ``SpecError`` names them all."""
    name = _ALIASES.get(name.strip().lower().replace("-", "_"), name.strip().lower().replace("-", "_"))
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _LOADED:
        return _LOADED[name]
    eps = _entry_points()
    if name in eps:
        try:
            function = eps[name].load()
        except (ImportError, AttributeError) as exc:
            raise SpecError(f"The {name} check cannot be loaded ({exc}).", field="checks") from None
    else:
        function = _builtin(name)
        if function is None:
            raise SpecError(
                f"Unknown check {name!r}: choose from {', '.join(available_checks())}.", field="checks"
            )
    _LOADED[name] = function
    return function


def check_names(checks: str | Iterable[str] | None, *, default: Sequence[str] = OFFLINE_CHECKS) -> list[str]:
    """Check names from ``"palette,contrast"`` or a list (aliases resolved, unknown ones refused)."""
    if checks is None:
        return list(default)
    if isinstance(checks, str):
        checks = checks.split(",")
    names: list[str] = []
    for raw in checks:
        raw = raw.strip()
        if not raw:
            continue
        if raw.lower() == "all":
            names += [n for n in OFFLINE_CHECKS if n not in names]
            continue
        key = _ALIASES.get(raw.lower().replace("-", "_"), raw.lower().replace("-", "_"))
        get_check(key)  # unknown: one sentence naming the checks there are
        if key not in names:
            names.append(key)
    if not names:
        raise SpecError("No checks named: give one or more of " + ", ".join(available_checks()) + ".")
    return names


def run_checks(
    image: Image.Image, spec: CheckSpec, checks: Iterable[str] | str | None = None
) -> list[CheckResult]:
    """Run each named check on ``image``; one ``CheckResult`` per check, in the order named."""
    results = []
    for name in check_names(checks):
        result = get_check(name)(image, spec)
        if result.check != name:
            result = dataclasses.replace(result, check=name)
        results.append(result)
    return results
