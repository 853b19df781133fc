"""The package stands on its own: built as a wheel and installed (not editable) into a fresh
virtual environment, it runs the demo, lists presets and runs a 2-worker batch of a shipped example
from an empty folder — templates, experiments and the batch notebook all come from the wheel.

Offline: the wheel is built with ``--no-build-isolation`` and installed with ``--no-deps``; the
fresh environment sees the project environment's third-party packages through a ``.pth`` line
(which adds that folder to ``sys.path`` without running its ``.pth`` files, so the editable
``workbench`` of the project environment is not importable there).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
_SKIP = {".venv", ".git", "outputs", "build", "dist", "bench", "tests", "notebooks", ".pytest_cache"}


def _copy_source(target: Path) -> Path:
    """The working tree without environments, outputs and caches, so the build writes nothing
    into the checkout."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = Path(folder) == REPO
        return {
            n
            for n in names
            if (top and n in _SKIP)
            or n == "__pycache__"
            or n.endswith(".egg-info")
            or n == ".ipynb_checkpoints"
        }

    return Path(shutil.copytree(REPO, target, ignore=ignore))


def _run(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(the fresh environment's bin folder, an environment for its commands)."""
    base = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "PYTHON", "VIRTUAL_ENV"))}
    env["PIP_NO_INDEX"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    source = _copy_source(base / "src")
    wheels = base / "wheels"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            ".",
        ],
        cwd=source,
        env=env,
    )
    (wheel,) = wheels.glob("workbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for packaged in (
        "workbench/data/prices.yaml",
        "workbench/data/models.yaml",
        "workbench/data/templates/report.html.j2",
        "workbench/data/prompts/presets.yaml",
        "workbench/data/prompts/backgrounds.yaml",
        "workbench/data/experiments/product-lighting.yaml",
        "workbench/data/experiments/products.csv",
        "workbench/data/notebooks/batch.ipynb",
        "workbench/widgets/gallery.js",
    ):
        assert packaged in names, f"the wheel lacks {packaged}"

    fresh = base / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(fresh)
    python = fresh / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # The project environment's third-party packages, without running its .pth files.
    (purelib / "_project_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        cwd=base,
        env=env,
    )
    return fresh / "bin", env


def test_the_wheel_installs_and_imports_from_the_fresh_environment(installed, tmp_path: Path) -> None:
    bin_dir, env = installed
    done = _run(
        [
            str(bin_dir / "python"),
            "-c",
            "import json, workbench, workbench.templates as t, workbench.batch.runner as r;"
            "print(json.dumps([workbench.__file__, str(t.package_folder()), str(r.default_notebook())]))",
        ],
        cwd=tmp_path,
        env=env,
    )
    module, prompts, notebook = json.loads(done.stdout)
    prefix = str(bin_dir.parent.resolve())
    assert Path(module).resolve().is_relative_to(prefix), module  # not the editable checkout
    assert Path(prompts).resolve().is_relative_to(prefix) and Path(notebook).resolve().is_relative_to(prefix)
    # The batch kernels run this environment's python (jupyter_client puts sys.executable in place
    # of a bare "python"), so they import the wheel's workbench too.
    done = _run(
        [
            str(bin_dir / "python"),
            "-c",
            "import json, sys; from jupyter_client.kernelspec import KernelSpecManager as M;"
            "print(json.dumps([M().get_kernel_spec('python3').argv[0], sys.executable]))",
        ],
        cwd=tmp_path,
        env=env,
    )
    command, executable = json.loads(done.stdout)
    assert command in ("python", "python3", executable), command


def test_demo_presets_and_a_two_worker_batch_run_from_an_empty_folder(installed, tmp_path: Path) -> None:
    bin_dir, env = installed
    empty = tmp_path / "project"
    empty.mkdir()
    env = {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", "MPLBACKEND": "Agg"}
    workbench = str(bin_dir / "workbench")

    _run([workbench, "demo"], cwd=empty, env=env)
    assert (empty / "outputs" / "ledger.sqlite").is_file()

    presets = _run([workbench, "templates", "preset"], cwd=empty, env=env).stdout
    assert "marketing-poster" in presets and "ecommerce-product" in presets

    batch = _run(
        [
            workbench,
            "batch",
            "run",
            "poster-headlines",
            "--workers",
            "2",
            "--batch-id",
            "wheel",
            "--no-progress",
        ],
        cwd=empty,
        env=env,
    )
    folder = empty / "outputs" / "batches" / "wheel"
    shards = sorted(folder.glob("shard-*.ipynb"))
    assert len(shards) == 2, batch.stdout + batch.stderr
    for shard in shards:
        executed = json.loads(shard.read_text())
        errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, f"{shard.name}: {errors}"
    # The kernels imported the wheel's workbench, not the checkout's.
    assert str(REPO) not in "".join(p.read_text() for p in shards)
    assert not (empty / "prompts").exists()  # nothing needed beside the project

    # The project's own prompts/ adds to the wheel's templates, in the CLI and in the kernels.
    (empty / "prompts" / "experiments").mkdir(parents=True)
    (empty / "prompts" / "walls.yaml").write_text(
        "kind: background\ntemplates:\n  our-wall: a wall painted in our navy blue\n"
    )
    (empty / "prompts" / "experiments" / "ours.yaml").write_text(
        "preset: ecommerce-product\ngrid:\n  background: ['@our-wall', '@studio-white']\n"
    )
    backgrounds = _run([workbench, "templates", "background"], cwd=empty, env=env).stdout
    assert "our-wall" in backgrounds and "studio-white" in backgrounds
    _run(
        [workbench, "batch", "run", "ours", "--workers", "1", "--batch-id", "ours", "--no-progress"],
        cwd=empty,
        env=env,
    )
    (shard,) = (empty / "outputs" / "batches" / "ours").glob("shard-*.ipynb")
    executed = json.loads(shard.read_text())
    assert not [o for c in executed["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    prompts = _run(
        [
            str(bin_dir / "python"),
            "-c",
            "from workbench import Workbench; runs = Workbench('outputs').runs();"
            "ours = runs[runs.batch_id == 'ours']; print(ours.status.tolist(), ours.prompt.tolist())",
        ],
        cwd=empty,
        env=env,
    ).stdout
    assert "a wall painted in our navy blue" in prompts and "'ok', 'ok'" in prompts, prompts
