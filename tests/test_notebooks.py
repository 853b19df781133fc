"""Every notebook in ``notebooks/`` runs top to bottom offline: executed by papermill (each copy under
1 MB) and checked by nbval in lax mode. Notebooks are found by glob, so a new one is covered at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
MAX_BYTES = 1_000_000

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    """The test's environment (its own WORKBENCH_HOME), with this checkout importable in kernels."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.setdefault("MPLBACKEND", "Agg")
    return env


def test_the_notebooks_are_there():
    names = {path.stem for path in NOTEBOOKS}
    assert {"quickstart", "prompt_lab", "edit", "cost_analysis"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_clean_with_a_parameters_cell(path: Path):
    notebook = nbformat.read(path, as_version=4)
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{path.name} was committed with outputs"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_under_papermill_and_stays_small(
    path: Path, tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
):
    import papermill

    for key, value in _env().items():
        monkeypatch.setenv(key, value)
    output = tmp_path / path.name
    papermill.execute_notebook(
        str(path),
        str(output),
        cwd=str(NOTEBOOK_DIR),
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
        execution_timeout=300,
    )
    size = output.stat().st_size
    assert size < MAX_BYTES, f"{path.name} executed is {size:,} bytes"
    executed = json.loads(output.read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors
    # A widget never shows as bare text in the executed copy: each carries static HTML too.
    for cell in executed["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                assert "text/html" in data, f"a widget in {path.name} has no static fallback"
    assert root.joinpath("ledger.sqlite").exists()  # the runs went to the test's own root


def test_every_notebook_passes_nbval_lax(tmp_path: Path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            *map(str, NOTEBOOKS),
        ],
        cwd=NOTEBOOK_DIR,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"{sum(_code_cells(p) for p in NOTEBOOKS)} passed" in result.stdout


def _code_cells(path: Path) -> int:
    return sum(1 for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")


def test_a_notebook_showing_twenty_results_stays_under_1_mb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Twenty runs shown one by one, in a grid, in the gallery and in the panel: thumbnails only."""
    import papermill

    for key, value in _env().items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell("count = 20", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "from IPython.display import HTML, display\nfrom workbench import Workbench\nwb = Workbench()\n"
            "runs = [wb.generate(f'a red bicycle number {i}', aspect='3:2', quality='high') "
            "for i in range(count)]"
        ),
        nbformat.v4.new_code_cell("for run in runs:\n    display(run)"),
        nbformat.v4.new_code_cell("wb.gallery()"),
        nbformat.v4.new_code_cell(
            "panel = wb.panel(subject='a red bicycle number 0', aspect='3:2', quality='high')\n"
            "panel.generate()\npanel"
        ),
    ]
    source, output = tmp_path / "twenty.ipynb", tmp_path / "twenty-out.ipynb"
    nbformat.write(notebook, source)
    papermill.execute_notebook(
        str(source),
        str(output),
        cwd=str(tmp_path),
        kernel_name="python3",
        progress_bar=False,
        execution_timeout=300,
    )
    executed = json.loads(output.read_text())
    shown = [o for o in executed["cells"][2]["outputs"] if "text/html" in o.get("data", {})]
    assert len(shown) == 20 and all("data:image/webp" in "".join(o["data"]["text/html"]) for o in shown)
    assert output.stat().st_size < MAX_BYTES, f"{output.stat().st_size:,} bytes"


def test_the_executed_quickstart_exported_to_html_shows_the_static_panel_and_gallery(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
):
    """``jupyter nbconvert --to html`` of the executed quickstart, read offline: the panel's and the
    gallery's static views are in the page itself (a widget view needs JavaScript from a CDN)."""
    import papermill

    for key, value in _env().items():
        monkeypatch.setenv(key, value)
    executed = tmp_path / "quickstart.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK_DIR / "quickstart.ipynb"),
        str(executed),
        cwd=str(NOTEBOOK_DIR),
        kernel_name="python3",
        progress_bar=False,
        execution_timeout=300,
    )
    assert "widgets" in json.loads(executed.read_text())["metadata"]  # the live views' state is saved
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(executed)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    page = (tmp_path / "quickstart.html").read_text()
    # Outside any script: the static views as HTML elements of the exported page.
    assert '<div class="wb-static wb-static-panel">' in page
    assert '<div class="wb-static wb-static-gallery">' in page
    assert "Workbench prompt panel" in page and "MOVE FORWARD" in page
    panel = page[page.index('<div class="wb-static wb-static-panel">') :]
    assert "Estimate:" in panel[:20_000]
    gallery = page[page.index('<div class="wb-static wb-static-gallery">') :]
    assert "data:image/webp;base64," in gallery[:200_000] and "draft/draft-1" in gallery[:200_000]
