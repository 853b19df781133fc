"""Experiment files: expansion into jobs (grid, zip, CSV rows) and errors that name file and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench import ExperimentError
from workbench.batch import load_experiment
from workbench.batch.experiments import experiment_folder, experiment_folders, find_experiment


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_grid_is_the_cartesian_product_in_row_major_order(tmp_path):
    path = write(
        tmp_path,
        """
name: mugs
spec: {subject: a ceramic mug, quality: low}
grid:
  background: {marble: "@marble", oak: "@oak-table", linen: "@linen"}
  lighting: ["@soft-left", "@golden-hour", "@rim-light", "@high-key"]
""",
    )
    experiment = load_experiment(path)
    assert experiment.name == "mugs" and experiment.shape == (3, 4) and len(experiment) == 12
    assert [a.name for a in experiment.axes] == ["background", "lighting"]
    first, last = experiment.jobs[0], experiment.jobs[-1]
    assert first.factors == {"background": "marble", "lighting": "@soft-left"}
    assert first.spec.background == "@marble" and first.spec.quality == "low"
    assert last.coords == ("linen", "@high-key")
    keys = [job.key for job in experiment.jobs]
    assert len(set(keys)) == 12
    assert keys == [job.key for job in load_experiment(path).jobs]  # stable across loads


def test_zip_pairs_lists_and_text_roles_replace_the_presets_texts(tmp_path):
    path = write(
        tmp_path,
        """
preset: marketing-poster
zip:
  headline: [MOVE FORWARD, RUN THE CITY]
  background: ["@navy-solid", "@pastel-gradient"]
grid:
  model: [draft-1]
""",
    )
    experiment = load_experiment(path)
    assert experiment.shape == (2, 1)
    assert experiment.axes[0].labels == ("MOVE FORWARD · @navy-solid", "RUN THE CITY · @pastel-gradient")
    job = experiment.jobs[1]
    assert [(t.text, t.role) for t in job.spec.texts] == [
        ("RUN THE CITY", "headline"),
        ("The new spring running collection", "subtext"),
    ]
    assert job.spec.preset == "marketing-poster" and job.model == "draft-1"


def test_csv_rows_become_runs_labelled_by_their_label_column(tmp_path):
    write(tmp_path, "label,subject,aspect,seed\nshoe,a sneaker,1:1,3\nbag,a tote bag,4:5,\n", "rows.csv")
    experiment = load_experiment(tmp_path / "rows.csv")
    assert experiment.axes[0].labels == ("shoe", "bag")
    assert [(j.spec.subject, j.spec.aspect, j.spec.seed) for j in experiment.jobs] == [
        ("a sneaker", "1:1", 3),
        ("a tote bag", "4:5", None),
    ]
    path = write(tmp_path, "spec: {quality: low}\nrows: rows.csv\ngrid:\n  style: ['@editorial', '@noir']\n")
    assert load_experiment(path).shape == (2, 2)


def test_inline_rows_may_name_different_factors(tmp_path):
    path = write(tmp_path, "rows:\n  - {subject: a mug}\n  - {subject: a teapot, background: '@marble'}\n")
    experiment = load_experiment(path)
    assert [(j.spec.subject, j.spec.background) for j in experiment.jobs] == [
        ("a mug", ""),
        ("a teapot", "@marble"),
    ]
    assert experiment.axes[0].factors == ("subject", "background")


def test_cli_overrides_reach_every_job(tmp_path):
    path = write(tmp_path, "spec: {subject: a mug}\nbackend: draft\ngrid:\n  aspect: ['1:1', '3:2']\n")
    experiment = load_experiment(path, quality="high", model="draft-1")
    assert {j.spec.quality for j in experiment.jobs} == {"high"}
    assert {j.model for j in experiment.jobs} == {"draft-1"} and experiment.backend == "draft"


def test_the_shipped_examples_are_package_data_and_a_project_folder_overrides_them(root, monkeypatch):
    monkeypatch.delenv("WORKBENCH_PROMPTS", raising=False)
    shipped = Path(__file__).resolve().parents[1] / "workbench" / "data" / "experiments"
    assert experiment_folder() == shipped
    assert find_experiment("product-lighting") == shipped / "product-lighting.yaml"
    # The project's own prompts/experiments/ (beside the outputs root) comes first.
    mine = root.parent / "prompts" / "experiments"
    assert experiment_folders() == [mine, shipped]
    mine.mkdir(parents=True)
    write(mine, "spec: {subject: a teapot}\ngrid:\n  aspect: ['1:1', '3:2']\n", "product-lighting.yaml")
    write(mine, "spec: {subject: a jug}\n", "jug.yaml")
    assert find_experiment("product-lighting") == mine / "product-lighting.yaml"
    assert len(load_experiment("product-lighting")) == 2
    assert load_experiment("jug").jobs[0].spec.subject == "a jug"
    with pytest.raises(ExperimentError, match=r"No experiment file nope\. .*jug, .*product-lighting"):
        find_experiment("nope")


def test_the_people_copy_of_the_batch_notebook_is_the_packaged_one():
    """notebooks/batch.ipynb is there for people to open; the runner uses the packaged copy."""
    from workbench.batch.runner import default_notebook

    repo = Path(__file__).resolve().parents[1]
    assert default_notebook() == repo / "workbench" / "data" / "notebooks" / "batch.ipynb"
    assert (repo / "notebooks" / "batch.ipynb").read_bytes() == default_notebook().read_bytes()


def test_the_shipped_examples_load():
    names = sorted(p.name for p in experiment_folder().iterdir())
    assert "product-lighting.yaml" in names and "products.csv" in names
    assert load_experiment("product-lighting").shape == (3, 4)
    for path in experiment_folder().iterdir():
        assert len(load_experiment(path)) > 0


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("grid:\n  colour: [red]\n", "grid.colour", "unknown factor"),
        (
            "spec: {subject: a mug}\ngrid:\n  lighting: ['@soft-left', '@no-such-light']\n",
            "grid.lighting[1]",
            "no-such-light",
        ),
        (
            "spec: {subject: a mug}\nzip:\n  subject: [a, b]\n  lighting: ['@soft-left']\n",
            "zip.lighting",
            "has 1 values but zip.subject has 2",
        ),
        ("spec: {subject: a mug}\ngrid:\n  seed: [1, two]\n", "grid.seed[1]", "whole number"),
        ("spec: {subject: a mug}\ngrid:\n  aspect: ['1:1', '5:1']\n", "aspect", "Unsupported aspect '5:1'"),
        ("spec: {subject: a mug, colour: red}\n", "spec.colour", "unknown spec field"),
        ("spec: {subject: a mug}\ngrids:\n  aspect: ['1:1']\n", "grids", "unknown key"),
        (
            "spec: {subject: a mug}\ngrid:\n  subject: [a]\nzip:\n  subject: [b]\n",
            "zip.subject",
            "already a factor",
        ),
        ("preset: no-such-preset\n", "preset", "no-such-preset"),
        ("grid: [1, 2\n", None, "the file is not valid YAML"),
        ("spec: {subject: a mug}\ngrid:\n  style: []\n", "grid.style", "empty"),
    ],
)
def test_a_wrong_experiment_names_the_file_and_the_field(tmp_path, text, field, message):
    path = write(tmp_path, text)
    with pytest.raises(ExperimentError, match=message) as info:
        load_experiment(path)
    assert info.value.field == field and info.value.file == str(path)
    # file:line: field: problem, the line from the YAML node marks.
    assert re.match(
        re.escape(str(path)) + r":\d+: " + (re.escape(field) + ": " if field else ""), str(info.value)
    )


def test_a_csv_with_an_unknown_column_names_it(tmp_path):
    path = write(tmp_path, "subject,colour\na mug,red\n", "bad.csv")
    with pytest.raises(ExperimentError, match=r"bad.csv:1: rows.colour: unknown column"):
        load_experiment(path)
    yaml_path = write(tmp_path, "rows: bad.csv\n")
    with pytest.raises(ExperimentError, match=r"bad.csv:1: rows.colour: unknown column"):
        load_experiment(yaml_path)


def test_errors_carry_the_line_they_were_written_on(tmp_path):
    text = "name: mugs\nspec:\n  subject: a mug\ngrid:\n  lighting:\n    - '@soft-left'\n    - '@nope'\n"
    with pytest.raises(ExperimentError) as info:
        load_experiment(write(tmp_path, text))
    assert str(info.value).startswith(f"{tmp_path / 'exp.yaml'}:7: grid.lighting[1]: Unknown lighting")
    # A spec field a SpecError names points at where the file varies it.
    text = "spec: {subject: a mug}\ngrid:\n  aspect: ['1:1', '5:1']\n"
    with pytest.raises(ExperimentError, match=r"exp.yaml:3: aspect: job 2") as info:
        load_experiment(write(tmp_path, text))
    # A CSV cell names the CSV's line of that row; a key written twice is refused at its line.
    write(tmp_path, "label,seed\nfirst,1\nsecond,two\n", "rows.csv")
    with pytest.raises(ExperimentError, match=r"rows.csv:3: rows\[2\].seed: seed must be a whole number"):
        load_experiment(write(tmp_path, "spec: {subject: a mug}\nrows: rows.csv\n"))
    with pytest.raises(
        ExperimentError, match=r"exp.yaml:3: spec: the key 'spec' appears twice \(first on line 1\)"
    ):
        load_experiment(write(tmp_path, "spec: {subject: a}\nname: x\nspec: {subject: b}\n"))


def test_an_unknown_experiment_lists_the_known_ones():
    with pytest.raises(ExperimentError, match="No experiment file nope.*product-lighting"):
        load_experiment("nope")
