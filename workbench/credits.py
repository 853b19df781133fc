"""Amounts of credits: floats of at most two decimals (whole hundredths of a credit).

Prices come from dollars (``workbench.pricing``) and are rounded up to the hundredth
(``round_credits``); balances, holds, charges and limits are sums and differences of those, kept to
two decimals (``credits_value``: 0.1 + 0.2 is 0.3, not 0.30000000000000004) so that comparing a
balance with a price never turns on float noise; and ``format_credits`` is how credits read
(2, 0.35, 12.5). No dependencies: the ledger, the wallet and the CLI all use it.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "CREDIT_STEP",
    "credits_value",
    "format_credits",
    "in_hundredths",
    "round_credits",
    "whole_credits_for",
]

# Exact credits within this above a whole number round down to it (see ``round_credits``).
_ROUNDING_SLACK = 0.05
CREDIT_STEP = 0.01
"""The smallest amount of credits: prices, balances and charges are whole hundredths."""
# Float noise below this (in hundredths) is not a hundredth more: 2.0000000001 stays 2.
_NOISE = 1e-6


def credits_value(value: Any) -> float:
    """An amount of credits as the wallet keeps it: a float of at most two decimals, the float
    noise of a sum or a difference taken off (0.1 + 0.2 is 0.3; a database's Decimal, an int, a
    NumPy number or None become that float too)."""
    if value is None:
        return 0.0
    number = round(float(value), 2)
    return number + 0.0  # (-0.0 is 0.0)


def in_hundredths(value: float) -> bool:
    """Whether a finite number is a whole number of hundredths (0.35 is; 0.355 is not)."""
    try:
        return abs(value * 100 - round(value * 100)) <= _NOISE
    except (OverflowError, ValueError):  # past 1e306, or NaN
        return False


def round_credits(exact: float) -> float:
    """Exact credits as a price: rounded UP to the hundredth of a credit (0.2731 -> 0.28), but
    float noise is no hundredth (2.0000000001 -> 2), nor is the last twentieth of a credit above a
    whole number (2.04 -> 2: a prompt's few text tokens do not turn the promised 2 into 2.01 or 3).
    Anything billed costs at least 0.01; nothing billed costs 0."""
    if not exact > 0:
        return 0.0
    whole = math.floor(exact + _NOISE / 100)
    if whole >= 1 and exact - whole <= _ROUNDING_SLACK + _NOISE:
        return float(whole)
    return credits_value(max(1, math.ceil(exact * 100 - _NOISE)) / 100)


def format_credits(credits: Any, *, grouped: bool = False) -> str:
    """Credits as people read them: 2 -> "2", 0.35 -> "0.35", 12.5 -> "12.5" (at most two
    decimals, no trailing zeros); ``grouped``: 1234.5 -> "1,234.5"."""
    value = credits_value(credits)
    whole, cents = divmod(round(abs(value) * 100), 100)
    text = f"{'-' if value < 0 else ''}{whole:,}" if grouped else f"{'-' if value < 0 else ''}{whole}"
    if cents:
        text += f".{cents:02d}".rstrip("0")
    return text


def whole_credits_for(short: Any) -> int:
    """The whole credits that cover a shortfall (a top-up to suggest): 0.65 -> 1, 8 -> 8."""
    return max(1, math.ceil(credits_value(short) - _NOISE))
