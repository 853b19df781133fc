"""Real servers for the team tests: a throwaway PostgreSQL cluster and an S3-compatible store.

Both listen on 127.0.0.1 only, on a free port, and are stopped when the test session ends.

PostgreSQL: Debian's ``postgresql`` package (``.ci/run`` installs it). ``initdb`` and ``pg_ctl``
make a cluster in a temporary folder. PostgreSQL refuses to run as root, so when the tests run as
root (CI does) the cluster belongs to a system user, ``workbench-test``, made on first use. The
superuser logs in over TCP with a password (scram), as a team's server would ask for one, so the
tests also see that a URL's password is never printed.

S3: moto's server mode (``ThreadedMotoServer``) in this process, one fresh bucket per test.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_USER = "workbench"
OS_USER = "workbench-test"  # who owns the cluster's files when the tests run as root


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (the newest installed), or None."""
    if os.environ.get("WORKBENCH_PG_BIN"):
        return Path(os.environ["WORKBENCH_PG_BIN"])
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_owner(command: list[str]) -> list[str]:
    """Run ``command`` as the cluster's owner: ourselves, or ``workbench-test`` when we are root."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", OS_USER, "--", *command]


def _ensure_os_user() -> None:
    if os.geteuid() != 0:
        return
    known = subprocess.run(["id", "-u", OS_USER], capture_output=True)
    if known.returncode != 0:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_USER],
            check=True,
            capture_output=True,
        )


@dataclass
class PostgresServer:
    """A running cluster: ``url(database)`` names one of its databases."""

    folder: Path
    port: int
    password: str
    bin: Path
    _count: int = field(default=0, repr=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{PG_USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        self._count += 1
        name = f"test_{os.getpid()}_{self._count}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        data = self.folder / "data"
        subprocess.run(
            _as_owner([str(self.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(self.folder, ignore_errors=True)

    @classmethod
    def start(cls, bin_folder: Path, *, durable: bool = False) -> PostgresServer:
        """initdb + pg_ctl start in a new temporary folder.

        ``durable=False`` (tests) turns fsync off: a throwaway cluster need not survive a power
        cut. Benchmarks pass ``durable=True`` to measure what a team's server would do.
        """
        _ensure_os_user()
        folder = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
        data = folder / "data"
        password = secrets.token_hex(12)
        (folder / "pw").write_text(password + "\n")
        if os.geteuid() == 0:
            shutil.chown(folder, OS_USER)
            shutil.chown(folder / "pw", OS_USER)
        folder.chmod(0o700)
        init = subprocess.run(
            _as_owner(
                [
                    str(bin_folder / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    PG_USER,
                    f"--pwfile={folder / 'pw'}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if init.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {init.stderr.strip()}")
        (folder / "pw").unlink()
        port = free_port()
        settings = [
            "-c listen_addresses=127.0.0.1",
            f"-c port={port}",
            f"-c unix_socket_directories={folder}",
            "-c max_connections=200",
        ]
        if not durable:
            settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        started = subprocess.run(
            _as_owner(
                [
                    str(bin_folder / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(folder / "server.log"),
                    "-o",
                    " ".join(settings),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
        )
        server = cls(folder, port, password, bin_folder)
        if started.returncode != 0:
            log = (folder / "server.log").read_text() if (folder / "server.log").exists() else ""
            server.stop()
            raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()} {log[-2000:]}")
        return server


@dataclass
class S3Server:
    """moto's S3-compatible server on 127.0.0.1; ``new_bucket()`` gives a store URL per test."""

    port: int
    _server: object = field(repr=False)
    _count: int = field(default=0, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # What a client needs besides the URL; moto accepts any key, these are no one's secret.
    ENV = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",  # never ask a metadata address for credentials
    }

    def new_bucket(self) -> str:
        """A fresh bucket; returns ``s3://<bucket>/team`` (a prefix inside it)."""
        import boto3

        self._count += 1
        name = f"workbench-{os.getpid()}-{self._count}"
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=name)
        return f"s3://{name}/team"

    def stop(self) -> None:
        self._server.stop()  # type: ignore[attr-defined]

    @classmethod
    def start(cls) -> S3Server:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request in the test log
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        return cls(port, server)
