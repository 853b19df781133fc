"""The spine end to end on the draft backend: spec → backend → store → ledger → wallet."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from conftest import ledger_state
from PIL import Image

from workbench import (
    Backend,
    BackendError,
    BudgetError,
    ContentPolicyError,
    ImageResult,
    ModelCapabilities,
    PromptSpec,
    ServiceError,
    SpecError,
    TemplateError,
    Workbench,
    register_backend,
)


def test_generate_makes_a_logged_draft_with_its_recipe(wb):
    spec = wb.spec(subject="a ceramic coffee mug", background="walnut table", aspect="2:3", texts=["MORNING"])
    run = wb.generate(spec)
    assert run.status == "ok" and run.credits == 0 and run.backend == "draft"
    assert len(run.images) == 1 and run.images[0].is_file()
    image = Image.open(run.images[0])
    assert image.format == "PNG" and image.size == (1024, 1536)
    assert wb.recall(run.images[0]) == spec
    recipe = wb.recipe(run.images[0])
    assert recipe["run_id"] == run.id and recipe["draft"] is True and recipe["prompt"] == run.prompt
    row = wb.runs().iloc[-1]
    assert row["id"] == run.id and row["status"] == "ok" and row["size"] == "1024x1536"
    assert (
        row["prompt"]
        == "a ceramic coffee mug, walnut table, headline text reading 'MORNING', high resolution"
    )
    assert row["latency_ms"] > 0 and len(row["fingerprint"]) == 64
    assert wb.wallet.balance == 10


def test_an_identical_request_is_never_rendered_twice(wb):
    first = wb.generate("a ceramic coffee mug on a walnut table")
    again = wb.generate("a ceramic coffee mug on a walnut table")
    assert again.status == "cached" and again.credits == 0
    assert again.images == first.images and again.cached_from == first.id
    fresh = wb.generate("a ceramic coffee mug on a walnut table", fresh=True)
    variant = wb.generate("a ceramic coffee mug on a walnut table", variant=1)
    assert fresh.status == variant.status == "ok"
    assert variant.images[0].read_bytes() != first.images[0].read_bytes()
    assert wb.runs()["status"].tolist() == ["ok", "cached", "ok", "ok"]


def test_paid_runs_are_charged_once(paid_draft):
    wb = Workbench(paid_draft)
    run = wb.generate("a ceramic mug", quality="medium")
    assert run.credits == 2 and run.credits_estimated == 2 and wb.wallet.balance == 8
    again = wb.generate("a ceramic mug", quality="medium")
    assert again.status == "cached" and again.credits == 0 and wb.wallet.balance == 8
    assert wb.wallet.spent == 2 == int(wb.runs()["credits"].sum())


def test_a_run_the_wallet_cannot_pay_for_is_refused_before_rendering(paid_draft):
    wb = Workbench(paid_draft)
    before = ledger_state(paid_draft)
    with pytest.raises(BudgetError, match=r"costs 20, the wallet has 10 \(short by 10\)"):
        wb.generate("a ceramic mug", quality="high", n=2)
    assert ledger_state(paid_draft) == before
    assert wb.wallet.balance == 10 and not (paid_draft / "images").exists()


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"subject": "a mug", "background": "@nowhere-at-all"}, TemplateError, "Unknown background template"),
        ({"subject": "a mug", "aspect": "5:1"}, SpecError, "Unsupported aspect '5:1'"),
        ({"subject": "   "}, SpecError, "The prompt is empty"),
        ({"subject": "a mug " * 6000}, SpecError, "the limit is 32,000"),
        ({"preset": "no-such-preset"}, TemplateError, "no-such-preset"),
        ({"subject": "a mug", "backend": "nope"}, SpecError, "Unknown backend 'nope'"),
    ],
)
def test_bad_input_changes_nothing(wb, root, options, error, message):
    before = ledger_state(root)
    with pytest.raises(error, match=message):
        wb.generate(**options)
    assert ledger_state(root) == before


class _Faulty(Backend):
    """A third party's backend that fails the way a service does."""

    name = "faulty"
    models = {"f-1": ModelCapabilities()}
    default_model = "f-1"
    fault: BaseException = ServiceError("The service answered 500 three times.", backend="faulty")

    def generate(self, request, *, on_partial=None):
        raise self.fault


class _Paid(Backend):
    name = "paid"
    models = {"p-1": ModelCapabilities()}
    default_model = "p-1"

    def generate(self, request, *, on_partial=None):
        return (
            Backend.generate(self, request)
            if request.n > 99
            else ImageResult(images=[_png(request.width, request.height)] * request.n)
        )


def _png(width, height):
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def faulty(root):
    root.mkdir(parents=True, exist_ok=True)
    (root / "prices.yaml").write_text('credits:\n  faulty:\n    "*": {low: 1, medium: 2, high: 10}\n')
    register_backend("faulty", _Faulty)
    return Workbench(root, backend="faulty")


def test_a_failed_run_is_logged_and_costs_nothing(faulty):
    with pytest.raises(ServiceError, match="500 three times"):
        faulty.generate("a mug")
    row = faulty.runs().iloc[-1]
    assert row["status"] == "failed" and row["credits"] == 0 and "500 three times" in row["error"]
    assert row["credits_estimated"] == 2
    assert faulty.wallet.balance == 10 and faulty.wallet.reserved == 0
    run = faulty.generate("a mug", raise_errors=False)
    assert run.status == "failed" and run.images == []


class _Answers(_Faulty):
    """A service that answers, but with what it answers set by the test."""

    answer: list[bytes] = []

    def generate(self, request, *, on_partial=None):
        return ImageResult(images=list(self.answer))


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ([], "returned no image"),
        ([b"BM6 not an image we store"], "Image 1 of the answer is not PNG, JPEG, WebP, GIF or SVG"),
    ],
    ids=["no-image", "unstorable"],
)
def test_an_answer_that_cannot_be_stored_is_a_failed_run_at_no_cost(faulty, monkeypatch, answer, error):
    monkeypatch.setattr(_Answers, "answer", answer)
    register_backend("faulty", _Answers)
    with pytest.raises(BackendError, match=error):
        faulty.generate("a mug")
    run = faulty.generate("a mug", raise_errors=False)
    assert run.status == "failed" and error in run.error and run.images == []
    rows = faulty.runs()
    assert rows["status"].tolist() == ["failed", "failed"] and rows["credits"].sum() == 0
    assert faulty.wallet.balance == 10 and faulty.wallet.reserved == 0


def test_a_run_log_that_cannot_commit_frees_the_credits(faulty, monkeypatch):
    register_backend("faulty", _Paid)
    monkeypatch.setattr(
        type(faulty.ledger),
        "record",
        lambda self, row, db=None: (_ for _ in ()).throw(sqlite3.OperationalError("database is locked")),
    )
    with pytest.raises(sqlite3.OperationalError):
        faulty.generate("a mug")
    assert faulty.wallet.reserved == 0 and faulty.wallet.balance == 10


def test_a_refused_prompt_is_blocked_with_the_reason(faulty, monkeypatch):
    monkeypatch.setattr(_Faulty, "fault", ContentPolicyError("Refused.", reason="safety system: violence"))
    with pytest.raises(ContentPolicyError):
        faulty.generate("a mug")
    row = faulty.runs().iloc[-1]
    assert row["status"] == "blocked" and row["error"] == "safety system: violence" and row["credits"] == 0
    assert faulty.wallet.balance == 10


def test_an_interrupted_run_is_a_failed_row_at_no_cost_and_no_reservation(faulty, monkeypatch):
    monkeypatch.setattr(_Faulty, "fault", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        faulty.generate("a mug")
    [row] = faulty.runs().to_dict("records")  # the request was out: the service may have billed it
    assert (
        row["status"] == "failed" and row["credits"] == 0 and "Cancelled (KeyboardInterrupt)" in row["error"]
    )
    assert faulty.wallet.balance == 10 and faulty.wallet.reserved == 0


def test_async_and_sync_inside_a_running_loop(wb):
    async def main():
        runs = await asyncio.gather(*(wb.agenerate(f"a mug number {i}") for i in range(4)))
        inside = wb.generate("a teapot")  # a notebook calls the sync API inside its event loop
        return runs, inside

    runs, inside = asyncio.run(main())
    assert [r.status for r in runs] == ["ok"] * 4 and inside.status == "ok"
    assert len(wb.runs()) == 5


def test_estimate_before_and_after(paid_draft):
    wb = Workbench(paid_draft)
    estimate = wb.estimate("a mug", quality="high")
    assert estimate.credits == 10 and not estimate.cached and estimate.size == "2048x2048"
    wb.generate("a mug", quality="high")
    assert wb.estimate("a mug", quality="high").cached


def test_presets_and_template_references_resolve(wb):
    run = wb.generate(preset="marketing-poster")
    assert run.spec.preset == "marketing-poster" and "'MOVE FORWARD'" in run.prompt
    assert "@" not in run.prompt
    assert wb.runs(preset="marketing-poster")["id"].tolist() == [run.id]
    assert isinstance(wb.recall(run.images[0]), PromptSpec)


def test_a_misspelled_option_is_named_in_one_sentence(wb, root):
    before = ledger_state(root)
    for options in ({}, {"preset": "marketing-poster"}):
        with pytest.raises(SpecError, match="Unknown spec field 'aspct'"):
            wb.generate("a mug", aspct="3:2", **options)
    with pytest.raises(SpecError, match="Unknown spec field 'aspct'"):
        wb.generate(wb.spec("a mug"), aspct="3:2")
    assert ledger_state(root) == before
    with pytest.raises(SpecError, match="Unknown key 'txt' in an exact text"):
        wb.overlay(wb.generate("a mug"), [{"txt": "HI"}])
    assert len(wb.runs()) == 1  # only the mug itself


def test_a_backend_whose_package_is_broken_is_one_sentence_everywhere(root, monkeypatch):
    class _Broken:
        name = "vendor"

        def load(self):
            raise ImportError("No module named 'vendor_sdk'")

    import workbench.backends.base as base

    monkeypatch.setattr(base, "_entry_points", lambda: {"vendor": _Broken()})
    wb = Workbench(root)
    before = ledger_state(root)
    with pytest.raises(
        BackendError, match=r"^The vendor backend cannot be loaded \(No module named 'vendor_sdk'\)\.$"
    ):
        wb.generate("a mug", backend="vendor")
    with pytest.raises(BackendError, match="cannot be loaded"):
        Workbench(root, backend="vendor")
    assert ledger_state(root) == before


def test_a_misspelt_backend_option_is_one_sentence_naming_the_close_match(root):
    with pytest.raises(SpecError, match=r"no option 'timout'\. Did you mean 'timeout'\?") as caught:
        Workbench(root, backend_options={"openai": {"timout": 5}})
    assert "\n" not in str(caught.value)
    assert not root.exists()  # refused before anything was made
    with pytest.raises(SpecError, match="Unknown backend 'opneai'"):
        Workbench(root, backend_options={"opneai": {"timeout": 5}})
    with pytest.raises(SpecError, match="draft backend has no option 'font'. Did you mean 'fonts'"):
        Workbench(root, backend_options={"draft": {"font": None}})
    Workbench(root, backend_options={"openai": {"timeout": 5, "base_url": "http://127.0.0.1:9/v1"}})


def test_a_backend_registered_for_a_block_or_a_test_does_not_leak():
    from workbench.backends.base import available_backends, registered_backend, unregister_backend
    from workbench.backends.draft import DraftBackend

    class Quiet(DraftBackend):
        name = "quiet"

    with registered_backend("quiet", Quiet):
        assert "quiet" in available_backends()
    assert "quiet" not in available_backends()
    register_backend("leaky", Quiet)  # the autouse fixture of conftest forgets it after this test
    assert "leaky" in available_backends()
    unregister_backend("leaky")
    assert "leaky" not in available_backends()
    register_backend("leaky", Quiet)


def test_the_backend_registered_by_the_test_before_is_gone():
    from workbench.backends.base import available_backends

    assert "leaky" not in available_backends()
