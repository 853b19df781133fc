"""The credit wallet: balance, reservations before a run, charges after, top-ups.

The wallet lives in the run log's database, so a run's ledger row and its charge commit in one
transaction. A run reserves its estimated credits before anything is rendered or sent; the
reservation becomes a charge when the run succeeds and is released when it fails. A reservation
left by a process that died (``kill -9`` of a batch) is released the next time the balance is read.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from dataclasses import dataclass

import pandas as pd

from workbench.errors import BudgetError, SpecError
from workbench.ledger import Ledger, utc_now

__all__ = ["Reservation", "Wallet", "process_alive"]

_HOST = socket.gethostname()


@dataclass(frozen=True)
class Reservation:
    """Credits held for one run until it is charged or released."""

    id: int | None
    run_id: str
    credits: int


def process_alive(pid: int) -> bool:
    """Whether a process runs on this host (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class Wallet:
    """Credits for runs. New wallets hold 10 welcome credits.

    Example:
        >>> wallet = Workbench().wallet
        >>> wallet.balance
        10
        >>> wallet.topup(50, note="team budget")
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def _release_orphans(self, db: sqlite3.Connection) -> None:
        rows = db.execute("SELECT id, pid FROM reservations WHERE host = ?", (_HOST,)).fetchall()
        dead = [row[0] for row in rows if row[1] != os.getpid() and not process_alive(row[1])]
        if dead:
            db.execute(f"DELETE FROM reservations WHERE id IN ({', '.join('?' * len(dead))})", dead)

    @staticmethod
    def _balance(db: sqlite3.Connection) -> int:
        held = db.execute("SELECT coalesce(sum(credits), 0) FROM reservations").fetchone()[0]
        return Wallet._total(db) - held

    @staticmethod
    def _total(db: sqlite3.Connection) -> int:
        return db.execute("SELECT coalesce(sum(credits), 0) FROM wallet_events").fetchone()[0]

    @property
    def balance(self) -> int:
        """Credits available now: events so far, less what running runs hold."""
        with self.ledger.transaction() as db:
            self._release_orphans(db)
            return self._balance(db)

    @property
    def reserved(self) -> int:
        return self.ledger.query("SELECT coalesce(sum(credits), 0) FROM reservations")[0][0]

    @property
    def spent(self) -> int:
        """Credits charged for runs so far."""
        return -self.ledger.query(
            "SELECT coalesce(sum(credits), 0) FROM wallet_events WHERE kind = 'charge'"
        )[0][0]

    def can_pay(self, credits: int) -> bool:
        return credits <= self.balance

    def reserve(self, credits: int, run_id: str) -> Reservation:
        """Hold ``credits`` for a run, or raise ``BudgetError`` with the shortfall; holds nothing then."""
        if credits == 0:
            return Reservation(None, run_id, 0)
        with self.ledger.transaction() as db:
            self._release_orphans(db)
            available = self._balance(db)
            if credits > available:
                raise BudgetError(
                    f"Not enough credits: this run costs {credits}, the wallet has {available} "
                    f"(short by {credits - available}); "
                    f"top up with `workbench wallet topup {credits - available}`.",
                    needed=credits,
                    available=available,
                )
            cursor = db.execute(
                "INSERT INTO reservations (created_at, run_id, credits, pid, host) VALUES (?, ?, ?, ?, ?)",
                (utc_now(), run_id, credits, os.getpid(), _HOST),
            )
            return Reservation(cursor.lastrowid, run_id, credits)

    def commit(self, reservation: Reservation, credits: int, *, db: sqlite3.Connection) -> None:
        """Turn a reservation into a charge of ``credits`` inside the caller's transaction."""
        if reservation.id is not None:
            db.execute("DELETE FROM reservations WHERE id = ?", (reservation.id,))
        if credits:
            db.execute(
                "INSERT INTO wallet_events (created_at, kind, credits, run_id) VALUES (?, 'charge', ?, ?)",
                (utc_now(), -credits, reservation.run_id),
            )

    def release(self, reservation: Reservation, *, db: sqlite3.Connection | None = None) -> None:
        """Give a reservation's credits back (the run failed or was refused)."""
        if reservation.id is None:
            return
        if db is not None:
            db.execute("DELETE FROM reservations WHERE id = ?", (reservation.id,))
        else:
            with self.ledger.transaction() as tx:
                tx.execute("DELETE FROM reservations WHERE id = ?", (reservation.id,))

    def topup(self, credits: int, *, note: str | None = None) -> int:
        """Add credits; returns the new balance."""
        if isinstance(credits, bool) or not isinstance(credits, int) or credits <= 0:
            raise SpecError(
                f"A top-up must be a positive whole number of credits, not {credits!r}.", field="credits"
            )
        with self.ledger.transaction() as db:
            db.execute(
                "INSERT INTO wallet_events (created_at, kind, credits, note) VALUES (?, 'topup', ?, ?)",
                (utc_now(), credits, note),
            )
            return self._balance(db)

    def history(self) -> pd.DataFrame:
        """Every wallet event (welcome, top-ups, charges) as a DataFrame, oldest first."""
        rows = self.ledger.query(
            "SELECT created_at, kind, credits, run_id, note FROM wallet_events ORDER BY id"
        )
        frame = pd.DataFrame(
            [dict(r) for r in rows], columns=["created_at", "kind", "credits", "run_id", "note"]
        )
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
        frame["balance"] = frame["credits"].cumsum()
        return frame

    def __repr__(self) -> str:
        return f"<Wallet balance={self.balance} credits>"
