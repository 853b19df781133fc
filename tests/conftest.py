"""Shared fixtures: every test gets its own Workbench root; nothing writes the real outputs/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench import Workbench


@pytest.fixture(autouse=True)
def _own_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "outputs"
    monkeypatch.setenv("WORKBENCH_HOME", str(root))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return root


@pytest.fixture
def root(_own_root: Path) -> Path:
    return _own_root


@pytest.fixture
def wb(root: Path) -> Workbench:
    bench = Workbench(root)
    yield bench
    bench.close()


@pytest.fixture
def paid_draft(root: Path) -> Path:
    """A root whose price table charges for draft renders (as a team pricing its own renders
    would), so wallet paths can be tested offline: medium 2 credits, high 10."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "prices.yaml").write_text('credits:\n  draft:\n    "*": {low: 1, medium: 2, high: 10}\n')
    return root


def ledger_state(root: Path) -> tuple[int, int, int]:
    """(runs, wallet events, reservations): what must not change after bad input."""
    import sqlite3

    path = root / "ledger.sqlite"
    if not path.exists():
        return (0, 0, 0)
    with sqlite3.connect(path) as db:
        return tuple(
            db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("runs", "wallet_events", "reservations")
        )  # type: ignore[return-value]


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


@pytest.fixture
def openai_server():
    """A loopback OpenAI-compatible server (tests/openai_server.py) on a free port, in a
    background thread. Change ``server.faults`` mid-test; read ``server.counts[path]``."""
    from openai_server import Faults, OpenAIServer

    server = OpenAIServer(Faults()).start()
    yield server
    server.stop()


@pytest.fixture
def cli(capsys):
    """Run the ``workbench`` command in this process: ``code, out, err = cli("batch", "plan", path)``."""
    from workbench.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run
