"""Checks that score every image against its brief (workbench.checks): palette, contrast, safe
area, aspect and size, text accuracy, stored per run and check; the vision judge through the
loopback server; repeats that conclude; render -> check -> repair."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from workbench import Workbench
from workbench.checks import CheckSpec, available_checks, check_names, get_check, run_checks
from workbench.checks.colour import delta_e2000, rgb_to_lab
from workbench.errors import SpecError
from workbench.imaging.fonts import default_library
from workbench.vocabulary import delta_e2000 as scalar_delta_e2000

NAVY_POSTER = "a ceramic mug, deep navy (#1B2A4A) background, headline 'MOVE FORWARD'"


def _text_image(
    background: tuple[int, int, int], ink: tuple[int, int, int], *, at: tuple[int, int] = (120, 80)
) -> tuple[Image.Image, list[float]]:
    """A 1024² image with one headline drawn at ``at``; returns it and the text's box."""
    image = Image.new("RGB", (1024, 1024), background)
    draw = ImageDraw.Draw(image)
    font = default_library().font_for("MOVE FORWARD", 90, bold=True)
    draw.text(at, "MOVE FORWARD", fill=ink, font=font)
    box = list(draw.textbbox(at, "MOVE FORWARD", font=font))
    return image, box


# -- colour arithmetic ---------------------------------------------------------------------------
def test_delta_e2000_matches_sharmas_reference_pairs_one_by_one_and_as_arrays():
    # Sharma, Wu & Dalal (2005), pairs 1, 2, 3, 7, 13-16 (the hue mean across 0/360), 17-21 and 25.
    pairs = [
        ((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
        ((50, 3.1571, -77.2803), (50, 0, -82.7485), 2.8615),
        ((50, 2.8361, -74.0200), (50, 0, -82.7485), 3.4412),
        ((50, 0, 0), (50, -1, 2), 2.3669),
        ((50, 2.4900, -0.0010), (50, -2.4900, 0.0009), 7.1792),
        ((50, 2.4900, -0.0010), (50, -2.4900, 0.0010), 7.1792),
        ((50, 2.4900, -0.0010), (50, -2.4900, 0.0011), 7.2195),
        ((50, 2.4900, -0.0010), (50, -2.4900, 0.0012), 7.2195),
        ((50, 2.5, 0), (73, 25, -18), 27.1492),
        ((50, 2.5, 0), (61, -5, 29), 22.8977),
        ((50, 2.5, 0), (56, -27, -3), 31.9030),
        ((50, 2.5, 0), (58, 24, 15), 19.4535),
        ((50, 2.5, 0), (50, 3.1736, 0.5854), 1.0000),
        ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ]
    for lab1, lab2, expected in pairs:
        assert float(delta_e2000(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-4)
        assert float(delta_e2000(np.array(lab2), np.array(lab1))) == pytest.approx(expected, abs=1e-4)
    together = delta_e2000(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
    assert together == pytest.approx([p[2] for p in pairs], abs=1e-4)


def test_the_scalar_delta_e2000_of_srgb_colours_is_the_vectorised_one():
    # vocabulary.delta_e2000 (sRGB in, a float out: the draft renderer's) has no formula of its own.
    assert isinstance(scalar_delta_e2000((27, 42, 74), (255, 102, 0)), float)
    assert scalar_delta_e2000((27, 42, 74), (255, 102, 0)) == pytest.approx(57.1, abs=0.05)
    assert scalar_delta_e2000((27, 42, 74), (27, 42, 74)) == 0.0
    colours = [(27, 42, 74), (255, 102, 0), (250, 248, 245), (240, 240, 240), (0, 0, 0)]
    grid = delta_e2000(rgb_to_lab(colours)[:, None, :], rgb_to_lab(colours)[None, :, :])
    for i, a in enumerate(colours):
        for j, b in enumerate(colours):
            assert scalar_delta_e2000(a, b) == pytest.approx(float(grid[i, j]), abs=1e-9)


# -- palette -------------------------------------------------------------------------------------
def test_palette_navy_draft_scores_high_and_orange_low(wb: Workbench):
    run = wb.generate(NAVY_POSTER)
    navy = wb.check(run, ["palette"])
    assert navy.loc[0, "score"] >= 0.9, navy.loc[0, "reason"]
    assert bool(navy.loc[0, "passed"]) is True
    assert "#1B2A4A" in navy.loc[0, "reason"]
    orange = wb.check(run, ["palette"], palette=["#FF6600"])
    assert orange.loc[0, "score"] <= 0.3, orange.loc[0, "reason"]
    assert bool(orange.loc[0, "passed"]) is False
    named = wb.check(run, ["palette"], palette="bright orange")
    assert named.loc[0, "score"] <= 0.3


def test_palette_falls_where_strong_colours_nobody_asked_for_dominate():
    image = Image.new("RGB", (1000, 1000), (200, 30, 40))  # a strong red nobody asked for ...
    ImageDraw.Draw(image).rectangle((0, 0, 1000, 250), fill=(27, 42, 74))  # ... and a navy quarter
    spec = CheckSpec(palette=(("navy", (27, 42, 74)),))
    result = run_checks(image, spec, ["palette"])[0]
    assert result.score < 0.5 and "colours not asked for cover 75%" in result.reason
    greys = Image.new("RGB", (1000, 1000), (240, 240, 238))  # neutrals never count against it
    ImageDraw.Draw(greys).rectangle((0, 0, 1000, 250), fill=(27, 42, 74))
    assert run_checks(greys, spec, ["palette"])[0].score == 1.0


def test_palette_without_colours_has_nothing_to_judge(wb: Workbench):
    run = wb.generate("a ceramic mug on a table")
    result = wb.check(run, ["palette"])
    assert math.isnan(result.loc[0, "score"]) and result.loc[0, "passed"] is None
    assert "names no colours" in result.loc[0, "reason"]


def test_a_word_that_is_not_a_colour_is_one_sentence(wb: Workbench):
    run = wb.generate("a ceramic mug")
    with pytest.raises(SpecError, match="is not a colour"):
        wb.check(run, ["palette"], palette=["banana-ish"])


# -- contrast ------------------------------------------------------------------------------------
def test_contrast_white_on_navy_passes_light_grey_on_white_fails():
    image, box = _text_image((27, 42, 74), (250, 250, 247))
    spec = CheckSpec(texts=({"text": "MOVE FORWARD", "role": "subtext", "box": box},))
    good = run_checks(image, spec, ["contrast"])[0]
    assert good.passed and good.score == 1.0, good.reason
    assert "#1B2A4A" in good.reason
    image, box = _text_image((255, 255, 255), (204, 204, 204))
    bad = run_checks(
        image, spec.replace(texts=({"text": "MOVE FORWARD", "role": "headline", "box": box},)), ["contrast"]
    )[0]
    assert bad.passed is False and bad.score < 0.6, bad.reason
    assert "1.6:1" in bad.reason


def test_contrast_of_the_draft_reads_its_laid_headline(wb: Workbench):
    run = wb.generate(NAVY_POSTER)
    result = wb.check(run, ["contrast"])
    assert bool(result.loc[0, "passed"]), result.loc[0, "reason"]
    assert "'MOVE FORWARD'" in result.loc[0, "reason"]


# -- safe area -----------------------------------------------------------------------------------
def test_safe_area_headline_off_the_edge_fails_inside_passes():
    image, inside = _text_image((240, 240, 240), (20, 20, 20), at=(120, 80))
    spec = CheckSpec(texts=({"text": "MOVE FORWARD", "role": "headline", "box": inside},), aspect="1:1")
    assert run_checks(image, spec, ["safe_area"])[0].passed
    image, off = _text_image((240, 240, 240), (20, 20, 20), at=(600, 80))
    assert off[2] > 1024  # the headline runs off the right edge
    result = run_checks(
        image, spec.replace(texts=({"text": "MOVE FORWARD", "role": "headline", "box": off},)), ["safe_area"]
    )[0]
    assert result.passed is False and result.score < 0.7
    assert "headline 'MOVE FORWARD' is" in result.reason and "outside" in result.reason


def test_safe_area_of_a_story_keeps_the_app_bars_clear():
    image = Image.new("RGB", (864, 1536), "white")
    spec = CheckSpec(texts=({"text": "SALE", "role": "headline", "box": [100, 60, 700, 200]},), aspect="9:16")
    assert not run_checks(image, spec, ["safe_area"])[0].passed  # the top 14 % is the app's
    assert run_checks(image, spec.replace(margins=(0.05, 0.03, 0.05, 0.05)), ["safe_area"])[0].passed


def test_draft_poster_is_inside_its_safe_area(wb: Workbench):
    run = wb.generate(NAVY_POSTER)
    result = wb.check(run, ["safe_area"])
    assert bool(result.loc[0, "passed"]), result.loc[0, "reason"]


# -- aspect and size -----------------------------------------------------------------------------
def test_aspect_and_size():
    spec = CheckSpec(aspect="2:3", size=(1024, 1536))
    assert run_checks(Image.new("RGB", (1024, 1536)), spec, ["aspect"])[0].score == 1.0
    wrong = run_checks(Image.new("RGB", (1024, 1024)), spec, ["aspect"])[0]
    assert wrong.score == 0.0 and "asked 1024x1536" in wrong.reason
    small = run_checks(Image.new("RGB", (512, 768)), spec, ["aspect"])[0]
    assert small.score == pytest.approx(0.25) and not small.passed


# -- registry, storage and runs() ----------------------------------------------------------------
def test_checks_are_registered_as_entry_points():
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="workbench.checks")}
    assert {"text_accuracy", "palette", "contrast", "safe_area", "aspect", "judge"} <= names
    assert available_checks()[:6] == ["text_accuracy", "palette", "contrast", "safe_area", "aspect", "judge"]
    assert check_names("text, size") == ["text_accuracy", "aspect"]
    assert get_check("palette").__module__ == "workbench.checks.offline"
    with pytest.raises(SpecError, match="Unknown check 'colour'.*palette"):
        check_names("colour")


def test_scores_are_stored_per_run_and_check_and_shown_in_runs(wb: Workbench):
    run = wb.generate(NAVY_POSTER)
    other = wb.generate("a ceramic mug on a table")
    frame = wb.runs()
    for column in ("palette", "contrast", "safe_area", "aspect", "judge"):
        assert column in frame.columns and frame[column].isna().all()
    wb.check(run, ["palette", "contrast", "safe_area", "aspect"])
    wb.check(run, ["palette"], palette=["#FF6600"])  # checked again: the latest score shows
    frame = wb.runs().set_index("id")
    assert frame.loc[run.id, "palette"] <= 0.3
    assert frame.loc[run.id, "contrast"] == 1.0 and frame.loc[run.id, "safe_area"] == 1.0
    assert frame.loc[run.id, "aspect"] == 1.0
    assert math.isnan(frame.loc[other.id, "palette"])
    stored = wb.ledger.scores(run.id)
    assert list(stored["check"]) == ["palette", "contrast", "safe_area", "aspect", "palette"]
    assert stored["reason"].str.len().min() > 10
    again = wb.generate(NAVY_POSTER)  # cached: it shows its source's scores
    assert again.cached and wb.runs().set_index("id").loc[again.id, "contrast"] == 1.0


def test_an_image_outside_the_run_log_is_checked_but_not_stored(wb: Workbench, tmp_path):
    image, box = _text_image((27, 42, 74), (250, 250, 247))
    path = tmp_path / "poster.png"
    image.save(path)
    result = wb.check(path, ["palette", "aspect"], palette="navy", aspect="1:1")
    assert result.loc[0, "score"] >= 0.9 and result.loc[1, "score"] == 1.0
    assert wb.ledger.scores().empty


@pytest.mark.parametrize("transparent", [False, True])
def test_an_animated_gif_is_checked_on_its_first_frame(wb: Workbench, cli, transparent):
    """A stored GIF is palette-mode (P), often with a transparent index: it is checked as its
    first frame in RGB (RGBA when it has transparency), by the facade and by ``workbench check``."""
    import io

    image, _ = _text_image((27, 42, 74), (250, 250, 247))
    first = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    other = Image.new("RGB", image.size, (255, 102, 0)).convert("P", palette=Image.Palette.ADAPTIVE)
    buffer = io.BytesIO()
    extra = {"transparency": 255} if transparent else {}
    first.save(buffer, "GIF", save_all=True, append_images=[other], duration=100, loop=0, **extra)
    path = wb.root / wb.store.put(buffer.getvalue(), recipe={"prompt": "a navy poster"})
    result = wb.check(path, ["palette", "contrast", "aspect"], palette="navy", aspect="1:1")
    assert result.loc[0, "score"] >= 0.5 and result.loc[2, "score"] == 1.0  # the navy frame, not the orange
    code, out, err = cli(
        "--root", str(wb.root), "check", str(path), "--check", "palette,aspect", "--palette", "navy"
    )
    assert code == 0, err
    assert "palette" in out and "Traceback" not in err


def test_unknown_check_option_is_one_sentence(wb: Workbench):
    run = wb.generate("a mug")
    with pytest.raises(SpecError, match="Unknown check option 'colours'"):
        wb.check(run, ["palette"], colours=["#FF6600"])


def test_the_facade_stores_a_checks_scores_and_text_reads_together_or_not_at_all(wb: Workbench):
    from workbench.checks import CheckResult

    run = wb.generate(NAVY_POSTER)
    reads = [{"text": "MOVE FORWARD", "role": "headline", "read": "MOVE FORWARD", "accuracy": 1.0}]
    good = [
        CheckResult("text_accuracy", 1.0, "read as written", 0.98, {"texts": reads}),
        CheckResult("palette", 0.9, "navy", 0.8),
        CheckResult("judge", None, "unavailable", 0.7),  # nothing scored: no row
    ]
    wb.record_scores(run.id, good)
    assert list(wb.ledger.scores(run.id)["check"]) == ["text_accuracy", "palette"]
    assert list(wb.text_checks(run.id)["read"]) == ["MOVE FORWARD"]
    # A score that cannot be stored, after the reads were written: the reads are rolled back too.
    bad = [
        CheckResult("text_accuracy", 0.5, "misread", 0.98, {"texts": reads}),
        CheckResult("palette", np.array([0.9, 0.8]), "two scores for one check", 0.8),  # fails its insert
    ]
    with pytest.raises((TypeError, ValueError)):
        wb.record_scores(run.id, bad)
    assert len(wb.ledger.scores(run.id)) == 2 and len(wb.text_checks(run.id)) == 1


# -- the vision judge ----------------------------------------------------------------------------
KEY = "sk-test-judge-0000"


def _judge_wb(root, server, monkeypatch, **options) -> Workbench:
    from workbench.backends.openai import RetryPolicy

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    retry = RetryPolicy(max_retries=4, backoff=0.01, max_backoff=0.05, jitter=0.0)
    return Workbench(
        root, backend_options={"openai": {"base_url": server.base_url, "retry": retry, **options}}
    )


def test_the_judge_scores_and_records_a_priced_run_and_a_repeat_is_cached(root, openai_server, monkeypatch):
    wb = _judge_wb(root, openai_server, monkeypatch)
    openai_server.judge_scores["hero"] = (0.35, "the mug is small and off centre")
    run = wb.generate(NAVY_POSTER)
    before = wb.wallet.balance
    result = wb.check(run, ["judge"], rubric="The mug is the hero of the picture.")
    assert result.loc[0, "score"] == pytest.approx(0.35)
    assert result.loc[0, "reason"] == "the mug is small and off centre"
    assert bool(result.loc[0, "passed"]) is False
    judged = openai_server.judgements[-1]
    assert judged["images"] == [(1024, 1024)] and "The mug is the hero" in judged["rubric"]
    assert "'MOVE FORWARD'" in judged["rubric"]  # the brief goes with the rubric
    # Recorded as a run: priced in tokens, charged in credits, the judged run its parent.
    judge_row = wb.runs(kind="judge").iloc[-1]
    assert judge_row["status"] == "ok" and judge_row["parent_id"] == run.id
    assert judge_row["tokens_in"] > 85 and judge_row["tokens_out"] > 0
    assert judge_row["usd"] > 0 and judge_row["credits"] >= 0.01  # $0.0004: 0.03 credits, not 1
    assert wb.wallet.balance == round(before - judge_row["credits"], 2)
    assert result.loc[0, "credits"] == judge_row["credits"]
    stored = wb.ledger.scores(run.id, check="judge")
    assert (
        stored.iloc[-1]["score"] == pytest.approx(0.35) and stored.iloc[-1]["judge_run_id"] == judge_row["id"]
    )
    assert wb.runs().set_index("id").loc[run.id, "judge"] == pytest.approx(0.35)
    # The same judgement again: cached at 0 credits, nothing sent.
    sent = openai_server.counts["/v1/responses"]
    again = wb.check(run, ["judge"], rubric="The mug is the hero of the picture.")
    assert again.loc[0, "score"] == pytest.approx(0.35) and again.loc[0, "credits"] == 0
    assert openai_server.counts["/v1/responses"] == sent
    cached = wb.runs(kind="judge").iloc[-1]
    assert (
        cached["status"] == "cached" and cached["credits"] == 0 and cached["cached_from"] == judge_row["id"]
    )
    assert wb.wallet.balance == before - judge_row["credits"]
    # The gallery shows the judged image with its score, not the judge's imageless runs.
    gallery = wb.gallery()
    assert [r["id"] for r in gallery.runs] == [run.id] and gallery.runs[0]["scores"]["judge"] == 0.35
    gallery.close()


def test_an_unaffordable_judge_is_refused_before_sending(root, openai_server, monkeypatch):
    from workbench.errors import BudgetError

    wb = _judge_wb(root, openai_server, monkeypatch)
    run = wb.generate(NAVY_POSTER)
    wb.wallet.reserve(wb.wallet.balance, "elsewhere")  # another run holds every credit left
    assert wb.wallet.balance == 0
    runs_before = len(wb.runs())
    with pytest.raises(BudgetError, match="Not enough credits: this judgement costs"):
        wb.check(run, ["judge"], rubric="Anything")
    assert openai_server.counts["/v1/responses"] == 0
    assert len(wb.runs()) == runs_before and wb.ledger.scores().empty


def test_judge_faults_are_retried_like_image_requests(root, openai_server, monkeypatch):
    wb = _judge_wb(root, openai_server, monkeypatch)
    run = wb.generate(NAVY_POSTER)
    openai_server.faults.script = ["rate_limit", "server_error", None]
    result = wb.check(run, ["judge"], rubric="Faults first")
    assert result.loc[0, "score"] == pytest.approx(0.8)
    assert openai_server.counts["/v1/responses"] == 3
    judge_row = wb.runs(kind="judge").iloc[-1]
    assert judge_row["attempts"] == 3
    outcomes = [a["outcome"] for a in wb.ledger.attempts(judge_row["id"])]
    assert outcomes == ["RateLimitError", "ServiceError", "ok"]
    # Faults past the retries: a failed judge run at 0 credits, its reservation released.
    before = wb.wallet.balance
    openai_server.faults.script = ["server_error"] * 6
    failed = wb.check(run, ["judge"], rubric="Faults only")
    assert math.isnan(failed.loc[0, "score"]) and "failed" in failed.loc[0, "reason"]
    last = wb.runs(kind="judge").iloc[-1]
    assert last["status"] == "failed" and last["credits"] == 0 and wb.wallet.balance == before
    assert wb.wallet.reserved == 0


def test_a_judgement_of_a_batch_run_is_in_the_batch_and_its_spend(root, openai_server, monkeypatch):
    # The judge's run goes through the run pipeline with the judged run's batch and shard: the
    # batch's spend (what its report and --budget count) includes what the judging cost.
    wb = _judge_wb(root, openai_server, monkeypatch)
    run = wb.run_plan(wb.plan(NAVY_POSTER), batch_id="b-judged", shard=2)
    images = wb.batches.spend("b-judged")
    wb.check(run, ["judge"], rubric="The mug is the hero of the picture.")
    judged = wb.runs(kind="judge").iloc[-1]
    assert judged["status"] == "ok" and judged["credits"] >= 0.01
    assert judged["batch_id"] == "b-judged" and judged["shard"] == 2 and judged["parent_id"] == run.id
    credits, usd = wb.batches.spend("b-judged")
    assert credits == round(images[0] + judged["credits"], 2) and usd == pytest.approx(
        images[1] + judged["usd"]
    )
    # Its reservation was committed, not left open.
    assert wb.wallet.reserved == 0
    # A repeat is cached in the same batch at 0 credits; a judgement of a run outside any batch is in none.
    wb.check(run, ["judge"], rubric="The mug is the hero of the picture.")
    again = wb.runs(kind="judge").iloc[-1]
    assert again["status"] == "cached" and again["batch_id"] == "b-judged"
    assert wb.batches.spend("b-judged") == (credits, pytest.approx(usd))
    lone = wb.generate(NAVY_POSTER, seed=7)
    wb.check(lone, ["judge"], rubric="Another rubric")
    assert wb.runs(kind="judge").iloc[-1]["batch_id"] is None


def test_offline_the_judge_is_unavailable_and_the_other_checks_run(wb: Workbench):
    run = wb.generate(NAVY_POSTER)
    result = wb.check(run, ["palette", "judge"]).set_index("check")
    assert result.loc["palette", "score"] >= 0.9
    assert math.isnan(result.loc["judge", "score"])
    assert (
        "unavailable offline" in result.loc["judge", "reason"]
        and "OPENAI_API_KEY" in result.loc["judge", "reason"]
    )
    assert len(wb.runs(kind="judge")) == 0


# -- experiments that conclude -------------------------------------------------------------------
MUG_PALETTE = """
name: mug-palette
spec:
  subject: a ceramic mug
  texts: [{text: MORNING, role: headline}]
grid:
  background:
    navy: "deep navy (#1B2A4A)"
    sand: "sand (#D9C59F) with bright orange (#FF6600) and teal (#1F7A7A) details"
    studio: "plain white studio wall, a mug in cobalt blue (#1F4EB4) and mustard (#D6A62A)"
  lighting:
    soft: soft window light
    rim: hard rim light
repeats: 5
checks: [palette, contrast]
"""


def _in_process_batch(wb: Workbench, text: str, batch_id: str, tmp_path) -> None:
    """Plan a batch and run all its jobs in this process through one shard (run_shard), as a
    papermill kernel would: the shard checks its own images."""
    import json

    from workbench.batch.experiments import load_experiment
    from workbench.batch.runner import plan_batch, write_batch_files
    from workbench.batch.shard import run_shard

    path = tmp_path / f"{batch_id}.yaml"
    path.write_text(text, encoding="utf-8")
    plan = plan_batch(wb, load_experiment(path, templates=wb.templates), batch_id=batch_id)
    folder = wb.root / "batches" / batch_id
    write_batch_files(folder, plan)
    jobs = folder / "shard-0.jobs.json"
    jobs.write_text(json.dumps([j.record() for j in plan.jobs]))
    run_shard(jobs, root=wb.root, batch_id=batch_id, shard=0, experiment=plan.experiment.name)


def test_repeats_expand_each_cell_into_variants_with_the_checks(tmp_path):
    from workbench.batch.experiments import load_experiment
    from workbench.errors import ExperimentError

    path = tmp_path / "mug.yaml"
    path.write_text(MUG_PALETTE, encoding="utf-8")
    experiment = load_experiment(path)
    assert experiment.shape == (3, 2) and len(experiment) == 30 and experiment.repeats == 5
    first_cell = [j for j in experiment.jobs if j.coords == ("navy", "soft")]
    assert [j.repeat for j in first_cell] == [0, 1, 2, 3, 4]
    assert [j.options["variant"] for j in first_cell] == [0, 1, 2, 3, 4]
    assert len({j.key for j in experiment.jobs}) == 30
    assert all(j.checks == ("palette", "contrast") for j in experiment.jobs)
    assert load_experiment(path).jobs[7].key == experiment.jobs[7].key  # stable keys
    path.write_text(MUG_PALETTE.replace("repeats: 5", "repeats: 0"), encoding="utf-8")
    with pytest.raises(ExperimentError, match=r"mug.yaml:\d+: repeats: repeats is a whole number"):
        load_experiment(path)
    path.write_text(MUG_PALETTE.replace("[palette, contrast]", "[palette, colour]"), encoding="utf-8")
    with pytest.raises(ExperimentError, match="checks: Unknown check 'colour'"):
        load_experiment(path)


@pytest.mark.slow
def test_a_3x2_experiment_with_5_repeats_names_a_winner_only_where_intervals_separate(wb, tmp_path):
    from workbench.batch.report import write_report

    _in_process_batch(wb, MUG_PALETTE, "mug", tmp_path)
    runs = wb.runs(batch_id="mug")
    assert len(runs) == 30 and runs["palette"].notna().all() and runs["contrast"].notna().all()
    report = write_report(wb, "mug")
    said = {(c["axis"], c["check"]): c for c in report.conclusions}
    # background makes a clear difference on palette: navy wins, its interval above the others'.
    background = said[("background", "palette")]
    assert background["winner"] == "navy"
    rows = background["rows"]
    assert [r["value"] for r in rows][0] == "navy" and rows[0]["samples"] == 10
    assert rows[0]["low"] > max(r["high"] for r in rows[1:])
    assert background["sentence"].startswith("background `navy` beats `")
    assert "95 % CI 1.00–1.00 vs 0.67–0.67" in background["sentence"], background["sentence"]
    # lighting makes none: no winner, and the sentence says so.
    lighting = said[("lighting", "palette")]
    assert lighting["winner"] is None and "no value wins on palette" in lighting["sentence"]
    assert all(r["samples"] == 15 for r in lighting["rows"])
    html = report.html.read_text()
    assert "What the checks conclude" in html and background["sentence"].split(" (")[0] in html
    assert html.count('<table class="intervals"') == 4  # 2 axes x 2 checks
    assert (report.html.parent / "conclusions.csv").is_file()
    # A passing image passes its checks too: only navy's images pass palette (0.8).
    ranked = report.html.parent / "ranking.csv"
    passing = {r["value"]: r["passing"] for r in csv.DictReader(ranked.open()) if r["axis"] == "background"}
    assert passing == {"navy": "10", "sand": "0", "studio": "0"}


# -- render -> check -> repair -------------------------------------------------------------------
def _misspelling_backend() -> None:
    """A draft backend that misspells every headline (as a model may): registered as ``misspell``."""
    import dataclasses

    from workbench.backends.base import register_backend
    from workbench.backends.draft import DraftBackend
    from workbench.spec import TextItem

    class MisspellingDraft(DraftBackend):
        name = "misspell"

        def generate(self, request, *, on_partial=None):
            texts = tuple(
                TextItem(t.text.replace("FORWARD", "FOWRARD"), t.role) if t.role == "headline" else t
                for t in request.spec.texts
            )
            spec = dataclasses.replace(request.spec, texts=texts)
            return super().generate(dataclasses.replace(request, spec=spec), on_partial=on_partial)

    register_backend("misspell", MisspellingDraft)


@pytest.fixture
def paid_misspell(root):
    root.mkdir(parents=True, exist_ok=True)
    # The misspelling renders are paid; local finishing (the overlay) stays free.
    (root / "prices.yaml").write_text('credits:\n  misspell:\n    "*": {low: 1, medium: 2, high: 10}\n')
    _misspelling_backend()
    return root


@pytest.mark.slow
def test_until_repairs_a_misspelt_headline_with_a_local_overlay(paid_misspell):
    from _skips import require

    from workbench.imaging.ocr import ocr_available

    require(ocr_available(), "tesseract-ocr is not installed (apt install tesseract-ocr)")
    wb = Workbench(paid_misspell)
    before = wb.wallet.balance
    result = wb.generate(
        NAVY_POSTER, backend="misspell", until={"text_accuracy": 0.98}, max_attempts=3, budget=10
    )
    assert result.passed and result.passed_attempt == 2
    first, second = result.attempts
    assert first.action == "render" and first.failed == ["text_accuracy"]
    assert first.scores["text_accuracy"] < 0.98
    assert second.action == "overlay" and second.passed and second.scores["text_accuracy"] >= 0.98
    # Both attempts are runs in the ledger, with their costs and scores; the overlay is free.
    runs = wb.runs().set_index("id")
    assert list(runs.index) == [first.run.id, second.run.id]
    assert runs.loc[first.run.id, "backend"] == "misspell" and runs.loc[first.run.id, "credits"] == 2
    assert runs.loc[second.run.id, "kind"] == "edit" and runs.loc[second.run.id, "credits"] == 0
    assert runs.loc[second.run.id, "parent_id"] == first.run.id
    assert runs.loc[first.run.id, "text_accuracy"] < 0.98 <= runs.loc[second.run.id, "text_accuracy"]
    assert result.credits == 2 == before - wb.wallet.balance
    assert result.run.id == second.run.id
    assert "attempt 2 passed; the loop cost 2 credits" in result.describe()


def test_until_tries_a_new_variant_when_the_palette_fails_and_stops_at_the_budget(paid_draft):
    wb = Workbench(paid_draft)
    result = wb.generate(NAVY_POSTER, until={"palette": 0.8}, budget=4, check_options={"palette": "#FF6600"})
    # Orange is never there: every attempt fails palette; renders at 2 credits, the third past the budget.
    assert not result.passed and [a.action for a in result.attempts] == ["render", "variant"]
    assert "past the budget of 4" in result.stopped and result.credits == 4
    variants = wb.runs()["variant"].tolist()
    assert variants == [0, 1]
    with pytest.raises(SpecError, match="until= is a mapping"):
        wb.generate(NAVY_POSTER, until={})
    with pytest.raises(SpecError, match="Unknown check 'colour'"):
        wb.generate(NAVY_POSTER, until={"colour": 0.5})


# -- the command line ----------------------------------------------------------------------------
def test_workbench_check_prints_scores_stores_them_and_exits_1_on_a_failure(wb: Workbench, cli):
    run = wb.generate(NAVY_POSTER)
    code, out, err = cli("check", run.id, "--check", "palette,contrast,safe_area")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("palette") and "pass" in lines[0] and "#1B2A4A" in lines[0]
    assert lines[1].startswith("contrast") and "13." in lines[1]
    code, out, err = cli("check", run.id, "--check", "palette", "--palette", "#FF6600")
    assert code == 1 and "FAIL" in out and "failed: palette" in err
    assert wb.runs().set_index("id").loc[run.id, "palette"] <= 0.3
    code, out, err = cli("check", run.id, "--check", "colour")
    assert code != 0 and "Unknown check 'colour'" in err and "Traceback" not in err
    code, out, _ = cli("check", run.id, "--check", "aspect", "--json")
    assert code == 0 and '"check": "aspect"' in out and '"score": 1.0' in out


# -- the gallery ---------------------------------------------------------------------------------
def test_gallery_cards_and_the_compare_view_show_the_scores(wb: Workbench):
    first = wb.generate(NAVY_POSTER)
    second = wb.generate("a ceramic mug on a table")
    wb.check(first, ["palette", "contrast"])
    gallery = wb.gallery()
    by_id = {r["id"]: r for r in gallery.runs}
    assert by_id[first.id]["scores"] == {"palette": 1.0, "contrast": 1.0}
    assert by_id[second.id]["scores"] == {}
    gallery.selected = [first.id, second.id]
    page = gallery.to_html()
    assert page.count("palette 1.00 · contrast 1.00") == 2  # its card and its column in the compare view
    wb.check(second, ["aspect"])  # a check made from the notebook refreshes the live gallery
    assert {r["id"]: r for r in gallery.runs}[second.id]["scores"] == {"aspect": 1.0}
    gallery.close()


def test_scores_on_postgresql_are_the_same_table_and_columns(postgres_url, wb: Workbench):
    from workbench.ledger.postgres import PostgresLedger

    team = Workbench(wb.root / "team", database=postgres_url)
    run = team.generate(NAVY_POSTER)
    team.check(run, ["palette", "contrast"])
    team.check(run, ["palette"], palette="#FF6600")
    frame = team.runs().set_index("id")
    assert frame.loc[run.id, "palette"] <= 0.3 and frame.loc[run.id, "contrast"] == 1.0
    assert math.isnan(frame.loc[run.id, "judge"])
    stored = team.ledger.scores(run.id)
    assert list(stored["check"]) == ["palette", "contrast", "palette"]
    assert stored["passed"].tolist() == [True, True, False]
    assert "m009_scores" in PostgresLedger(postgres_url).applied_migrations()
    # The same frame columns as SQLite's.
    wb.generate(NAVY_POSTER)
    assert list(wb.runs().columns) == list(team.runs().columns)
    team.close()


ADAPTIVE = """
name: mug-adaptive
spec:
  subject: a ceramic mug
  texts: [{text: MORNING, role: headline}]
grid:
  background:
    navy: "deep navy (#1B2A4A)"
    sand: "sand (#D9C59F) with bright orange (#FF6600) and teal (#1F7A7A) details"
    studio: "plain white studio wall, a mug in cobalt blue (#1F4EB4) and mustard (#D6A62A)"
repeats: 4
"""


@pytest.mark.slow
def test_batch_run_checks_adaptive_stops_spending_on_trailing_cells(paid_draft, tmp_path, cli):
    path = tmp_path / "adaptive.yaml"
    path.write_text(ADAPTIVE, encoding="utf-8")
    with Workbench(paid_draft) as topped:
        topped.wallet.topup(50)
    code, out, err = cli(
        "batch", "run", str(path), "--checks", "palette", "--adaptive", "--budget", "30",
        "--batch-id", "adaptive", "--workers", "1", "--no-progress",
    )  # fmt: skip
    assert code == 0, out + err
    # Round one: 2 samples of each of the 3 cells, scored by the shard that made them; navy leads
    # (palette 1.00) and the others' intervals lie below it: no more samples for them.
    wb = Workbench(paid_draft)
    runs = wb.runs(batch_id="adaptive")
    assert len(runs) == 6 and runs["palette"].notna().all() and runs["credits"].sum() == 12
    assert "adaptive: 1 round(s), 12 credits in all" in out
    assert "stopped sand after 2 sample(s): below the leader" in out
    assert "stopped studio after 2 sample(s)" in out
    report = (wb.root / "batches" / "adaptive" / "report.html").read_text()
    assert "background `navy` beats" in report
    # Within the budget: 9 credits pay for 4 of round one's 6 jobs, and the loop stops there.
    path.write_text(ADAPTIVE.replace("a ceramic mug", "a ceramic teapot"), encoding="utf-8")  # not cached
    code, out, err = cli(
        "batch", "run", str(path), "--checks", "palette", "--adaptive", "--budget", "9",
        "--batch-id", "tight", "--workers", "1", "--no-progress",
    )  # fmt: skip
    assert code == 0, out + err
    tight = wb.runs(batch_id="tight")
    assert tight["credits"].sum() <= 9 and len(tight) == 4


def test_moving_in_copies_the_scores_once(postgres_url, wb: Workbench):
    from workbench.ledger.movein import move_in
    from workbench.ledger.postgres import PostgresLedger

    run = wb.generate(NAVY_POSTER)
    wb.check(run, ["palette", "contrast"])
    pg = PostgresLedger(postgres_url)
    report = move_in(wb.ledger, pg)
    assert report.copied["scores"] == 2 and report.checked["scores"] == {"rows": 2}
    assert move_in(wb.ledger, pg).copied["scores"] == 0  # a rerun copies nothing
    assert pg.runs().set_index("id").loc[run.id, "palette"] == 1.0
    pg.close()


def test_the_judges_latency_is_its_runs(root, openai_server, monkeypatch):
    wb = _judge_wb(root, openai_server, monkeypatch)
    run = wb.generate(NAVY_POSTER)
    openai_server.faults.latency = 0.3
    wb.check(run, ["judge"], rubric="Slow answers")
    judged = wb.runs(kind="judge").iloc[-1]
    assert judged["latency_ms"] >= 300 and judged["attempts"] == 1


@pytest.mark.slow
def test_batch_run_checks_makes_each_shard_score_its_images(wb: Workbench, tmp_path, cli):
    path = tmp_path / "two.yaml"
    path.write_text(
        "name: two\nspec: {subject: a ceramic mug}\n"
        'grid:\n  background: {navy: "deep navy (#1B2A4A)", orange: "bright orange (#FF6600)"}\n',
        encoding="utf-8",
    )
    code, out, err = cli(
        "batch", "run", str(path), "--checks", "palette,aspect", "--batch-id", "two", "--no-progress"
    )
    assert code == 0, out + err
    runs = wb.runs(batch_id="two")
    assert len(runs) == 2 and set(runs["shard"]) == {0, 1}  # two shards, each scored its own image
    assert runs["palette"].notna().all() and (runs["aspect"] == 1.0).all()
    stored = wb.ledger.scores()
    assert sorted(stored["check"]) == ["aspect", "aspect", "palette", "palette"]
    code, _out, err = cli("batch", "run", str(path), "--checks", "colour", "--batch-id", "three")
    assert code != 0 and "Unknown check 'colour'" in err and not (wb.root / "batches" / "three").exists()


def test_the_same_judgement_asked_twice_at_once_is_sent_and_paid_once(root, openai_server, monkeypatch):
    """Two notebooks (two Workbench objects on one root) judging the same image at the same
    moment both missed the cache, both sent and both paid: the judgement's fingerprint is claimed
    while it is asked, so the second waits and reads the first's answer at 0 credits."""
    import threading

    first = _judge_wb(root, openai_server, monkeypatch)
    run = first.generate(NAVY_POSTER)
    second = _judge_wb(root, openai_server, monkeypatch)
    before = first.wallet.balance
    openai_server.faults.latency = 0.5
    start, results = threading.Barrier(2), {}

    def ask(name: str, wb: Workbench) -> None:
        start.wait()
        results[name] = wb.check(run, ["judge"], rubric="The mug is the hero.")

    threads = [threading.Thread(target=ask, args=item) for item in (("a", first), ("b", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert openai_server.counts["/v1/responses"] == 1
    judged = first.runs(kind="judge")
    assert sorted(judged["status"]) == ["cached", "ok"]
    paid = judged[judged["status"] == "ok"].iloc[0]
    assert judged[judged["status"] == "cached"].iloc[0]["cached_from"] == paid["id"]
    assert first.wallet.balance == round(before - paid["credits"], 2)
    assert results["a"].loc[0, "score"] == results["b"].loc[0, "score"]


def test_a_batch_plan_counts_the_judgement_of_each_new_image(root, openai_server, monkeypatch, tmp_path):
    """A batch with the judge planned only its images: --budget and the wallet check left out what
    every judgement would cost, so a capped batch could spend past its cap."""
    from workbench.batch.experiments import load_experiment
    from workbench.batch.runner import plan_batch
    from workbench.checks.judge import judgement_estimate

    wb = _judge_wb(root, openai_server, monkeypatch)
    path = tmp_path / "judged.yaml"
    path.write_text(
        "name: judged\nspec: {subject: a ceramic mug}\nchecks: [judge]\n"
        'grid:\n  background: {navy: "deep navy", orange: "bright orange", green: "moss green"}\n',
        encoding="utf-8",
    )
    from dataclasses import replace

    experiment = load_experiment(path, templates=wb.templates)
    plain = plan_batch(wb, replace(experiment, jobs=[replace(job, checks=()) for job in experiment.jobs]))
    judged = plan_batch(wb, experiment)
    per_image, usd = judgement_estimate(wb, 1024, 1024, judged.jobs[0].plan.request.prompt)
    assert per_image >= 0.01 and usd > 0
    assert plain.credits == 0  # the draft images are free; their judgements are not
    assert judged.credits == pytest.approx(3 * per_image, abs=0.011) and judged.usd > 0
    budget = judged.jobs[0].charge + judged.jobs[1].charge
    assert len(plan_batch(wb, experiment, budget=budget).selected) == 2  # the cap counts the judge
    monkeypatch.delenv("OPENAI_API_KEY")
    assert plan_batch(wb, experiment).credits == 0  # no key: no judge runs, nothing to plan
