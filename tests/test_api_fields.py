"""The rest of the Images API surface: every field of the installed client's generate and edit
parameters is either sent (checked against the model's row first) or refused in a sentence; the
2.5 models' xhigh and max, GIF and SVG output and complexity go through the loopback server."""

from __future__ import annotations

import io
import json
import typing

import pytest
from PIL import Image

from workbench import Workbench
from workbench.backends.base import (
    BACKGROUNDS,
    COMPLEXITIES,
    MODERATIONS,
    OUTPUT_FORMATS,
    SVG_EFFORTS,
    Usage,
)
from workbench.errors import CapabilityError, SpecError
from workbench.models import API_FIELDS, API_VALUES_NOT_OFFERED, ModelTable
from workbench.pricing import PriceTable
from workbench.spec import ALL_QUALITIES


def _fields(*types: type) -> dict[str, typing.Any]:
    hints: dict[str, typing.Any] = {}
    for cls in types:
        hints.update(typing.get_type_hints(cls))
    return hints


def _client_fields() -> dict[str, typing.Any]:
    from openai.types import image_edit_params as edit
    from openai.types import image_generate_params as generate

    return _fields(
        generate.ImageGenerateParamsNonStreaming,
        generate.ImageGenerateParamsStreaming,
        edit.ImageEditParamsNonStreaming,
        edit.ImageEditParamsStreaming,
    )


def _literals(annotation: typing.Any) -> set[str]:
    """Every Literal value inside an annotation (through Optional, Union, Required)."""
    found: set[str] = set()
    if typing.get_origin(annotation) is typing.Literal:
        return set(typing.get_args(annotation))
    for arg in typing.get_args(annotation):
        found |= _literals(arg)
    return found


def test_every_field_of_the_clients_image_params_is_sent_or_refused():
    """A field the installed client lists and Workbench has not decided on fails here."""
    client = _client_fields()
    missing = sorted(set(client) - set(API_FIELDS))
    assert not missing, f"the client has fields Workbench does not handle: {missing}"
    assert {how for how, _ in API_FIELDS.values()} == {"sent", "not sent"}
    for name, (how, why) in API_FIELDS.items():
        assert why.strip(), name
        if how == "not sent":  # one sentence that says what to do instead
            assert why.endswith(".") and why.count(". ") <= 1, name


def test_the_clients_values_are_ones_workbench_knows():
    client = _client_fields()
    offered_qualities = set(ALL_QUALITIES) | set(API_VALUES_NOT_OFFERED["quality"])
    assert _literals(client["quality"]) <= offered_qualities
    assert _literals(client["output_format"]) == set(OUTPUT_FORMATS)
    assert _literals(client["complexity"]) == set(COMPLEXITIES)
    assert _literals(client["background"]) == set(BACKGROUNDS)
    assert _literals(client["moderation"]) == set(MODERATIONS)
    assert _literals(client["input_fidelity"]) == {"low", "high"}
    from openai.types import image_edit_params, image_generate_params

    for module in (image_generate_params, image_edit_params):
        efforts = _literals(typing.get_type_hints(module.SvgReasoning)["effort"])
        assert efforts == set(SVG_EFFORTS)


@pytest.mark.parametrize(
    ("option", "words"),
    [
        ({"response_format": "url"}, "retired DALL·E models"),
        ({"user": "alice"}, "safety_identifier"),
        ({"markup": b"x"}, "markup"),
        ({"quality": "hd"}, "Unsupported quality 'hd'"),
        ({"quality": "auto"}, "Unsupported quality 'auto'"),
        ({"size": "auto"}, "A size is WIDTHxHEIGHT"),
    ],
)
def test_a_field_workbench_does_not_send_is_one_sentence(root, option, words):
    with pytest.raises(SpecError) as caught:
        Workbench(root).plan("a mug", backend="openai", **option)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_style_stays_the_specs_own_field(root):
    plan = Workbench(root).plan("a mug", backend="openai", style="watercolour")
    assert "watercolour" in plan.request.prompt


@pytest.mark.parametrize(
    ("model", "options", "words"),
    [
        ("gpt-image-2", {"quality": "xhigh"}, "has no quality 'xhigh': it has low, medium, high"),
        ("gpt-image-1.5", {"quality": "max"}, "has no quality 'max'"),
        ("gpt-image-2", {"output_format": "gif"}, "cannot write gif: it writes png, jpeg, webp"),
        ("gpt-image-1.5", {"output_format": "svg"}, "cannot write svg"),
        ("gpt-image-1.5", {"complexity": "low"}, "takes no complexity"),
        ("gpt-image-2.5-sunburst", {"complexity": "extreme"}, "Unknown complexity 'extreme'"),
        ("gpt-image-2.5-sunburst", {"output_format": "svg", "n": 2}, "one image per request"),
        ("gpt-image-2.5-sunburst", {"output_format": "svg", "partial_images": 1}, "does not stream"),
        (
            "gpt-image-2.5-sunburst",
            {"output_format": "gif", "output_compression": 50},
            "no output_compression",
        ),
        ("gpt-image-2.5-sunburst", {"output_format": "gif", "frame_count": 17}, "2 to 16 frames"),
        ("gpt-image-2.5-sunburst", {"frame_count": 4}, "GIF output only"),
        ("gpt-image-2.5-sunburst", {"svg_model": "gpt-5"}, "SVG output only"),
        (
            "gpt-image-2.5-sunburst",
            {"output_format": "svg", "svg_model": "gpt-5", "svg_effort": "huge"},
            "Unknown svg_effort",
        ),
        (
            "gpt-image-2.5-sunburst",
            {"output_format": "svg", "svg_effort": "low"},
            "svg_effort needs svg_model",
        ),
        ("gpt-image-2.5-sunburst", {"output_format": "gif", "transparent": True}, "needs PNG or WebP"),
    ],
)
def test_each_option_is_checked_against_the_model_before_anything_is_sent(
    root, openai_server, monkeypatch, model, options, words
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fields")
    wb = Workbench(root, backend_options={"openai": {"base_url": openai_server.base_url}})
    wb.wallet.topup(100)
    with pytest.raises((SpecError, CapabilityError)) as caught:
        wb.generate("a mug", backend="openai", model=model, **options)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert not openai_server.counts and wb.wallet.balance == 110 and wb.runs().empty


def _plus_models() -> list[str]:
    table = ModelTable.load()
    return [name for name in table.names() if "xhigh" in table.info(name).caps.qualities]


def test_the_25_models_and_only_they_have_xhigh_max_gif_and_svg():
    table = ModelTable.load()
    plus = set(_plus_models())
    assert plus == {
        "gpt-image-2.5-sunburst",
        "gpt-image-2.5-sunburst-2026-09-08",
        "gpt-image-2.5-flare",
        "gpt-image-2.5-flare-2026-09-08",
    }
    for name in table.names():
        caps = table.info(name).caps
        assert ("max" in caps.qualities) == (name in plus)
        assert ({"gif", "svg"} <= set(caps.formats)) == (name in plus)


@pytest.mark.parametrize("model", _plus_models())
@pytest.mark.parametrize("quality", ["xhigh", "max"])
def test_xhigh_and_max_work_on_every_model_that_lists_them(root, openai_server, monkeypatch, model, quality):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fields")
    wb = Workbench(root, backend_options={"openai": {"base_url": openai_server.base_url}})
    wb.wallet.topup(1000)
    plan = wb.plan("a mug", backend="openai", model=model, quality=quality)
    run = wb.generate("a mug", backend="openai", model=model, quality=quality)
    assert run.ok and run.size == "2048x2048" and run.quality == quality
    assert run.credits == plan.estimate.credits > 0
    high = wb.plan("a mug", backend="openai", model=model, quality="high").estimate
    assert plan.estimate.usd > high.usd  # more detail, more output tokens, more dollars
    assert openai_server.produced[(model, "2048x2048", quality)] == 1


def test_a_gif_answer_is_stored_whole_and_thumbnailed_from_its_first_frame(root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fields")
    wb = Workbench(root, backend_options={"openai": {"base_url": openai_server.base_url}})
    wb.wallet.topup(100)
    run = wb.generate(
        "a spinning mug",
        backend="openai",
        model="gpt-image-2.5-sunburst",
        quality="low",
        output_format="gif",
        frame_count=4,
        frame_duration_ms=120,
        complexity="high",
    )
    assert run.ok and run.images[0].suffix == ".gif"
    with Image.open(run.images[0]) as gif:
        assert gif.n_frames == 4 and gif.size == (1024, 1024)
    from workbench.store import read_recipe

    recipe = read_recipe(run.images[0])
    assert recipe["run_id"] == run.id and recipe["params"]["frame_count"] == 4
    assert recipe["params"]["complexity"] == "high"
    thumb = wb.store.thumbnail(run.images[0].relative_to(wb.root))
    with Image.open(io.BytesIO(thumb)) as small:
        assert small.format == "WEBP" and max(small.size) == 256


def test_an_svg_answer_is_stored_as_svg_with_its_recipe_and_raster_work_refuses_it(
    root, openai_server, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fields")
    wb = Workbench(root, backend_options={"openai": {"base_url": openai_server.base_url}})
    wb.wallet.topup(100)
    run = wb.generate(
        "a mug logo",
        backend="openai",
        model="gpt-image-2.5-flare",
        quality="low",
        output_format="svg",
        svg_model="gpt-5",
        svg_effort="low",
    )
    assert run.ok and run.images[0].suffix == ".svg" and run.credits > 0
    text = run.images[0].read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    from workbench.store import read_recipe

    assert read_recipe(run.images[0])["run_id"] == run.id
    import xml.etree.ElementTree as ET

    assert ET.fromstring(run.images[0].read_bytes()).tag.endswith("svg")  # still well-formed
    from workbench.errors import InputImageError

    with pytest.raises(InputImageError, match="SVG \\(vector\\) image, not a raster"):
        wb.store.thumbnail(run.images[0].relative_to(wb.root))
    with pytest.raises(InputImageError) as caught:
        wb.finish(run, "black_and_white")
    assert "\n" not in str(caught.value)
    assert len(wb.runs()) == 1  # the refused finishing left no run


def test_the_svg_authors_tokens_are_recorded_priced_and_reserved(root, openai_server, monkeypatch):
    """SVG output is authored by a text model the service bills apart (``svg_usage``): its tokens
    are in the run's usage and tokens columns, its dollars in the run's dollars, and its estimate
    (by svg_effort) in the plan, the reservation and the credits."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fields")
    wb = Workbench(root, backend_options={"openai": {"base_url": openai_server.base_url}})
    wb.wallet.topup(100)
    options = {"backend": "openai", "model": "gpt-image-2.5-flare", "quality": "low"}
    png = wb.plan("a mug logo", **options).estimate
    low = wb.plan("a mug logo", **options, output_format="svg", svg_model="gpt-5", svg_effort="low")
    high = wb.plan("a mug logo", **options, output_format="svg", svg_model="gpt-5", svg_effort="high")
    prices = PriceTable.load()
    assert low.estimate.usd == pytest.approx(png.usd + prices.svg_usd("openai", low.request), abs=1e-6)
    assert png.credits < low.estimate.credits < high.estimate.credits
    before = wb.wallet.balance
    run = wb.run_plan(high)
    assert run.ok and run.credits == high.estimate.credits
    row = wb.runs().iloc[-1]
    usage = Usage(**json.loads(row["usage"]))
    served = openai_server.svg_usage(
        {"svg": {"model": "gpt-5", "reasoning": {"effort": "high"}}}, "a mug logo"
    )
    assert (usage.svg_model, usage.svg_in, usage.svg_out) == (
        "gpt-5",
        served["input_tokens"],
        served["output_tokens"],
    )
    assert row["tokens_out"] == usage.image_out + served["output_tokens"]
    author = (served["input_tokens"] * 1.25 + served["output_tokens"] * 10.0) / 1e6  # gpt-5's rates
    image = prices.usd_for_usage(
        "openai", "gpt-image-2.5-flare", Usage(usage.text_in, usage.image_in, usage.image_out)
    )
    assert row["usd"] == pytest.approx(image + author, abs=1e-6) and author > image
    assert wb.wallet.balance == pytest.approx(before - high.estimate.credits)
    # The default author (no svg_model) is priced at the table's default author rate.
    run = wb.generate("a mug logo 2", **options, output_format="svg")
    assert (
        run.ok and Usage(**json.loads(wb.runs().iloc[-1]["usage"])).svg_out == openai_server.SVG_TOKENS[None]
    )
    assert wb.runs().iloc[-1]["usd"] > image + 0.1


def test_the_cli_makes_a_gif_and_an_svg_and_dry_runs_xhigh(root, openai_server, monkeypatch, cli):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fields")
    Workbench(root).wallet.topup(100)
    base = ("--base-url", openai_server.base_url, "generate", "a mug", "--backend", "openai")
    model = ("--model", "gpt-image-2.5-sunburst", "--quality", "low")
    code, out, err = cli(*base, *model, "--format", "gif", "--frames", "3", "--complexity", "low")
    assert code == 0, err
    assert out.split()[0] == "ok" and out.strip().endswith(".gif")
    code, out, err = cli(*base, *model, "--format", "svg", "--svg-effort", "minimal")
    assert code == 1 and "svg_effort needs svg_model" in err and err.count("\n") == 1
    assert openai_server.counts == {"/v1/images/generations": 1}  # nothing sent
    code, out, err = cli(*base, *model, "--format", "svg", "--svg-model", "gpt-5", "--svg-effort", "minimal")
    assert code == 0, err
    assert out.strip().endswith(".svg")
    assert openai_server.counts == {"/v1/images/generations": 2}
    code, out, err = cli(*base, "--model", "gpt-image-2.5-flare", "--quality", "max", "--dry-run")
    assert code == 0, err
    assert "2048x2048" in out and "max" in out
    code, _, err = cli(*base, "--model", "gpt-image-2", "--format", "gif")
    assert code == 1 and "cannot write gif: it writes png, jpeg, webp" in err and err.count("\n") == 1
    assert openai_server.counts == {"/v1/images/generations": 2}


def _markup_png(size: tuple[int, int] = (1024, 1024), *, transparent: bool = True) -> bytes:
    drawn = Image.new("RGBA", size, (0, 0, 0, 0 if transparent else 255))
    drawn.paste((255, 0, 0, 255), (100, 100, 300, 140))  # an arrow's stroke, say
    buffer = io.BytesIO()
    drawn.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (1024, 1024), (200, 100, 50)).save(path)
    return path


def test_an_edit_with_a_markup_sends_it_on_the_25_models(root, openai_server, monkeypatch, photo):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fields")
    wb = Workbench(root, backend_options={"openai": {"base_url": openai_server.base_url}})
    wb.wallet.topup(100)
    markup = _markup_png()
    run = wb.edit(
        photo, "put a hat where the red line is", markup=markup, backend="openai",
        model="gpt-image-2.5-sunburst", quality="low",
    )  # fmt: skip
    assert run.ok and openai_server.markups == [markup]
    assert openai_server.counts == {"/v1/images/edits": 1}


@pytest.mark.parametrize(
    ("model", "markup", "mask", "words"),
    [
        ("gpt-image-2", _markup_png(), False, "takes no markup (the GPT Image 2.5 models do)"),
        ("gpt-image-2.5-flare", _markup_png((512, 512)), False, "it must be the image's size, 1024x1024"),
        ("gpt-image-2.5-flare", _markup_png(transparent=False), False, "has no transparent pixels"),
        ("gpt-image-2.5-flare", b"not an image", False, "The markup is not an image"),
        ("gpt-image-2.5-flare", _markup_png(), True, "cannot be combined with a mask"),
    ],
)
def test_a_markup_the_model_cannot_take_is_one_sentence_and_nothing_is_sent(
    root, openai_server, monkeypatch, photo, model, markup, mask, words
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fields")
    wb = Workbench(root, backend_options={"openai": {"base_url": openai_server.base_url}})
    wb.wallet.topup(100)
    regions = [(0, 0, 200, 200)] if mask else None
    with pytest.raises((SpecError, CapabilityError)) as caught:
        wb.edit(photo, "put a hat on it", markup=markup, regions=regions, backend="openai", model=model)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert not openai_server.counts and wb.wallet.balance == 110 and wb.runs().empty


def test_workbench_edit_takes_a_markup(root, openai_server, monkeypatch, photo, tmp_path, cli):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-fields")
    Workbench(root).wallet.topup(100)
    (tmp_path / "markup.png").write_bytes(_markup_png())
    base = ("--base-url", openai_server.base_url, "edit", str(photo), "put a hat on the line")
    options = ("--markup", str(tmp_path / "markup.png"), "--backend", "openai", "--quality", "low")
    code, out, err = cli(*base, *options, "--model", "gpt-image-2")
    assert code == 1 and "takes no markup" in err and not openai_server.counts
    code, out, err = cli(*base, *options, "--model", "gpt-image-2.5-sunburst")
    assert code == 0, err
    assert openai_server.counts == {"/v1/images/edits": 1} and len(openai_server.markups) == 1


def test_the_loopback_service_refuses_an_svg_object_without_its_model(openai_server):
    """The client marks svg.model Required: the loopback server answers 400 as the service does."""
    import httpx

    body = {"model": "gpt-image-2.5-flare", "prompt": "a mug", "output_format": "svg", "quality": "low"}
    url = f"{openai_server.base_url}/images/generations"
    bare = httpx.post(url, json=body | {"svg": {"reasoning": {"effort": "low"}}}, timeout=10)
    assert bare.status_code == 400 and "svg.model" in bare.text
    named = httpx.post(url, json=body | {"svg": {"model": "gpt-5"}}, timeout=10)
    assert named.status_code == 200 and named.json()["svg_usage"]["model"] == "gpt-5"
