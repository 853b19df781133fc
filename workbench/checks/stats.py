"""Which factor value wins, with what confidence: bootstrap intervals over an experiment's samples.

Each factor value's samples are the check scores of every image made with it (across the other
factors and the repeats). Its mean gets a 95 % bootstrap percentile interval (resampling the
samples with replacement, ``BOOTSTRAP`` times, from a fixed seed so a report reads the same every
time). A value **wins** only where its interval lies wholly above the runner-up's; otherwise the
report says no value wins yet.

Example:
    >>> table = factor_intervals(frame, labels, "palette")
    >>> print(conclusion(table, "style", "palette")["sentence"])
    style `editorial` beats `product` on palette, 0.91 vs 0.74 (95 % CI 0.88–0.94 vs
    0.70–0.78), at $0.042 per passing image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BOOTSTRAP",
    "bootstrap_interval",
    "conclusion",
    "experiment_conclusions",
    "factor_intervals",
    "trailing_cells",
]

BOOTSTRAP = 2000
LEVEL = 0.95
_NAMES = {
    "text_accuracy": "text accuracy",
    "palette": "palette",
    "contrast": "text contrast",
    "safe_area": "safe area",
    "aspect": "aspect and size",
    "judge": "the judge's score",
}


def bootstrap_interval(
    samples: Sequence[float], *, level: float = LEVEL, draws: int = BOOTSTRAP, seed: int = 0
) -> tuple[float, float, float]:
    """(mean, low, high): the samples' mean and its bootstrap percentile interval."""
    values = np.asarray([v for v in samples if v == v], dtype=np.float64)  # NaN: not checked
    if not len(values):
        return float("nan"), float("nan"), float("nan")
    if len(values) == 1:
        return float(values[0]), float(values[0]), float(values[0])
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(draws, len(values)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(values.mean()), float(low), float(high)


def factor_intervals(
    frame: pd.DataFrame, labels: pd.Series, check: str, *, usd_per_passing: pd.Series | None = None
) -> pd.DataFrame:
    """One row per factor value (``labels``: each job's value on the axis): samples, mean score,
    interval, and whether it wins; best mean first."""
    import pandas as pd

    rows = []
    for value, scores in frame[check].groupby(labels, sort=False):
        mean, low, high = bootstrap_interval(scores.to_list())
        rows.append(
            {
                "value": value,
                "samples": int(scores.notna().sum()),
                "mean": mean,
                "low": low,
                "high": high,
                "usd_per_passing": None if usd_per_passing is None else usd_per_passing.get(value),
            }
        )
    table = pd.DataFrame(rows, columns=["value", "samples", "mean", "low", "high", "usd_per_passing"])
    table = table.sort_values("mean", ascending=False, na_position="last", kind="stable").reset_index(
        drop=True
    )
    table["winner"] = False
    scored = table[table["samples"] > 0]
    if len(scored) >= 2 and scored.iloc[0]["low"] > scored.iloc[1]["high"] + 1e-12:
        table.loc[scored.index[0], "winner"] = True
    return table


def _score(value: float) -> str:
    return f"{value:.2f}"


def conclusion(table: pd.DataFrame, axis: str, check: str) -> dict[str, Any]:
    """The sentence a report says about one factor on one check, with its figures."""
    name = _NAMES.get(check, check)
    scored = table[table["samples"] > 0]
    if len(scored) < 2:
        return {
            "axis": axis,
            "check": check,
            "winner": None,
            "sentence": f"{axis}: too few scores on {name}.",
        }
    first, second = scored.iloc[0], scored.iloc[1]
    interval = (
        f"95 % CI {_score(first['low'])}–{_score(first['high'])} vs "
        f"{_score(second['low'])}–{_score(second['high'])}"
    )
    if bool(first["winner"]):
        cost = first.get("usd_per_passing")
        money = f", at ${cost:.3f} per passing image" if cost is not None and cost == cost else ""
        sentence = (
            f"{axis} `{first['value']}` beats `{second['value']}` on {name}, "
            f"{_score(first['mean'])} vs {_score(second['mean'])} ({interval}){money}."
        )
        winner = first["value"]
    else:
        sentence = (
            f"{axis}: no value wins on {name} yet: `{first['value']}` {_score(first['mean'])} and "
            f"`{second['value']}` {_score(second['mean'])} ({interval}) overlap; more repeats would tell."
        )
        winner = None
    return {
        "axis": axis,
        "check": check,
        "winner": winner,
        "sentence": sentence,
        "leader": first["value"],
        "runner_up": second["value"],
    }


def trailing_cells(frame: pd.DataFrame, check: str, *, cell: str = "cell") -> set[Any]:
    """Cells (``frame[cell]``) whose interval lies wholly below the leading cell's: successive
    halving stops spending on them."""
    stats = {}
    for key, scores in frame[check].groupby(frame[cell], sort=False):
        mean, low, high = bootstrap_interval(scores.to_list())
        if mean == mean:
            stats[key] = (mean, low, high)
    if len(stats) < 2:
        return set()
    leader = max(stats, key=lambda k: stats[k][0])
    floor = stats[leader][1]
    return {key for key, (_mean, _low, high) in stats.items() if key != leader and high < floor - 1e-12}


def experiment_conclusions(
    frame: pd.DataFrame, axes: Sequence[dict[str, Any]], ranking: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    """For every axis of a batch and every check its jobs were scored on: the values ranked by
    mean score with their intervals, and the sentence that says which wins (or that none does).

    ``frame`` is a batch's jobs (``coords`` and one column per check); ``ranking`` (the report's
    ranking table) gives each value's dollars per passing image.
    """
    from workbench.ledger.scores import SCORE_FRAME_COLUMNS

    checks = [c for c in ("text_accuracy", *SCORE_FRAME_COLUMNS) if c in frame and frame[c].notna().any()]
    out = []
    for position, axis in enumerate(axes):
        labels = frame["coords"].map(lambda c, p=position: c[p] if len(c) > p else "")
        usd = None
        if ranking is not None and len(ranking) and "usd_per_passing" in ranking:
            part = ranking[ranking["axis"] == axis["name"]]
            usd = dict(zip(part["value"], part["usd_per_passing"], strict=True))
        for check in checks:
            table = factor_intervals(frame, labels, check, usd_per_passing=usd)
            said = conclusion(table, axis["name"], check)
            said["rows"] = table.to_dict("records")
            out.append(said)
    return out
