"""Shared fixtures: every test gets its own Workbench root; nothing writes the real outputs/."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
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


@pytest.fixture(autouse=True)
def _own_backends() -> Iterator[None]:
    """Backends a test registers (register_backend) are gone when it ends: none leaks into another."""
    from workbench.backends.base import registry_snapshot

    with registry_snapshot():
        yield


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
    """(runs, wallet journal entries, open reservations): what must not change after bad input."""
    import sqlite3

    path = root / "ledger.sqlite"
    if not path.exists():
        return (0, 0, 0)
    with sqlite3.connect(path) as db:
        return tuple(
            db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("runs", "wallet_journal", "wallet_holds")
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


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster on 127.0.0.1 (tests/_servers.py), for the whole session.

    Skips, with the reason, when PostgreSQL's server programs or psycopg are missing; under
    ``CI=true`` that skip is a failure (.ci/run installs Debian's postgresql)."""
    import importlib.util

    from _servers import PostgresServer, postgres_bin
    from _skips import require

    folder = postgres_bin()
    require(folder is not None, "PostgreSQL's initdb is not installed (apt-get install postgresql)")
    require(importlib.util.find_spec("psycopg"), "psycopg is not installed (pip install -e '.[team]')")
    server = PostgresServer.start(folder)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """The URL of a fresh, empty database in the session's cluster (one per test)."""
    return postgres_server.new_database()


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3-compatible server on 127.0.0.1, for the whole session."""
    import importlib.util

    from _servers import S3Server
    from _skips import require

    require(importlib.util.find_spec("moto"), "moto is not installed (pip install -e '.[test]')")
    require(importlib.util.find_spec("s3fs"), "s3fs is not installed (pip install -e '.[team]')")
    server = S3Server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_store(s3_server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket's store URL; the environment points clients (and child processes) at it."""
    for name, value in s3_server.ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WORKBENCH_STORE_OPTIONS", json.dumps({"endpoint_url": s3_server.endpoint}))
    return s3_server.new_bucket()
