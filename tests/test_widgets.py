"""The prompt panel and the gallery, driven from Python: what a person sees change as they type,
what a click does to the run log, and what the static fallback carries."""

from __future__ import annotations

import html as html_module
import re
import time
from pathlib import Path

import pytest
from _skips import require
from conftest import ledger_state
from PIL import Image, ImageStat

from workbench import ModelCapabilities, Workbench, register_backend
from workbench.backends.draft import DraftBackend
from workbench.imaging.ocr import ocr_available
from workbench.widgets import Gallery, Panel
from workbench.widgets.html import run_html, text_score

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", html_module.unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def _bundle(widget) -> dict:
    bundle = widget._repr_mimebundle_()
    return bundle[0] if isinstance(bundle, tuple) else bundle


class FixedSizeDraft(DraftBackend):
    """A draft renderer with two models: one flexible, one that (like many real models) makes
    only three sizes."""

    name = "fixed-draft"
    default_model = "flex-1"
    models = {
        "flex-1": DraftBackend.models["draft-1"],
        "fixed-1": ModelCapabilities(sizes=frozenset({(1024, 1024), (1024, 1536), (1536, 1024)})),
    }


@pytest.fixture
def panel(wb: Workbench) -> Panel:
    return wb.panel(preset="marketing-poster", threaded=False)


@pytest.fixture
def priced(root: Path) -> Workbench:
    """A workbench whose draft renders cost credits (medium 2, high 50): the wallet's 10 welcome
    credits pay for a medium run, not a high one."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "prices.yaml").write_text(
        'credits:\n  draft:\n    "*": {low: 1, medium: 2, high: 50}\n'
        '  fixed-draft:\n    "*": {low: 1, medium: 2, high: 50}\n'
    )
    bench = Workbench(root)
    yield bench
    bench.close()


# -- the panel: live preview -------------------------------------------------------------------


def test_preset_fills_the_inputs_and_the_preview(panel: Panel):
    assert panel.inputs["background"].value == "@navy-solid"
    assert "headline: MOVE FORWARD" in panel.inputs["texts"].value
    assert panel.inputs["aspect"].value == "2:3"
    assert "'MOVE FORWARD'" in panel.prompt
    assert "'MOVE FORWARD'" in _text(panel.preview.value)
    assert panel.error is None and panel.message.value == ""


def test_changing_an_input_updates_preview_estimate_and_findings(panel: Panel):
    panel.inputs["subject"].value = "a red bicycle leaning on a wall"
    assert panel.prompt.startswith("a red bicycle leaning on a wall")
    assert "a red bicycle" in panel.preview.value

    size_before = panel.estimate.size
    panel.inputs["aspect"].value = "3:2"
    assert panel.estimate.size == "1536x1024" != size_before
    assert "1536x1024" in panel.cost.value

    assert not any(f.code for f in panel.findings if "light" in f.message.lower())
    panel.inputs["lighting"].value = "golden hour light at noon"
    assert panel.findings, "contradictory lighting should be flagged"
    shown = _text(panel.findings_box.value)
    assert panel.findings[0].code in shown and "Fix:" in shown


def test_backend_choice_offers_its_models_and_prices(priced: Workbench):
    register_backend("fixed-draft", FixedSizeDraft)
    panel = priced.panel(subject="a ceramic mug", threaded=False)
    assert panel.inputs["model"].value == "draft-1"
    panel.inputs["backend"].value = "fixed-draft"
    assert panel.inputs["model"].value == "flex-1"
    assert panel.inputs["quality"].value == "medium"
    run = panel.generate()
    assert run.backend == "fixed-draft" and run.model == "draft-1"  # the renderer reports its own name
    assert priced.runs().backend.tolist() == ["fixed-draft"]


def test_quality_labels_show_credits_and_the_estimate_follows(priced: Workbench):
    panel = priced.panel(subject="a ceramic mug", threaded=False)
    labels = dict((value, label) for label, value in panel.inputs["quality"].options)
    assert labels["medium"] == "medium · 2 credits" and labels["high"] == "high · 50 credits"
    assert panel.estimate.credits == 2
    assert "2 credits" in _text(panel.cost.value) and "wallet: 10 credits" in _text(panel.cost.value)
    panel.inputs["quality"].value = "high"
    assert panel.estimate.credits == 50
    assert "40 credits short" in _text(panel.cost.value)


def test_free_text_and_templates_both_work_in_the_comboboxes(panel: Panel):
    assert "@studio-white" in panel.inputs["background"].options
    panel.inputs["background"].value = "a sunlit rooftop garden"
    assert "a sunlit rooftop garden" in panel.prompt


def test_an_unknown_template_shows_one_sentence_not_a_traceback(panel: Panel):
    panel.inputs["background"].value = "@studo-white"
    assert panel.prompt == ""
    message = _text(panel.message.value)
    assert "@studio-white" in message and "Traceback" not in message
    panel.inputs["background"].value = "@studio-white"
    assert panel.error is None and panel.prompt


def test_texts_keep_their_roles(panel: Panel):
    panel.set(texts="headline: SUMMER SALE\nsubtext: 50% off everything\nlabel: Step one")
    roles = [(t.role, t.text) for t in panel.spec.texts]
    assert roles == [("headline", "SUMMER SALE"), ("subtext", "50% off everything"), ("label", "Step one")]


# -- the panel: Generate -------------------------------------------------------------------------


def test_generate_adds_a_ledger_row_and_shows_the_image(wb: Workbench, panel: Panel):
    assert len(wb.runs()) == 0
    panel.button.click()
    runs = wb.runs()
    assert len(runs) == 1 and runs.status[0] == "ok" and runs.preset[0] == "marketing-poster"
    assert panel.last_run.id == runs.id[0]
    assert "<img" in panel.result.value and "data:image/webp;base64," in panel.result.value
    assert not panel.button.disabled and panel.button.description == "Generate"
    assert "ok" in _text(panel.status.value)


def test_a_threaded_click_finishes_and_can_be_waited_for(wb: Workbench):
    panel = wb.panel(subject="a ceramic mug", threaded=True)
    panel.button.click()
    run = panel.wait(timeout=60)
    assert run is not None and run.ok
    assert len(wb.runs()) == 1


def test_streamed_previews_are_shown_while_running(wb: Workbench):
    panel = wb.panel(subject="a ceramic mug", threaded=False, previews=2)
    seen: list[str] = []
    panel.result.observe(lambda change: seen.append(change["new"]), names="value")
    panel.generate()
    assert any("workbench-partial" in value for value in seen)
    assert "workbench-run" in panel.result.value


def test_the_button_is_disabled_while_running(wb: Workbench):
    panel = wb.panel(subject="a ceramic mug", threaded=False)
    states: list[bool] = []
    panel.button.observe(lambda change: states.append(change["new"]), names="disabled")
    panel.generate()
    assert states == [True, False]


def test_an_unaffordable_run_shows_a_sentence_and_changes_nothing(priced: Workbench, root: Path):
    panel = priced.panel(subject="a ceramic mug", quality="high", threaded=False)
    before = ledger_state(root)
    balance = priced.wallet.balance
    panel.button.click()
    assert panel.last_run is None
    message = _text(panel.message.value)
    assert message.startswith("Not enough credits") and "Traceback" not in message
    assert message.count("\n") == 0 and message.endswith(".")
    assert ledger_state(root) == before and priced.wallet.balance == balance
    # Generate stays off, with the reason and the one top-up hint beside it.
    assert panel.button.disabled
    assert message == (
        "Not enough credits: this run costs 50, the wallet has 10 (short by 40); "
        "top up with wb.wallet.topup(40)."
    )
    assert "topup" not in _text(panel.reason.value) + _text(panel.cost.value)  # the one hint


def test_generate_is_disabled_with_the_reason_before_an_unaffordable_click(priced: Workbench):
    panel = priced.panel(subject="a ceramic mug", threaded=False)
    assert not panel.button.disabled and panel.reason.value == ""
    panel.inputs["quality"].value = "high"
    assert panel.button.disabled and "short by 40" in _text(panel.reason.value)
    assert _text(panel.cost.value).count("topup") == 0  # one hint only, beside the button
    panel.inputs["quality"].value = "medium"
    assert not panel.button.disabled and panel.reason.value == ""


def test_invalid_input_disables_generate_and_says_why(panel: Panel):
    panel.inputs["seed"].value = "abc"
    assert panel.button.disabled and "The seed must be a whole number" in _text(panel.reason.value)
    panel.inputs["seed"].value = "7"
    assert not panel.button.disabled and panel.spec.seed == 7


def test_a_template_typo_is_not_no_prompt_yet(panel: Panel):
    panel.inputs["background"].value = "@studo-white"
    assert "No prompt yet" not in panel.preview.value and "error below" in panel.preview.value


def test_new_sample_makes_a_different_image_and_a_new_row(wb: Workbench, panel: Panel):
    first = panel.generate()
    again = panel.generate()
    assert again.status == "cached"  # Generate twice: the same request, from the store
    sample = panel.new_sample()
    assert sample.status == "ok" and sample.id != first.id
    assert sample.images[0].read_bytes() != first.images[0].read_bytes()
    second = panel.new_sample()
    assert second.status == "ok" and second.images[0] not in (sample.images[0], first.images[0])
    runs = wb.runs()
    assert len(runs) == 4 and runs["variant"].tolist() == [0, 0, 1, 2]


def test_count_seed_size_transparency_and_format_reach_the_run(wb: Workbench):
    panel = wb.panel(subject="a ceramic mug", threaded=False)
    sizes = [value for _, value in panel.inputs["size"].options]
    assert sizes[0] == "" and "1536x1024" in sizes
    panel.set(n=2, seed=42, size="1536x1024", transparent=True, format="webp")
    assert "2 images" in _text(panel.cost.value) and "1536x1024" in _text(panel.cost.value)
    run = panel.generate()
    assert run.ok and run.size == "1536x1024" and len(run.images) == 2 and run.spec.seed == 42
    assert run.images[0].suffix == ".webp"
    with Image.open(run.images[0]) as image:
        assert image.mode == "RGBA" and image.getextrema()[3][0] == 0  # a transparent background
    # Download: the names are in the widget state, the bytes only come when a button asks.
    assert [f["name"] for f in panel.downloads.files] == [
        f"workbench-{run.id[:8]}-1.webp",
        f"workbench-{run.id[:8]}-2.webp",
    ]
    message, buffers = panel.downloads.payload(1)
    assert message["mime"] == "image/webp" and buffers == [run.images[1].read_bytes()]


def test_service_sizes_follow_the_aspect(wb: Workbench):
    panel = wb.panel(subject="a ceramic mug", backend="openai", aspect="16:9", threaded=False)
    sizes = [value for _, value in panel.inputs["size"].options]
    assert sizes[:3] == ["", "1536x864", "3840x2160"]  # the model table's sizes for 16:9 first
    panel.inputs["aspect"].value = "1:1"
    assert [value for _, value in panel.inputs["size"].options][1] == "1024x1024"


def test_a_draft_estimate_also_shows_the_service_price(panel: Panel):
    text = _text(panel.cost.value)
    assert "0 credits" in text and "On the service (gpt-image-2, medium):" in text
    labels = dict((value, label) for label, value in panel.inputs["quality"].options)
    assert labels["high"] == "high · free (service 40)"  # high on gpt-image-2 at 1:1 is 2048x2048


def test_service_quality_labels_are_priced_at_the_size_the_run_makes(wb: Workbench, root):
    """The labels said "high · 10 credits" where high on gpt-image-2 at 1:1 is 2048x2048 and 40
    credits; and the panel read the packaged model table, not the root's models.yaml."""
    (root / "models.yaml").write_text("models:\n  acme-image-7:\n    like: gpt-image-2\n")
    panel = wb.panel(subject="a ceramic mug", backend="openai", aspect="1:1", threaded=False)

    def labels() -> dict[str, str]:
        return {value: label for label, value in panel.inputs["quality"].options}

    assert labels()["high"] == "high · 40 credits" and labels()["medium"] == "medium · 2 credits"
    panel.inputs["quality"].value = "high"
    assert panel.estimate.credits == 40  # the label and the estimate agree
    panel.inputs["aspect"].value = "16:9"
    assert labels()["high"] == "high · 79.11 credits"  # 3840x2160
    panel.inputs["size"].value = "1536x864"
    assert labels()["high"] == "high · 12.66 credits" and panel.estimate.credits == 12.66
    assert "acme-image-7" in panel.inputs["model"].options
    panel.inputs["model"].value = "acme-image-7"
    assert [v for _, v in panel.inputs["size"].options][1:3] == ["1536x864", "3840x2160"]


def test_a_preset_change_keeps_what_was_typed_unless_asked(panel: Panel):
    panel.inputs["subject"].value = "a red bicycle"
    panel.inputs["preset"].value = "ecommerce-product"
    assert panel.inputs["subject"].value == "a red bicycle"
    assert "left what you typed in subject" in _text(panel.message.value)
    assert panel.overwrite_button.layout.display == ""
    preset_subject = panel.wb.templates.preset("ecommerce-product").spec.subject
    panel.overwrite_button.click()
    assert panel.inputs["subject"].value == preset_subject and panel.overwrite_button.layout.display == "none"


def test_an_error_replaces_the_old_result(panel: Panel):
    panel.generate()
    assert "<img" in panel.result.value
    panel.inputs["background"].value = "@studo-white"
    assert panel.generate() is None
    assert panel.result.value == "" and "@studio-white" in _text(panel.message.value)


def test_an_uploaded_png_is_edited_locally_after_showing_route_and_price(wb: Workbench, root: Path):
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 140, 160)).save(buffer, "PNG")
    panel = wb.panel(threaded=False)
    panel.set_upload(buffer.getvalue(), "room.png")
    assert panel.edit_button.disabled and "say what to change" in _text(panel.edit_route.value)
    panel.instruction.value = "make the lighting warmer"
    route = _text(panel.edit_route.value)
    assert route.startswith("Route: runs locally on the draft backend · 0 credits") and "640x480" in route
    assert not panel.edit_button.disabled and len(wb.runs()) == 0  # nothing ran yet
    panel.edit_button.click()
    run = panel.last_edit
    assert run.ok and run.backend == "draft" and run.kind == "edit" and run.credits == 0
    with Image.open(run.images[0]) as image:
        red, _, blue = ImageStat.Stat(image.convert("RGB")).mean
    assert red > 120 and blue < 160  # warmer
    assert "<img" in panel.edit_result.value


def test_a_bad_aspect_for_the_model_shows_a_sentence_and_changes_nothing(priced: Workbench, root: Path):
    register_backend("fixed-draft", FixedSizeDraft)
    panel = priced.panel(subject="a ceramic mug", backend="fixed-draft", aspect="16:9", threaded=False)
    assert panel.inputs["model"].options == ("flex-1", "fixed-1")
    assert panel.error is None and panel.estimate.size == "1536x864"
    panel.inputs["model"].value = "fixed-1"
    assert "fixed-draft model 'fixed-1' cannot make 1536x864" in _text(panel.message.value)
    before = ledger_state(root)
    assert panel.generate() is None
    message = _text(panel.message.value)
    assert "cannot make 1536x864" in message and "Traceback" not in message
    assert ledger_state(root) == before


def test_the_panel_works_on_from_code(wb: Workbench, panel: Panel):
    panel.set(subject="a red bicycle", aspect="3:2")
    run = wb.generate(panel.spec)
    assert run.ok and run.size == "1536x1024"
    assert wb.recall(run.images[0]) == panel.spec


# -- static fallbacks ----------------------------------------------------------------------------


def test_the_panel_bundle_carries_a_widget_view_and_static_html(panel: Panel):
    panel.generate()
    data = _bundle(panel)
    assert WIDGET_VIEW in data and "text/html" in data
    html = data["text/html"]
    assert "MOVE FORWARD" in html and "Estimate" in html and "data:image/webp" in html
    assert len(html) < 60_000


def test_run_repr_html_is_a_small_thumbnail(wb: Workbench):
    run = wb.generate("a red bicycle", aspect="16:9", quality="high")
    html = run._repr_html_()
    assert html == run_html(run)
    assert "data:image/webp;base64," in html and "ok" in html and "0 credits" in html
    assert len(html) < 30_000  # the image itself is several hundred KB


def test_thumbnails_are_small_and_cached(wb: Workbench, root: Path):
    run = wb.generate("a red bicycle", aspect="2:3")
    relative = run.images[0].relative_to(root)
    data = wb.store.thumbnail(relative, 256)
    import io

    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.format == "WEBP" and max(thumb.size) == 256 and thumb.size[0] < thumb.size[1]
    assert len(data) < 20_000
    cached = list((root / "thumbs" / "256").glob("*.webp"))
    assert len(cached) == 1 and cached[0].read_bytes() == data


# -- the gallery ---------------------------------------------------------------------------------


@pytest.fixture
def gallery_runs(wb: Workbench) -> list:
    runs = [
        wb.generate(preset="marketing-poster"),
        wb.generate(preset="ecommerce-product", batch_id="b1"),
        wb.generate(preset="ecommerce-product", quality="low", batch_id="b1"),
    ]
    runs.append(wb.generate(preset="marketing-poster"))  # cached
    return runs


def test_the_gallery_lists_runs_newest_first(wb: Workbench, gallery_runs: list):
    gallery = wb.gallery()
    assert isinstance(gallery, Gallery)
    assert [r["id"] for r in gallery.runs] == [r.id for r in reversed(gallery_runs)]
    first = gallery.runs[0]
    assert (
        first["status"] == "cached" and first["preset"] == "marketing-poster" and first["size"] == "1024x1536"
    )
    assert gallery.total == 4


def test_gallery_filters(wb: Workbench, gallery_runs: list):
    gallery = wb.gallery(batch_id="b1")
    assert {r["id"] for r in gallery.visible()} == {gallery_runs[1].id, gallery_runs[2].id}
    gallery.filters = {"status": "cached"}
    assert [r["id"] for r in gallery.visible()] == [gallery_runs[3].id]
    with pytest.raises(TypeError, match="cannot filter on 'colour'"):
        wb.gallery(colour="red")


def test_gallery_thumbnails_come_on_request(wb: Workbench, gallery_runs: list):
    gallery = wb.gallery()
    assert gallery.thumbs == {}  # none in the synced state until a front end asks
    gallery._on_message(gallery, {"type": "thumbs", "ids": [gallery_runs[0].id]}, [])
    assert list(gallery.thumbs) == [gallery_runs[0].id]
    assert gallery.thumbs[gallery_runs[0].id].startswith("data:image/webp;base64,")
    gallery.load_thumbs()
    assert len(gallery.thumbs) == 4


def test_selecting_two_runs_compares_them(wb: Workbench, gallery_runs: list):
    gallery = wb.gallery()
    gallery.selected = [gallery_runs[1].id, gallery_runs[2].id]
    assert [r.id for r in gallery.selection] == gallery.selected
    html = gallery.to_html()
    assert "Comparing 2 runs" in html
    assert gallery_runs[1].prompt[:30] in html and "low" in html and "high" in html


def test_selections_follow_the_filters(wb: Workbench, gallery_runs: list):
    gallery = wb.gallery(watch_seconds=None)
    gallery.selected = [gallery_runs[0].id, gallery_runs[1].id, gallery_runs[2].id]
    gallery.filters = {"batch_id": "b1"}
    # The run the filter hides is no longer selected: only visible runs are compared.
    assert gallery.selected == [gallery_runs[1].id, gallery_runs[2].id]
    assert [r.id for r in gallery.selection] == gallery.selected


def test_compare_images_are_512_px_on_request(wb: Workbench, gallery_runs: list):
    gallery = wb.gallery(watch_seconds=None)
    assert gallery.large == {}
    gallery._on_message(gallery, {"type": "large", "ids": [gallery_runs[1].id]}, [])
    import base64
    import io

    uri = gallery.large[gallery_runs[1].id]
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as image:
        assert image.width == 512  # a 1024x1024 run
    poster = gallery_runs[0].id  # 1024x1536: 512 wide, 768 tall
    gallery.load_large([poster])
    with Image.open(io.BytesIO(base64.b64decode(gallery.large[poster].split(",", 1)[1]))) as image:
        assert image.size == (512, 768)


def test_cards_carry_backend_and_batch_factors(wb: Workbench, tmp_path: Path):
    from test_report import in_process_batch

    in_process_batch(
        wb, "name: two\nspec: {subject: a mug, quality: low}\ngrid:\n  seed: [1, 2]\n", "two", tmp_path
    )
    gallery = wb.gallery(watch_seconds=None)
    assert {r["backend"] for r in gallery.runs} == {"draft"}
    assert sorted(r["factors"]["seed"] for r in gallery.runs) == ["1", "2"]
    assert "seed: 1" in gallery.to_html() and "draft/draft-1" in gallery.to_html()


def test_a_run_made_in_code_shows_in_an_open_gallery_within_2_s(wb: Workbench):
    gallery = wb.gallery(watch_seconds=0.2)
    assert gallery.runs == []
    other = Workbench(wb.root)  # another process's workbench, as a CLI or a batch kernel would be
    run = other.generate("a teapot on a windowsill")
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not gallery.runs:
        time.sleep(0.05)
    assert [r["id"] for r in gallery.runs] == [run.id]
    gallery.close()
    other.close()


def test_open_full_size_on_request(wb: Workbench, gallery_runs: list):
    gallery = wb.gallery()
    gallery._on_message(gallery, {"type": "open", "id": gallery_runs[0].id}, [])
    full = gallery.full_image
    assert full["id"] == gallery_runs[0].id and full["size"] == "1024x1536"
    assert full["src"].startswith("data:image/png;base64,")
    assert "error" in gallery.open_full("no-such-run")


def test_gallery_bundle_has_static_html_with_thumbnails(wb: Workbench, gallery_runs: list):
    gallery = wb.gallery()
    data = _bundle(gallery)
    assert WIDGET_VIEW in data
    html = data["text/html"]
    assert html.count("<img") == 4 and "4 runs" in html


def test_gallery_front_end_file_sits_beside_the_class():
    here = Path(Gallery.__module__.replace(".", "/")).name
    assert here == "gallery"
    source = Path(__file__).resolve().parents[1] / "workbench" / "widgets"
    assert (source / "gallery.js").is_file() and (source / "gallery.css").is_file()
    assert "export default" in (source / "gallery.js").read_text()


def test_an_empty_gallery_says_how_to_start(wb: Workbench):
    html = _bundle(wb.gallery())["text/html"]
    assert "No runs yet" in html


class BrokenDraft(DraftBackend):
    """A backend whose service is down."""

    name = "broken-draft"

    def generate(self, request, *, on_partial=None):
        from workbench import ServiceError

        raise ServiceError("The image service answered 503: try again in a minute.", backend=self.name)


def test_a_service_failure_is_a_sentence_and_a_failed_row(root: Path):
    register_backend("broken-draft", BrokenDraft)
    root.mkdir(parents=True, exist_ok=True)
    (root / "prices.yaml").write_text('credits:\n  broken-draft:\n    "*": {low: 0, medium: 0, high: 0}\n')
    wb = Workbench(root)
    panel = wb.panel(subject="a ceramic mug", backend="broken-draft", threaded=False)
    assert panel.generate() is None
    assert _text(panel.message.value) == "The image service answered 503: try again in a minute."
    runs = wb.runs()
    assert list(runs.status) == ["failed"] and runs.credits[0] == 0
    assert not panel.button.disabled


def test_an_empty_panel_invites_input_without_an_error(wb: Workbench):
    panel = wb.panel(threaded=False)
    assert panel.error is None and panel.message.value == ""
    assert "pick a preset or type a subject" in panel.preview.value
    assert panel.generate() is None
    assert "The prompt is empty" in _text(panel.message.value)  # pressing Generate says why nothing happens
    assert len(wb.runs()) == 0


def test_a_run_from_the_panel_shows_up_in_the_gallery(wb: Workbench):
    gallery = wb.gallery()
    panel = wb.panel(subject="a ceramic mug", threaded=False)
    assert gallery.runs == []
    run = panel.generate()
    assert [r["id"] for r in gallery.runs] == [run.id]


def test_text_accuracy_shows_on_the_card_and_in_the_comparison(wb: Workbench):
    require(ocr_available(), "tesseract-ocr is not installed (apt install tesseract-ocr)")
    poster = wb.generate(preset="marketing-poster")
    plain = wb.generate("a ceramic mug on a walnut table")
    gallery = wb.gallery()
    assert {r["id"]: r["text_accuracy"] for r in gallery.runs} == {poster.id: None, plain.id: None}
    assert "text " not in _text(gallery.to_html())  # an unchecked run shows no score

    checked = wb.check_text(poster)
    score = checked["accuracy"].mean()
    assert score >= 0.98
    synced = {r["id"]: r["text_accuracy"] for r in gallery.runs}  # refreshed by the check itself
    assert synced == {poster.id: round(score, 4), plain.id: None}
    shown = text_score(score)
    assert shown in ("text 98 %", "text 99 %", "text 100 %")
    assert _text(gallery.to_html()).count(shown) == 1

    gallery.selected = [poster.id, plain.id]
    assert _text(gallery.to_html()).count(shown) == 2  # the card and the comparison column
    assert shown in _text(_bundle(gallery)["text/html"])


def test_text_score_rounds_down_so_100_means_exact():
    assert text_score(1.0) == "text 100 %"
    assert text_score(0.996) == "text 99 %"
    assert text_score(0.5) == "text 50 %"
    assert text_score(None) == "" and text_score(float("nan")) == ""


# -- the mask painter ----------------------------------------------------------------------------


def _layer_uri(size: tuple[int, int], box: tuple[int, int, int, int]) -> str:
    import base64
    import io

    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    layer.paste((255, 255, 255, 255), box)
    buffer = io.BytesIO()
    layer.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_wb_mask_painter_erases_through_rectangles_polygons_and_strokes(wb: Workbench):
    from workbench.imaging.masks import edited_area
    from workbench.widgets import MaskPainter

    source = wb.generate("a red mug", aspect="1:1")
    painter = wb.mask_painter(source, display_size=320)
    assert isinstance(painter, MaskPainter) and (painter.width, painter.height) == (1024, 1024)
    painter.regions = [{"x": 0, "y": 0, "w": 200, "h": 200}, {"points": [[600, 600], [900, 600], [900, 900]]}]
    painter.painted = _layer_uri((1024, 1024), (300, 700, 400, 800))
    # One eraser stroke across all three: a strip through the rectangle, the polygon and the stroke.
    painter.erased = _layer_uri((1024, 1024), (0, 0, 1024, 1024))
    assert painter.regions_for_edit() == [] and painter.mask_png() is None
    painter.erased = _layer_uri((1024, 1024), (0, 0, 100, 1024))  # the left half of the rectangle
    edited = edited_area(painter.mask_png())
    assert not edited[50, 50] and edited[50, 150] and edited[750, 350] and edited[800, 880]
    run = wb.edit(source, "convert to black and white", regions=painter.regions_for_edit())
    assert run.ok and run.parent_id == source.id
    painter.clear()
    assert painter.erased == "" and painter.mask_png() is None


def test_qualities_and_formats_follow_the_chosen_model(wb: Workbench):
    """The panel offered low/medium/high and png/webp/jpeg whatever the model: the 2.5 models'
    xhigh, max, GIF and SVG were out of reach, and a choice the next model lacks stayed chosen."""
    panel = wb.panel(subject="a ceramic mug", backend="openai", aspect="1:1", threaded=False)

    def qualities() -> list[str]:
        return [value for _, value in panel.inputs["quality"].options]

    assert qualities() == ["low", "medium", "high"] and panel.inputs["format"].options == (
        "png",
        "jpeg",
        "webp",
    )
    panel.inputs["model"].value = "gpt-image-2.5-sunburst"
    assert qualities() == ["low", "medium", "high", "xhigh", "max"]
    assert {"gif", "svg"} <= set(panel.inputs["format"].options)
    panel.inputs["quality"].value = "xhigh"
    panel.inputs["format"].value = "gif"
    assert panel.run_options()["output_format"] == "gif" and panel.estimate.credits > 40
    panel.inputs["model"].value = "gpt-image-2"  # neither xhigh nor GIF: back to what it makes
    assert panel.inputs["quality"].value == "medium" and panel.inputs["format"].value == "png"
    assert "xhigh" not in qualities()


def test_gif_and_svg_runs_open_full_size_as_themselves_and_an_svg_is_its_own_thumbnail(
    root, openai_server, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-gallery")
    wb = Workbench(root, backend_options={"openai": {"base_url": openai_server.base_url}})
    wb.wallet.topup(100)
    options = {"backend": "openai", "model": "gpt-image-2.5-flare", "quality": "low"}
    gif = wb.generate("a spinning mug", **options, output_format="gif", frame_count=3)
    svg = wb.generate("a mug logo", **options, output_format="svg")
    gallery = wb.gallery()
    assert gallery.open_full(gif.id)["src"].startswith("data:image/gif;base64,")
    assert gallery.open_full(svg.id)["src"].startswith("data:image/svg+xml;base64,")
    thumbs = gallery.load_thumbs()
    assert thumbs[svg.id].startswith("data:image/svg+xml;base64,")  # a vector draws at any size
    assert thumbs[gif.id].startswith("data:image/webp;base64,")  # the GIF's first frame
    gallery.selected = [gif.id, svg.id]
    assert gallery.load_large([gif.id, svg.id])[svg.id].startswith("data:image/svg+xml;base64,")
    gallery.close()
