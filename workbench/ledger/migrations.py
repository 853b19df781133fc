"""The run log's schema, as append-only, named migrations.

Each migration is a function registered in order; the names applied are kept in ``_migrations``.
Never edit or reorder one that has shipped: append a new one. The ``runs`` table's columns are
``RunRecord``'s fields (a test checks the two agree).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from workbench.ledger.base import utc_now

__all__ = [
    "CREDIT_COLUMNS",
    "MIGRATIONS",
    "OLD_BATCH_CREDITS_PER_JOB",
    "OLD_TABLES_MESSAGE",
    "WELCOME_CREDITS",
    "migration",
]

WELCOME_CREDITS = 10

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register a migration; never edit or reorder one that has shipped, append a new one."""
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_runs(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE runs (
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
            seed INTEGER,
            variant INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL CHECK (status IN ('ok', 'cached', 'blocked', 'failed')),
            credits_estimated INTEGER NOT NULL DEFAULT 0,
            credits INTEGER NOT NULL DEFAULT 0,
            usd_estimated REAL NOT NULL DEFAULT 0,
            usd REAL NOT NULL DEFAULT 0,
            tokens_in INTEGER,
            tokens_out INTEGER,
            usage TEXT,
            latency_ms REAL,
            fingerprint TEXT,
            images TEXT NOT NULL DEFAULT '',
            cached_from TEXT,
            error TEXT
        )
        """
    )
    db.execute("CREATE INDEX runs_fingerprint ON runs (fingerprint, status)")
    db.execute("CREATE INDEX runs_batch ON runs (batch_id)")
    db.execute("CREATE INDEX runs_created ON runs (created_at)")


@migration
def m002_wallet(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE wallet_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('welcome', 'topup', 'charge', 'adjust')),
            credits INTEGER NOT NULL,
            run_id TEXT,
            note TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE reservations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            run_id TEXT NOT NULL,
            credits INTEGER NOT NULL,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL
        )
        """
    )
    db.execute(
        "INSERT INTO wallet_events (created_at, kind, credits, note) VALUES (?, 'welcome', ?, ?)",
        (utc_now(), WELCOME_CREDITS, "welcome credits"),
    )


@migration
def m003_batches(db: sqlite3.Connection) -> None:
    """One row per batch: what ran, on what, and (for the OpenAI Batch API) the remote ids."""
    db.execute(
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
        """
    )


@migration
def m004_text_checks(db: sqlite3.Connection) -> None:
    # One row per exact text read back from a run's image by OCR; written once, never updated.
    db.execute(
        """
        CREATE TABLE text_checks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            image_index INTEGER NOT NULL DEFAULT 0,
            text TEXT NOT NULL,
            role TEXT,
            read TEXT,
            accuracy REAL NOT NULL,
            checked_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX text_checks_run ON text_checks (run_id)")


@migration
def m005_wallet_journal(db: sqlite3.Connection) -> None:
    """The wallet as an append-only journal (``workbench.ledger.money``): every top-up, reservation
    (owner and lease), commit, release and refund. The old events and open reservations become its
    first entries, so every balance is what it was."""
    db.execute(
        """
        CREATE TABLE wallet_journal (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL
                CHECK (kind IN ('welcome', 'topup', 'reserve', 'commit', 'release', 'refund', 'adjust')),
            credits INTEGER NOT NULL DEFAULT 0,
            held INTEGER NOT NULL DEFAULT 0,
            run_id TEXT,
            batch_id TEXT,
            reservation INTEGER,
            pid INTEGER,
            host TEXT,
            lease_until TEXT,
            note TEXT
        )
        """
    )
    db.execute("CREATE INDEX wallet_journal_run ON wallet_journal (run_id)")
    db.execute("CREATE INDEX wallet_journal_batch ON wallet_journal (batch_id)")
    db.execute(
        """
        CREATE TABLE wallet_holds (
            reservation INTEGER PRIMARY KEY,
            credits INTEGER NOT NULL,
            run_id TEXT,
            batch_id TEXT,
            pid INTEGER,
            host TEXT,
            lease_until TEXT
        )
        """
    )
    db.execute(
        "INSERT INTO wallet_journal (created_at, kind, credits, run_id, note) "
        "SELECT created_at, CASE kind WHEN 'charge' THEN 'commit' ELSE kind END, credits, run_id, note "
        "FROM wallet_events ORDER BY id"
    )
    for created_at, run_id, credits, pid, host in db.execute(
        "SELECT created_at, run_id, credits, pid, host FROM reservations ORDER BY id"
    ).fetchall():
        cursor = db.execute(
            "INSERT INTO wallet_journal (created_at, kind, credits, held, run_id, pid, host, lease_until, "
            "note) VALUES (?, 'reserve', ?, ?, ?, ?, ?, ?, 'open when the journal began')",
            (created_at, -credits, credits, run_id, pid, host, created_at),
        )
        db.execute(
            "INSERT INTO wallet_holds (reservation, credits, run_id, pid, host, lease_until) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (cursor.lastrowid, credits, run_id, pid, host, created_at),
        )


@migration
def m006_claims(db: sqlite3.Connection) -> None:
    """One row per request being sent, by fingerprint: the others wait for its run instead of paying."""
    db.execute(
        """
        CREATE TABLE claims (
            fingerprint TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            created_at TEXT NOT NULL,
            lease_until TEXT NOT NULL
        )
        """
    )


@migration
def m007_attempts(db: sqlite3.Connection) -> None:
    """Every try of a run's request, and what the service may have billed for it; the run's row
    says how many tries it took and the dollars possibly billed but not received."""
    db.execute(
        """
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            outcome TEXT NOT NULL,
            http_status INTEGER,
            request_id TEXT,
            possibly_billed INTEGER NOT NULL DEFAULT 0,
            usd REAL NOT NULL DEFAULT 0,
            error TEXT
        )
        """
    )
    db.execute("CREATE INDEX attempts_run ON attempts (run_id)")
    db.execute("ALTER TABLE runs ADD COLUMN usd_possibly_billed REAL DEFAULT 0")
    db.execute("ALTER TABLE runs ADD COLUMN attempts INTEGER DEFAULT 0")


@migration
def m008_owners(db: sqlite3.Connection) -> None:
    """Who spent what: each run and journal entry records its user and project, and a spending
    limit may be set per user or per project (enforced when credits are reserved)."""
    db.execute("ALTER TABLE runs ADD COLUMN user TEXT")
    db.execute("ALTER TABLE runs ADD COLUMN project TEXT")
    db.execute("ALTER TABLE wallet_journal ADD COLUMN user TEXT")
    db.execute("ALTER TABLE wallet_journal ADD COLUMN project TEXT")
    db.execute("CREATE INDEX wallet_journal_user ON wallet_journal (user)")
    db.execute("CREATE INDEX wallet_journal_project ON wallet_journal (project)")
    db.execute(
        """
        CREATE TABLE spending_limits (
            scope TEXT NOT NULL CHECK (scope IN ('user', 'project')),
            name TEXT NOT NULL,
            credits INTEGER NOT NULL CHECK (credits >= 0),
            updated_at TEXT NOT NULL,
            PRIMARY KEY (scope, name)
        )
        """
    )


@migration
def m009_scores(db: sqlite3.Connection) -> None:
    """One row per run, image and check (``workbench.checks``): score, pass, reason, and the
    judge's own run when a vision model scored it (``workbench.ledger.scores``)."""
    from workbench.ledger.scores import INDEX, SQLITE_TABLE

    db.execute(SQLITE_TABLE)
    db.execute(INDEX)


@migration
def m010_journal_running_sums(db: sqlite3.Connection) -> None:
    """Each journal entry carries the two sums after it (available, held), so the balance is the
    last entry's instead of a sum over the whole journal (constant time however long it grows)."""
    db.execute("ALTER TABLE wallet_journal ADD COLUMN balance_after INTEGER")
    db.execute("ALTER TABLE wallet_journal ADD COLUMN held_after INTEGER")
    db.execute(
        "UPDATE wallet_journal SET balance_after = w.balance, held_after = w.held FROM ("
        "SELECT id, sum(credits) OVER (ORDER BY id) AS balance, sum(held) OVER (ORDER BY id) AS held "
        "FROM wallet_journal) AS w WHERE w.id = wallet_journal.id"
    )


OLD_BATCH_CREDITS_PER_JOB = 8
"""What m011 holds per job of a Batch API batch submitted before escrow existed: a high-quality
1536x1024 image at the Batch API's price (the batches table keeps no estimate); collect releases
what its answers did not cost."""
OPEN_BATCH_STATUSES = (
    "('submitting', 'submitted', 'validating', 'in_progress', 'finalizing', 'completed', 'cancelling')"
)
OLD_BATCH_NOTE = "escrow for a batch submitted before escrow existed"
# The escrow of every such batch, oldest first, as far as the balance allows: a batch the wallet
# cannot wholly cover holds what is left (none when nothing is); collecting it charges no more than
# that, so the wallet never goes below zero. The entries carry no running sums: the next entry's
# are added up from the whole journal (``journal_sums``).
_OLD_BATCH_ESCROW = (
    "WITH avail AS (SELECT coalesce(sum(credits), 0) AS a FROM wallet_journal), "
    "pending AS (SELECT id, jobs * {per_job} AS est, "
    "sum(jobs * {per_job}) OVER (ORDER BY created_at, id) AS cum FROM batches "
    "WHERE via = 'openai-batch' AND status IN " + OPEN_BATCH_STATUSES + " "
    "AND NOT EXISTS (SELECT 1 FROM wallet_journal j WHERE j.batch_id = batches.id)) "
    "INSERT INTO wallet_journal (created_at, kind, credits, held, batch_id, note) "
    "SELECT '{now}', 'reserve', -x, x, id, '" + OLD_BATCH_NOTE + "' FROM "
    "(SELECT id, {greatest}(0, {least}(est, a - (cum - est))) AS x FROM pending, avail) AS e "
    "WHERE x > 0 ORDER BY id"
)
_OLD_BATCH_HOLDS = (
    "INSERT INTO wallet_holds (reservation, credits, batch_id) "
    "SELECT id, held, batch_id FROM wallet_journal WHERE kind = 'reserve' AND note = '"
    + OLD_BATCH_NOTE
    + "' AND id NOT IN (SELECT reservation FROM wallet_holds)"
)


def old_batch_escrow_sql(*, now: str, greatest: str, least: str) -> tuple[str, str]:
    """m011's two statements (SQLite's max/min, PostgreSQL's GREATEST/LEAST)."""
    escrow = _OLD_BATCH_ESCROW.format(
        per_job=OLD_BATCH_CREDITS_PER_JOB, now=now, greatest=greatest, least=least
    )
    return escrow, _OLD_BATCH_HOLDS


@migration
def m011_escrow_for_old_batches(db: sqlite3.Connection) -> None:
    """A Batch API batch submitted before escrow existed holds its escrow now (``OLD_BATCH_CREDITS_PER_JOB``
    a job, as far as the balance allows), so spending the wallet meanwhile cannot take it below zero
    when the batch is collected."""
    for statement in old_batch_escrow_sql(now=utc_now(), greatest="max", least="min"):
        db.execute(statement)


OLD_TABLES_MESSAGE = "this run log was upgraded; update workbench"


@migration
def m012_old_wallet_tables_closed(db: sqlite3.Connection) -> None:
    """Workbench from before the journal still charges ``wallet_events`` and ``reservations``:
    once upgraded, inserting into either fails with ``OLD_TABLES_MESSAGE``."""
    for table in ("wallet_events", "reservations"):
        db.execute(
            f"CREATE TRIGGER {table}_closed BEFORE INSERT ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{OLD_TABLES_MESSAGE}'); END"
        )


@migration
def m013_attempts_pending_row(db: sqlite3.Connection) -> None:
    """A request's ``sent`` attempt, written before it goes out, keeps the failed row to log should
    its process die before the answer (``kill -9``): whoever releases its credits logs it."""
    db.execute("ALTER TABLE attempts ADD COLUMN pending_row TEXT")


CREDIT_COLUMNS = {
    "runs": ("credits_estimated", "credits"),
    "wallet_journal": ("credits", "held", "balance_after", "held_after"),
    "wallet_holds": ("credits",),
    "spending_limits": ("credits",),
}
"""The columns that hold credits: amounts of two decimals since m014 (``workbench.credits``)."""


@migration
def m014_fractional_credits(db: sqlite3.Connection) -> None:
    """Credits follow dollars to the hundredth (a low image is 0.59 credits), so every credit
    column holds amounts of two decimals (``CREDIT_COLUMNS``). On SQLite nothing changes: a column
    of INTEGER affinity keeps 0.59 as a REAL (and 2 as an integer), and the ledger rounds every
    sum it reads to two decimals; PostgreSQL's INTEGER columns become ``numeric(14,2)``."""
