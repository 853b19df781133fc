"""The project's frame: dependency lists agree, the public surface is complete, the README's
two commands exist."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

import workbench
import workbench.errors

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_pyproject_and_environment_list_the_same_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip = {_name(r) for r in project["dependencies"]}
    pip |= {_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = set()
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            conda |= {_name(r) for r in entry.get("pip", [])}
        else:
            conda.add(_name(entry))
    conda -= {"python", "pip"}
    assert pip == conda


def test_public_surface_is_sorted_and_complete():
    assert workbench.__all__ == sorted(workbench.__all__)
    for name in workbench.__all__:
        assert hasattr(workbench, name), name
    errors = {name for name in dir(workbench.errors) if name.endswith("Error")}
    assert errors <= set(workbench.__all__)
    for name in errors:
        assert issubclass(getattr(workbench.errors, name), workbench.errors.WorkbenchError)


def test_readme_commands_are_make_targets():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test"):
        assert f"make {target}" in readme
        assert re.search(rf"^{target}:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_outputs_content_is_ignored():
    ignore = (ROOT / ".gitignore").read_text()
    assert "outputs/*" in ignore and "!outputs/README.md" in ignore
