"""``workbench batch run --adaptive``: successive halving over an experiment's cells.

An experiment with ``repeats: K`` and checks renders a few samples of every cell first, scores
them, and stops spending on each cell whose interval (of its first check's mean score, 95 %
bootstrap) lies wholly below the leading cell's; the others get twice the samples, and so on up
to K, within ``--budget``. Every round is a resume of one batch, so the report covers them all.

Example:
    >>> outcome = run_adaptive(wb, load_experiment("mug-styles"), checks=["palette"], budget=60)
    >>> outcome.rounds, outcome.dropped
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from workbench.batch.experiments import Experiment
from workbench.batch.folders import batch_folder
from workbench.batch.runner import BatchResult, new_batch_id, plan_batch, run_batch, write_batch_files
from workbench.credits import credits_value, format_credits
from workbench.errors import ExperimentError

if TYPE_CHECKING:
    from workbench.core import Workbench

__all__ = ["AdaptiveOutcome", "run_adaptive"]

FIRST_SAMPLES = 2


@dataclass
class AdaptiveOutcome:
    """What the adaptive batch did: its last round's result, the rounds, the samples each cell got,
    and the cells dropped (with the samples they had when their interval fell below the leader's)."""

    result: BatchResult
    rounds: int
    samples: dict[tuple[str, ...], int]
    dropped: dict[tuple[str, ...], int] = field(default_factory=dict)
    credits: float = 0.0

    def describe(self) -> str:
        lines = [
            self.result.describe(),
            f"adaptive: {self.rounds} round(s), {format_credits(self.credits)} credits in all",
        ]
        for cell, count in self.dropped.items():
            lines.append(
                f"  stopped {'/'.join(cell) or 'the cell'} after {count} sample(s): below the leader"
            )
        return "\n".join(lines)


def run_adaptive(
    wb: Workbench,
    experiment: Experiment,
    *,
    checks: list[str] | tuple[str, ...] | str | None = None,
    budget: float | None = None,
    batch_id: str | None = None,
    first: int = FIRST_SAMPLES,
    **options: Any,
) -> AdaptiveOutcome:
    """Run ``experiment`` by successive halving (see the module); ``options`` go to ``run_batch``."""
    from workbench.batch.report import batch_frame, write_report
    from workbench.checks import check_names
    from workbench.checks.stats import trailing_cells

    names = tuple(check_names(checks)) if checks else experiment.checks
    if not names:
        raise ExperimentError(
            "--adaptive needs checks to compare cells: give --checks or checks: in the file."
        )
    if experiment.repeats < 2:
        raise ExperimentError(
            "--adaptive needs repeats: K (2 or more) in the experiment, samples to compare."
        )
    primary = names[0]
    jobs = [replace(job, checks=names) for job in experiment.jobs]
    experiment = replace(experiment, jobs=jobs, checks=names)
    cells = list(dict.fromkeys(job.coords for job in jobs))
    samples = dict.fromkeys(cells, min(first, experiment.repeats))
    active = set(cells)
    dropped: dict[tuple[str, ...], int] = {}
    batch_id = batch_id or new_batch_id(experiment.name)
    spent, rounds = 0.0, 0
    while True:
        chosen = [job for job in jobs if job.repeat < samples[job.coords]]
        part = replace(experiment, jobs=chosen)
        left = None if budget is None else credits_value(budget - spent)
        if rounds == 0:
            result = run_batch(wb, part, batch_id=batch_id, budget=left, report=False, **options)
        else:
            # The batch grows by the new samples of the cells still in the running; a resume runs them.
            write_batch_files(batch_folder(wb, batch_id), plan_batch(wb, part))
            result = run_batch(wb, resume=batch_id, budget=left, report=False, **options)
        rounds += 1
        spent = credits_value(spent + result.credits)
        if result.left:  # the budget stopped it
            break
        frame = batch_frame(wb, batch_id)
        frame["cell"] = frame["coords"]
        frame = frame[frame["cell"].isin(active)]
        for cell in trailing_cells(frame, primary):
            active.discard(cell)
            dropped[cell] = samples[cell]
        if len(active) <= 1 or all(samples[c] >= experiment.repeats for c in active):
            break
        for cell in active:
            samples[cell] = min(experiment.repeats, samples[cell] * 2)
    written = write_report(wb, batch_id)
    result.contact_sheets, result.report = written.contact_sheets, written.html
    return AdaptiveOutcome(result, rounds, samples, dropped, spent)
