"""Price tables: credits follow dollars (per model, size and quality, Batch API included), and a
table that would mint money (negative, fractional, NaN or text prices) is refused when read."""

from __future__ import annotations

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
    assert four_k == 80 and usd_4k / usd_1k == pytest.approx(7.91, abs=0.01)  # was 10 credits for $0.99
    assert prices.credits_per_image("openai", "gpt-image-1-mini", "high") == 3  # a cheaper model costs less
    assert prices.credits_per_image("draft", None, "high", width=3840, height=2160) == 0


def test_each_quality_has_its_own_anchor_rate_so_credits_never_jump_on_a_small_size_change():
    """1024x1008 was 3 credits where 1024x1024 is 2 (a geometric-mean rate and an exact-match
    special case for the anchor); each quality now pays its own anchor's credits per dollar."""
    prices = PriceTable.load()
    rates = prices.credit_rates()
    assert rates["medium"] == pytest.approx(63.13, abs=0.01)  # 2 credits / $0.03168
    assert rates["high"] == pytest.approx(80.13, abs=0.01)  # 10 credits / $0.1248
    assert prices.credit_rate("low") == pytest.approx(71.12, abs=0.01)  # their geometric mean
    for quality, at_anchor in (("low", 1), ("medium", 2), ("high", 10)):
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
    assert plan.estimate.credits == 10  # $0.139 at low's 71.1 credits a dollar, rounded up
    plain = wb.plan("a fox", quality="low", backend="openai")
    assert plain.estimate.credits == 1
    assert wb.plan("a fox", quality="medium", backend="openai").estimate.credits == 2  # the promise
    long_prompt = "a fox in a snowy forest at dusk, " * 100  # 3,300 characters: $0.004 of text
    assert wb.plan(long_prompt, quality="medium", backend="openai").estimate.credits == 3
    edit = wb.plan("a fox", kind="edit", inputs=(png,) * 4, quality="medium", backend="openai")
    assert edit.estimate.credits == 5  # $0.0317 + 4 x 1024 input tokens at $8/M = $0.0645: 4.07 credits


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
    assert (direct.credits, batch.credits) == (160, 80)
    assert batch.usd == pytest.approx(direct.usd / 2)


def test_dollars_per_credit_stay_within_25_percent_of_the_median():
    """Over the whole table (486 rows: 11 models x 3 qualities x their sizes, direct and through
    the Batch API), every row is within 25 % of the median dollars per credit, except the rows
    whole credits cannot put there, each named here with its numbers."""
    prices = PriceTable.load()
    rows = _entries(prices, ModelTable.load())
    assert len(rows) == 486
    median = statistics.median(r["per_credit"] for r in rows)
    assert median == pytest.approx(0.01234, abs=1e-5)  # about 81 credits a dollar (high's rate)
    medium_worth = 1 / prices.credit_rate("medium")  # $0.01584 a credit: the promised 2 for $0.0317

    floor, rounded, medium_rate, inside = [], [], [], []
    for r in rows:
        deviation = r["per_credit"] / median - 1
        if abs(deviation) <= 0.25:
            inside.append(r)
        elif r["exact"] < 0.95:  # 1. the 1-credit floor: less than a credit's dollars still costs 1
            assert r["credits"] == 1 and deviation < -0.25
            floor.append(r)
        elif r["credits"] / r["exact"] > 1.25:  # 2. rounding up 1.07 -> 2 or 1.33 -> 2 credits
            assert r["credits"] == 2 and -0.34 < deviation < -0.25
            rounded.append(r)
        else:  # 3. medium at exactly its rate: the promise itself
            assert r["quality"] == "medium" and r["per_credit"] == pytest.approx(medium_worth)
            assert deviation == pytest.approx(0.284, abs=0.001)
            medium_rate.append(r)
    # 1. 98 rows at the 1-credit floor, every one 1 credit for under $0.0093 (0.66 credits and
    #    less at the row's rate): low at 1 MP-class sizes (direct on the gpt-image-1 family and
    #    gpt-image-1-mini, through the Batch API on every model) and gpt-image-1-mini medium.
    assert len(floor) == 98 and {r["quality"] for r in floor} == {"low", "medium"}
    assert all(r["model"] == "gpt-image-1-mini" for r in floor if r["quality"] == "medium")
    assert max(r["usd"] for r in floor) < 0.0093
    # 2. 3 rows rounded up to 2 credits: medium 1024x1024 through the Batch API on gpt-image-1.5
    #    and chatgpt-image-latest (1.07 credits -> 2, $0.0085 a credit, -32 %) and high 1024x1024
    #    through the Batch API on gpt-image-1-mini (1.33 -> 2, -33 %).
    assert len(rounded) == 3
    # 3. 32 rows: the 1 MP medium sizes of the gpt-image-2 family (1024x1024 = 2, direct, and 1
    #    through the Batch API; 1024x1536 and 1536x1024 = 3) at medium's own $0.01584 a credit,
    #    28.4 % above the median. The two promises (2 credits for $0.0317, 10 for $0.1248) are
    #    themselves 27 % apart, and the table's median sits at high's rate: no rate per quality
    #    keeps both promises and these rows inside +25 %.
    assert len(medium_rate) == 32 and all(r["credits"] <= 3 for r in medium_rate)
    assert len(inside) == 486 - 98 - 3 - 32  # 353 rows: every other row is inside the band


def test_a_credit_never_stands_for_more_dollars_than_it_is_worth():
    """What keeps a credit budget from overrunning its dollars: at every row of the table an
    image's dollars are at most its credits at its quality's rate."""
    prices = PriceTable.load()
    for row in _entries(prices, ModelTable.load()):
        worth = 1 / prices.credit_rate(row["quality"])
        assert row["per_credit"] <= worth * (1 + 0.05 / row["credits"]) + 1e-12, row
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
    assert packaged.credits_per_image("openai", "gpt-image-1.5", "medium") == 3
    assert prices.credits_per_image("openai", "gpt-image-1.5", "medium") == 5  # twice the dollars
    assert prices.credits_per_image("openai", "gpt-image-1.5", "high", width=1024, height=1536) == 32
    assert prices.credits_per_image("openai", "gpt-image-2", "medium") == 2  # the promise holds
    assert Workbench(root).estimate("a mug", backend="openai", model="gpt-image-1.5").credits == 5
