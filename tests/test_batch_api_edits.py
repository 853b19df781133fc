"""Edit jobs in experiments (``edit:`` and the input/mask/instruction factors), sent through the
OpenAI Batch API's ``/v1/images/edits`` endpoint on the loopback server: each image uploaded once,
each answer recorded and charged once, at the batch discount."""

from __future__ import annotations

import io
import json

import pytest
from conftest import ledger_state
from openai_batch_api import BatchAPI
from PIL import Image

from workbench import Workbench
from workbench.backends.base import Usage
from workbench.batch.experiments import load_experiment
from workbench.errors import ExperimentError
from workbench.pricing import PriceTable


def _png(colour: tuple[int, ...], mode: str = "RGB", size: tuple[int, int] = (1024, 1024)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def _pixel(data: bytes, xy: tuple[int, int]) -> tuple[int, ...]:
    with Image.open(io.BytesIO(data)) as image:
        return image.getpixel(xy)


@pytest.fixture
def batch_api(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-batch")
    return BatchAPI(openai_server, polls_to_complete=1)


@pytest.fixture
def edits(tmp_path):
    """Two photos, one mask, three edits: a CSV of input and instruction rows over an edit block."""
    (tmp_path / "mug.png").write_bytes(_png((200, 100, 50)))
    (tmp_path / "pot.png").write_bytes(_png((50, 100, 200)))
    mask = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 512, 512))
    mask.save(tmp_path / "mask.png")
    path = tmp_path / "relight.yaml"
    path.write_text(
        "name: relight\n"
        "edit: {mask: mask.png}\n"
        "spec: {quality: low}\n"
        "rows:\n"
        "  - {input: mug.png, instruction: put a sprig of mint beside it}\n"
        "  - {input: mug.png, instruction: put it on white marble}\n"
        "  - {input: pot.png, instruction: put it on white marble}\n"
    )
    return path


def test_an_edit_experiment_expands_to_edit_jobs_keyed_by_the_images_bytes(root, edits, tmp_path):
    experiment = load_experiment(edits, backend="openai")
    assert len(experiment.jobs) == 3
    first = experiment.jobs[0]
    assert first.options["edit"]["input"] == str((tmp_path / "mug.png").resolve())
    assert first.options["edit"]["mask"] == str((tmp_path / "mask.png").resolve())
    assert first.spec.subject == "put a sprig of mint beside it"
    # The key follows the photo's bytes, not its path: a changed photo is a new job.
    (tmp_path / "mug.png").write_bytes(_png((10, 200, 10)))
    assert load_experiment(edits, backend="openai").jobs[0].key != first.key


@pytest.mark.parametrize(
    ("yaml", "words"),
    [
        ("edit: {input: missing.png, instruction: x}\n", "edit.input: no image file"),
        ("edit: {input: notes.png, instruction: x}\n", "edit.input:"),
        ("edit: {input: mug.png}\n", "an edit job needs an instruction"),
        ("edit: {instruction: make it blue}\n", "an edit job needs an input image"),
        ("edit: {input: mug.png, prompt: x}\n", "edit.prompt: unknown key"),
    ],
)
def test_a_bad_edit_block_is_one_sentence_naming_the_field(root, tmp_path, yaml, words):
    (tmp_path / "mug.png").write_bytes(_png((200, 100, 50)))
    (tmp_path / "notes.png").write_text("not an image")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml)
    with pytest.raises(ExperimentError) as caught:
        load_experiment(path, backend="openai")
    assert words in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.slow
def test_edits_go_through_the_batch_api_and_are_charged_once_at_the_discount(
    root, openai_server, batch_api, edits, tmp_path, cli
):
    wb = Workbench(root)
    wb.wallet.topup(20)
    before = wb.wallet.balance
    base = ["--base-url", openai_server.base_url]
    code, out, err = cli(*base, "batch", "plan", str(edits), "--backend", "openai", "--via", "openai-batch")
    assert code == 0, err
    assert "3 in 3 jobs" in out and "Batch API" in out

    code, out, err = cli(
        *base, "batch", "submit", str(edits), "--via", "openai-batch", "--batch-id", "relight"
    )
    assert code == 0, err
    assert "3 requests sent to the OpenAI Batch API" in out
    # Two photos and the mask, each uploaded once; one JSONL; no image asked for one by one.
    assert batch_api.uploads == {"user_data": 3}
    assert openai_server.counts == {"/v1/files": 4, "/v1/batches": 1}
    batch = next(iter(batch_api.batches.values()))
    assert batch["endpoint"] == "/v1/images/edits"
    jsonl = batch_api.contents[batch["input_file_id"]].decode().splitlines()
    lines = [json.loads(line) for line in jsonl]
    assert {line["url"] for line in lines} == {"/v1/images/edits"}
    body = lines[0]["body"]
    assert body["prompt"] == "put a sprig of mint beside it" and body["quality"] == "low"
    assert [set(ref) for ref in body["images"]] == [{"file_id"}] and set(body["mask"]) == {"file_id"}
    assert "image" not in body and "sk-test" not in "".join(jsonl)
    assert lines[0]["body"]["images"] == lines[1]["body"]["images"] != lines[2]["body"]["images"]

    code, out, err = cli(*base, "batch", "collect", "relight")
    assert code == 0, err
    assert "3 ok of 3 jobs" in out
    # The server got each edit's own photo and the mask (alpha 0 where to edit).
    assert [_pixel(inputs[0], (900, 900)) for inputs, _ in batch_api.edit_inputs] == [
        (200, 100, 50),
        (200, 100, 50),
        (50, 100, 200),
    ]
    masks = [(_pixel(mask, (10, 10))[3], _pixel(mask, (900, 900))[3]) for _, mask in batch_api.edit_inputs]
    assert masks == [(0, 255)] * 3
    wb = Workbench(root)
    runs = wb.runs(batch_id="relight")
    assert len(runs) == 3 and set(runs["status"]) == {"ok"} and set(runs["kind"]) == {"edit"}
    prices = PriceTable.load()
    for _, run in runs.iterrows():
        full = prices.usd_for_usage("openai", "gpt-image-2", Usage(**json.loads(run["usage"])))
        assert run["usd"] == pytest.approx(full / 2, abs=1e-6) and run["usd"] > 0
        assert all(wb.store.exists(p) for p in run["images"])
    spent = before - wb.wallet.balance
    assert spent == pytest.approx(float(runs["credits"].sum())) and spent > 0

    code, out, _ = cli(*base, "batch", "collect", "relight")  # collecting again adds nothing
    again = Workbench(root)
    assert len(again.runs(batch_id="relight")) == 3 and before - again.wallet.balance == pytest.approx(spent)


def test_a_batch_mixing_generations_and_edits_is_refused_before_anything_is_sent(
    root, openai_server, batch_api, tmp_path, cli
):
    (tmp_path / "mug.png").write_bytes(_png((200, 100, 50)))
    path = tmp_path / "mixed.yaml"
    path.write_text(
        "spec: {subject: a mug, quality: low}\n"
        "rows:\n"
        "  - {input: mug.png, instruction: put it on marble}\n"
        "  - {subject: a teapot}\n"
    )
    Workbench(root).wallet.topup(20)
    before = ledger_state(root)
    code, _, err = cli(
        "--base-url", openai_server.base_url, "batch", "submit", str(path), "--via", "openai-batch"
    )
    assert code == 1 and "A Batch API batch goes to one endpoint" in err and err.count("\n") == 1
    assert not openai_server.counts and ledger_state(root) == before


def test_partial_images_cannot_go_through_the_batch_api(root, tmp_path):
    from workbench.backends.base import ImageRequest
    from workbench.errors import CapabilityError

    request = ImageRequest(prompt="a mug", width=1024, height=1024, partial_images=2, model="gpt-image-2")
    with pytest.raises(CapabilityError, match="partial_images cannot go through it"):
        Workbench(root).models.check_batch("gpt-image-2", request)


@pytest.mark.slow
def test_xhigh_gif_and_svg_jobs_go_through_the_batch_api(root, openai_server, batch_api, tmp_path, cli):
    """An experiment varying the 2.5 models' qualities and formats: each line carries them, each
    answer is stored in its own format and charged at the discount."""
    path = tmp_path / "formats.yaml"
    path.write_text(
        "model: gpt-image-2.5-sunburst\n"
        "spec: {subject: a mug, quality: low}\n"
        "options: {complexity: high}\n"
        "rows:\n"
        "  - {quality: xhigh}\n"
        "  - {output_format: gif, frame_count: 3}\n"
        "  - {output_format: svg, svg_model: gpt-5, svg_effort: low}\n"
    )
    Workbench(root).wallet.topup(200)
    base = ["--base-url", openai_server.base_url]
    code, out, err = cli(
        *base, "batch", "submit", str(path), "--via", "openai-batch", "--batch-id", "formats"
    )
    assert code == 0, err
    batch = next(iter(batch_api.batches.values()))
    assert batch["endpoint"] == "/v1/images/generations"
    bodies = [json.loads(line)["body"] for line in batch_api.contents[batch["input_file_id"]].splitlines()]
    assert [b["quality"] for b in bodies] == ["xhigh", "low", "low"]
    assert {b["complexity"] for b in bodies} == {"high"}
    assert bodies[1]["output_format"] == "gif" and bodies[1]["frame_count"] == 3
    assert bodies[2]["output_format"] == "svg" and bodies[2]["svg"] == {
        "model": "gpt-5",
        "reasoning": {"effort": "low"},
    }
    code, out, err = cli(*base, "batch", "collect", "formats")
    assert code == 0, err
    assert "3 ok of 3 jobs" in out
    runs = Workbench(root).runs(batch_id="formats")
    suffixes = sorted(str(images[0]).rsplit(".", 1)[1] for images in runs["images"])
    assert suffixes == ["gif", "png", "svg"]
    assert (runs["credits"] > 0).all() and (runs["usd"] > 0).all()
    # The SVG author's tokens (svg_usage) are recorded and in the dollars, at the discount too.
    svg = runs[runs["images"].map(lambda images: str(images[0]).endswith(".svg"))].iloc[0]
    usage = Usage(**json.loads(svg["usage"]))
    assert usage.svg_model == "gpt-5" and usage.svg_out == openai_server.SVG_TOKENS["low"]
    prices = PriceTable.load()
    image = prices.usd_for_usage("openai", "gpt-image-2.5-sunburst", Usage(usage.text_in, 0, usage.image_out))
    author = (usage.svg_in * 1.25 + usage.svg_out * 10.0) / 1e6
    assert svg["usd"] == pytest.approx((image + author) * prices.batch_discount, abs=1e-6)


@pytest.mark.slow
def test_a_markup_goes_through_the_batch_api_by_file_id(root, openai_server, batch_api, tmp_path, cli):
    (tmp_path / "mug.png").write_bytes(_png((200, 100, 50)))
    drawn = Image.new("RGBA", (1024, 1024), (0, 0, 0, 0))
    drawn.paste((255, 0, 0, 255), (100, 100, 300, 140))
    drawn.save(tmp_path / "markup.png")
    path = tmp_path / "marked.yaml"
    path.write_text(
        "model: gpt-image-2.5-flare\n"
        "edit: {input: mug.png, markup: markup.png, instruction: put a hat where the line is}\n"
        "spec: {quality: low}\n"
    )
    Workbench(root).wallet.topup(20)
    base = ["--base-url", openai_server.base_url]
    code, out, err = cli(*base, "batch", "submit", str(path), "--via", "openai-batch", "--batch-id", "marked")
    assert code == 0, err
    assert batch_api.uploads == {"user_data": 2}
    batch = next(iter(batch_api.batches.values()))
    body = json.loads(batch_api.contents[batch["input_file_id"]].splitlines()[0])["body"]
    assert set(body["markup"]) == {"file_id"} and "mask" not in body
    code, out, err = cli(*base, "batch", "collect", "marked")
    assert code == 0 and "1 ok of 1 jobs" in out, out + err
    assert len(openai_server.markups) == 1
    assert _pixel(openai_server.markups[0], (200, 120)) == (255, 0, 0, 255)


def test_an_edit_jobs_image_that_went_away_is_one_sentence(root, edits, tmp_path):
    from workbench.batch.shard import plan_job

    experiment = load_experiment(edits, backend="openai")
    (tmp_path / "mask.png").unlink()
    with pytest.raises(ExperimentError) as caught:
        plan_job(Workbench(root), experiment.jobs[0], experiment.name)
    assert "mask image" in str(caught.value) and "is no longer there" in str(caught.value)
