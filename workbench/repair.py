"""Render → check → repair: ``generate(..., until={"text_accuracy": 0.98}, max_attempts=3, budget=…)``.

The loop renders, checks the image against the thresholds in ``until`` (check name → minimum
score, ``workbench.checks``) and, while a check fails, repairs in the cheapest way that fixes it:

- only the exact texts fail (text accuracy or contrast) and the spec has them: a **local text
  overlay** — the failing texts typeset over the image where they were laid, on a plate that
  hides the wrong ones (a free finishing run, its parent the image it repairs);
- anything else: a **new variant** (a new sample of the same spec, paid like any render).

It stops at the first image that passes, after ``max_attempts``, or before an attempt whose
estimate would take the loop's spend past ``budget`` credits. Every attempt is a run in the run
log with its cost and its scores; the ``RepairResult`` says which attempt passed and what the
loop cost.

Example:
    >>> result = wb.generate(poster_spec, until={"text_accuracy": 0.98, "palette": 0.8}, budget=20)
    >>> result.passed, result.passed_attempt, result.credits
    (True, 2, 4)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.credits import credits_value, format_credits
from workbench.errors import SpecError

if TYPE_CHECKING:
    from workbench.checks.base import CheckResult
    from workbench.core import Workbench
    from workbench.runs import Run

__all__ = ["Attempt", "RepairResult", "TEXT_CHECKS", "generate_until"]

TEXT_CHECKS = frozenset({"text_accuracy", "contrast"})  # what a local overlay of the texts can fix


@dataclass
class Attempt:
    """One attempt of the loop: how it was made, its run, its scores and what failed."""

    number: int
    action: str  # render, overlay or variant
    run: Run
    results: list[CheckResult]
    failed: list[str]

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def scores(self) -> dict[str, float | None]:
        return {r.check: r.score for r in self.results}


@dataclass
class RepairResult:
    """The loop's outcome: the last (passing, when ``passed``) attempt's run, every attempt, which
    one passed, and the whole loop's credits and dollars (renders, repairs and checks)."""

    attempts: list[Attempt] = field(default_factory=list)
    stopped: str = ""  # why the loop ended without a passing image

    @property
    def run(self) -> Run:
        passing = [a for a in self.attempts if a.passed]
        return (passing[0] if passing else self.attempts[-1]).run

    @property
    def passed(self) -> bool:
        return any(a.passed for a in self.attempts)

    @property
    def passed_attempt(self) -> int | None:
        return next((a.number for a in self.attempts if a.passed), None)

    @property
    def credits(self) -> float:
        return credits_value(
            sum(a.run.credits for a in self.attempts)
            + sum(r.credits for a in self.attempts for r in a.results)
        )

    @property
    def usd(self) -> float:
        return round(
            sum(a.run.usd for a in self.attempts) + sum(r.usd for a in self.attempts for r in a.results), 6
        )

    @property
    def images(self) -> list[Any]:
        return self.run.images

    def describe(self) -> str:
        lines = []
        for a in self.attempts:
            scores = ", ".join(f"{k} {v:.2f}" if v is not None else f"{k} —" for k, v in a.scores.items())
            verdict = "passed" if a.passed else "failed " + ", ".join(a.failed)
            lines.append(
                f"attempt {a.number} ({a.action}, run {a.run.id[:8]}, "
                f"{format_credits(a.run.credits)} credits): {scores}: {verdict}"
            )
        if self.passed:
            lines.append(
                f"attempt {self.passed_attempt} passed; the loop cost "
                f"{format_credits(self.credits)} credits, ${self.usd:.4f}"
            )
        else:
            lines.append(
                f"no attempt passed ({self.stopped}); the loop cost {format_credits(self.credits)} credits, "
                f"${self.usd:.4f}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = f"passed at attempt {self.passed_attempt}" if self.passed else f"not passed ({self.stopped})"
        return (
            f"<RepairResult {state}, {len(self.attempts)} attempt(s), {format_credits(self.credits)} credits>"
        )


def _thresholds(until: Mapping[str, Any]) -> dict[str, float]:
    from workbench.checks import check_names

    if not isinstance(until, Mapping) or not until:
        raise SpecError('until= is a mapping of check name to minimum score, e.g. {"text_accuracy": 0.98}.')
    out = {}
    for name, value in until.items():
        key = check_names([str(name)])[0]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise SpecError(f"until[{name!r}] is a score from 0 to 1, not {value!r}.", field="until")
        out[key] = float(value)
    return out


def generate_until(
    wb: Workbench,
    spec: Any = None,
    *,
    until: Mapping[str, Any],
    max_attempts: int = 3,
    budget: int | None = None,
    check_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> RepairResult:
    """The loop (see the module); ``options`` are ``generate``'s; ``check_options`` go to the
    checks (``rubric``, ``palette``, ...)."""
    from workbench.checks.api import check_image

    thresholds = _thresholds(until)
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise SpecError(f"max_attempts is 1 or more, not {max_attempts!r}.", field="max_attempts")
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget >= 0
    ):
        raise SpecError(f"The budget is a number of credits, 0 or more, not {budget!r}.", field="budget")
    plan = wb.plan(spec, **options)  # bad input: one sentence, nothing made
    target = plan.spec
    variant = int(options.pop("variant", 0) or 0)
    result = RepairResult()
    spent = 0.0
    action, source = "render", None
    failing_texts: list[dict[str, Any]] = []
    for number in range(1, max_attempts + 1):
        if action == "overlay":
            assert source is not None
            run = _overlay(wb, source, failing_texts)
        else:
            if action == "variant":
                variant += 1
            estimate = wb.estimate(spec, variant=variant, **options)
            if budget is not None and credits_value(spent + estimate.credits) > budget:
                result.stopped = (
                    f"attempt {number} would cost {format_credits(estimate.credits)} credits, "
                    f"past the budget of {format_credits(budget)} ({format_credits(spent)} spent)"
                )
                break
            run = wb.generate(spec, variant=variant, **options)
        spent = credits_value(spent + run.credits)
        results, _ = check_image(wb, run, list(thresholds), spec=target, **dict(check_options or {}))
        spent = credits_value(spent + sum(r.credits for r in results))
        by_name = {r.check: r for r in results}
        failed = [
            n for n, floor in thresholds.items() if (by_name[n].score is None or by_name[n].score < floor)
        ]
        result.attempts.append(Attempt(number, action, run, results, failed))
        if not failed:
            return result
        failing_texts = _failing_texts(by_name, target)
        if set(failed) <= TEXT_CHECKS and failing_texts and action != "overlay":
            action, source = "overlay", run
        else:
            action, source = "variant", None
    else:
        result.stopped = f"{max_attempts} attempt(s) made"
    return result


def _failing_texts(by_name: Mapping[str, CheckResult], spec: Any) -> list[dict[str, Any]]:
    """The exact texts to lay again: those the text check read wrong (all, when only contrast
    failed or the reads are not known)."""
    texts = [{"text": t.text, "role": t.role} for t in (spec.texts if spec is not None else ())]
    text_check = by_name.get("text_accuracy")
    reads = (text_check.details.get("texts") if text_check is not None else None) or []
    wrong = {r["text"] for r in reads if r.get("accuracy", 0) < 1.0}
    if wrong and not (by_name.get("contrast") and by_name["contrast"].passed is False):
        return [t for t in texts if t["text"] in wrong]
    return texts


def _overlay(wb: Workbench, source: Run, texts: list[dict[str, Any]]) -> Run:
    """Typeset ``texts`` over the source where its recipe says they were laid (padded, on a plate
    that hides what was there), else at their roles' slots: a free local finishing run."""
    recipe = wb.recipe(source.images[0])
    laid = (recipe.get("layout") or {}).get("texts") or []
    width, height = source.width, source.height
    slots: dict[str, tuple[float, float, float, float]] = {}
    for item in laid:
        role, box = item.get("role"), item.get("box")
        if role not in {t["role"] for t in texts} or not box or role in slots:
            continue
        x0, y0, x1, y1 = (float(v) for v in box)
        pad = 0.12 * (y1 - y0)
        slots[role] = (
            max(0.0, (x0 - pad) / width),
            max(0.0, (y0 - pad) / height),
            min(1.0, (x1 + pad) / width),
            min(1.0, (y1 + pad) / height),
        )
    return wb.finish(source, "overlay_text", texts=texts, slots=slots or None, plate=True)
