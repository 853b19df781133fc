"""The model table (workbench/data/models.yaml) against the installed openai client, and what a user
sees of it: `workbench models`, sizes refused with the nearest ones, retired models refused with
their replacement, a gateway's own model, every option checked before sending, dry runs that send
nothing, and `url` answers, all through the loopback server."""

from __future__ import annotations

import io
import json
import typing
from pathlib import Path

import pytest
from conftest import ledger_state
from PIL import Image

from workbench import CapabilityError, SpecError, TemplateError, Workbench, WorkbenchError
from workbench.backends.base import ImageRequest
from workbench.backends.openai import OpenAIBackend, RetryPolicy
from workbench.credits import format_credits
from workbench.errors import InputImageError
from workbench.models import ModelTable, parse_size
from workbench.pricing import PriceTable
from workbench.spec import ASPECTS

KEY = "wbtest-models-3f9c1d-DO-NOT-LEAK"
GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
FAST = RetryPolicy(max_retries=1, backoff=0.01, jitter=0.0)


def _client_models() -> set[str]:
    from openai.types import ImageModel

    return set(typing.get_args(ImageModel))


def _png(width: int, height: int, colour: str = "white") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def wb(root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    bench = Workbench(
        root,
        backend="openai",
        backend_options={"openai": {"base_url": openai_server.base_url, "retry": FAST, "timeout": 10}},
    )
    bench.wallet.topup(5000)
    yield bench
    bench.close()


# -- the table against the installed client ----------------------------------------------------
def test_every_model_the_installed_client_lists_is_in_the_table():
    table = ModelTable.load()
    listed = _client_models()
    assert listed, "the installed openai client lists no image models"
    missing = sorted(listed - set(table.models))
    assert not missing, f"models.yaml lacks models the openai client lists: {missing}"


def test_the_models_the_client_marks_shut_down_are_retired_with_a_replacement():
    from openai.types import image_model

    table = ModelTable.load()
    doc = Path(image_model.__file__).read_text()
    for name in ("gpt-image-1", "dall-e-2", "dall-e-3"):
        assert f'"{name}"' in doc.split('"""')[-2], f"the client no longer marks {name} deprecated"
        info = table.models[name]
        assert info.status == "retired" and info.replacement and info.date
        assert all(r in table.names() for r in info.replacement.split(" or "))
    assert table.models["gpt-image-1"].date == "2026-10-23"


def test_every_quality_size_is_one_its_model_can_make():
    table = ModelTable.load()
    for name in table.names():
        info = table.info(name)
        assert set(info.quality_sizes) == set(info.caps.qualities)
        for quality, per_aspect in info.quality_sizes.items():
            assert set(per_aspect) == set(ASPECTS), (name, quality)
            for aspect, (w, h) in per_aspect.items():
                assert info.caps.supports_size(w, h), (name, quality, aspect, w, h)


def test_the_backend_takes_its_capabilities_from_the_table():
    table = ModelTable.load()
    assert set(OpenAIBackend.models) == set(table.names())
    assert "gpt-image-1" not in OpenAIBackend.models and "gpt-image-2.5-sunburst" in OpenAIBackend.models
    assert OpenAIBackend.capabilities("gpt-image-2").min_pixels == 655_360


def test_workbench_models_lists_every_model_with_its_status(cli):
    code, out, err = cli("models")
    assert code == 0, err
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert set(lines) == set(ModelTable.load().models) >= _client_models()
    assert "current" in lines["gpt-image-2"] and "free sizes" in lines["gpt-image-2"]
    assert "retired 2026-10-23, use gpt-image-2.5-sunburst or gpt-image-2.5-flare" in lines["gpt-image-1"]
    assert "input_fidelity=high/low" in lines["gpt-image-1.5"]
    assert out.splitlines()[0].startswith("gpt-image-2 ")  # the default first


# -- sizes -------------------------------------------------------------------------------------
def test_nearest_sizes_for_the_panel_and_for_errors():
    table = ModelTable.load()
    assert table.nearest_sizes("gpt-image-2", 1920, 1080)[0] == (1920, 1088)
    assert all(table.info("gpt-image-2").caps.supports_size(*s) for s in table.nearest_sizes(None, 16, 16))
    assert table.nearest_sizes("gpt-image-1.5", 1920, 1080)[0] == (1536, 1024)
    assert table.allowed_sizes("gpt-image-2", "16:9") == [(1536, 864), (3840, 2160)]
    assert table.allowed_sizes("gpt-image-1.5", "9:16")[0] == (1024, 1536)
    assert table.size_for("gpt-image-1.5", "16:9", "high") == (1536, 1024)
    assert parse_size("1920x1080") == (1920, 1080)
    for bad in ("1920", "axb", "0x10", "10x-4", "1.5x2"):
        with pytest.raises(SpecError, match="WIDTHxHEIGHT|whole numbers"):
            parse_size(bad)


def test_a_size_the_model_cannot_make_is_refused_naming_the_nearest(cli, root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    base = ("--base-url", openai_server.base_url)
    code, out, err = cli(*base, "generate", "a mug", "--backend", "openai", "--size", "1920x1080")
    assert code == 1 and out == ""
    assert "cannot make 1920x1080" in err and "nearest sizes it can make: 1920x1088" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    code, _, err = cli(*base, "generate", "a mug", "--backend", "openai", "--size", "16x16")
    assert code == 1 and "cannot make 16x16" in err
    code, _, err = cli(*base, "generate", "a mug", "--backend", "openai", "--size", "big")
    assert code == 1 and "WIDTHxHEIGHT" in err
    code, _, err = cli(*base, "generate", "a mug", "--backend", "openai", "--model", "gpt-image-1")
    assert code == 1 and "'gpt-image-1' was retired on 2026-10-23: use gpt-image-2.5-sunburst" in err
    assert not openai_server.counts and ledger_state(root)[0] == 0


def test_3840x2160_at_high_quality_works_and_costs_what_the_table_says(cli, root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    Workbench(root).wallet.topup(100)
    base = ("--base-url", openai_server.base_url)
    code, out, err = cli(
        *base,
        "generate",
        "a harbour at dawn",
        "--backend",
        "openai",
        "--quality",
        "high",
        "--size",
        "3840x2160",
        "--json",
    )
    assert code == 0, err
    run = json.loads(out)
    prices = PriceTable.load()
    assert run["status"] == "ok" and run["size"] == "3840x2160"
    assert (
        run["credits"]
        == prices.credits_per_image("openai", "gpt-image-2", "high", width=3840, height=2160)
        == 79.11
    )
    with Image.open(run["images"][0]) as image:
        assert image.size == (3840, 2160)
    body = json.loads(openai_server.requests[-1].body)
    assert body["size"] == "3840x2160" and body["quality"] == "high"
    # The dollars are the service's tokens at the table's rates: ~$0.99, ~$0.0139 a credit.
    assert run["usd"] == pytest.approx(0.987, abs=0.002)


def test_high_quality_works_on_every_model_that_lists_it(wb, openai_server):
    table, prices = wb.models, wb.prices
    models = [m for m in table.names() if "high" in table.info(m).caps.qualities]
    assert len(models) >= 10
    for model in models:
        run = wb.generate("a glass teapot", model=model, quality="high")
        expected = table.size_for(model, "1:1", "high")
        assert run.status == "ok" and run.size == f"{expected[0]}x{expected[1]}", model
        # The image's credits, and (to the hundredth) its prompt's share of the text tokens.
        image_only = prices.credits_per_image("openai", model, "high", width=expected[0], height=expected[1])
        assert run.credits == wb.plan("a glass teapot", model=model, quality="high").estimate.credits
        assert image_only <= run.credits <= image_only + 0.02, model
        body = json.loads(openai_server.requests[-1].body)
        assert body["model"] == model and body["quality"] == "high"
    assert openai_server.faults_sent["bad_size"] == 0  # the service accepted every size it was sent
    assert openai_server.counts[GENERATIONS] == len(models)


def test_a_gateway_model_declared_in_the_roots_models_yaml_works(root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    root.mkdir(parents=True, exist_ok=True)
    options = {"openai": {"base_url": openai_server.base_url, "retry": FAST}}
    wb = Workbench(root, backend="openai", backend_options=options)
    with pytest.raises(CapabilityError, match="no model 'acme-image-7'.*models.yaml"):
        wb.plan("a mug", model="acme-image-7")
    (root / "models.yaml").write_text(
        "models:\n  acme-image-7:\n    like: gpt-image-2\n    batch_api: false\n"
    )
    wb = Workbench(root, backend="openai", backend_options=options)
    wb.wallet.topup(10)
    run = wb.generate("a mug", model="acme-image-7")
    assert run.status == "ok" and run.model == "acme-image-7" and run.credits == 2
    assert json.loads(openai_server.requests[-1].body)["model"] == "acme-image-7"
    assert "acme-image-7" in wb.models.names()
    edited = wb.edit(run, "Replace the mug with a glass teapot", model="acme-image-7")
    assert edited.status == "ok" and edited.model == "acme-image-7" and openai_server.counts[EDITS] == 1
    wb.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: [gpt-image-2]\n", "models: the file must have a `models:` mapping"),
        ("models:\n  x:\n    like: gpt-image-2\n    colour: red\n", "models.x.colour: unknown key"),
        ("models:\n  x:\n    like: nope\n", "models.x.like: no model 'nope'"),
        (
            "models:\n  x:\n    like: gpt-image-2\n    max_n: 0\n",
            "models.x.max_n: a whole number of at least 1",
        ),
        (
            "models:\n  gpt-image-1.5:\n    qualities:\n      high: {}\n",
            "models.gpt-image-1.5.qualities.high: no size",
        ),
        ("models:\n  x:\n    like: gpt-image-2\n    status: beta\n", "models.x.status: 'beta' is not one of"),
        ("models:\n  x: [\n", "not valid YAML"),
        # A top-level key that is not one silently did nothing; now its line and close match.
        ("model:\n  x:\n    like: gpt-image-2\n", "models.yaml:1: model: unknown key Did you mean 'models'?"),
        (
            "models:\n  x:\n    like: gpt-image-2\n    qualitys: {}\n",
            "models.x.qualitys: unknown key. Did you mean 'qualities'?",
        ),
        # A retired copy of a current model took its date; it must say its own.
        (
            "models:\n  old-one:\n    like: gpt-image-2\n    status: retired\n    replacement: gpt-image-2\n",
            "models.yaml:4: models.old-one.status: a retired model needs its own `date:`",
        ),
        (
            "models:\n  old-one:\n    status: retired\n    date: 2026-01-01\n    replacement: gpt-imag-3\n",
            "models.old-one.replacement: no model 'gpt-imag-3' in the table",
        ),
    ],
)
def test_a_broken_models_yaml_is_one_sentence_naming_file_and_key(root, text, message):
    root.mkdir(parents=True, exist_ok=True)
    (root / "models.yaml").write_text(text)
    with pytest.raises(TemplateError, match="models.yaml") as caught:
        ModelTable.load(root)
    assert message in str(caught.value)
    assert str(caught.value).count("\n") == 0


def test_a_retired_copy_says_its_own_date_and_a_misspelt_model_gets_a_close_match(root):
    root.mkdir(parents=True, exist_ok=True)
    (root / "models.yaml").write_text(
        "models:\n  old-one:\n    like: gpt-image-2\n    status: retired\n    date: 2025-02-03\n"
        "    replacement: gpt-image-2\n"
    )
    table = ModelTable.load(root)
    with pytest.raises(CapabilityError, match=r"'old-one' was retired on 2025-02-03: use gpt-image-2"):
        table.info("old-one")
    with pytest.raises(CapabilityError, match=r"no model 'gpt-imag-2'\. Did you mean 'gpt-image-2'\?"):
        table.info("gpt-imag-2")


def test_a_deprecated_model_works_with_a_warning(root, caplog):
    root.mkdir(parents=True, exist_ok=True)
    (root / "models.yaml").write_text(
        "models:\n  gpt-image-1.5:\n    status: deprecated\n"
        "    date: 2026-12-01\n    replacement: gpt-image-2\n"
    )
    wb = Workbench(root, backend="openai")
    with caplog.at_level("WARNING", logger="workbench.models"):
        plan = wb.plan("a mug", model="gpt-image-1.5")
        wb.plan("a mug", model="gpt-image-1.5", variant=1)
    assert plan.model == "gpt-image-1.5"
    warnings = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert warnings == ["The model 'gpt-image-1.5' is deprecated (2026-12-01): use gpt-image-2."]
    assert "deprecated 2026-12-01, use gpt-image-2" in wb.models.info("gpt-image-1.5").describe_status()


# -- every option, checked before sending ------------------------------------------------------
def test_every_option_is_checked_against_the_model_before_sending(wb, openai_server, root):
    before = ledger_state(root)
    refs = (_png(1024, 1024), _png(1024, 1024, "black"))
    cases = [
        ({"seed": 2**63}, SpecError, "seed is a whole number from 0 to 2\\*\\*63 - 1"),
        ({"seed": -1}, SpecError, "seed"),
        (
            {"output_compression": 101, "output_format": "webp"},
            SpecError,
            "output_compression is a whole number",
        ),
        ({"output_compression": 80}, CapabilityError, "output_compression applies to jpeg and webp"),
        ({"input_fidelity": "high", "inputs": refs}, CapabilityError, "takes no input_fidelity"),
        (
            {"input_fidelity": "high", "inputs": refs, "model": "gpt-image-1-mini"},
            CapabilityError,
            "low, not 'high'",
        ),
        ({"input_fidelity": "low", "model": "gpt-image-1.5"}, CapabilityError, "has none"),
        ({"input_fidelity": "best"}, SpecError, "Unknown input_fidelity"),
        ({"moderation": "low", "inputs": refs}, CapabilityError, "moderation applies to generations"),
        ({"inputs": refs * 9}, CapabilityError, "at most 16 input images"),
        ({"n": 11}, SpecError, "n must be a whole number from 1 to 10"),
        ({"partial_images": 4}, SpecError, "partial_images"),
        ({"safety_identifier": "x" * 65}, SpecError, "safety identifier"),
    ]
    for options, error, message in cases:
        with pytest.raises(error, match=message):
            wb.plan("a mug", **options)
    with pytest.raises(SpecError, match="seed"):
        ImageRequest("a mug", 1024, 1024, seed=True)
    assert not openai_server.counts and ledger_state(root) == before


def test_references_on_generate_go_to_the_edits_endpoint_and_stream(wb, openai_server):
    refs = (_png(1024, 1024, "red"), _png(1024, 1024, "blue"), _png(1024, 1024, "green"))
    partials = []
    run = wb.generate(
        "the same fox, now in a rowing boat",
        inputs=refs,
        partial_images=2,
        on_partial=lambda index, data: partials.append(index),
    )
    assert run.status == "ok" and run.size == "1024x1024"
    assert openai_server.counts == {EDITS: 1}
    fields, files = openai_server.requests[-1].form()
    assert len(files["image"]) == 3 and "mask" not in files
    assert fields["stream"] == "true" and fields["partial_images"] == "2" and partials == [0, 1]
    assert fields["safety_identifier"].startswith("wb-")  # a hash of the local user, not its name
    run = wb.generate(
        "the same fox, in profile", inputs=refs[:1], model="gpt-image-1.5", input_fidelity="high"
    )
    fields, _ = openai_server.requests[-1].form()
    assert run.status == "ok" and fields["input_fidelity"] == "high" and fields["model"] == "gpt-image-1.5"


def test_references_on_generate_may_be_paths_pil_images_or_runs(wb, openai_server, tmp_path):
    """generate(inputs=...) took raw bytes only: a path, a PIL image or a Run raised a raw
    TypeError, and bytes that are not an image were sent and charged."""
    path = tmp_path / "fox.png"
    path.write_bytes(_png(512, 512, "orange"))
    first = wb.generate("a fox", inputs=[str(path)])
    assert first.status == "ok" and openai_server.counts == {EDITS: 1}
    for reference in (path, Image.new("RGB", (64, 64), "red"), first):
        run = wb.generate("the same fox, rowing", inputs=(reference,), fresh=True)
        assert run.status == "ok"
    _fields, files = openai_server.requests[-1].form()
    assert len(files["image"]) == 1
    sent, before = dict(openai_server.counts), ledger_state(wb.root)
    balance = wb.wallet.balance
    for bad, words in (
        (b"not an image at all", "uploads must be PNG, JPEG or WebP"),
        (str(tmp_path / "missing.png"), "missing.png"),
        (42, "Cannot use int as an image"),
    ):
        with pytest.raises(InputImageError, match=words) as caught:
            wb.generate("a fox", inputs=(bad,))
        assert "\n" not in str(caught.value)
    assert dict(openai_server.counts) == sent and ledger_state(wb.root) == before
    assert wb.wallet.balance == balance


def test_the_runs_user_is_sent_as_the_safety_identifier(wb, openai_server):
    wb.generate("a mug", safety_identifier="user-7f3a")
    assert json.loads(openai_server.requests[-1].body)["safety_identifier"] == "user-7f3a"
    wb.backend("openai").safety_identifier = None
    wb.generate("a mug", variant=1)
    assert "safety_identifier" not in json.loads(openai_server.requests[-1].body)


# -- url answers -------------------------------------------------------------------------------
def test_an_answer_with_a_url_produces_the_image(wb, openai_server):
    openai_server.faults.answer_as = "url"
    run = wb.generate("a mug", aspect="3:2")
    assert run.status == "ok" and run.credits == 3
    with run.image() as image:
        assert image.size == (1536, 1024)
    assert openai_server.counts[GENERATIONS] == 1 and any(
        p.startswith("/images/") for p in openai_server.counts
    )


def test_the_async_path_fetches_url_answers_too(wb, openai_server):
    import asyncio

    openai_server.faults.answer_as = "url"

    async def two():
        return await asyncio.gather(wb.agenerate("a mug", variant=1), wb.agenerate("a mug", variant=2))

    runs = asyncio.run(two())
    assert [r.status for r in runs] == ["ok", "ok"]
    with runs[0].image() as image:
        assert image.size == (1024, 1024)


def test_a_url_that_cannot_be_downloaded_is_not_asked_for_again(wb, openai_server):
    openai_server.faults.answer_as = "url"
    openai_server._serve = lambda image, fmt: f"http://127.0.0.1:{openai_server.port}/images/gone.{fmt}"
    with pytest.raises(
        WorkbenchError, match=r"made the image but its URL could not be downloaded \(HTTP 404\)"
    ):
        wb.generate("a mug")
    row = wb.runs().iloc[-1]
    assert row["credits"] == 0 and row["usd_possibly_billed"] > 0  # billed by the service, not by us
    assert openai_server.counts[GENERATIONS] == 1  # the service billed it: no second generation


def test_an_oversized_url_answer_is_refused_and_charged_nothing(root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.faults.answer_as = "url"
    options = {"openai": {"base_url": openai_server.base_url, "retry": FAST, "max_download_bytes": 1000}}
    wb = Workbench(root, backend="openai", backend_options=options)
    balance = wb.wallet.balance
    with pytest.raises(WorkbenchError, match="image URL holds more than 1000 bytes; it was not"):
        wb.generate("a mug")
    row = wb.runs().iloc[-1]
    assert (
        row["status"] == "failed" and row["credits"] == 0 and "was not downloaded or stored" in row["error"]
    )
    # The service made and billed the image: its dollars are possibly billed, not lost from the log.
    assert row["usd_possibly_billed"] == pytest.approx(wb.estimate("a mug").usd) and row["usd"] == 0
    assert wb.wallet.balance == balance and wb.wallet.reserved == 0
    assert openai_server.counts[GENERATIONS] == 1  # refused, not retried (a retry would be billed again)
    wb.close()


# -- dry runs ----------------------------------------------------------------------------------
def test_small_cli_mistakes_are_one_sentence_that_says_what_to_do(cli, root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    code, out, err = cli("generate", "a mug", "--model", "gpt-image-2", "--dry-run")
    assert code == 1 and "add --backend openai" in err and err.count("\n") == 1
    code, out, err = cli("generate", "a mug", "--backend", "openai", "--model", "gpt-imag-2", "--dry-run")
    assert code == 1 and "Did you mean 'gpt-image-2'?" in err
    args = ("generate", "a mug", "--backend", "openai", "--dry-run", "--size", "1536x1024")
    code, out, err = cli(*args, "--aspect", "2:3")
    assert code == 1 and "The size 1536x1024 is not the aspect 2:3" in err and err.count("\n") == 1
    code, out, err = cli(*args, "--aspect", "3:2")
    assert code == 0 and "size     1536x1024" in out
    with pytest.raises(SpecError, match="The size 1536x1024 is not the aspect 2:3"):
        Workbench(root).plan("a mug", backend="openai", size=(1536, 1024), aspect="2:3")
    assert not openai_server.counts


def test_the_cli_plans_a_generate_once(cli, root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    Workbench(root).wallet.topup(100)
    plans = []
    original = Workbench.plan

    def counted(self, *args, **kwargs):
        plans.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Workbench, "plan", counted)
    code, out, err = cli("--base-url", openai_server.base_url, "generate", "a mug", "--backend", "openai")
    assert code == 0, err
    assert len(plans) == 1 and openai_server.counts[GENERATIONS] == 1


def test_a_dry_run_sends_nothing_and_prints_the_route_and_the_price(cli, root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    base = ("--base-url", openai_server.base_url)
    code, out, err = cli(
        *base,
        "generate",
        "a harbour",
        "--backend",
        "openai",
        "--quality",
        "high",
        "--size",
        "3840x2160",
        "--dry-run",
    )
    assert code == 0, err
    assert "dry run: nothing sent, nothing charged" in out
    assert f"route    service (openai at {openai_server.base_url})" in out
    assert "model    gpt-image-2 (current)" in out and "size     3840x2160" in out and "quality  high" in out
    assert "credits  79.11; wallet 10 (short by 69.11)" in out and "dollars  $0.98" in out
    code, out, err = cli("generate", "a harbour", "--dry-run", "--json")
    plan = json.loads(out)
    assert plan["route"].startswith("local") and plan["credits"] == 0 and plan["size"] == "1024x1024"
    source = root / "source.png"
    source.write_bytes(_png(1024, 1024))
    code, out, err = cli(
        *base, "edit", str(source), "Replace the mug with a glass teapot", "--backend", "openai", "--dry-run"
    )
    assert code == 0, err
    assert (
        "route    service (openai at" in out
        and "kind     edit with 1 image(s)" in out
        and "credits  2.53; wallet 10" in out  # the edited image is billed too ($0.0399)
    )
    code, out, err = cli("edit", str(source), "Convert to black and white", "--dry-run")
    assert code == 0, err
    assert "route    local (draft renderer" in out and "credits  0" in out
    assert openai_server.counts == {} and ledger_state(root)[0] == 0


def test_the_cli_sends_reference_images_with_the_prompt(cli, root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    refs = []
    for index, colour in enumerate(("red", "blue")):
        path = root.parent / f"fox-{index}.png"
        path.write_bytes(_png(1024, 1024, colour))
        refs += ["--reference", str(path)]
    base = ("--base-url", openai_server.base_url)
    code, out, err = cli(
        *base, "generate", "the same fox, rowing a boat", "--backend", "openai", *refs, "--json"
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "ok" and openai_server.counts == {EDITS: 1}
    _, files = openai_server.requests[-1].form()
    assert len(files["image"]) == 2


def test_plan_is_the_dry_runs_python_face(wb, openai_server):
    plan = wb.plan("a harbour", quality="high", aspect="16:9", model="gpt-image-1.5")
    assert (plan.backend, plan.model, plan.request.size) == ("openai", "gpt-image-1.5", "1536x1024")
    assert plan.estimate.credits == wb.prices.credits_per_image(
        "openai", "gpt-image-1.5", "high", width=1536, height=1024
    )
    assert plan.estimate.usd > 0 and not openai_server.counts


def test_the_clis_quality_help_states_what_the_tables_charge(cli):
    """The help said "high (10)" where high on gpt-image-2 at 1:1 is 2048x2048 and 40 credits."""
    table, prices = ModelTable.load(), PriceTable.load()
    code, out, _ = cli("generate", "--help")
    text = " ".join(out.split())
    for quality in ("low", "medium", "high"):
        width, height = table.size_for("gpt-image-2", "1:1", quality)
        credits = prices.credits_per_image("openai", "gpt-image-2", quality, width=width, height=height)
        unit = " credit" if credits == 1 else ""
        assert f"{quality} {width}x{height} = {format_credits(credits)}{unit}" in text, quality
