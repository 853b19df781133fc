"""Batch reports that answer: ranking per factor value, charts, notes of what is missing, the service
price of a draft batch, estimate beside actual on the service, CSV beside the HTML, and contact
sheets that never pass JPEG's 65,500 px limit."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from workbench import Workbench
from workbench.batch import load_experiment, plan_batch, run_batch, run_shard
from workbench.batch.report import MAX_SHEET_ROWS, THUMB, contact_sheets, write_report
from workbench.batch.runner import write_batch_files

GRID = """
name: mugs
spec: {subject: a speckled ceramic mug, quality: medium}
grid:
  background: {marble: "@marble", oak: "@oak-table", linen: "@linen"}
  lighting: ["@soft-left", "@golden-hour", "@rim-light", "@high-key"]
"""

SERVICE = """
name: service-mugs
backend: openai
spec: {subject: a speckled ceramic mug, quality: low}
grid:
  lighting: ["@soft-left", "@golden-hour", "@rim-light"]
"""


def in_process_batch(wb: Workbench, text: str, batch_id: str, tmp: Path, *, only: int | None = None) -> Path:
    """Plan a batch and run its jobs (the first ``only`` of them) in this process, one shard: the
    same files and rows a papermill batch makes. Returns the batch folder."""
    path = tmp / f"{batch_id}.yaml"
    path.write_text(text, encoding="utf-8")
    plan = plan_batch(wb, load_experiment(path, templates=wb.templates), batch_id=batch_id)
    folder = wb.root / "batches" / batch_id
    write_batch_files(folder, plan)
    jobs = folder / "shard-0.jobs.json"
    jobs.write_text(json.dumps([j.record() for j in plan.jobs][:only]))
    options = (
        {name: dict(value) for name, value in wb.backend_options.items()} if wb.backend_options else None
    )
    run_shard(
        jobs,
        root=wb.root,
        batch_id=batch_id,
        shard=0,
        experiment=plan.experiment.name,
        backend_options=options,
    )
    return folder


def draft_grid_report(wb: Workbench, tmp: Path, *, only: int | None = None) -> Path:
    """A 3 × 4 draft batch (``only`` jobs run; the rest missing) and its report; the report's path."""
    in_process_batch(wb, GRID, "grid", tmp, only=only)
    return write_report(wb, "grid").html


def service_report(wb: Workbench, tmp: Path) -> Path:
    in_process_batch(wb, SERVICE, "service", tmp)
    return write_report(wb, "service").html


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@pytest.mark.slow
def test_a_draft_grid_report_ranks_charts_and_prices_it_on_the_service(wb, tmp_path):
    page = draft_grid_report(wb, tmp_path, only=10)
    html = page.read_text()
    folder = page.parent
    # One ranking table per axis, two charts (score and cost) per axis.
    assert html.count('<table class="ranking"') == 2
    assert html.count('<figure class="chart"><svg') == 4
    assert "Images made by background" in html and "Service price per image by lighting" in html
    # The two jobs that never ran are a note, with what they would cost and how to finish.
    text = _text(html)
    assert "2 of 12 jobs never ran" in text and "workbench batch run --resume grid" in text
    # linen has two missing jobs: its images ok read 2 (50%), and it ranks last.
    ranking = list(csv.DictReader((folder / "ranking.csv").open()))
    background = [r for r in ranking if r["axis"] == "background"]
    assert [r["value"] for r in background][-1] == "linen"
    assert background[-1]["ok"] == "2" and background[-1]["missing"] == "2" and background[-1]["rank"] == "3"
    # A draft batch says what the service would charge, per model and quality.
    assert "On the service this batch would cost" in text
    prices = re.search(r"<table class=\"service-price\">(.*?)</table>", html, re.S).group(1)
    assert "gpt-image-2" in prices and "gpt-image-1-mini" in prices
    # 12 images at high on gpt-image-2 are 2048x2048, 40 credits each (not the draft's 1024 px).
    assert re.search(r"<td>gpt-image-2</td>.*?480 credits<br>\$5\.\d\d</td></tr>", prices)
    # Every thumbnail opens its full image, a file beside the report.
    links = re.findall(r"<a class=\"thumb\" href=\"(images/[^\"]+)\"", html)
    assert len(links) == 10 and all((folder / link).is_file() for link in links)
    jobs = list(csv.DictReader((folder / "jobs.csv").open()))
    assert len(jobs) == 12 and {j["status"] for j in jobs} == {"ok", "missing"}
    assert [j["background"] for j in jobs][:4] == ["marble"] * 4


@pytest.mark.slow
def test_a_service_batch_report_sets_the_estimate_beside_the_actual(
    root, tmp_path, openai_server, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-report")
    wb = Workbench(root, backend_options={"openai": {"base_url": openai_server.base_url}})
    wb.wallet.topup(20)
    html = service_report(wb, tmp_path).read_text()
    text = _text(html)
    assert "On the service this batch would cost" not in text  # it ran there
    assert "estimate (credits · $)" in text and "actual (credits · $)" in text
    ranking = list(csv.DictReader((root / "batches" / "service" / "ranking.csv").open()))
    assert {r["credits"] for r in ranking} == {"0.59"} and all(float(r["usd"]) > 0 for r in ranking)
    assert all(float(r["usd_estimated"]) > 0 for r in ranking)
    assert "Cost per image by lighting" in html
    wb.close()


@pytest.mark.slow
def test_a_long_axis_pages_its_contact_sheet_under_the_jpeg_limit(wb):
    """1,500 values on one axis would be a 73,000 px tall sheet: it comes in pages instead."""
    import pandas as pd

    folder = wb.root / "batches" / "long"
    folder.mkdir(parents=True)
    labels = [str(i) for i in range(1500)]
    (folder / "batch.json").write_text(
        json.dumps({"experiment": "long", "axes": [{"name": "seed", "factors": ["seed"], "labels": labels}]})
    )
    frame = pd.DataFrame(
        [
            {"coords": (label,), "status": "missing", "image": None, "index": i}
            for i, label in enumerate(labels)
        ]
    )
    sheets = contact_sheets(wb, "long", frame, folder=folder)
    per_page = 6 * MAX_SHEET_ROWS
    assert len(sheets) == -(-1500 // per_page) and sheets[0].name == "contact-sheet.jpg"
    assert sheets[1].name == "contact-sheet-p2.jpg"
    for sheet in sheets:
        with Image.open(sheet) as image:
            assert image.height < 65_500 and image.width < 65_500
    with Image.open(sheets[0]) as first:
        assert first.height == 40 + MAX_SHEET_ROWS * (THUMB + 28 + 8) + 8


@pytest.mark.slow
def test_a_one_axis_1500_job_draft_batch_finishes_with_its_report(root, tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text(
        "name: long\nspec: {subject: a mug, background: '@marble', quality: low}\n"
        f"grid:\n  seed: [{', '.join(str(s) for s in range(1, 1501))}]\n"
    )
    wb = Workbench(root)
    result = run_batch(wb, path, workers=2, progress=False)
    assert result.statuses.get("ok") == 1500, result.describe()
    folder = root / "batches" / result.batch_id
    assert result.report == folder / "report.html" and result.report.is_file()
    assert len(result.contact_sheets) == -(-1500 // (6 * MAX_SHEET_ROWS))
    for sheet in result.contact_sheets:
        with Image.open(sheet) as image:
            assert image.height < 65_500
    assert len(list(csv.DictReader((folder / "jobs.csv").open()))) == 1500
    # A big batch links each job's thumbnail (the store's cached file) instead of inlining 1,500.
    html = result.report.read_text()
    thumbs = re.findall(r'<a class="thumb" href="images/[^"]+" target="_blank"><img src="([^"]+)"', html)
    assert len(thumbs) == 1500 and "data:image" not in html
    assert all((folder / src).is_file() for src in thumbs[::100])
    assert html.count("more values of seed") == 1  # 1,500 values: the best and worst listed
    wb.close()


@pytest.mark.slow
def test_a_budget_stopped_batch_says_so_and_prices_the_rest(paid_draft, tmp_path):
    path = tmp_path / "mugs.yaml"
    path.write_text(GRID, encoding="utf-8")
    wb = Workbench(paid_draft)
    result = run_batch(wb, path, workers=1, budget=10, progress=False)  # 2 credits a job: 5 of 12
    text = _text(result.report.read_text())
    assert "7 of 12 jobs never ran (the batch stopped at its budget of 10 credits)" in text
    assert "they would cost about 14 credits" in text
    assert f"workbench batch run --resume {result.batch_id}" in text
    ranking = list(csv.DictReader((result.report.parent / "ranking.csv").open()))
    # Per image divides by the images made: a value with missing jobs never looks cheaper.
    assert {r["credits_per_image"] for r in ranking if int(r["ok"])} == {"2"}
    wb.close()


@pytest.mark.slow
def test_a_draft_reports_service_price_is_what_batch_plan_says(wb, tmp_path):
    """The service price of a draft batch sizes each job for the model, quality and aspect as `batch
    plan --backend openai --model m --quality q` does (gpt-image-2 high is 2048 px, not the draft's
    1024): the report's figure is the plan's, per model and quality."""
    from workbench.batch.report import batch_frame, service_prices

    text = GRID.replace("quality: medium}", "quality: medium, aspect: '4:5'}")
    in_process_batch(wb, text, "grid", tmp_path)
    prices = service_prices(wb, batch_frame(wb, "grid"))
    path = tmp_path / "grid.yaml"
    for row in prices["rows"]:
        for quality, cell in zip(prices["qualities"], row["cells"], strict=True):
            loaded = load_experiment(
                path, templates=wb.templates, backend="openai", model=row["model"], quality=quality
            )
            planned = plan_batch(wb, loaded)
            # Credits and dollars within 1 %: the plan prices the prompt it would send, the report
            # the draft's (credits have two decimals: a prompt's text tokens show, 8.88 vs 8.9).
            assert cell["credits"] == pytest.approx(planned.credits_all, rel=0.01), (row["model"], quality)
            assert cell["usd"] == pytest.approx(sum(j.usd for j in planned.to_run), rel=0.01)


def test_contact_sheet_labels_in_cjk_are_drawn_in_a_font_with_their_glyphs(wb):
    """A factor value in Japanese is drawn with a font that has its glyphs: two different words of
    one length differ on the sheet (a Latin-only font draws both as the same row of boxes)."""
    import numpy as np
    import pandas as pd

    from workbench.batch.report import _PAD, _TITLE_H

    folder = wb.root / "batches" / "jp"
    folder.mkdir(parents=True)
    labels = ["セール", "ビール", "セール"]
    (folder / "batch.json").write_text(
        json.dumps(
            {"experiment": "jp", "axes": [{"name": "headline", "factors": ["headline"], "labels": labels}]}
        )
    )
    frame = pd.DataFrame(
        [
            {"coords": (label,), "status": "missing", "image": None, "index": i}
            for i, label in enumerate(labels)
        ]
    )
    [sheet] = contact_sheets(wb, "jp", frame, folder=folder)
    pixels = np.asarray(Image.open(sheet).convert("L")).astype(int)
    top = _TITLE_H + THUMB

    def caption(i: int) -> np.ndarray:
        x = _PAD + i * (THUMB + _PAD)
        return pixels[top : top + 28, x : x + THUMB]

    assert (caption(0) < 128).any()  # something is drawn
    assert np.abs(caption(0) - caption(1)).mean() > 2 * np.abs(caption(0) - caption(2)).mean() + 1


def test_a_sheet_cell_finds_its_thumbnail_under_a_relative_root_and_a_bad_one_is_shown_missing(
    tmp_path, monkeypatch
):
    """A report's thumbnails come from ``<root>/thumbs`` of the image's own root: a root given as
    a relative path must not be joined twice; a thumbnail that cannot be made or read leaves its
    cell to the job's status instead of failing the whole report."""
    import io

    from workbench.batch.report import _thumb
    from workbench.store import Store

    monkeypatch.chdir(tmp_path)
    store = Store(Path("rroot"))
    buffer = io.BytesIO()
    Image.new("RGB", (600, 400), (10, 120, 200)).save(buffer, "PNG")
    image = Path("rroot") / store.put(buffer.getvalue())
    thumb = _thumb(image)
    assert thumb is not None and thumb.size == (THUMB, 171)
    assert all(
        abs(a - b) <= 6 for a, b in zip(thumb.getpixel((5, 5)), (10, 120, 200), strict=True)
    )  # (lossy WebP)
    cached = next((tmp_path / "rroot" / "thumbs").rglob("*.webp"))
    cached.write_bytes(cached.read_bytes()[:40])  # a damaged cached thumbnail
    assert _thumb(image) is None
