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

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import LedgerError
from workbench.ledger.base import RUN_COLUMNS, Ledger, RunRecord, utc_now
from workbench.ledger.common import CommonLedger, check_filters, quoted
from workbench.ledger.frames import FEW_ROWS, RUN_KINDS, Coded, Fetched, FrameCache, Typed, wait_for_save
from workbench.ledger.migrations import (
    CREDIT_COLUMNS,
    MIGRATIONS,
    OLD_TABLES_MESSAGE,
    WELCOME_CREDITS,
    old_batch_escrow_sql,
)
from workbench.ledger.scores import INDEX as SCORES_INDEX
from workbench.ledger.scores import POSTGRES_TABLE as POSTGRES_SCORES_TABLE

__all__ = ["PG_MIGRATIONS", "PostgresLedger", "is_database_url", "quoted", "shown_url"]

# One lock for every write transaction of the run log (an arbitrary 64-bit key: "wbledger").
_WRITE_LOCK = 0x7762_6C65_6467_6572

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
    "m013_attempts_pending_row": ("ALTER TABLE attempts ADD COLUMN pending_row TEXT",),
    # Credits of two decimals, exact: numeric, not double precision, so that sums of the journal
    # and the holds carry no float noise and a balance compares with a price exactly (Python reads
    # them as float, see _numeric_as_float). 14 digits hold MAX_CREDITS (1e9) with room.
    "m014_fractional_credits": tuple(
        f"ALTER TABLE {table} " + ", ".join(f"ALTER COLUMN {column} TYPE numeric(14,2)" for column in columns)
        for table, columns in CREDIT_COLUMNS.items()
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


# The columns as runs() reads them: a frame's float columns as double precision (a numeric column
# read through psycopg's Decimal, then float, would cost microseconds a cell in Python).
_RUN_READ = ", ".join(f'"{n}"::float8 AS "{n}"' if RUN_KINDS[n] == "float" else f'"{n}"' for n in RUN_COLUMNS)


class PostgresLedger(FrameCache, CommonLedger, Ledger):
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

    PARAM = "%s"  # the shared SQL (workbench.ledger.money, .common, .scores) is written with "?"
    ORDER_COLUMN = "seq"  # runs are numbered in commit order (under the write lock)
    SNAPSHOT_KEY = "last_seq"
    RUN_READ = _RUN_READ
    FIRST_ORDER = 0
    JOB_SQL = "params::jsonb ->> 'job'"

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
        self._snapshot_dir = Path(snapshot_dir) if snapshot_dir is not None else None
        self.snapshot_path: Path | None = None
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
            configure=_numeric_as_float,
            timeout=max(connect_timeout, 30.0),
            open=True,
            name="workbench-ledger",
        )
        try:
            self.migrate()
            if self._snapshot_dir is not None:
                self.snapshot_path = self._snapshot_dir / f"ledger-{self._identity()}-frame.npz"
                wait_for_save(self.snapshot_path)  # this process may be saving its frame still
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
        """Close the pool (after this log's frame, if being saved, is written)."""
        self._wait_for_saves()
        self._pool.close()

    # -- runs (record, get, find_ok, count, mark: workbench.ledger.common) -----------------------
    def _record_alone(self, values: list[Any]) -> None:
        # One statement, one round trip, that takes the write lock (so seq follows commit order)
        # and inserts; autocommit makes it its own transaction.
        try:
            with self._pool.connection() as conn:
                conn.execute(_INSERT_RUN_LOCKED, [_WRITE_LOCK, *values])
        except _psycopg_errors() as exc:
            raise LedgerError(f"The run log {self.path} failed: {_first_line(exc, self.url)}") from None

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
        frame = self._runs_frame(check_filters(filters), since, until, limit)
        return self._handed_out(self._with_scores(frame))  # text accuracy, one column per check

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        return self._fetch(self._sql(sql), params, binary=True)

    # -- text checks and batches: workbench.ledger.common; helpers --------------------------
    def _fetch(self, sql: str, params: Sequence[Any] = (), *, binary: bool = False) -> list[tuple]:
        try:
            with self._pool.connection() as conn, conn.cursor(binary=binary) as cursor:
                return cursor.execute(sql, params).fetchall()
        except _psycopg_errors() as exc:
            raise LedgerError(f"The run log {self.path} failed: {_first_line(exc, self.url)}") from None

    def _rows_after(self, last: int) -> list[tuple] | Fetched:
        """The rows recorded after seq ``last``, for ``FrameCache``: a few as rows (seq first),
        many column by column (``_columns_after``; counted with their texts' bytes first, to
        know whether they fit one chunk)."""
        count, upto, size = self._fetch(_COUNT_SQL, (last,))[0]
        if int(count) > FEW_ROWS:
            whole = int(count) <= _CHUNK and int(size) <= _CHUNK_BYTES
            fetched = self._columns_after(
                last, int(upto), whole=whole, known=self._first_texts(last, int(upto))
            )
            if fetched is not None:
                return fetched
        return self._fetch(
            f"SELECT seq, {_RUN_READ} FROM runs WHERE seq > %s ORDER BY seq",
            (last,),
            binary=True,  # binary cells parse faster: 100k rows in about half the time
        )

    def _first_texts(self, last: int, upto: int) -> dict[str, list[str]]:
        """The texts of each category column in the first rows after seq ``last`` (up to
        ``upto``), sorted, for the columns that hold at most ``_FEW_TEXTS`` of them there (see
        ``_group_head``)."""
        first = self._fetch(
            f"SELECT {quoted(_CATEGORIES)} FROM runs WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s",
            (last, upto, FEW_ROWS),
        )
        known = {}
        for name, values in zip(_CATEGORIES, zip(*first, strict=True), strict=True):
            texts = {v for v in values if v is not None}
            if 0 < len(texts) <= _FEW_TEXTS and all(type(v) is str for v in texts):
                known[name] = sorted(texts)
        return known

    def _columns_after(
        self, last: int, upto: int, *, whole: bool = False, known: dict[str, list[str]] | None = None
    ) -> Fetched | None:
        """The rows after seq ``last`` up to ``upto`` as one aggregate per column, made by the
        server and split here at C speed: a few cells instead of one per row and column. The
        text and the number columns are two queries on two connections at once (the server works
        on both cores while this process splits the texts). Every run up to ``upto`` has
        committed (seqs are taken under the write lock), so both see the same rows. Each chunk
        holds at most ``_CHUNK`` rows and ``_CHUNK_BYTES`` of text (a PostgreSQL value stays
        under 1 GB); one the server still cannot build (out of memory, a program limit) is asked
        again at half the size. ``whole``: the caller counted the rows and their texts' bytes, and
        they fit one chunk: then each group is a plain aggregate over them, without the window
        functions that cap a chunk (they were half of the server's time). None when a text holds
        the separator, the rows came out of order or a chunk of one row is too large (then: row
        by row). ``known``: texts of category columns (``_first_texts``), fetched as codes."""
        from concurrent.futures import ThreadPoolExecutor

        rows, size = _CHUNK, _CHUNK_BYTES
        known = known or {}
        groups = [(names, _known_params(names, known)) for names in _GROUPS]

        def fetch(group: tuple[Sequence[str], list[Any]]) -> Sequence[Any]:
            names, texts = group
            return self._fetch_aggregate(_group_sql(names, known), (*texts, last, upto, rows, size))

        def fetch_whole(group: tuple[Sequence[str], list[Any]]) -> Sequence[Any]:
            names, texts = group
            return self._fetch_aggregate(_whole_sql(names, known), (*texts, last, upto))

        parts: list[Fetched] = []
        with ThreadPoolExecutor(max_workers=len(_GROUPS), thread_name_prefix="workbench-runs") as pool:
            if whole:
                try:
                    part = _unpacked(list(pool.map(fetch_whole, groups)), known)
                except _TooLarge:  # (then in chunks, as below)
                    part = Fetched({}, 0, last)
                if part is None:
                    return None
                if part.n:
                    return part
            while last < upto:
                try:
                    part = _unpacked(list(pool.map(fetch, groups)), known)
                except _TooLarge:
                    if rows == 1:
                        return None
                    rows, size = max(1, rows // 2), max(1, size // 2)
                    continue
                if part is None:
                    return None
                if not part.n:
                    break
                parts.append(part)
                last = part.last
        if len(parts) == 1:
            return parts[0]
        by_name: dict[str, Any] = {}
        for name in RUN_COLUMNS:
            columns = [p.by_name[name] for p in parts]
            if isinstance(columns[0], Typed):
                data = np.concatenate([c.data for c in columns])
                by_name[name] = Typed(data, np.concatenate([c.mask for c in columns]))
            elif all(isinstance(c, Coded) for c in columns):
                by_name[name] = Coded(np.concatenate([c.values for c in columns]), known[name])
            elif any(isinstance(c, Coded) for c in columns):
                by_name[name] = [v for c in columns for v in (c.decoded() if isinstance(c, Coded) else c)]
            else:
                by_name[name] = [value for column in columns for value in column]
        return Fetched(by_name, sum(p.n for p in parts), last)

    def _fetch_aggregate(self, sql: str, params: Sequence[Any]) -> Sequence[Any]:
        """The one row of a ``_group_sql`` (or ``_whole_sql``) query; ``_TooLarge`` when the
        server cannot build it. The rows are read in seq order from seq's index rather than
        sorted (``enable_sort`` off for the query: a sort of 100,000 rows spilled to disk, a
        fifth of the server's time; the order is checked on the seqs all the same)."""
        import psycopg

        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor(binary=True) as cursor:
                cursor.execute("SET LOCAL enable_sort = off")
                return cursor.execute(sql, params).fetchall()[0]
        except (psycopg.errors.ProgramLimitExceeded, psycopg.errors.OutOfMemory):
            raise _TooLarge from None
        except _psycopg_errors() as exc:
            raise LedgerError(f"The run log {self.path} failed: {_first_line(exc, self.url)}") from None

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


_RUN_LIST = quoted(RUN_COLUMNS)
# Rows and bytes of text per chunk of _columns_after: a text aggregate, and the row of them the
# server sends, must stay below PostgreSQL's 1 GB limit of a value (and of a message).
_CHUNK = 200_000
_CHUNK_BYTES = 256 * 2**20


class _TooLarge(Exception):
    """The server could not build a chunk's aggregates (SQLSTATE 54000 or 53200)."""


_TEXT_SEP = "\x01"


def _is_number(name: str) -> bool:
    return RUN_KINDS[name] in ("int", "float")


def _cell(name: str) -> str:
    """A number cell as 8 bytes (big-endian; 0 where NULL)."""
    if RUN_KINDS[name] == "int":
        return f'int8send(coalesce("{name}", 0)::bigint)'
    return f'float8send(coalesce("{name}", 0)::float8)'


# NULL marks: one bit a column, 63 columns to a bigint word of a row's head (see _group_head).
_WORD_BITS = 63


# The columns in two groups, each one query: texts (split here) and numbers (read as arrays).
_GROUPS = (
    tuple(n for n in RUN_COLUMNS if RUN_KINDS[n] not in ("int", "float")),
    tuple(n for n in RUN_COLUMNS if RUN_KINDS[n] in ("int", "float")),
)


def _group_head(names: Sequence[str], known: dict[str, list[str]]) -> str:
    """The select list of a group's row: the count; one bytea of every row's head, in seq order
    (``_head_dtype``: its seq, its NULL marks as bits of bigint words, its number cells, then the
    codes of its ``known`` category texts, 1 + their index, 0 for another text or NULL, in
    ``_CODE_BITS`` of bigint words); then one aggregate per text column, its texts joined by
    ``_TEXT_SEP`` (a coded column's: only the texts not known). (One bytea of whole heads, not
    one aggregate per number column and a '0'/'1' text of NULL marks: the server built those in
    twice the time.)"""
    words = [
        " | ".join(f"(({quoted([n])} IS NULL)::int::bigint << {bit})" for bit, n in enumerate(chunk))
        for chunk in _words(names)
    ]
    codes = [
        " | ".join(f'("{n}:code"::bigint << {_CODE_BITS * i})' for i, n in enumerate(chunk))
        for chunk in _code_words(names, known)
    ]
    head = ["int8send(seq)", *(f"int8send({word})" for word in words), *map(_cell, filter(_is_number, names))]
    head += [f"int8send({word})" for word in codes]
    texts = [
        f'string_agg(CASE WHEN "{n}:code" = 0 THEN "{n}" END, chr(1))'
        if n in known
        else f"string_agg(coalesce({quoted([n])}::text, ''), chr(1))"
        for n in names
        if not _is_number(n)
    ]
    heads = "string_agg(" + " || ".join(head) + ", ''::bytea)"
    return f"SELECT {', '.join(['count(*)', heads, *texts])} "


def _selected(names: Sequence[str], known: dict[str, list[str]]) -> str:
    """The columns of a group's rows, with the code of each row's known category text (a CASE
    of the texts, each a parameter, first in the query's parameters: ``_known_params``)."""
    codes = []
    for n in (n for n in names if n in known):
        whens = " ".join(f"WHEN %s THEN {code}" for code in range(1, len(known[n]) + 1))
        codes.append(f'CASE "{n}" {whens} ELSE 0 END AS "{n}:code"')
    return ", ".join(["seq", quoted(names), *codes])


def _known_params(names: Sequence[str], known: dict[str, list[str]]) -> list[str]:
    return [text for n in names if n in known for text in known[n]]


def _words(names: Sequence[str]) -> list[Sequence[str]]:
    return [names[i : i + _WORD_BITS] for i in range(0, len(names), _WORD_BITS)]


def _code_words(names: Sequence[str], known: dict[str, list[str]]) -> list[list[str]]:
    coded = [n for n in names if n in known]
    per_word = _WORD_BITS // _CODE_BITS
    return [coded[i : i + per_word] for i in range(0, len(coded), per_word)]


def _head_dtype(names: Sequence[str], known: dict[str, list[str]]) -> np.dtype:
    """A row's head in a group's bytea (``_group_head``)."""
    fields = [("seq", ">i8"), *((f"nulls{i}", ">i8") for i in range(len(_words(names))))]
    fields += [(n, ">i8" if RUN_KINDS[n] == "int" else ">f8") for n in names if _is_number(n)]
    fields += [(f"codes{i}", ">i8") for i in range(len(_code_words(names, known)))]
    return np.dtype(fields)


def _whole_sql(names: Sequence[str], known: dict[str, list[str]]) -> str:
    """``_group_sql`` without the cap: every row after seq ``%s`` up to ``%s``."""
    return (
        f"{_group_head(names, known)}FROM (SELECT {_selected(names, known)} FROM runs "
        "WHERE seq > %s AND seq <= %s ORDER BY seq) AS r"
    )


def _group_sql(names: Sequence[str], known: dict[str, list[str]]) -> str:
    """One row (``_group_head``) over the rows in seq order (a sorted subquery feeds an aggregate
    in its order; checked on the seqs). The rows: after seq ``%s`` up to ``%s``, at most ``%s``
    of them, while their texts (every group counts the same: the text group's bytes) add up to
    at most ``%s`` bytes, but always the first one."""
    return (
        f"{_group_head(names, known)}FROM (SELECT *, "
        "sum(bytes) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) AS upto_here, "
        "row_number() OVER (ORDER BY seq) AS k "
        f"FROM (SELECT {_selected(names, known)}, {_TEXT_BYTES} AS bytes FROM runs "
        "WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s) AS chunk) AS r "
        "WHERE upto_here <= %s OR k = 1"
    )


# A row's share of a chunk: its texts' bytes, their separators and NULL marks.
_TEXT_BYTES = " + ".join(
    [f"octet_length(coalesce({quoted([n])}::text, ''))" for n in _GROUPS[0]] + [str(2 * len(RUN_COLUMNS))]
)
_COUNT_SQL = (
    f"SELECT count(*), coalesce(max(seq), 0), coalesce(sum({_TEXT_BYTES}), 0) FROM runs WHERE seq > %s"
)
# A category column is fetched as codes when its first rows hold at most this many texts; a
# code (0: another text or NULL, else 1 + the text's index) takes _CODE_BITS of a bigint.
_FEW_TEXTS = 32
_CODE_BITS = 6
assert _FEW_TEXTS < 2**_CODE_BITS, "a code (1 + a text's index) must fit its bits"
_CATEGORIES = tuple(n for n in RUN_COLUMNS if RUN_KINDS[n] == "category")


def _unpacked(rows: Sequence[Sequence[Any]], known: dict[str, list[str]] | None = None) -> Fetched | None:
    """The rows of the groups' queries (``_group_sql`` or ``_whole_sql``, with ``known``) as
    columns; None when a text holds the separator, the seqs are not in order or the groups saw
    other rows."""
    known = known or {}
    count = int(rows[0][0])
    if any(int(row[0]) != count for row in rows[1:]):
        return None
    if not count:
        return Fetched({}, 0, 0)
    heads = [
        np.frombuffer(row[1], dtype=_head_dtype(names, known))
        for names, row in zip(_GROUPS, rows, strict=True)
    ]
    seqs = heads[0]["seq"].astype(np.int64)
    if any(len(head) != count or not np.array_equal(head["seq"], seqs) for head in heads):
        return None
    if count > 1 and not bool((np.diff(seqs) > 0).all()):
        return None
    by_name: dict[str, Any] = {}
    for names, head, row in zip(_GROUPS, heads, rows, strict=True):
        texts = iter(row[2:])
        codes = {
            n: (head[f"codes{w}"] >> (_CODE_BITS * i)) & (2**_CODE_BITS - 1)
            for w, chunk in enumerate(_code_words(names, known))
            for i, n in enumerate(chunk)
        }
        for j, name in enumerate(names):
            word, bit = divmod(j, _WORD_BITS)
            missing = (head[f"nulls{word}"] >> bit) & 1 == 1
            if _is_number(name):
                by_name[name] = Typed(
                    head[name].astype(np.int64 if RUN_KINDS[name] == "int" else np.float64), missing
                )
                continue
            if name in known:
                coded = _decoded(codes[name], missing, next(texts), known[name])
                if coded is None:
                    return None
                by_name[name] = coded
                continue
            values: list[Any] = next(texts).split(_TEXT_SEP)
            if len(values) != count:
                return None
            if missing.all():  # (a column never written: no loop over its cells)
                values = [None] * count
            elif missing.any():
                cells = np.fromiter(values, dtype=object, count=count)
                cells[missing] = None
                values = cells.tolist()
            by_name[name] = values
    return Fetched({name: by_name[name] for name in RUN_COLUMNS}, count, int(seqs[-1]))


def _decoded(codes: np.ndarray, missing: np.ndarray, others: str | None, known: list[str]) -> Any:
    """A coded category column (``_group_head``): ``Coded`` when every text is known; else its
    values, the texts not known (``others``, in order) where they are; None when those do not
    add up (one holds the separator)."""
    index = codes.astype(np.intp) - 1  # (-1: NULL or another text)
    other = (index < 0) & ~missing
    if not other.any():
        return Coded(index, known)
    texts = [] if others is None else others.split(_TEXT_SEP)
    if len(texts) != int(other.sum()):
        return None
    values: list[Any] = Coded(index, known).decoded()
    for i, text in zip(np.flatnonzero(other).tolist(), texts, strict=True):
        values[i] = text
    return values


def _cast(name: str) -> str:
    kind = next(f.metadata["kind"] for f in dataclasses.fields(RunRecord) if f.name == name)
    return {"int": "::bigint", "float": "::double precision"}.get(kind, "::text")


_INSERT_RUN_LOCKED = (
    "WITH write_lock AS (SELECT pg_advisory_xact_lock(%s)) "
    f"INSERT INTO runs ({_RUN_LIST}) "
    f"SELECT {', '.join('%s' + _cast(name) for name in RUN_COLUMNS)} FROM write_lock"
)


_FLOAT_LOADERS: tuple[type, type] | None = None


def _numeric_as_float(conn: Any) -> None:
    """Read ``numeric`` (the credit columns, m014) as float, as SQLite's ledger gives them: psycopg's
    default, ``Decimal``, would raise TypeError the first time a balance meets a float price."""
    global _FLOAT_LOADERS
    if _FLOAT_LOADERS is None:
        from psycopg.types.numeric import FloatLoader, NumericBinaryLoader

        class FloatBinaryLoader(NumericBinaryLoader):
            def load(self, data: Any) -> float:  # type: ignore[override]
                return float(super().load(data))

        _FLOAT_LOADERS = (FloatLoader, FloatBinaryLoader)
    for loader in _FLOAT_LOADERS:
        conn.adapters.register_loader("numeric", loader)


def _psycopg_errors() -> tuple[type[BaseException], ...]:
    import psycopg
    from psycopg_pool import PoolTimeout

    return (psycopg.Error, PoolTimeout)
