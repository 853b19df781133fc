"""The credit wallet: balance, reservations before a run, charges after, top-ups.

The wallet lives in the run log (a journal of entries and the credits held by runs under way,
through ``Ledger`` methods: no SQL here), so a run's row and its charge commit in one
transaction. A run reserves its estimated credits before anything is rendered or sent; the
reservation becomes a charge when the run succeeds and is released when it fails. A reservation
left by a process that died (``kill -9`` of a batch) is released the next time the balance is read.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench.errors import BudgetError, SpecError
from workbench.ledger import Ledger, WalletEntry

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

    def _release_orphans(self, db: Any) -> None:
        """End the holds of this host's processes that are gone (a killed batch)."""
        dead = [
            hold.id
            for hold in self.ledger.holds(host=_HOST, db=db)
            if hold.pid != os.getpid() and not process_alive(hold.pid)
        ]
        self.ledger.drop_holds(dead, db=db)

    def _balance(self, db: Any) -> int:
        return self.ledger.wallet_sum(db=db) - self.ledger.held(db=db)

    @property
    def balance(self) -> int:
        """Credits available now: events so far, less what running runs hold."""
        with self.ledger.transaction() as db:
            self._release_orphans(db)
            return self._balance(db)

    @property
    def reserved(self) -> int:
        return self.ledger.held()

    @property
    def spent(self) -> int:
        """Credits charged for runs so far."""
        return -self.ledger.wallet_sum(kind="charge")

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
            hold = self.ledger.hold(run_id, credits, pid=os.getpid(), host=_HOST, db=db)
            return Reservation(hold, run_id, credits)

    def commit(self, reservation: Reservation, credits: int, *, db: Any) -> None:
        """Turn a reservation into a charge of ``credits`` inside the caller's transaction."""
        if reservation.id is not None:
            self.ledger.drop_holds([reservation.id], db=db)
        if credits:
            self.ledger.wallet_append(WalletEntry("charge", -credits, reservation.run_id), db=db)

    def release(self, reservation: Reservation, *, db: Any = None) -> None:
        """Give a reservation's credits back (the run failed or was refused)."""
        if reservation.id is None:
            return
        self.ledger.drop_holds([reservation.id], db=db)

    def topup(self, credits: int, *, note: str | None = None) -> int:
        """Add credits; returns the new balance."""
        if isinstance(credits, bool) or not isinstance(credits, int) or credits <= 0:
            raise SpecError(
                f"A top-up must be a positive whole number of credits, not {credits!r}.", field="credits"
            )
        with self.ledger.transaction() as db:
            self.ledger.wallet_append(WalletEntry("topup", credits, note=note), db=db)
            return self._balance(db)

    def history(self) -> pd.DataFrame:
        """Every wallet event (welcome, top-ups, charges) as a DataFrame, oldest first."""
        columns = ["created_at", "kind", "credits", "run_id", "note"]
        frame = pd.DataFrame(
            [{name: getattr(entry, name) for name in columns} for entry in self.ledger.wallet_entries()],
            columns=columns,
        )
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
        frame["balance"] = frame["credits"].cumsum()
        return frame

    def __repr__(self) -> str:
        return f"<Wallet balance={self.balance} credits>"
