"""The PostgreSQL run log: the same ``Ledger`` as SQLite's, for a team on several machines.

``PostgresLedger("postgresql://user:password@host/db")`` keeps the runs, the wallet's journal and
holds, the text checks and the batches in PostgreSQL, through psycopg 3 and a connection pool
(threads of a batch share it). The schema is the same named migrations as SQLite's, each written
for PostgreSQL here (``PG_MIGRATIONS``; a test checks the names agree), and ``runs()`` returns the
same typed DataFrame, built by the same code.

Safe across machines: every write transaction first takes one transaction-level advisory lock, so
writers queue as they do on SQLite's write lock. A wallet reservation (read the balance, then hold
credits) therefore never races another machine's, and runs get their ``seq`` in commit order —
which is what lets ``runs()`` fetch only the rows recorded since its last call and never miss one
that committed late. Reads take no lock.

A wrong or unreachable URL is one ``LedgerError`` sentence, raised before anything is written; a
URL's password never appears in a message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import LedgerError
from workbench.ledger.base import RUN_COLUMNS, STATUSES, Ledger, RunRecord, utc_now
from workbench.ledger.migrations import MIGRATIONS, OLD_TABLES_MESSAGE, WELCOME_CREDITS, old_batch_escrow_sql
from workbench.ledger.scores import INDEX as SCORES_INDEX
from workbench.ledger.scores import POSTGRES_TABLE as POSTGRES_SCORES_TABLE

__all__ = ["PG_MIGRATIONS", "PostgresLedger", "is_database_url", "quoted", "shown_url"]

# One lock for every write transaction of the run log (an arbitrary 64-bit key: "wbledger").
_WRITE_LOCK = 0x7762_6C65_6467_6572

_BATCH_COLUMNS = (
    "id created_at updated_at experiment source via backend model jobs status options remote_id "
    "remote_input_file remote_output_file remote_error_file error"
).split()

# The same migrations as workbench.ledger.migrations, by name, for PostgreSQL. Append-only, like
# those: a new migration there gets its PostgreSQL statements here, under the same name.
PG_MIGRATIONS: dict[str, tuple[str, ...]] = {
    "m001_runs": (
        """
        CREATE TABLE runs (
            seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            batch_id TEXT,
            shard INTEGER,
            parent_id TEXT,
            kind TEXT NOT NULL,
            backend TEXT NOT NULL,
            model TEXT,
            preset TEXT,
            prompt TEXT NOT NULL,
            spec TEXT,
            params TEXT,
            width INTEGER,
            height INTEGER,
            quality TEXT,
            n INTEGER,
            seed BIGINT,
            variant INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL CHECK (status IN ('ok', 'cached', 'blocked', 'failed')),
            credits_estimated INTEGER NOT NULL DEFAULT 0,
            credits INTEGER NOT NULL DEFAULT 0,
            usd_estimated DOUBLE PRECISION NOT NULL DEFAULT 0,
            usd DOUBLE PRECISION NOT NULL DEFAULT 0,
            tokens_in INTEGER,
            tokens_out INTEGER,
            usage TEXT,
            latency_ms DOUBLE PRECISION,
            fingerprint TEXT,
            images TEXT NOT NULL DEFAULT '',
            cached_from TEXT,
            error TEXT
        )
        """,
        "CREATE INDEX runs_fingerprint ON runs (fingerprint, status)",
        "CREATE INDEX runs_batch ON runs (batch_id)",
        "CREATE INDEX runs_created ON runs (created_at)",
    ),
    "m002_wallet": (
        """
        CREATE TABLE wallet_events (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('welcome', 'topup', 'charge', 'adjust')),
            credits INTEGER NOT NULL,
            run_id TEXT,
            note TEXT
        )
        """,
        """
        CREATE TABLE reservations (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            created_at TEXT NOT NULL,
            run_id TEXT NOT NULL,
            credits INTEGER NOT NULL,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL
        )
        """,
        "INSERT INTO wallet_events (created_at, kind, credits, note) "
        f"VALUES ('{{now}}', 'welcome', {WELCOME_CREDITS}, 'welcome credits')",
    ),
    "m003_batches": (
        """
        CREATE TABLE batches (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            experiment TEXT NOT NULL,
            source TEXT,
            via TEXT NOT NULL DEFAULT 'papermill',
            backend TEXT,
            model TEXT,
            jobs INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL,
            options TEXT,
            remote_id TEXT,
            remote_input_file TEXT,
            remote_output_file TEXT,
            remote_error_file TEXT,
            error TEXT
        )
        """,
    ),
    "m004_text_checks": (
        """
        CREATE TABLE text_checks (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            run_id TEXT NOT NULL,
            image_index INTEGER NOT NULL DEFAULT 0,
            text TEXT NOT NULL,
            role TEXT,
            read TEXT,
            accuracy DOUBLE PRECISION NOT NULL,
            checked_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX text_checks_run ON text_checks (run_id)",
    ),
    "m005_wallet_journal": (
        """
        CREATE TABLE wallet_journal (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL
                CHECK (kind IN ('welcome', 'topup', 'reserve', 'commit', 'release', 'refund', 'adjust')),
            credits INTEGER NOT NULL DEFAULT 0,
            held INTEGER NOT NULL DEFAULT 0,
            run_id TEXT,
            batch_id TEXT,
            reservation BIGINT,
            pid INTEGER,
            host TEXT,
            lease_until TEXT,
            note TEXT
        )
        """,
        "CREATE INDEX wallet_journal_run ON wallet_journal (run_id)",
        "CREATE INDEX wallet_journal_batch ON wallet_journal (batch_id)",
        """
        CREATE TABLE wallet_holds (
            reservation BIGINT PRIMARY KEY,
            credits INTEGER NOT NULL,
            run_id TEXT,
            batch_id TEXT,
            pid INTEGER,
            host TEXT,
            lease_until TEXT
        )
        """,
        "INSERT INTO wallet_journal (created_at, kind, credits, run_id, note) "
        "SELECT created_at, CASE kind WHEN 'charge' THEN 'commit' ELSE kind END, credits, run_id, note "
        "FROM wallet_events ORDER BY id",
        "WITH moved AS (INSERT INTO wallet_journal (created_at, kind, credits, held, run_id, pid, host, "
        "lease_until, note) SELECT created_at, 'reserve', -credits, credits, run_id, pid, host, created_at, "
        "'open when the journal began' FROM reservations ORDER BY id "
        "RETURNING id, held, run_id, pid, host, lease_until) "
        "INSERT INTO wallet_holds (reservation, credits, run_id, pid, host, lease_until) "
        "SELECT id, held, run_id, pid, host, lease_until FROM moved",
    ),
    "m006_claims": (
        """
        CREATE TABLE claims (
            fingerprint TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            created_at TEXT NOT NULL,
            lease_until TEXT NOT NULL
        )
        """,
    ),
    "m007_attempts": (
        """
        CREATE TABLE attempts (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            run_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            outcome TEXT NOT NULL,
            http_status INTEGER,
            request_id TEXT,
            possibly_billed INTEGER NOT NULL DEFAULT 0,
            usd DOUBLE PRECISION NOT NULL DEFAULT 0,
            error TEXT
        )
        """,
        "CREATE INDEX attempts_run ON attempts (run_id)",
        "ALTER TABLE runs ADD COLUMN usd_possibly_billed DOUBLE PRECISION DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN attempts INTEGER DEFAULT 0",
    ),
    "m008_owners": (
        'ALTER TABLE runs ADD COLUMN "user" TEXT',
        "ALTER TABLE runs ADD COLUMN project TEXT",
        'ALTER TABLE wallet_journal ADD COLUMN "user" TEXT',
        "ALTER TABLE wallet_journal ADD COLUMN project TEXT",
        'CREATE INDEX wallet_journal_user ON wallet_journal ("user")',
        "CREATE INDEX wallet_journal_project ON wallet_journal (project)",
        """
        CREATE TABLE spending_limits (
            scope TEXT NOT NULL CHECK (scope IN ('user', 'project')),
            name TEXT NOT NULL,
            credits INTEGER NOT NULL CHECK (credits >= 0),
            updated_at TEXT NOT NULL,
            PRIMARY KEY (scope, name)
        )
        """,
    ),
    "m009_scores": (POSTGRES_SCORES_TABLE, SCORES_INDEX),
    "m010_journal_running_sums": (
        "ALTER TABLE wallet_journal ADD COLUMN balance_after INTEGER",
        "ALTER TABLE wallet_journal ADD COLUMN held_after INTEGER",
        "UPDATE wallet_journal SET balance_after = w.balance, held_after = w.held FROM ("
        "SELECT id, sum(credits) OVER (ORDER BY id) AS balance, sum(held) OVER (ORDER BY id) AS held "
        "FROM wallet_journal) AS w WHERE w.id = wallet_journal.id",
    ),
    "m011_escrow_for_old_batches": old_batch_escrow_sql(now="{now}", greatest="GREATEST", least="LEAST"),
    "m012_old_wallet_tables_closed": (
        "CREATE FUNCTION workbench_old_wallet_tables_closed() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{OLD_TABLES_MESSAGE}'; END $$",
        "CREATE TRIGGER wallet_events_closed BEFORE INSERT ON wallet_events "
        "FOR EACH ROW EXECUTE FUNCTION workbench_old_wallet_tables_closed()",
        "CREATE TRIGGER reservations_closed BEFORE INSERT ON reservations "
        "FOR EACH ROW EXECUTE FUNCTION workbench_old_wallet_tables_closed()",
    ),
}


def is_database_url(value: str | None) -> bool:
    """True for a PostgreSQL URL (``postgresql://`` or ``postgres://``)."""
    return bool(value) and str(value).split("://", 1)[0].lower() in ("postgresql", "postgres")


def shown_url(url: str) -> str:
    """The URL as it may be printed: the password (and user) dropped, host, port and database kept."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:
        return url.split("://", 1)[0] + "://…"
    host = parts.get("host", "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{host}{port}/{parts.get('dbname', '')}"


def _first_line(exc: BaseException, url: str) -> str:
    from workbench.redaction import redact

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = redact(text.strip())
    return text.rstrip(".") + "."


class PostgresLedger(Ledger):
    """The run log in PostgreSQL at ``url``; see the module's docstring.

    Args:
        url: ``postgresql://user:password@host:port/database`` (the password may also come from
            ``PGPASSWORD`` or ``~/.pgpass``, as for any libpq client).
        pool_size: connections kept for this process's threads (a batch's workers share them).
        connect_timeout: seconds to wait for the server when opening.
        snapshot_dir: a local folder (the Workbench root) where a large log's frame is saved, as
            the SQLite ledger saves it beside its file: a new session then loads it and fetches
            only the rows recorded since (checked against the database; ignored if it differs).
    """

    PARAM = "%s"  # the money methods (workbench.ledger.money) are written with "?"

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
        snapshot_dir: str | Path | None = None,
    ) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise LedgerError(
                "A PostgreSQL run log needs psycopg 3 and psycopg_pool: pip install 'workbench[team]'."
            ) from None
        from workbench.redaction import register_secret

        self.url = url
        self.path = shown_url(url)  # type: ignore[assignment]  # for messages: "No run ... in <path>"
        self._register_password(url, register_secret)
        self._lock = threading.RLock()
        self._cache: pd.DataFrame | None = None
        self._cache_seq = 0
        self._snapshot_dir = Path(snapshot_dir) if snapshot_dir is not None else None
        self.snapshot_path: Path | None = None
        self._saving: threading.Thread | None = None
        self._accuracy: pd.Series | None = None
        self._accuracy_key: tuple[Any, ...] | None = None
        try:  # one plain connection first: its error says why (refused, no such database, password)
            psycopg.connect(url, connect_timeout=max(1, int(connect_timeout))).close()
        except Exception as exc:
            raise LedgerError(f"The run log {self.path} cannot be opened: {_first_line(exc, url)}") from None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True, "connect_timeout": max(1, int(connect_timeout))},
            timeout=max(connect_timeout, 30.0),
            open=True,
            name="workbench-ledger",
        )
        try:
            self.migrate()
            if self._snapshot_dir is not None:
                self.snapshot_path = self._snapshot_dir / f"ledger-{self._identity()}-frame.npz"
        except LedgerError:
            self._pool.close()
            raise
        except Exception as exc:
            self._pool.close()
            raise LedgerError(f"The run log {self.path} cannot be opened: {_first_line(exc, url)}") from None

    @staticmethod
    def _register_password(url: str, register: Any) -> None:
        from psycopg.conninfo import conninfo_to_dict

        try:
            register(conninfo_to_dict(url).get("password"))
        except Exception:
            pass

    # -- schema and transactions ----------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied, each in its own transaction; return their names."""
        missing = [name for name, _ in MIGRATIONS if name not in PG_MIGRATIONS]
        if missing:
            raise LedgerError(f"The PostgreSQL run log has no migration {missing[0]!r} yet.")
        applied_now = []
        with self.transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS _migrations ("
                "seq BIGINT GENERATED ALWAYS AS IDENTITY, name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
        for name, _ in MIGRATIONS:
            if name in done:
                continue
            with self.transaction() as db:
                if db.execute("SELECT 1 FROM _migrations WHERE name = %s", (name,)).fetchone():
                    continue  # another machine applied it while we waited for the lock
                for statement in PG_MIGRATIONS[name]:
                    db.execute(statement.replace("{now}", utc_now()))
                db.execute("INSERT INTO _migrations (name, applied_at) VALUES (%s, %s)", (name, utc_now()))
                applied_now.append(name)
        return applied_now

    def applied_migrations(self) -> list[str]:
        return [row[0] for row in self._fetch("SELECT name FROM _migrations ORDER BY seq")]

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction holding the run log's write lock: it commits whole or not at all."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                yield conn
        except LedgerError:
            raise
        except _psycopg_errors() as exc:
            raise LedgerError(f"The run log {self.path} failed: {_first_line(exc, self.url)}") from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Rows of a read query (``%s`` placeholders)."""
        return self._fetch(sql, params)

    def close(self) -> None:
        if self._saving is not None:
            self._saving.join()
        self._pool.close()

    # -- runs ---------------------------------------------------------------------------------
    def record(self, run: Mapping[str, Any], *, db: Any = None) -> None:
        row = {name: run.get(name) for name in RUN_COLUMNS}
        if row["status"] not in STATUSES:
            raise LedgerError(f"Unknown run status {row['status']!r}.")
        row["created_at"] = row["created_at"] or utc_now()
        images = row["images"] or ()
        row["images"] = images if isinstance(images, str) else "\n".join(str(p) for p in images)
        for name in ("credits_estimated", "credits", "usd_estimated", "usd", "variant"):
            row[name] = row[name] or 0
        if db is not None:
            db.execute(_INSERT_RUN, list(row.values()))
            return
        # On its own: one statement, one round trip, that takes the write lock (so seq follows
        # commit order) and inserts; autocommit makes it its own transaction.
        try:
            with self._pool.connection() as conn:
                conn.execute(_INSERT_RUN_LOCKED, [_WRITE_LOCK, *row.values()])
        except _psycopg_errors() as exc:
            raise LedgerError(f"The run log {self.path} failed: {_first_line(exc, self.url)}") from None

    def get(self, run_id: str) -> dict[str, Any] | None:
        rows = self._fetch(f"SELECT {_RUN_LIST} FROM runs WHERE id = %s", (run_id,))
        return _row_dict(rows[0]) if rows else None

    def find_ok(self, fingerprint: str) -> dict[str, Any] | None:
        rows = self._fetch(
            f"SELECT {_RUN_LIST} FROM runs WHERE fingerprint = %s AND status = 'ok' "
            "ORDER BY created_at DESC LIMIT 1",
            (fingerprint,),
        )
        return _row_dict(rows[0]) if rows else None

    def count(self) -> int:
        return int(self._fetch("SELECT count(*) FROM runs")[0][0])

    def runs(
        self,
        *,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        limit: int | None = None,
        **filters: Any,
    ) -> pd.DataFrame:
        """Runs as the same typed DataFrame as ``SQLiteLedger.runs`` (same filters).

        The ledger keeps the frame it has read and fetches only the rows recorded since (runs
        get their ``seq`` under the write lock, in commit order, so none is skipped).
        """
        from workbench.ledger.sqlite import _FILTERS, _utc

        for name in filters:
            if name not in _FILTERS:
                raise LedgerError(
                    f"runs() cannot filter on {name!r}: use one of {', '.join(sorted(_FILTERS))}."
                )
        filters = {k: v for k, v in filters.items() if v is not None}
        frame = self._cached_frame()
        mask = np.ones(len(frame), dtype=bool)
        for name, value in filters.items():
            values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
            mask &= frame[name].isin(values).to_numpy(dtype=bool)
        if since is not None:
            mask &= (frame["created_at"] >= _utc(since)).to_numpy(dtype=bool)
        if until is not None:
            mask &= (frame["created_at"] < _utc(until)).to_numpy(dtype=bool)
        frame = frame[mask] if not mask.all() else frame
        if limit is not None:
            frame = frame.tail(int(limit))
        frame = frame.reset_index(drop=True)
        frame["text_accuracy"] = self._text_accuracy(frame)
        frame = self.add_score_columns(frame)  # one column per check (workbench.ledger.scores)
        return frame

    def mark(self) -> int:
        return int(self._fetch("SELECT coalesce(max(seq), 0) FROM runs")[0][0])

    # -- text checks --------------------------------------------------------------------------
    def record_text_checks(
        self, run_id: str, checks: Sequence[Mapping[str, Any]], *, image_index: int = 0
    ) -> None:
        now = utc_now()
        with self.transaction() as db, db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO text_checks (run_id, image_index, text, role, read, accuracy, checked_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (run_id, image_index, c["text"], c.get("role"), c.get("read"), float(c["accuracy"]), now)
                    for c in checks
                ],
            )

    def text_checks(self, run_id: str | None = None) -> pd.DataFrame:
        sql = "SELECT run_id, image_index, text, role, read, accuracy, checked_at FROM text_checks"
        params: tuple[Any, ...] = ()
        if run_id is not None:
            sql, params = sql + " WHERE run_id = %s", (run_id,)
        rows = self._fetch(sql + " ORDER BY id", params)
        columns = ["run_id", "image_index", "text", "role", "read", "accuracy", "checked_at"]
        frame = pd.DataFrame(rows, columns=columns)
        frame["accuracy"] = frame["accuracy"].astype("float64")
        frame["checked_at"] = pd.to_datetime(frame["checked_at"], utc=True, format="ISO8601")
        return frame

    def _text_accuracy(self, frame: pd.DataFrame) -> np.ndarray:
        key = tuple(self._fetch("SELECT max(id), count(*) FROM text_checks")[0])
        if key != self._accuracy_key:
            rows = self._fetch(
                "SELECT run_id, avg(accuracy) FROM text_checks t WHERE checked_at = "
                "(SELECT max(checked_at) FROM text_checks u WHERE u.run_id = t.run_id) GROUP BY run_id"
            )
            self._accuracy = pd.Series(dict(rows), dtype="float64")
            self._accuracy_key = key
        scores = self._accuracy
        if scores is None or scores.empty or frame.empty:
            return np.full(len(frame), np.nan)
        own = frame["id"].map(scores)
        inherited = frame["cached_from"].map(scores)
        return own.fillna(inherited).to_numpy(dtype="float64")

    # -- the wallet ---------------------------------------------------------------------------

    # -- batches ------------------------------------------------------------------------------
    def batch_save(self, batch: Mapping[str, Any]) -> bool:
        unknown = set(batch) - set(_BATCH_COLUMNS)
        if unknown:
            raise LedgerError(f"A batch has no column {sorted(unknown)[0]!r}.")
        now = utc_now()
        row = {"created_at": now, "updated_at": now, **batch}
        if isinstance(row.get("options"), Mapping):
            row["options"] = json.dumps(dict(row["options"]), default=str)
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM batches WHERE id = %s", (row["id"],)).fetchone():
                db.execute(
                    "UPDATE batches SET status = %s, updated_at = %s WHERE id = %s",
                    (row["status"], now, row["id"]),
                )
                return False
            db.execute(
                f"INSERT INTO batches ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
                list(row.values()),
            )
            return True

    def batch_update(self, batch_id: str, **values: Any) -> None:
        unknown = set(values) - set(_BATCH_COLUMNS)
        if unknown or "id" in values:
            raise LedgerError(f"A batch's {sorted(unknown or {'id'})[0]!r} cannot be set.")
        columns = {**values, "updated_at": utc_now()}
        sql = ", ".join(f"{name} = %s" for name in columns)
        with self.transaction() as db:
            db.execute(f"UPDATE batches SET {sql} WHERE id = %s", (*columns.values(), batch_id))

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        rows = self._fetch_dicts("SELECT * FROM batches WHERE id = %s", (batch_id,))
        return rows[0] if rows else None

    def batches(self) -> list[dict[str, Any]]:
        return self._fetch_dicts("SELECT * FROM batches ORDER BY created_at")

    def batch_jobs(
        self, batch_id: str, *, statuses: Sequence[str] | None = None, since: int | None = None
    ) -> set[str]:
        sql = "SELECT DISTINCT params::jsonb ->> 'job' FROM runs WHERE batch_id = %s"
        params: list[Any] = [batch_id]
        if statuses is not None:
            sql += " AND status = ANY(%s)"
            params.append(list(statuses))
        if since is not None:
            sql += " AND seq > %s"
            params.append(since)
        return {row[0] for row in self._fetch(sql, params) if row[0]}

    def batch_job_statuses(self, batch_id: str) -> list[tuple[str | None, str]]:
        return [
            tuple(row)  # type: ignore[misc]
            for row in self._fetch(
                "SELECT params::jsonb ->> 'job', status FROM runs WHERE batch_id = %s ORDER BY seq",
                (batch_id,),
            )
        ]

    def batch_spend(self, batch_id: str, *, since: int | None = None) -> tuple[int, float]:
        credits, usd = self._fetch(
            "SELECT coalesce(sum(credits), 0), coalesce(sum(usd), 0) FROM runs "
            "WHERE batch_id = %s AND seq > %s",
            (batch_id, -1 if since is None else since),
        )[0]
        return int(credits), float(usd)

    # -- helpers ------------------------------------------------------------------------------
    @contextmanager
    def _joined(self, db: Any) -> Iterator[Any]:
        if db is not None:
            yield db
        else:
            with self.transaction() as tx:
                yield tx

    def _scalar(self, sql: str, params: Sequence[Any], db: Any) -> Any:
        if db is not None:
            return db.execute(sql, params).fetchone()[0]
        return self._fetch(sql, params)[0][0]

    def _fetch(self, sql: str, params: Sequence[Any] = (), *, binary: bool = False) -> list[tuple]:
        try:
            with self._pool.connection() as conn, conn.cursor(binary=binary) as cursor:
                return cursor.execute(sql, params).fetchall()
        except _psycopg_errors() as exc:
            raise LedgerError(f"The run log {self.path} failed: {_first_line(exc, self.url)}") from None

    def _fetch_dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        from psycopg.rows import dict_row

        with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
            return list(cursor.execute(sql, params).fetchall())

    def _cached_frame(self) -> pd.DataFrame:
        from workbench.ledger.sqlite import SNAPSHOT_MIN_ROWS, _concat, _frame, _no_gc

        with self._lock:
            if self._cache is None:
                self._load_snapshot()
            with _no_gc():
                rows = self._fetch(
                    f"SELECT seq, {_RUN_LIST} FROM runs WHERE seq > %s ORDER BY seq",
                    (self._cache_seq,),
                    binary=True,  # binary cells parse faster: 100k rows in about half the time
                )
                new = _frame(rows) if rows or self._cache is None else None
            if self._cache is None:
                self._cache = new
            elif new is not None:
                self._cache = _concat(self._cache, new)
            if rows:
                self._cache_seq = int(rows[-1][0])
            if len(rows) >= SNAPSHOT_MIN_ROWS:
                self._save_snapshot()
            return self._cache  # type: ignore[return-value]

    def _identity(self) -> str:
        """This database's name for local files: server, database and when it was first migrated."""
        import hashlib

        server, port, database, born = self._fetch(
            "SELECT coalesce(host(inet_server_addr()), 'local'), coalesce(inet_server_port(), 0), "
            "current_database(), (SELECT applied_at FROM _migrations ORDER BY seq LIMIT 1)"
        )[0]
        return hashlib.sha256(f"{server}:{port}/{database}@{born}".encode()).hexdigest()[:16]

    def _snapshot_meta(self) -> dict[str, Any]:
        return {"run_columns": RUN_COLUMNS, "pandas": pd.__version__, "database": self.path}

    def _load_snapshot(self) -> None:
        """Start the cache from the saved frame, if it is this database's and matches its rows."""
        from workbench.ledger.snapshot import load_frame
        from workbench.ledger.sqlite import _no_gc

        if self.snapshot_path is None or not self.snapshot_path.exists():
            return
        with _no_gc():
            loaded = load_frame(self.snapshot_path)
        if loaded is None:
            return
        frame, header = loaded
        if any(header.get(k) != v for k, v in self._snapshot_meta().items()):
            return
        last_seq, last_id = header.get("last_seq"), header.get("last_id")
        check = self._fetch(
            "SELECT (SELECT id FROM runs WHERE seq = %s), (SELECT count(*) FROM runs WHERE seq <= %s)",
            (last_seq, last_seq),
        )[0]
        if tuple(check) != (last_id, len(frame)) or (len(frame) and frame["id"].iat[-1] != last_id):
            return
        self._cache, self._cache_seq = frame, int(last_seq)

    def _save_snapshot(self) -> None:
        from workbench.ledger.snapshot import save_frame

        frame, path = self._cache, self.snapshot_path
        if path is None or frame is None or frame.empty:
            return
        meta = {**self._snapshot_meta(), "last_seq": int(self._cache_seq), "last_id": frame["id"].iat[-1]}

        def save() -> None:
            with contextlib.suppress(OSError):
                path.parent.mkdir(parents=True, exist_ok=True)
                save_frame(path, frame, meta)  # written whole, then renamed: never half a file

        # In the background: the caller has its frame now (the cached frame is never changed in
        # place, appends make a new one), and the process waits for the save before it exits.
        self._saving = threading.Thread(target=save, name="workbench-frame-snapshot")
        self._saving.start()


def quoted(names: list[str] | tuple[str, ...]) -> str:
    """Column names for PostgreSQL, quoted: ``user`` is a reserved word there."""
    return ", ".join(f'"{name}"' for name in names)


_RUN_LIST = quoted(RUN_COLUMNS)


def _cast(name: str) -> str:
    kind = next(f.metadata["kind"] for f in dataclasses.fields(RunRecord) if f.name == name)
    return {"int": "::bigint", "float": "::double precision"}.get(kind, "::text")


_INSERT_RUN = f"INSERT INTO runs ({_RUN_LIST}) VALUES ({', '.join(['%s'] * len(RUN_COLUMNS))})"
_INSERT_RUN_LOCKED = (
    "WITH write_lock AS (SELECT pg_advisory_xact_lock(%s)) "
    f"INSERT INTO runs ({_RUN_LIST}) "
    f"SELECT {', '.join('%s' + _cast(name) for name in RUN_COLUMNS)} FROM write_lock"
)


def _psycopg_errors() -> tuple[type[BaseException], ...]:
    import psycopg
    from psycopg_pool import PoolTimeout

    return (psycopg.Error, PoolTimeout)


def _row_dict(row: Sequence[Any]) -> dict[str, Any]:
    data = dict(zip(RUN_COLUMNS, row, strict=True))
    data["images"] = data["images"].split("\n") if data.get("images") else []
    return data
