"""Price tables: credits follow dollars (per model, size and quality, Batch API included), and a
table that would mint money (negative, fractional, NaN or text prices) is refused when read."""

from __future__ import annotations

import math
import statistics

import pytest
from conftest import ledger_state

from workbench import TemplateError, Workbench
from workbench.backends.base import ImageRequest
from workbench.models import ModelTable
from workbench.pricing import PriceTable


def _entries(prices: PriceTable, table: ModelTable) -> list[dict]:
    """Every model, size and quality the tables hold, direct and through the Batch API."""
    rows = []
    for model in table.names():
        for quality, per_aspect in table.info(model).quality_sizes.items():
            for width, height in sorted(set(per_aspect.values())):
                for batch in (False, True):
                    credits = prices.credits_per_image(
                        "openai", model, quality, width=width, height=height, batch=batch
                    )
                    usd = prices.image_usd("openai", model, quality, width=width, height=height, batch=batch)
                    exact = prices.exact_credits("openai", model, quality, width=width, height=height)
                    rows.append(
                        {
                            "model": model,
                            "quality": quality,
                            "size": (width, height),
                            "batch": batch,
                            "credits": credits,
                            "usd": usd,
                            "exact": exact * (prices.batch_discount if batch else 1),
                            "per_credit": usd / credits,
                        }
                    )
    return rows


def test_the_products_promise_stays_and_other_sizes_scale_with_dollars():
    prices = PriceTable.load()
    assert prices.credits_per_image("openai", "gpt-image-2", "medium") == 2
    assert prices.credits_per_image("openai", "gpt-image-2", "high") == 10
    four_k = prices.credits_per_image("openai", "gpt-image-2", "high", width=3840, height=2160)
    usd_4k = prices.image_usd("openai", "gpt-image-2", "high", width=3840, height=2160)
    usd_1k = prices.image_usd("openai", "gpt-image-2", "high")
    assert four_k == 71 and usd_4k / usd_1k == pytest.approx(7.91, abs=0.01)  # was 10 credits for $0.99
    assert prices.credits_per_image("openai", "gpt-image-1-mini", "high") == 3  # a cheaper model costs less
    assert prices.credits_per_image("draft", None, "high", width=3840, height=2160) == 0


def test_batch_api_runs_get_their_discount_in_credits_too():
    prices = PriceTable.load()
    assert prices.credits_per_image("openai", "gpt-image-2", "medium", batch=True) == 1
    assert prices.credits_per_image("openai", "gpt-image-2", "high", batch=True) == 5
    request = ImageRequest("a mug", 3840, 2160, quality="high", n=2)
    direct, batch = (
        prices.estimate("openai", None, request),
        prices.estimate("openai", None, request, batch=True),
    )
    assert (direct.credits, batch.credits) == (142, 72)
    assert batch.usd == pytest.approx(direct.usd / 2)


def test_dollars_per_credit_stay_within_25_percent_of_the_median():
    rows = _entries(PriceTable.load(), ModelTable.load())
    median = statistics.median(r["per_credit"] for r in rows)
    assert 0.0125 < median < 0.0145  # about $0.013 a credit
    # Whole credits, rounded up: an image of c credits can be up to 1/c below its dollars' worth, so
    # the band is asserted where rounding moves it by less than a quarter (4 credits and more).
    banded = [r for r in rows if r["credits"] >= 4]
    assert len(banded) > len(rows) / 3
    outside = [r for r in banded if abs(r["per_credit"] / median - 1) > 0.25]
    assert not outside, outside[:3]


def test_a_credit_never_stands_for_more_dollars_than_it_is_worth():
    """What keeps a credit budget from overrunning its dollars: every image's dollars are at most
    its credits at the table's rate, except the promised medium 1024x1024 (2 credits for $0.032)."""
    prices = PriceTable.load()
    scale, anchored = prices.credit_scale()
    worth = 1 / scale
    assert worth == pytest.approx(0.01406, abs=1e-4)
    for row in _entries(prices, ModelTable.load()):
        promised = row["quality"] == "medium" and math.isclose(
            row["usd"] / (prices.batch_discount if row["batch"] else 1), anchored["medium"]
        )
        limit = anchored["medium"] / 2 if promised else worth
        assert row["per_credit"] <= limit * (1 + 1e-9), row
        assert row["credits"] >= 1 and isinstance(row["credits"], int)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('credits:\n  openai:\n    "*": {low: 0.4, medium: 2, high: 10}\n', "credits.openai.*.low: 0.4"),
        ('credits:\n  openai:\n    "*": {low: -2, medium: 2, high: 10}\n', "credits.openai.*.low: -2"),
        ('credits:\n  openai:\n    "*": {low: .nan, medium: 2, high: 10}\n', "credits.openai.*.low: nan"),
        ('credits:\n  openai:\n    "*": {low: abc, medium: 2, high: 10}\n', "credits.openai.*.low: 'abc'"),
        ('credits:\n  openai:\n    "*": {low: true}\n', "credits.openai.*.low: True"),
        ("usd_per_million_tokens:\n  openai:\n    gpt-image-2: {image_out: -30}\n", "image_out: -30"),
        ("usd_per_million_tokens:\n  openai:\n    gpt-image-2: {image_out: .nan}\n", "image_out: nan"),
        ("usd_per_million_tokens:\n  openai:\n    gpt-image-2: {image_out: thirty}\n", "image_out: 'thirty'"),
        ("usd_per_million_tokens:\n  openai:\n    gpt-image-2: {pixels: 3}\n", "gpt-image-2.pixels"),
        ("output_tokens_1mp:\n  openai:\n    '*': {high: .inf}\n", "output_tokens_1mp.openai.*.high: inf"),
        ("batch_discount: 0\n", "batch_discount: 0"),
        ("batch_discount: 1.5\n", "batch_discount: 1.5"),
        ("credit_anchor:\n  credits: {medium: 2.5}\n", "credit_anchor.credits.medium: 2.5"),
        ("credit_anchor:\n  credits: {high: 0}\n", "credit_anchor.credits.high: 0"),
        ("creditz: {}\n", "creditz"),
        ("credits: [1, 2]\n", "credits: [1, 2]"),
    ],
)
def test_a_table_that_would_mint_money_is_refused_at_load(root, cli, text, key):
    root.mkdir(parents=True, exist_ok=True)
    (root / "prices.yaml").write_text(text)
    with pytest.raises(TemplateError) as caught:
        PriceTable.load(root)
    message = str(caught.value)
    assert message.startswith(str(root / "prices.yaml")) and key in message and "\n" not in message
    before = ledger_state(root)
    code, out, err = cli("generate", "a mug", "--backend", "openai", "--dry-run")
    assert code == 1 and out == "" and key in err and err.count("\n") == 1
    assert ledger_state(root) == before


def test_a_sound_override_still_merges(root):
    root.mkdir(parents=True, exist_ok=True)
    (root / "prices.yaml").write_text(
        "usd_per_million_tokens:\n  openai:\n    gpt-image-1.5: {image_out: 64}\n"
    )
    packaged, prices = PriceTable.load(), PriceTable.load(root)
    assert packaged.credits_per_image("openai", "gpt-image-1.5", "medium") == 3
    assert prices.credits_per_image("openai", "gpt-image-1.5", "medium") == 5  # twice the dollars
    assert prices.credits_per_image("openai", "gpt-image-1.5", "high", width=1024, height=1536) == 29
    assert prices.credits_per_image("openai", "gpt-image-2", "medium") == 2  # the promise holds
    assert Workbench(root).estimate("a mug", backend="openai", model="gpt-image-1.5").credits == 5
