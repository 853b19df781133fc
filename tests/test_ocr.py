"""Exact text: read the quoted texts back from draft posters; overlay texts at their slots."""

from __future__ import annotations

import io

import numpy as np
import pytest
from _skips import require
from PIL import Image

from workbench import WorkbenchError
from workbench.backends.base import ImageRequest
from workbench.backends.draft import DraftBackend
from workbench.imaging.ocr import accuracy, check_texts, edit_distance, ocr_available
from workbench.imaging.overlay import overlay_texts
from workbench.spec import PromptSpec, TextItem, compose

POSTERS = [
    PromptSpec(
        subject="a white leather sneaker",
        background="dark concrete",
        aspect="2:3",
        texts=[TextItem("MOVE FORWARD"), TextItem("The new Aero runner, lighter than ever", "subtext")],
    ),
    PromptSpec(
        subject="a ceramic mug",
        background="gradient from coral to peach",
        aspect="1:1",
        texts=[TextItem("NEW COLLECTION"), TextItem("Shop Now", "subtext")],
    ),
    PromptSpec(
        subject="a coffee bag",
        background="kraft paper texture",
        aspect="3:2",
        texts=[TextItem("MORNING RITUAL"), TextItem("Single Origin Ethiopia - Medium Roast", "subtext")],
    ),
    PromptSpec(
        subject="a glass bottle", background="navy", aspect="1:1", texts=[TextItem("COLD BREW COFFEE")]
    ),
    PromptSpec(
        subject="a pizza",
        background="white",
        aspect="1:1",
        texts=[
            TextItem("SUMMER SALE 50% OFF"),
            TextItem("Only this weekend at all our stores, online and in town", "subtext"),
        ],
    ),
    PromptSpec(
        subject="a bottle",
        background="forest green",
        aspect="1:1",
        texts=[
            TextItem("Fresh & Natural"),
            TextItem("100% organic juice", "subtext"),
            TextItem("NEW", "label"),
        ],
    ),
    PromptSpec(
        subject="coffee",
        background="black",
        aspect="3:2",
        texts=[TextItem("Grind"), TextItem("Brew", "label"), TextItem("Enjoy", "label")],
    ),
]


def _render(spec: PromptSpec, *, transparent: bool = False) -> Image.Image:
    background = "transparent" if transparent else "auto"
    request = ImageRequest(compose(spec), *spec.size, spec=spec, background=background)
    data = DraftBackend().generate(request).images[0]
    return Image.open(io.BytesIO(data))


def _need_tesseract() -> None:
    require(ocr_available(), "tesseract-ocr is not installed (apt install tesseract-ocr)")


def test_accuracy_is_character_level():
    assert edit_distance("kitten", "sitting") == 3
    assert accuracy("MOVE FORWARD", "MOVE FORWARD") == 1.0
    assert accuracy("MOVE FORWARD", "MOVE F0RWARD") == pytest.approx(1 - 1 / 12)
    assert accuracy("MOVE", "completely different words") == 0.0
    assert accuracy("Shop  Now", " Shop Now\n") == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("transparent", [False, True], ids=["opaque", "transparent"])
@pytest.mark.parametrize("index", range(len(POSTERS)))
def test_reads_the_exact_texts_of_draft_posters(index, transparent):
    _need_tesseract()
    spec = POSTERS[index]
    results = check_texts(_render(spec, transparent=transparent), spec.texts)
    assert [r["text"] for r in results] == [t.text for t in spec.texts]
    for result in results:
        assert result["accuracy"] >= 0.98, result


@pytest.mark.slow
def test_a_different_text_scores_low():
    _need_tesseract()
    image = _render(POSTERS[0])
    [result] = check_texts(image, ["SUMMER SALE TODAY"])
    assert result["accuracy"] < 0.5


def test_a_language_without_tesseract_data_is_named_in_one_sentence():
    _need_tesseract()
    with pytest.raises(
        WorkbenchError, match=r"no data for xxx: install it \(e.g. apt install tesseract-ocr-xxx\)"
    ):
        check_texts(_render(POSTERS[0]), ["MOVE FORWARD"], lang="xxx")


@pytest.mark.slow
def test_overlay_typesets_exact_texts_that_read_back():
    _need_tesseract()
    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(90, 160, (48, 32, 3), dtype=np.uint8)).resize((768, 1152))
    texts = [
        TextItem("AUTUMN MARKET"),
        TextItem("Saturday 9am - 2pm, Old Town Square", "subtext"),
        TextItem("FREE ENTRY", "label"),
    ]
    out = overlay_texts(base, texts)
    assert out.size == base.size and out.mode == "RGB"
    assert not np.array_equal(np.asarray(out), np.asarray(base))
    for result in check_texts(out, texts):
        assert result["accuracy"] >= 0.98, result


@pytest.mark.slow
def test_check_text_scores_a_run_and_runs_shows_it(wb):
    _need_tesseract()
    good = wb.generate(POSTERS[1])
    checked = wb.check_text(good)
    assert list(checked.columns) == ["text", "role", "read", "accuracy"]
    assert (checked["accuracy"] >= 0.98).all()
    wrong = wb.generate(POSTERS[3])
    low = wb.check_text(wrong, texts=["HOT LATTE SPECIAL"])
    assert low["accuracy"].iloc[0] < 0.5
    frame = wb.runs()
    scores = dict(zip(frame["id"], frame["text_accuracy"], strict=True))
    assert scores[good.id] >= 0.98 and scores[wrong.id] < 0.5
    assert len(wb.ledger.text_checks(good.id)) == 2
    again = wb.generate(POSTERS[1])  # a cached rerun shows its source's score
    assert again.cached
    assert wb.runs(id=again.id)["text_accuracy"].iloc[0] >= 0.98


def test_overlay_is_a_free_run(wb):
    source = wb.generate("a red mug on a plain white table", aspect="2:3")
    run = wb.overlay(source, {"headline": "EXACT WORDS", "label": "NO TYPOS"})
    assert run.backend == "draft" and run.credits == 0 and run.parent_id == source.id
    assert run.image().size == source.image().size
    if ocr_available():
        checked = wb.check_text(run, texts=["EXACT WORDS", "NO TYPOS"])
        assert (checked["accuracy"] >= 0.98).all()


def test_check_text_without_texts_says_so(wb):
    run = wb.generate("a red mug")
    with pytest.raises(ValueError, match="no exact texts to check"):
        wb.check_text(run)


def test_text_checks_migration_upgrades_an_older_run_log(tmp_path):
    import math
    import sqlite3

    from workbench.ledger import MIGRATIONS, SQLiteLedger

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # a run log as the previous release left it
        db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        for name, fn in MIGRATIONS[:2]:
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, 'then')", (name,))
    ledger = SQLiteLedger(path)
    try:
        assert ledger.applied_migrations() == [name for name, _ in MIGRATIONS]
        assert any(name.endswith("_text_checks") for name in ledger.applied_migrations())
        frame = ledger.runs()
        assert "text_accuracy" in frame.columns and frame.empty
        ledger.record({"id": "r1", "kind": "generate", "backend": "draft", "prompt": "p", "status": "ok"})
        assert math.isnan(ledger.runs()["text_accuracy"].iloc[0])
        ledger.record_text_checks(
            "r1",
            [
                {"text": "A", "role": "headline", "read": "A", "accuracy": 1.0},
                {"text": "B", "role": "subtext", "read": "8", "accuracy": 0.0},
            ],
        )
        assert ledger.runs()["text_accuracy"].iloc[0] == 0.5
        assert list(ledger.text_checks("r1")["read"]) == ["A", "8"]
    finally:
        ledger.close()
