"""The one YAML reader: data plus the line of every key path, and every bad file as one
``file:line: field: problem`` sentence of the caller's error class."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import yamlio
from workbench.errors import ExperimentError, TemplateError, WorkbenchError

TEXT = """\
name: mugs
spec:
  subject: a mug
  aspect: 16:9
grid:
  lighting:
    - '@soft-left'
    - '@rim-light'
"""


def test_data_and_the_line_of_every_key_path(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(TEXT, encoding="utf-8")
    doc = yamlio.load(path)
    assert doc.data["grid"]["lighting"] == ["@soft-left", "@rim-light"]
    assert doc.line(("name",)) == 1 and doc.line("spec.aspect") == 4
    assert doc.line(("grid", "lighting", 1)) == 8 and doc.line("grid.lighting[0]") == 7
    assert doc.line("spec.nowhere") == 2  # the nearest written ancestor
    assert doc.text("spec.aspect") == "16:9"  # as written, where YAML 1.1 would read a number
    assert doc.data["spec"]["aspect"] != "16:9"


def test_an_error_names_file_line_and_field_in_the_callers_class(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(TEXT, encoding="utf-8")
    doc = yamlio.load(path, error=ExperimentError)
    error = doc.error(("grid", "lighting", 1), "unknown lighting template '@rim-lite'.")
    assert isinstance(error, ExperimentError)
    assert str(error) == f"{path}:8: grid.lighting[1]: unknown lighting template '@rim-lite'."
    assert (error.file, error.field) == (str(path), "grid.lighting[1]")
    error = yamlio.load(path, error=TemplateError).error("spec.subject", "too short.")
    assert isinstance(error, TemplateError) and error.line == 3


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("a: [1, 2\nb: 3\n", 2, "the file is not valid YAML"),
        ("a: 1\n---\nb: 2\n", 2, "more than one YAML document"),
        ("a: 1\nb:\n  c: 1\n  c: 2\n", 4, "b.c: the key 'c' appears twice (first on line 3)"),
        ("a: !!python/object:os.system x\n", 1, "a: could not determine a constructor"),
    ],
)
def test_a_bad_file_is_one_sentence_with_its_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ExperimentError) as caught:
        yamlio.load(path, error=ExperimentError)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: ") and problem in message, message
    assert "\n" not in message and message.endswith(".")


def test_not_utf8_missing_and_empty_files(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(WorkbenchError, match=r"latin.yaml: the file is not UTF-8 text\."):
        yamlio.load(latin)
    with pytest.raises(WorkbenchError, match=r"nowhere.yaml: the file cannot be read"):
        yamlio.load(tmp_path / "nowhere.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# only a comment\n", encoding="utf-8")
    assert yamlio.load(empty).data is None


def test_text_is_named_like_a_file_and_merge_keys_work() -> None:
    doc = yamlio.load("inline", text="base: &b {quality: low}\njob:\n  <<: *b\n  n: 2\n")
    assert doc.data["job"] == {"quality": "low", "n": 2}
    assert str(doc.error("job.n", "too many.")) == "inline:4: job.n: too many."


def test_packaged_data_is_found_through_importlib_resources() -> None:
    assert yamlio.data_path("prompts", "presets.yaml").is_file()
    assert yamlio.data_path("notebooks", "batch.ipynb").is_file()
    assert yamlio.data_path("prices.yaml").is_file()
