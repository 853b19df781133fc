"""Moving in: copy a SQLite run log and wallet into a team's PostgreSQL run log.

``move_in(source, target)`` copies the runs, batches, text checks, request attempts and the
wallet's journal of a ``SQLiteLedger`` into a ``PostgresLedger``, in one transaction, then checks
that the copy holds what the source holds — row counts, credit sums and dollar sums — and rolls
everything back if it does not. It is idempotent: what was moved once is skipped next time
(runs and batches by their id; journal entries, text checks, scores and attempts by source id, kept
in the target's ``moved_in`` table with the source's identity), so a rerun copies nothing and a
source that grew since copies only its new rows.

The source's journal comes over whole (its welcome and top-ups included), so the team's balance
grows by what the source had left. Open reservations (runs under way) are refused: finish or
release them first. Fingerprint claims are not moved (they last as long as a request).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from workbench.credits import credits_value, format_credits
from workbench.errors import LedgerError
from workbench.ledger.base import RUN_COLUMNS
from workbench.ledger.common import BATCH_COLUMNS as _BATCH_COLUMNS
from workbench.ledger.common import TEXT_CHECK_COLUMNS, quoted
from workbench.ledger.money import ATTEMPT_COLUMNS, JOURNAL_COLUMNS
from workbench.ledger.scores import SCORE_COLUMNS

__all__ = ["MoveReport", "move_in"]

_TEXT_CHECK_COLUMNS = ["id", *TEXT_CHECK_COLUMNS]
_TYPES = {"int": "bigint", "float": "double precision"}


@dataclass
class MoveReport:
    """What ``move_in`` copied (0 each on a rerun) and what it checked, table by table."""

    source: str
    target: str
    copied: dict[str, int] = field(default_factory=dict)
    checked: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def nothing_copied(self) -> bool:
        return not any(self.copied.values())

    def lines(self) -> list[str]:
        out = [f"moved {self.source} into {self.target}"]
        for table, count in self.copied.items():
            check = self.checked.get(table, {})
            sums = ", ".join(f"{k} {v}" for k, v in check.items())
            out.append(f"  {table:<15} {count:>8} copied   source = target: {sums}")
        return out


def _source_identity(source: Any) -> str:
    first = source.query("SELECT name, applied_at FROM _migrations ORDER BY rowid LIMIT 1")
    welcome = source.query("SELECT created_at FROM wallet_journal ORDER BY id LIMIT 1")
    text = f"sqlite:{tuple(first[0]) if first else ()}:{tuple(welcome[0]) if welcome else ()}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def move_in(source: Any, target: Any) -> MoveReport:
    """Copy ``source`` (a SQLiteLedger) into ``target`` (a PostgresLedger); see the module docstring.

    Raises:
        LedgerError: the source has open reservations, or the copy does not match the source
            (nothing is written then).
    """
    open_holds = source.query("SELECT count(*), coalesce(sum(credits), 0) FROM wallet_holds")[0]
    if open_holds[0]:
        raise LedgerError(
            f"{source.path} has {open_holds[0]} open reservation(s) holding "
            f"{format_credits(open_holds[1])} credits "
            "(runs under way): let them finish, or release them, before moving in."
        )
    identity = _source_identity(source)
    report = MoveReport(str(source.path), str(target.path))
    with target.transaction() as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS moved_in (source TEXT NOT NULL, tbl TEXT NOT NULL, "
            "source_id BIGINT NOT NULL, target_id BIGINT, PRIMARY KEY (source, tbl, source_id))"
        )
        report.copied["runs"] = _copy_by_id(source, db, "runs", RUN_COLUMNS, order="rowid")
        report.copied["batches"] = _copy_by_id(source, db, "batches", _BATCH_COLUMNS, order="rowid")
        report.copied["wallet_journal"] = _copy_journal(source, db, identity)
        report.copied["text_checks"] = _copy_by_source_id(
            source, db, identity, "text_checks", _TEXT_CHECK_COLUMNS
        )
        report.copied["attempts"] = _copy_by_source_id(
            source, db, identity, "attempts", ["id", *ATTEMPT_COLUMNS]
        )
        report.copied["scores"] = _copy_by_source_id(source, db, identity, "scores", ["id", *SCORE_COLUMNS])
        report.checked = _verify(source, db, identity)
    return report


def _stage(db: Any, name: str, columns: list[str], types: dict[str, str], rows: list[tuple]) -> None:
    """A temporary table ``name`` (dropped at commit) holding ``rows``, loaded by COPY."""
    definition = ", ".join(f'"{c}" {types.get(c, "text")}' for c in columns)
    db.execute(f"CREATE TEMP TABLE {name} ({definition}) ON COMMIT DROP")
    with db.cursor() as cursor, cursor.copy(f"COPY {name} ({quoted(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _column_types(table: str) -> dict[str, str]:
    if table == "runs":
        from dataclasses import fields

        from workbench.ledger.base import RunRecord

        return {f.name: _TYPES.get(f.metadata["kind"], "text") for f in fields(RunRecord)}
    if table == "batches":
        return {"jobs": "bigint"}
    if table == "text_checks":
        return {"id": "bigint", "image_index": "bigint", "accuracy": "double precision"}
    if table == "scores":
        return {
            "id": "bigint",
            "image_index": "bigint",
            "score": "double precision",
            "passed": "bigint",
            "threshold": "double precision",
        }
    if table == "attempts":
        return {
            "id": "bigint",
            "number": "bigint",
            "http_status": "bigint",
            "possibly_billed": "bigint",
            "usd": "double precision",
        }
    return {}


def _copy_by_id(source: Any, db: Any, table: str, columns: list[str], *, order: str) -> int:
    """Rows with a text id (runs, batches): those the target lacks, in the source's order."""
    rows = [tuple(r) for r in source.query(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")]
    staged = f"moving_{table}"
    _stage(
        db,
        staged,
        ["ord", *columns],
        {"ord": "bigint", **_column_types(table)},
        [(i, *r) for i, r in enumerate(rows)],
    )
    cursor = db.execute(
        f"INSERT INTO {table} ({quoted(columns)}) SELECT {quoted(columns)} FROM {staged} "
        "ORDER BY ord ON CONFLICT (id) DO NOTHING"
    )
    return cursor.rowcount


def _copy_by_source_id(source: Any, db: Any, identity: str, table: str, columns: list[str]) -> int:
    """Rows with a numeric id of their own database (text checks, attempts): those not moved yet."""
    rows = [tuple(r) for r in source.query(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")]
    staged = f"moving_{table}"
    _stage(db, staged, columns, _column_types(table), rows)
    values = [c for c in columns if c != "id"]
    db.execute(
        f"DELETE FROM {staged} m USING moved_in i WHERE i.source = %s AND i.tbl = %s AND i.source_id = m.id",
        (identity, table),
    )
    cursor = db.execute(
        f"INSERT INTO {table} ({quoted(values)}) SELECT {quoted(values)} FROM {staged} ORDER BY id"
    )
    db.execute(
        f"INSERT INTO moved_in (source, tbl, source_id) SELECT %s, %s, id FROM {staged}", (identity, table)
    )
    return cursor.rowcount


def _copy_journal(source: Any, db: Any, identity: str) -> int:
    """The wallet's journal: entries not moved yet, in order, with each ``reservation`` pointing at
    the moved reserve entry (ids are the target's own)."""
    columns = JOURNAL_COLUMNS  # id first
    rows = [tuple(r) for r in source.query(f"SELECT {', '.join(columns)} FROM wallet_journal ORDER BY id")]
    credits = "numeric(14,2)"  # as the journal keeps them (m014)
    types = {"id": "bigint", "credits": credits, "held": credits, "reservation": "bigint", "pid": "bigint"}
    _stage(db, "moving_journal", columns, types, rows)
    db.execute(
        "DELETE FROM moving_journal m USING moved_in i "
        "WHERE i.source = %s AND i.tbl = 'wallet_journal' AND i.source_id = m.id",
        (identity,),
    )
    db.execute("ALTER TABLE moving_journal ADD COLUMN new_id BIGINT")
    db.execute(
        "UPDATE moving_journal m SET new_id = n.new_id FROM ("
        "  SELECT id, nextval(pg_get_serial_sequence('wallet_journal', 'id')) AS new_id"
        "  FROM (SELECT id FROM moving_journal ORDER BY id) ordered"
        ") n WHERE n.id = m.id"
    )
    values = [c for c in columns if c not in ("id", "reservation")]
    moved_values = ", ".join(f'm."{c}"' for c in values)
    cursor = db.execute(
        f"INSERT INTO wallet_journal (id, reservation, {quoted(values)}) OVERRIDING SYSTEM VALUE "
        "SELECT m.new_id, coalesce(r.new_id, i.target_id), "
        f"{moved_values} FROM moving_journal m "
        "LEFT JOIN moving_journal r ON r.id = m.reservation "
        "LEFT JOIN moved_in i ON i.source = %s AND i.tbl = 'wallet_journal' AND i.source_id = m.reservation "
        "ORDER BY m.id",
        (identity,),
    )
    db.execute(
        "INSERT INTO moved_in (source, tbl, source_id, target_id) "
        "SELECT %s, 'wallet_journal', id, new_id FROM moving_journal",
        (identity,),
    )
    return cursor.rowcount


def _verify(source: Any, db: Any, identity: str) -> dict[str, dict[str, Any]]:
    """Counts and sums of the source against the rows of the target that came from it."""
    checks: dict[str, dict[str, Any]] = {}
    mine = (
        "SELECT count(*), coalesce(sum(t.credits), 0), coalesce(sum(t.usd), 0) FROM runs t "
        "WHERE t.id IN (SELECT id FROM moving_runs)"
    )
    theirs = source.query("SELECT count(*), coalesce(sum(credits), 0), coalesce(sum(usd), 0) FROM runs")[0]
    ours = db.execute(mine).fetchone()
    checks["runs"] = _compare("runs", ("rows", "credits", "usd"), tuple(theirs), tuple(ours))
    theirs = source.query(
        "SELECT count(*), coalesce(sum(credits), 0), coalesce(sum(held), 0) FROM wallet_journal"
    )[0]
    ours = db.execute(
        "SELECT count(*), coalesce(sum(j.credits), 0), coalesce(sum(j.held), 0) FROM wallet_journal j "
        "JOIN moved_in i ON i.source = %s AND i.tbl = 'wallet_journal' AND i.target_id = j.id",
        (identity,),
    ).fetchone()
    checks["wallet_journal"] = _compare(
        "wallet_journal", ("entries", "credits", "held"), tuple(theirs), tuple(ours)
    )
    for table in ("text_checks", "attempts", "scores"):
        theirs = source.query(f"SELECT count(*) FROM {table}")[0]
        ours = db.execute(
            "SELECT count(*) FROM moved_in WHERE source = %s AND tbl = %s", (identity, table)
        ).fetchone()
        checks[table] = _compare(table, ("rows",), tuple(theirs), tuple(ours))
    theirs = source.query("SELECT count(*) FROM batches")[0]
    ours = db.execute("SELECT count(*) FROM batches WHERE id IN (SELECT id FROM moving_batches)").fetchone()
    checks["batches"] = _compare("batches", ("rows",), tuple(theirs), tuple(ours))
    return checks


def _compare(table: str, names: tuple[str, ...], theirs: tuple, ours: tuple) -> dict[str, Any]:
    """Each count and sum of the source against the copy's: rows exactly, credits to the hundredth
    (SQLite's sum of REALs carries float noise, PostgreSQL's numeric none), dollars to 1e-6."""
    result = {}
    for name, a, b in zip(names, theirs, ours, strict=True):
        if name == "usd":
            mine, copied = round(float(a), 6), round(float(b), 6)
        elif name in ("credits", "held"):
            mine, copied = credits_value(a), credits_value(b)
        else:
            mine, copied = int(a), int(b)
        if mine != copied:
            raise LedgerError(
                f"The moved {table} do not match the source ({name}: {mine} in the source, {copied} moved); "
                "nothing was moved."
            )
        result[name] = mine
    return result
