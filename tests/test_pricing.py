"""Price tables: credits follow dollars (per model, size and quality, Batch API included) to the
hundredth of a credit, and a table that would mint money (negative, NaN or text prices, credits
finer than a hundredth) is refused when read."""

from __future__ import annotations

import statistics

import pytest
from conftest import ledger_state

from workbench import TemplateError, Workbench
from workbench.backends.base import ImageRequest
from workbench.credits import credits_value, format_credits, in_hundredths, round_credits
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
    assert prices.credits_per_image("openai", "gpt-image-2", "medium") == 2.0  # the promise, exactly
    assert prices.credits_per_image("openai", "gpt-image-2", "high") == 10.0
    four_k = prices.credits_per_image("openai", "gpt-image-2", "high", width=3840, height=2160)
    usd_4k = prices.image_usd("openai", "gpt-image-2", "high", width=3840, height=2160)
    usd_1k = prices.image_usd("openai", "gpt-image-2", "high")
    assert four_k == 79.11 and usd_4k / usd_1k == pytest.approx(7.91, abs=0.01)  # was 10 credits for $0.99
    # Fractional credits: what a row costs at its quality's rate, rounded up to the hundredth.
    assert prices.credits_per_image("openai", "gpt-image-2", "low") == 0.59  # $0.00816: was 1 credit
    assert prices.credits_per_image("openai", "gpt-image-1-mini", "high") == 2.67  # a cheaper model
    assert prices.credits_per_image("openai", "gpt-image-1-mini", "low", batch=True) == 0.08  # $0.0011
    assert prices.credits_per_image("openai", "gpt-image-1.5", "medium") == 2.14  # 2.1333 rounded up
    assert prices.credits_per_image("draft", None, "high", width=3840, height=2160) == 0


def test_credits_round_up_to_the_hundredth_without_float_noise():
    assert [round_credits(x) for x in (0.2731, 0.0001, 1.9999999999, 2.0000000001, 79.107)] == [
        0.28,
        0.01,  # anything billed costs at least a hundredth
        2.0,
        2.0,  # float noise is no hundredth more
        79.11,
    ]
    assert round_credits(0) == round_credits(-1) == 0.0
    # The last twentieth above a whole credit is forgiven (a prompt's text tokens keep the promised
    # 2 at 2), and what is past it rounds up to the hundredth.
    assert (round_credits(2.0006), round_credits(2.05), round_credits(2.0501), round_credits(0.04)) == (
        2.0,
        2.0,
        2.06,
        0.04,
    )
    assert credits_value(0.1 + 0.2) == 0.3 and credits_value(sum([0.1] * 10)) == 1.0
    assert [format_credits(x) for x in (2, 2.0, 0.35, 12.5, 0.1 + 0.2, 0, -1.35)] == [
        "2",
        "2",
        "0.35",
        "12.5",
        "0.3",
        "0",
        "-1.35",
    ]
    assert format_credits(1234567.5, grouped=True) == "1,234,567.5"
    assert in_hundredths(0.35) and in_hundredths(2) and not in_hundredths(0.355)


def test_each_quality_has_its_own_anchor_rate_so_credits_never_jump_on_a_small_size_change():
    """1024x1008 was 3 credits where 1024x1024 is 2 (a geometric-mean rate and an exact-match
    special case for the anchor); each quality now pays its own anchor's credits per dollar."""
    prices = PriceTable.load()
    rates = prices.credit_rates()
    assert rates["medium"] == pytest.approx(63.13, abs=0.01)  # 2 credits / $0.03168
    assert rates["high"] == pytest.approx(80.13, abs=0.01)  # 10 credits / $0.1248
    assert prices.credit_rate("low") == pytest.approx(71.12, abs=0.01)  # their geometric mean
    for quality, at_anchor in (("low", 0.59), ("medium", 2), ("high", 10)):
        for width, height in ((1024, 1008), (1008, 1024), (1024, 960), (1024, 1024)):
            credits = prices.credits_per_image("openai", "gpt-image-2", quality, width=width, height=height)
            assert credits <= at_anchor, (quality, width, height, credits)
    # Within a quality, more dollars never buy fewer credits (monotone over every size of the table).
    table = ModelTable.load()
    for model in table.names():
        for quality in table.info(model).quality_sizes:
            sizes = [(w, h) for w in range(512, 3841, 16) for h in (1024, 1536, 2160)]
            priced = sorted(
                (prices.image_usd("openai", model, quality, width=w, height=h), w, h) for w, h in sizes
            )
            credits = [
                prices.credits_per_image("openai", model, quality, width=w, height=h) for _, w, h in priced
            ]
            assert credits == sorted(credits), (model, quality)


def test_reference_and_edit_images_and_the_prompt_are_priced_in_credits_too(wb):
    """16 reference images at low quality were $0.139 for 1 credit: credits come from the whole
    estimated cost, image-in and text-in tokens included."""
    png = _png_bytes()
    plan = wb.plan("a fox", inputs=(png,) * 16, quality="low", backend="openai")
    assert plan.estimate.usd == pytest.approx(0.1392, abs=1e-4)
    assert plan.estimate.credits == 9.91  # $0.139 at low's 71.1 credits a dollar: 9.903, rounded up
    plain = wb.plan("a fox", quality="low", backend="openai")
    assert plain.estimate.credits == 0.59
    assert wb.plan("a fox", quality="medium", backend="openai").estimate.credits == 2  # the promise
    long_prompt = "a fox in a snowy forest at dusk, " * 100  # 3,300 characters: $0.004 of text
    assert wb.plan(long_prompt, quality="medium", backend="openai").estimate.credits == 2.27  # was 3
    edit = wb.plan("a fox", kind="edit", inputs=(png,) * 4, quality="medium", backend="openai")
    assert edit.estimate.credits == 4.08  # $0.0317 + 4 x 1024 input tokens at $8/M = $0.0645: 4.07+


def _png_bytes() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 80, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def test_batch_api_runs_get_their_discount_in_credits_too():
    prices = PriceTable.load()
    assert prices.credits_per_image("openai", "gpt-image-2", "medium", batch=True) == 1
    assert prices.credits_per_image("openai", "gpt-image-2", "high", batch=True) == 5
    request = ImageRequest("a mug", 3840, 2160, quality="high", n=2)
    direct, batch = (
        prices.estimate("openai", None, request),
        prices.estimate("openai", None, request, batch=True),
    )
    assert (direct.credits, batch.credits) == (158.22, 79.12)  # 2 x 79.11 and 2 x 39.56
    assert batch.usd == pytest.approx(direct.usd / 2)


def test_dollars_per_credit_stay_within_25_percent_of_the_median():
    """The issue's statement, plainly: over the whole table (every model, size and quality, direct
    and through the Batch API) every row's dollars per credit is within 25 % of their median, no
    exceptions. Credits of two decimals put each row on its quality's own rate; the median is the
    middle rate (low's, the geometric mean of medium's and high's), medium +12.7 % and high -11.6 %
    of it. (Whole credits left 133 of 486 rows outside: 1 credit for a $0.004 image, 1.07 -> 2.)"""
    prices = PriceTable.load()
    rows = _entries(prices, ModelTable.load())
    assert len(rows) >= 486  # 11 models x their qualities x their sizes, x 2 (direct, Batch API)
    median = statistics.median(r["per_credit"] for r in rows)
    outside = [r for r in rows if abs(r["per_credit"] / median - 1) > 0.25]
    assert not outside, outside[:5]
    assert median == pytest.approx(1 / prices.credit_rate("low"), rel=0.01)  # $0.01406 a credit
    deviations = {r["quality"]: r["per_credit"] / median - 1 for r in rows if r["size"] == (1024, 1024)}
    assert deviations["medium"] == pytest.approx(0.127, abs=0.01)
    assert deviations["high"] == pytest.approx(-0.11, abs=0.015)


def test_a_credit_never_stands_for_more_dollars_than_it_is_worth():
    """What keeps a credit budget from overrunning its dollars: at every row of the table an
    image's dollars are at most its credits at its quality's rate."""
    prices = PriceTable.load()
    for row in _entries(prices, ModelTable.load()):
        worth = 1 / prices.credit_rate(row["quality"])
        assert row["per_credit"] <= worth * (1 + 0.05 / row["credits"]) + 1e-12, row
        assert row["credits"] >= 0.01 and isinstance(row["credits"], float) and in_hundredths(row["credits"])


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            'credits:\n  openai:\n    "*": {low: 0.405, medium: 2, high: 10}\n',
            "credits.openai.*.low: 0.405 is finer",
        ),
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
        ("credit_anchor:\n  credits: {medium: 2.555}\n", "credit_anchor.credits.medium: 2.555"),
        ("credit_anchor:\n  credits: {high: 0}\n", "credit_anchor.credits.high: 0"),
        ("creditz: {}\n", "creditz"),
        # A service price of 0 credits would make paid runs free.
        ('credits:\n  openai:\n    "*": {medium: 0}\n', "credits.openai.*.medium: 0 credits would make paid"),
        # An anchor with no dollar price names its line.
        (
            "credit_anchor:\n  backend: openai\n  model: gpt-image-2\n  credits: {medium: 2, ultra: 20}\n",
            "prices.yaml:4: credit_anchor.credits.ultra: The credit anchor (openai gpt-image-2 ultra)",
        ),
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
    assert packaged.credits_per_image("openai", "gpt-image-1.5", "medium") == 2.14
    assert prices.credits_per_image("openai", "gpt-image-1.5", "medium") == 4.27  # twice the dollars
    assert prices.credits_per_image("openai", "gpt-image-1.5", "high", width=1024, height=1536) == 32
    assert prices.credits_per_image("openai", "gpt-image-2", "medium") == 2  # the promise holds
    assert Workbench(root).estimate("a mug", backend="openai", model="gpt-image-1.5").credits == 4.27
