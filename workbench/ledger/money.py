"""The money half of the run log: the wallet's journal, fingerprint claims and request attempts.

Written once for every database: plain SQL that SQLite and PostgreSQL both run (``?`` placeholders,
turned into ``%s`` for psycopg by ``PARAM``), inside the ledger's own transactions. ``Ledger``
inherits these methods, so ``SQLiteLedger`` and ``PostgresLedger`` share them.

The journal (``wallet_journal``) is append-only. Each entry changes two sums: ``credits`` (what
can be spent now) and ``held`` (what reservations hold)::

    welcome / topup   credits +c
    reserve           credits -r, held +r      (owner pid + host, lease_until; run or batch id)
    commit            held -a                  (a of the held credits become spent)
                      credits -a               (a charge without a reservation)
    release           credits +x, held -x      (a reservation's unspent part comes back)
    refund / adjust   credits +c               (a correction)

so the balance is ``sum(credits)``, the credits held ``sum(held)``, and what was spent
``-sum(credits + held)`` over the commits less the refunds. Credits are amounts of two decimals
(``workbench.credits``): every amount written is rounded to them and every sum read back is too
(``credits_value``), so a balance compares with a price exactly, whatever float noise a sum of
SQLite's REALs carries (PostgreSQL keeps them as ``numeric(14,2)``: exact).

``wallet_holds`` is an index of the reservations still open (the sweep for dead owners reads it
instead of the whole journal); it is derived from the journal and never the source of a balance.

A claim (``claims``) is one row per request fingerprint being sent: the first process to insert it
sends the request; others wait for its row. A claim whose lease ran out, or whose owner on this
host is gone, is taken over.

An attempt (``attempts``) is one try of a run's request: when, the outcome, the HTTP status, the
service's request id, and whether the service may have done (and billed) the work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from workbench.credits import credits_value

__all__ = [
    "ATTEMPT_COLUMNS",
    "JOURNAL_COLUMNS",
    "JOURNAL_KINDS",
    "LIMIT_SCOPES",
    "Claim",
    "JournalEntry",
    "MoneyLedger",
    "OpenHold",
    "lease_until",
]

JOURNAL_KINDS = ("welcome", "topup", "reserve", "commit", "release", "refund", "adjust")
JOURNAL_COLUMNS = (
    "id created_at kind credits held run_id batch_id reservation pid host lease_until note user project"
).split()
LIMIT_SCOPES = ("user", "project")
_JOURNAL_LIST = ", ".join(f'"{c}"' for c in JOURNAL_COLUMNS)  # quoted: "user" is reserved in PostgreSQL
ATTEMPT_COLUMNS = (
    "run_id number started_at ended_at outcome http_status request_id possibly_billed usd error"
).split()

_INSERT_ATTEMPT = (
    f"INSERT INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) VALUES ({', '.join('?' * len(ATTEMPT_COLUMNS))})"
)


def _int(value: Any, default: int | None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def _float(value: Any) -> float:
    try:
        number = float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return number if number == number and abs(number) != float("inf") else 0.0


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:2000]


def lease_until(seconds: float | None, *, now: datetime | None = None) -> str | None:
    """The ISO time a lease of ``seconds`` from now ends (None: a lease that does not expire)."""
    if seconds is None:
        return None
    return ((now or datetime.now(UTC)) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class JournalEntry:
    """One entry of the wallet's journal (see the module docstring for what each kind moves)."""

    kind: str
    credits: float = 0.0
    held: float = 0.0
    run_id: str | None = None
    batch_id: str | None = None
    reservation: int | None = None
    pid: int | None = None
    host: str | None = None
    lease_until: str | None = None
    note: str | None = None
    created_at: str = ""
    id: int | None = None
    user: str | None = None  # who reserved or spent (a release or commit: its reservation's)
    project: str | None = None


@dataclass(frozen=True)
class OpenHold:
    """A reservation still holding credits: its journal id, what it still holds, its owner and lease."""

    reservation: int
    credits: float
    run_id: str | None
    batch_id: str | None
    pid: int | None
    host: str | None
    lease_until: str | None

    def expired(self, now: str | None = None) -> bool:
        return self.lease_until is not None and self.lease_until < (now or _now())


@dataclass(frozen=True)
class Claim:
    """Who is sending the request with this fingerprint, and until when the claim holds."""

    fingerprint: str
    run_id: str
    pid: int
    host: str
    lease_until: str

    def expired(self, now: str | None = None) -> bool:
        return self.lease_until < (now or _now())


class MoneyLedger:
    """Journal, claims and attempts on any DB-API connection the ledger's ``transaction`` yields."""

    PARAM = "?"  # psycopg: "%s"

    # Provided by the ledger: ``transaction()`` (a handle with ``execute``) and ``query(sql, params)``.
    def transaction(self) -> Any:  # pragma: no cover - the ledger's own
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:  # pragma: no cover
        raise NotImplementedError

    def _sql(self, sql: str) -> str:
        return sql if self.PARAM == "?" else sql.replace("?", self.PARAM)

    def _run(self, db: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        return db.execute(self._sql(sql), tuple(params))

    def _read(self, sql: str, params: Sequence[Any] = (), db: Any = None) -> list[Any]:
        if db is not None:
            return list(self._run(db, sql, params).fetchall())
        return list(self.query(self._sql(sql), tuple(params)))

    # -- the journal --------------------------------------------------------------------------
    def journal_append(self, entry: JournalEntry, *, db: Any) -> int:
        """Append one entry inside the caller's transaction; return its id."""
        if entry.kind not in JOURNAL_KINDS:
            raise ValueError(f"Unknown journal entry kind {entry.kind!r}.")
        # The sums after this entry: the last entry's plus this one's (the caller's write transaction
        # holds the run log's write lock, so no other entry comes between the read and the insert).
        available, held = self.journal_sums(db=db)
        credits, held_change = credits_value(entry.credits), credits_value(entry.held)
        row = self._run(
            db,
            "INSERT INTO wallet_journal (created_at, kind, credits, held, run_id, batch_id, reservation, "
            'pid, host, lease_until, note, "user", project, balance_after, held_after) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                entry.created_at or _now(),
                entry.kind,
                credits,
                held_change,
                entry.run_id,
                entry.batch_id,
                entry.reservation,
                entry.pid,
                entry.host,
                entry.lease_until,
                entry.note,
                entry.user,
                entry.project,
                credits_value(available + credits),
                credits_value(held + held_change),
            ),
        ).fetchone()
        return int(row[0])

    def journal_sums(self, *, db: Any = None) -> tuple[float, float]:
        """``(available, held)``: the journal's two sums, as its last entry carries them
        (``balance_after``, ``held_after``): constant time, however long the journal grows."""
        rows = self._read(
            "SELECT balance_after, held_after FROM wallet_journal ORDER BY id DESC LIMIT 1", (), db
        )
        if not rows:
            return 0.0, 0.0
        if rows[0][0] is None or rows[0][1] is None:  # entries copied in without their sums: add them up
            rows = self._read(
                "SELECT coalesce(sum(credits), 0), coalesce(sum(held), 0) FROM wallet_journal", (), db
            )
        return credits_value(rows[0][0]), credits_value(rows[0][1])

    def journal_spent(self, *, db: Any = None) -> float:
        """Credits spent on runs: the commits, less the refunds."""
        row = self._read(
            "SELECT coalesce(sum(CASE WHEN kind = 'commit' THEN -(credits + held) "
            "WHEN kind = 'refund' THEN -credits ELSE 0 END), 0) FROM wallet_journal",
            (),
            db,
        )[0]
        return credits_value(row[0])

    def journal_entries(
        self, *, run_id: str | None = None, batch_id: str | None = None
    ) -> list[JournalEntry]:
        """The journal, oldest first (of one run or one batch)."""
        sql = f"SELECT {_JOURNAL_LIST} FROM wallet_journal"
        params: list[Any] = []
        if run_id is not None:
            sql, params = sql + " WHERE run_id = ?", [run_id]
        elif batch_id is not None:
            sql, params = sql + " WHERE batch_id = ?", [batch_id]
        rows = self._read(sql + " ORDER BY id", params)
        entries = []
        for row in rows:
            values = dict(zip(JOURNAL_COLUMNS, tuple(row), strict=True))
            values["credits"], values["held"] = (
                credits_value(values["credits"]),
                credits_value(values["held"]),
            )
            entries.append(JournalEntry(**values))
        return entries

    def hold_open(self, reservation: int, entry: JournalEntry, *, db: Any) -> None:
        """Index a reservation as open (``wallet_holds``), with what it holds."""
        self._run(
            db,
            "INSERT INTO wallet_holds (reservation, credits, run_id, batch_id, pid, host, lease_until) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                reservation,
                credits_value(entry.held),
                entry.run_id,
                entry.batch_id,
                entry.pid,
                entry.host,
                entry.lease_until,
            ),
        )

    def hold_reduce(self, reservation: int, credits: float, *, db: Any) -> None:
        """Lower what an open reservation holds by ``credits``; forget it when nothing is left
        (less than half a hundredth: a difference of SQLite's REALs may leave 1e-17)."""
        self._run(
            db,
            "UPDATE wallet_holds SET credits = credits - ? WHERE reservation = ?",
            (credits_value(credits), reservation),
        )
        self._run(db, "DELETE FROM wallet_holds WHERE reservation = ? AND credits < 0.005", (reservation,))

    def open_holds(
        self,
        *,
        host: str | None = None,
        run_id: str | None = None,
        batch_id: str | None = None,
        reservation: int | None = None,
        db: Any = None,
    ) -> list[OpenHold]:
        """The reservations that still hold credits (of one host, run, batch or reservation)."""
        where, params = [], []
        for column, value in (
            ("host", host),
            ("run_id", run_id),
            ("batch_id", batch_id),
            ("reservation", reservation),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT reservation, credits, run_id, batch_id, pid, host, lease_until FROM wallet_holds"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._read(sql + " ORDER BY reservation", params, db)
        return [OpenHold(row[0], credits_value(row[1]), *tuple(row)[2:]) for row in rows]

    # -- who spent what -----------------------------------------------------------------------
    def journal_used(self, scope: str, name: str, *, db: Any = None) -> float:
        """Credits a user's or project's runs hold or have spent: its reservations, less what
        came back, plus its direct charges (a release counts for its reservation's owner)."""
        if scope not in LIMIT_SCOPES:
            raise ValueError(f"Unknown scope {scope!r}.")
        column = '"user"' if scope == "user" else "project"
        row = self._read(
            "SELECT coalesce(-sum(j.credits), 0) FROM wallet_journal j "
            "LEFT JOIN wallet_journal r ON r.id = j.reservation "
            f"WHERE j.kind IN ('reserve', 'commit', 'release') AND coalesce(j.{column}, r.{column}) = ?",
            (name,),
            db,
        )[0]
        return credits_value(row[0])

    def limit_set(self, scope: str, name: str, credits: float | None, *, db: Any = None) -> None:
        """Set (or, with None, remove) the spending limit of a user or a project."""
        if db is None:
            with self.transaction() as tx:
                self.limit_set(scope, name, credits, db=tx)
            return
        self._run(db, "DELETE FROM spending_limits WHERE scope = ? AND name = ?", (scope, name))
        if credits is not None:
            self._run(
                db,
                "INSERT INTO spending_limits (scope, name, credits, updated_at) VALUES (?, ?, ?, ?)",
                (scope, name, credits_value(credits), _now()),
            )

    def limit_get(self, scope: str, name: str, *, db: Any = None) -> float | None:
        rows = self._read(
            "SELECT credits FROM spending_limits WHERE scope = ? AND name = ?", (scope, name), db
        )
        return credits_value(rows[0][0]) if rows else None

    def limits(self) -> list[tuple[str, str, float]]:
        """Every spending limit: ``(scope, name, credits)``."""
        rows = self._read("SELECT scope, name, credits FROM spending_limits ORDER BY scope, name")
        return [(r[0], r[1], credits_value(r[2])) for r in rows]

    # -- claims -------------------------------------------------------------------------------
    def claim(
        self, fingerprint: str, run_id: str, *, pid: int, host: str, lease_seconds: float, db: Any = None
    ) -> Claim | None:
        """Claim a fingerprint for ``run_id``: None when the claim is ours, else the holder's claim."""
        until = lease_until(lease_seconds)
        if db is None:
            with self.transaction() as tx:
                return self.claim(fingerprint, run_id, pid=pid, host=host, lease_seconds=lease_seconds, db=tx)
        self._run(
            db,
            "INSERT INTO claims (fingerprint, run_id, pid, host, created_at, lease_until) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING",
            (fingerprint, run_id, pid, host, _now(), until),
        )
        holder = self.claim_holder(fingerprint, db=db)
        if holder is None or holder.run_id == run_id:
            return None
        return holder

    def claim_holder(self, fingerprint: str, *, db: Any = None) -> Claim | None:
        rows = self._read(
            "SELECT fingerprint, run_id, pid, host, lease_until FROM claims WHERE fingerprint = ?",
            (fingerprint,),
            db,
        )
        return Claim(*tuple(rows[0])) if rows else None

    def claim_take_over(
        self, old: Claim, run_id: str, *, pid: int, host: str, lease_seconds: float, db: Any = None
    ) -> bool:
        """Take over ``old`` (its owner died or its lease ran out); False when someone else did first."""
        if db is None:
            with self.transaction() as tx:
                return self.claim_take_over(
                    old, run_id, pid=pid, host=host, lease_seconds=lease_seconds, db=tx
                )
        cursor = self._run(
            db,
            "UPDATE claims SET run_id = ?, pid = ?, host = ?, created_at = ?, lease_until = ? "
            "WHERE fingerprint = ? AND run_id = ?",
            (run_id, pid, host, _now(), lease_until(lease_seconds), old.fingerprint, old.run_id),
        )
        return bool(cursor.rowcount)

    def claim_release(self, fingerprint: str, run_id: str, *, db: Any = None) -> None:
        """End our claim (the run's row is recorded, ok or not)."""
        if db is None:
            with self.transaction() as tx:
                self.claim_release(fingerprint, run_id, db=tx)
            return
        self._run(db, "DELETE FROM claims WHERE fingerprint = ? AND run_id = ?", (fingerprint, run_id))

    def leases_renew(
        self,
        claims: Iterable[tuple[str, str]],
        holds: Iterable[int],
        *,
        claim_seconds: float,
        hold_seconds: float,
    ) -> None:
        """Move on the leases of our claims (``(fingerprint, run_id)``) and of our open reservations,
        in one transaction: a request under way is not taken over by another host meanwhile."""
        claims, holds = list(claims), list(holds)
        if not claims and not holds:
            return
        claim_until, hold_until = lease_until(claim_seconds), lease_until(hold_seconds)
        with self.transaction() as db:
            for fingerprint, run_id in claims:
                self._run(
                    db,
                    "UPDATE claims SET lease_until = ? WHERE fingerprint = ? AND run_id = ?",
                    (claim_until, fingerprint, run_id),
                )
            for reservation in holds:
                self._run(
                    db,
                    "UPDATE wallet_holds SET lease_until = ? "
                    "WHERE reservation = ? AND lease_until IS NOT NULL",
                    (hold_until, reservation),
                )

    # -- attempts -----------------------------------------------------------------------------
    def record_attempts(self, attempts: Iterable[Mapping[str, Any]], *, db: Any) -> None:
        """Store a run's attempts (``ATTEMPT_COLUMNS``) inside the caller's transaction."""
        for number, attempt in enumerate(attempts, 1):
            # Coerced here: this runs in the transaction of a paid run's row, where nothing may fail.
            status = attempt.get("http_status")
            self._run(
                db,
                _INSERT_ATTEMPT,
                (
                    str(attempt.get("run_id")),
                    _int(attempt.get("number"), number),
                    str(attempt.get("started_at") or _now()),
                    _text(attempt.get("ended_at")),
                    str(attempt.get("outcome") or "unknown")[:100],
                    _int(status, None),
                    _text(attempt.get("request_id")),
                    int(bool(attempt.get("possibly_billed"))),
                    _float(attempt.get("usd")),
                    _text(attempt.get("error")),
                ),
            )

    def batch_job_recorded(self, batch_id: str, job: str, *, db: Any) -> bool:
        """Whether a batch's job already has a run (read in the caller's transaction: a second
        collect of the same answer records and charges nothing)."""
        sql = f"SELECT 1 FROM runs WHERE batch_id = ? AND {self.JOB_SQL} = ? LIMIT 1"  # type: ignore[attr-defined]
        return bool(self._read(sql, (batch_id, job), db))

    def attempt_sent(self, run_id: str, usd: float, pending_row: str, *, db: Any = None) -> None:
        """Record, before a request is sent, that it may be billed (outcome ``sent``), with the
        failed row to log (``pending_row``, JSON) should its process die before the answer."""
        if db is None:
            with self.transaction() as tx:
                self.attempt_sent(run_id, usd, pending_row, db=tx)
            return
        self._run(
            db,
            "INSERT INTO attempts (run_id, number, started_at, outcome, possibly_billed, usd, pending_row) "
            "VALUES (?, 0, ?, 'sent', 1, ?, ?)",
            (run_id, _now(), float(usd or 0.0), pending_row),
        )

    def attempt_settle(self, run_id: str, *, db: Any) -> None:
        """The request's outcome is recorded (its attempts, in this transaction): drop its ``sent`` mark."""
        self._run(db, "DELETE FROM attempts WHERE run_id = ? AND outcome = 'sent'", (run_id,))

    def attempt_orphan(self, run_id: str, note: str, *, db: Any) -> None:
        """A run's owner died with its request ``sent``: log the failed row it left (possibly billed)
        unless the run has a row, and close the attempt."""
        rows = self._read(
            "SELECT id, pending_row FROM attempts WHERE run_id = ? AND outcome = 'sent'", (run_id,), db
        )
        if not rows:
            return
        import json

        attempt_id, pending = rows[0][0], rows[0][1]
        if pending and not self._read("SELECT 1 FROM runs WHERE id = ?", (run_id,), db):
            row = json.loads(pending)
            row["error"] = f"{row.get('error') or ''} ({note})".strip()
            self.record(row, db=db)  # type: ignore[attr-defined]
        self._run(
            db,
            "UPDATE attempts SET outcome = 'owner died', number = 1, ended_at = ?, pending_row = NULL, "
            "error = ? WHERE id = ?",
            (_now(), f"the process that sent it ended before the answer ({note})", attempt_id),
        )

    def attempts(self, run_id: str | None = None, *, batch_id: str | None = None) -> list[dict[str, Any]]:
        """The attempts (of one run, or of a batch's runs), in order."""
        columns = ", ".join(f"a.{name}" for name in ATTEMPT_COLUMNS)
        sql, params = f"SELECT {columns} FROM attempts a", []
        if run_id is not None:
            sql, params = sql + " WHERE a.run_id = ?", [run_id]
        elif batch_id is not None:
            sql += " JOIN runs r ON r.id = a.run_id WHERE r.batch_id = ?"
            params = [batch_id]
        rows = self._read(sql + " ORDER BY a.id", params)
        return [dict(zip(ATTEMPT_COLUMNS, tuple(row), strict=True)) for row in rows]
