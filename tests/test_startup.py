"""What a cold command-line process imports: ``workbench --help`` and a first draft image stay
free of the heavy packages (pandas, numpy, openai, ...) they do not use, so they start fast.

Each command runs in a fresh interpreter, like the console script, and reports ``sys.modules``
as it exits; the times themselves are measured in ``bench/bench_service.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs the CLI as the console script does and writes the imported modules' names on the way out.
_PROBE = """
import json, sys
out, sys.argv = sys.argv[1], ["workbench", *sys.argv[2:]]
try:
    from workbench.cli import main
    main()
finally:
    with open(out, "w") as handle:
        json.dump(sorted(sys.modules), handle)
"""

# Never needed to print help or to draw, store and record one draft image.
_HEAVY = (
    "pandas",
    "pyarrow",
    "openai",
    "httpx",
    "jinja2",
    "cv2",
    "matplotlib",
    "papermill",
    "nbformat",
    "scipy",
)


def _python(tmp_path: Path, code: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -c code args`` in a fresh interpreter (this checkout first on its path)."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=dict(os.environ, PYTHONPATH=str(ROOT), **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def _imported(tmp_path: Path, *args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    out = tmp_path / "modules.json"
    done = _python(tmp_path, _PROBE, str(out), *args)
    return set(json.loads(out.read_text())), done


def _tops(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_help_imports_no_heavy_package(tmp_path: Path) -> None:
    modules, done = _imported(tmp_path, "--help")
    assert "generate" in done.stdout
    assert "workbench.cli" in modules
    heavy = _tops(modules) & {*_HEAVY, "numpy", "PIL", "fontTools", "isal", "sqlite3", "asyncio", "yaml"}
    assert not heavy, f"workbench --help imported {sorted(heavy)}"
    assert not {"workbench.core", "workbench.backends.draft", "workbench.ledger"} & modules


def test_a_first_draft_imports_only_what_it_draws_with(tmp_path: Path, root: Path) -> None:
    modules, done = _imported(tmp_path, "--root", str(root), "generate", "a ceramic mug on a wooden table")
    images = list((root / "images").rglob("*.png"))
    assert len(images) == 1, done.stdout + done.stderr
    assert images[0].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "workbench.backends.draft" in modules and "numpy" in modules
    heavy = _tops(modules) & set(_HEAVY)
    assert not heavy, f"a draft generate imported {sorted(heavy)}"
    # The draft is a built-in backend: no scan of the installed packages' entry points.
    assert "importlib.metadata" not in modules
    assert "asyncio" not in _tops(modules)


def test_the_built_in_backends_are_the_entry_points_pyproject_declares() -> None:
    """get_backend_class finds draft and openai without scanning entry points: the same targets."""
    import tomllib

    from workbench.backends import base

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert base._BUILTIN == project["entry-points"][base.ENTRY_POINT_GROUP]
    for name in base._BUILTIN:
        assert base.get_backend_class(name).name == name


# A batch kernel's work, as the runner gives it: the warm-up, then the notebook's run_shard call
# on a shard of service jobs, then the summary shown as the notebook shows it.
_SHARD = """
import json, sys
out, root, jobs, base_url = sys.argv[1:5]
from workbench.batch.runner import _WARM_UP
exec(_WARM_UP % True)
from workbench.batch import run_shard
summary = run_shard(jobs, root=root, batch_id="cold", shard=0,
                    backend_options={"openai": {"base_url": base_url}}, concurrency=2)
shown = summary._repr_html_() + repr(summary)
with open(out, "w") as handle:
    json.dump({"modules": sorted(sys.modules), "shown": shown}, handle)
"""


def test_a_batch_kernel_runs_its_service_jobs_without_pandas(
    tmp_path: Path, root: Path, openai_server
) -> None:
    """pandas is ~0.3 s of each kernel's start: no job needs it, nor the shard's summary table."""
    from workbench import Workbench
    from workbench.batch.shard import example_jobs_file

    wb = Workbench(root)
    wb.wallet.topup(10)
    wb.close()
    jobs = example_jobs_file(root)
    jobs.write_text(json.dumps([dict(job, backend="openai") for job in json.loads(jobs.read_text())]))
    out = tmp_path / "shard.json"
    _python(
        tmp_path,
        _SHARD,
        str(out),
        str(root),
        str(jobs),
        openai_server.base_url,
        OPENAI_API_KEY="wbtest-not-a-key",
    )
    seen = json.loads(out.read_text())
    assert "openai" in _tops(set(seen["modules"]))  # the service's jobs ran in this process
    assert "pandas" not in _tops(set(seen["modules"]))
    assert "<td>ok</td><td>2</td>" in seen["shown"] and "skipped (done before)" in seen["shown"]
    wb = Workbench(root)
    try:
        assert (wb.runs(batch_id="cold")["status"] == "ok").sum() == 2
    finally:
        wb.close()


def test_a_service_batch_plan_never_loads_the_draft_renderer(tmp_path: Path, root: Path) -> None:
    """The default backend's name is checked without loading it: the draft renderer's modules
    (numpy and its painting) are ~0.4 s of a runner that only sends requests to the service."""
    experiment = tmp_path / "mugs.yaml"
    experiment.write_text("name: mugs\nspec: {quality: low}\ngrid:\n  subject: ['a mug', 'a cup']\n")
    modules, done = _imported(
        tmp_path, "--root", str(root), "batch", "plan", str(experiment), "--backend", "openai"
    )
    assert "images     2 in 2 jobs" in done.stdout and "openai/gpt-image-2" in done.stdout, done.stdout
    assert "workbench.backends.openai" in modules
    assert "workbench.backends.draft" not in modules
