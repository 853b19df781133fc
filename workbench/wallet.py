"""The credit wallet: an append-only journal of top-ups, reservations, commits, releases and refunds.

Every change of the wallet is a new entry of the run log's journal (``workbench.ledger.money``:
no SQL here), with its run or batch id and, for a reservation, its owner (process and host) and a
lease. The balance is derived from the journal; nothing is ever updated or deleted in it.

A run reserves its estimated credits before anything is rendered or sent; when it succeeds the
reservation is committed (at most what was reserved) in the same transaction as the run's row, and
the rest released; when it fails it is released. A reservation whose owner died (``kill -9`` of a
batch, on this host) or whose lease ran out (any host) is released by the next process that reads
the balance. A Batch API submit reserves its whole estimate without a lease (escrow): collecting
commits each request's actual credits and releases the rest; a cancelled, expired or failed batch
releases it all.

Credits are amounts of two decimals (``workbench.credits``: a low image costs 0.59); every amount
the wallet takes or gives is rounded to them (``credits_value``) before it is compared or written,
and messages print them with ``format_credits`` (2, 0.35, 12.5).
"""

from __future__ import annotations

import math
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.credits import credits_value, format_credits, in_hundredths, whole_credits_for
from workbench.errors import BudgetError, SpecError
from workbench.lazy import lazy_module
from workbench.ledger import Ledger
from workbench.ledger.money import JournalEntry, OpenHold, lease_until

if TYPE_CHECKING:
    import pandas as pd
else:  # only the history and limits tables need it: a run's reserve and commit do not
    pd = lazy_module("pandas")

__all__ = ["MAX_CREDITS", "RUN_LEASE_SECONDS", "Reservation", "Wallet", "process_alive", "topup_advice"]

_HOST = socket.gethostname()
RUN_LEASE_SECONDS = float(os.environ.get("WORKBENCH_LEASE_SECONDS") or 1800)
"""How long a run's reservation holds when its owner cannot be asked (another host): 30 minutes."""
MAX_CREDITS = 10**9
"""The most a top-up adds and a wallet holds (PostgreSQL keeps credits as ``numeric(14,2)``)."""


def topup_advice(short: float) -> str:
    """What to do about a shortfall: the top-up command (whole credits, at least the shortfall),
    or (past what a wallet holds) to ask less."""
    if short <= MAX_CREDITS:
        return f"top up with `workbench wallet topup {whole_credits_for(short)}`"
    return f"that is more than a wallet can hold ({MAX_CREDITS:,} credits): ask for less"


@dataclass(frozen=True)
class Reservation:
    """Credits held for one run (or one batch) until they are committed or released.

    ``id`` is the journal id of the reserve entry (None when nothing was held: a free run).
    """

    id: int | None
    run_id: str | None
    credits: float
    batch_id: str | None = None

    @property
    def escrow(self) -> bool:
        """A batch's reservation (Batch API): its runs commit against it; only the batch releases it."""
        return self.run_id is None and self.batch_id is not None


def _is_amount(value: Any) -> bool:
    """A finite number (not a bool) of whole hundredths of a credit."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and in_hundredths(value)
    )


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


def _owner_gone(hold: OpenHold) -> str | None:
    """Why an open reservation may be released by someone else, or None while its owner lives.

    On this host the owner is asked (a live process keeps its reservation, however long its
    request takes); on another host only the lease can tell.
    """
    if hold.pid is not None and hold.host == _HOST:
        if hold.pid == os.getpid() or process_alive(hold.pid):
            return None
        return f"owner {hold.pid}@{hold.host} is gone"
    if hold.expired():
        return "lease expired"
    return None


class Wallet:
    """Credits for runs. New wallets hold 10 welcome credits.

    Example:
        >>> wallet = Workbench().wallet
        >>> wallet.balance
        10.0
        >>> wallet.topup(50, note="team budget")
        60.0
        >>> wallet.history()[["kind", "credits", "held", "run_id", "balance"]]
    """

    def __init__(self, ledger: Ledger, *, user: str | None = None, project: str | None = None) -> None:
        self.ledger = ledger
        # Who this wallet's entries belong to when a call does not say (the Workbench's user and
        # project): top-ups, reservations and direct charges record them.
        self.user = user
        self.project = project

    # -- reading ------------------------------------------------------------------------------
    def _release_orphans(self, db: Any) -> None:
        """Release the reservations whose owner died or whose lease ran out."""
        for hold in self.ledger.open_holds(db=db):
            if hold.batch_id is not None and hold.lease_until is None:
                continue  # a Batch API escrow: released by its batch's collect or cancel, not by time
            reason = _owner_gone(hold)
            if reason is not None:
                self._release_hold(hold, note=reason, db=db)
                if hold.run_id is not None:  # its request may have gone out: log what it left
                    self.ledger.attempt_orphan(hold.run_id, f"owner died mid-request: {reason}", db=db)

    def _available(self, db: Any) -> float:
        return self.ledger.journal_sums(db=db)[0]

    @property
    def balance(self) -> float:
        """Credits available now: the journal's credits (reservations are already taken out)."""
        with self.ledger.transaction() as db:
            self._release_orphans(db)
            return self._available(db)

    @property
    def reserved(self) -> float:
        """Credits held by reservations now."""
        return self.ledger.journal_sums()[1]

    @property
    def spent(self) -> float:
        """Credits committed for runs so far, less refunds."""
        return self.ledger.journal_spent()

    def can_pay(self, credits: float) -> bool:
        return credits_value(credits) <= self.balance

    # -- reservations -------------------------------------------------------------------------
    def reserve(
        self,
        credits: float,
        run_id: str | None,
        *,
        batch_id: str | None = None,
        lease_seconds: float | None = RUN_LEASE_SECONDS,
        what: str = "this run",
        user: str | None = None,
        project: str | None = None,
    ) -> Reservation:
        """Hold ``credits`` for a run (or a batch), or raise ``BudgetError`` with the shortfall;
        holds nothing then. ``lease_seconds=None`` holds until released (a batch's escrow).
        ``user``/``project``: who reserves and what for; a spending limit set for either
        (``set_limit``) is checked here too, with what they already spent or hold."""
        credits = credits_value(credits)
        if credits <= 0:
            return Reservation(None, run_id, 0, batch_id)
        with self.ledger.transaction() as db:
            self._release_orphans(db)
            available = self._available(db)
            if credits > available:
                short = credits_value(credits - available)
                raise BudgetError(
                    f"Not enough credits: {what} costs {format_credits(credits)}, the wallet has "
                    f"{format_credits(available)} (short by {format_credits(short)}); {topup_advice(short)}.",
                    needed=credits,
                    available=available,
                )
            user = user if user is not None else self.user
            project = project if project is not None else self.project
            self._check_limits(credits, user=user, project=project, what=what, db=db)
            escrow = batch_id is not None and lease_seconds is None
            entry = JournalEntry(
                "reserve",
                credits=-credits,
                held=credits,
                run_id=run_id,
                batch_id=batch_id,
                pid=None if escrow else os.getpid(),
                host=_HOST,
                lease_until=lease_until(lease_seconds),
                user=user,
                project=project,
            )
            reservation = self.ledger.journal_append(entry, db=db)
            self.ledger.hold_open(reservation, entry, db=db)
            return Reservation(reservation, run_id, credits, batch_id)

    def _check_limits(
        self, credits: float, *, user: str | None, project: str | None, what: str, db: Any
    ) -> None:
        for scope, name in (("user", user), ("project", project)):
            if not name:
                continue
            limit = self.ledger.limit_get(scope, name, db=db)
            if limit is None:
                continue
            used = self.ledger.journal_used(scope, name, db=db)
            if credits_value(used + credits) > limit:
                left = max(0.0, credits_value(limit - used))
                raise BudgetError(
                    f"Over the spending limit of {scope} {name}: {what} costs {format_credits(credits)}, "
                    f"{format_credits(left)} of its {format_credits(limit)} credits are left "
                    f"({format_credits(used)} spent or held); "
                    f"raise it with `workbench wallet limit --{scope} {name} CREDITS`.",
                    needed=credits,
                    available=left,
                )

    # -- who spent what -----------------------------------------------------------------------
    def set_limit(
        self, credits: float | None, *, user: str | None = None, project: str | None = None
    ) -> None:
        """Limit what a user or a project may spend (credits spent or held), or with None lift it.

        Example:
            >>> wb.wallet.set_limit(200, project="spring-campaign")
        """
        if (user is None) == (project is None):
            raise SpecError("Give a user or a project for a spending limit (one of them).", field="user")
        if credits is not None and (not _is_amount(credits) or credits < 0 or credits > MAX_CREDITS):
            raise SpecError(
                f"A spending limit is a number of credits with at most two decimals, 0 to {MAX_CREDITS:,}, "
                f"not {credits!r}.",
                field="credits",
            )
        scope, name = ("user", user) if user is not None else ("project", project)
        self.ledger.limit_set(scope, str(name), None if credits is None else credits_value(credits))

    def limits(self) -> pd.DataFrame:
        """Every spending limit with what its user or project has spent or holds."""
        rows = [
            {"scope": s, "name": n, "limit": c, "used": self.ledger.journal_used(s, n)}
            for s, n, c in self.ledger.limits()
        ]
        return pd.DataFrame(rows, columns=["scope", "name", "limit", "used"])

    def spent_by(self, *, user: str | None = None, project: str | None = None) -> float:
        """Credits a user's (or a project's) runs have spent or hold now."""
        if (user is None) == (project is None):
            raise SpecError("Give a user or a project (one of them).", field="user")
        return self.ledger.journal_used("user" if user is not None else "project", str(user or project))

    def _held(self, reservation: Reservation, db: Any) -> float:
        holds = self.ledger.open_holds(reservation=reservation.id, db=db)
        return holds[0].credits if holds else 0.0

    def commit(
        self,
        reservation: Reservation,
        credits: float,
        *,
        db: Any,
        run_id: str | None = None,
        settle: bool = True,
    ) -> float:
        """Charge ``credits`` against a reservation inside the caller's transaction; return the
        credits charged.

        Never more than the reservation still holds is charged (an answer with more images than
        asked for costs what was reserved). ``settle`` releases what is left (a run); a batch's
        escrow passes False for each request and releases the rest at the end.
        """
        run_id = run_id or reservation.run_id
        credits = max(0.0, credits_value(credits))
        if reservation.id is None:  # nothing held: a direct charge (an answer that came another way)
            # Never below zero: what the wallet cannot cover is not charged (the run's dollars are
            # still in its row); e.g. a batch submitted before escrow existed, collected later.
            asked = credits
            charged = min(asked, max(0.0, self._available(db)))
            if charged > 0:
                entry = JournalEntry(
                    "commit",
                    credits=-charged,
                    run_id=run_id,
                    batch_id=reservation.batch_id,
                    note=None
                    if charged == asked
                    else f"{format_credits(asked)} asked, the wallet had {format_credits(charged)}",
                    user=self.user,
                    project=self.project,
                )
                self.ledger.journal_append(entry, db=db)
            return charged
        held = self._held(reservation, db)
        charged = min(credits, held)
        owed = credits_value(min(credits, reservation.credits) - charged)
        if owed and not reservation.escrow:
            owed = min(owed, max(0.0, self._available(db)))  # charged after release: never below zero
        if owed and not reservation.escrow:
            # The reservation was released under the run (its lease ran out on another host) but
            # the service did the work: charge what was reserved for it all the same.
            self.ledger.journal_append(
                JournalEntry(
                    "commit",
                    credits=-owed,
                    run_id=run_id,
                    reservation=reservation.id,
                    note="charged after its reservation was released",
                    user=self.user,
                    project=self.project,
                ),
                db=db,
            )
        if charged:
            self.ledger.journal_append(
                JournalEntry(
                    "commit",
                    held=-charged,
                    run_id=run_id,
                    batch_id=reservation.batch_id,
                    reservation=reservation.id,
                    note=None
                    if charged == credits
                    else f"{format_credits(credits)} asked, {format_credits(charged)} held",
                ),
                db=db,
            )
            self.ledger.hold_reduce(reservation.id, charged, db=db)
        if settle and credits_value(held - charged) > 0:
            self._release(reservation, credits_value(held - charged), note="unspent", db=db)
        if owed and not reservation.escrow:
            return credits_value(charged + owed)
        return charged

    def release(self, reservation: Reservation, *, db: Any = None, note: str | None = None) -> float:
        """Give back what a reservation still holds (the run failed, the batch ended); return it."""
        if reservation.id is None:
            return 0.0
        if db is None:
            with self.ledger.transaction() as tx:
                return self.release(reservation, db=tx, note=note)
        held = self._held(reservation, db)
        if held > 0:
            self._release(reservation, held, note=note, db=db)
        return held

    def _release(self, reservation: Reservation, credits: float, *, note: str | None, db: Any) -> None:
        self.ledger.journal_append(
            JournalEntry(
                "release",
                credits=credits,
                held=-credits,
                run_id=reservation.run_id,
                batch_id=reservation.batch_id,
                reservation=reservation.id,
                note=note,
            ),
            db=db,
        )
        self.ledger.hold_reduce(reservation.id, credits, db=db)  # type: ignore[arg-type]

    def _release_hold(self, hold: OpenHold, *, note: str, db: Any) -> None:
        self._release(
            Reservation(hold.reservation, hold.run_id, hold.credits, hold.batch_id),
            hold.credits,
            note=note,
            db=db,
        )

    def escrow(self, batch_id: str) -> Reservation | None:
        """A batch's open escrow (its Batch API reservation), or None."""
        holds = [h for h in self.ledger.open_holds(batch_id=batch_id) if h.run_id is None]
        if not holds:
            return None
        hold = holds[0]
        return Reservation(hold.reservation, None, hold.credits, batch_id)

    # -- top-ups and history ------------------------------------------------------------------
    def topup(self, credits: float, *, note: str | None = None) -> float:
        """Add credits (two decimals at most: 50, or 12.5); returns the new balance."""
        self._positive(credits, "A top-up")
        credits = credits_value(credits)
        if credits > MAX_CREDITS:
            raise SpecError(
                f"A top-up adds at most {MAX_CREDITS:,} credits, "
                f"not {format_credits(credits, grouped=True)}.",
                field="credits",
            )
        with self.ledger.transaction() as db:
            if self._available(db) + credits > MAX_CREDITS:
                raise SpecError(
                    f"A wallet holds at most {MAX_CREDITS:,} credits; it has "
                    f"{format_credits(self._available(db), grouped=True)}, "
                    f"so a top-up of {format_credits(credits, grouped=True)} is too much.",
                    field="credits",
                )
            self.ledger.journal_append(
                JournalEntry("topup", credits=credits, note=note, user=self.user, project=self.project), db=db
            )
            return self._available(db)

    def refund(self, credits: float, *, run_id: str | None = None, note: str | None = None) -> float:
        """Give credits back for a run that was charged wrongly; returns the new balance."""
        self._positive(credits, "A refund")
        credits = credits_value(credits)
        with self.ledger.transaction() as db:
            self.ledger.journal_append(
                JournalEntry("refund", credits=credits, run_id=run_id, note=note), db=db
            )
            return self._available(db)

    @staticmethod
    def _positive(credits: Any, what: str) -> None:
        if not _is_amount(credits) or credits <= 0:
            raise SpecError(
                f"{what} must be a positive number of credits with at most two decimals, not {credits!r}.",
                field="credits",
            )

    def history(
        self,
        *,
        run_id: str | None = None,
        batch_id: str | None = None,
        user: str | None = None,
        project: str | None = None,
    ) -> pd.DataFrame:
        """The journal as a DataFrame, oldest first: kind, credits (available), held, run or batch,
        owner, lease, user and project, and the balance after each entry. ``user``/``project``:
        only their entries (a release or commit belongs to its reservation's user)."""
        columns = [
            "created_at",
            "kind",
            "credits",
            "held",
            "run_id",
            "batch_id",
            "owner",
            "lease_until",
            "note",
            "user",
            "project",
        ]
        entries = self.ledger.journal_entries(run_id=run_id, batch_id=batch_id)
        by_id = {e.id: e for e in entries}
        owner_of = {
            e.id: (e.user, e.project)
            if e.reservation is None or e.reservation not in by_id
            else (by_id[e.reservation].user, by_id[e.reservation].project)
            for e in entries
        }
        if user is not None or project is not None:
            entries = [
                e
                for e in entries
                if (user is None or owner_of[e.id][0] == user)
                and (project is None or owner_of[e.id][1] == project)
            ]
        frame = pd.DataFrame(
            [
                {
                    "created_at": e.created_at,
                    "kind": e.kind,
                    "credits": e.credits,
                    "held": e.held,
                    "run_id": e.run_id,
                    "batch_id": e.batch_id,
                    "owner": f"{e.pid}@{e.host}" if e.pid is not None else (e.host and f"@{e.host}"),
                    "lease_until": e.lease_until,
                    "note": e.note,
                    "user": owner_of[e.id][0],
                    "project": owner_of[e.id][1],
                }
                for e in entries
            ],
            columns=columns,
        )
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
        frame["credits"] = frame["credits"].astype("float64")
        frame["held"] = frame["held"].astype("float64")
        if run_id is None and batch_id is None and user is None and project is None:
            frame["balance"] = frame["credits"].cumsum().round(2)
        return frame

    def __repr__(self) -> str:
        return f"<Wallet balance={format_credits(self.balance)} credits>"
