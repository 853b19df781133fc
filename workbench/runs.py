"""The run pipeline: plan -> cache? -> reserve -> backend -> store -> record + charge.

``Workbench.run_plan`` / ``arun_plan`` / ``record_result`` call these functions; every run row and
every wallet charge is written here, through the ``Ledger``. One run goes::

    plan -> cached row? (a ``cached`` run at 0 credits) -> wallet.reserve -> backend.send
         -> store.put -> ledger.record + wallet.commit (one transaction)

A failure after the request left the machine is a ``failed`` or ``blocked`` row at 0 credits and
the reservation is released in the same transaction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.backends.base import Backend, ImageRequest, ImageResult, PartialCallback, get_backend_class
from workbench.credits import credits_value, format_credits
from workbench.errors import BackendError, ContentPolicyError, InputImageError, SpecError
from workbench.lazy import lazy_module
from workbench.ledger import RUN_COLUMNS, utc_now
from workbench.pricing import Estimate
from workbench.redaction import redact
from workbench.spec import PromptSpec
from workbench.store import Store
from workbench.wallet import Reservation

if TYPE_CHECKING:
    from PIL import Image

    from workbench.core import Workbench

# Only the async paths (batches, arun_plan) use it; a draft from the command line never starts a loop.
asyncio = lazy_module("asyncio")

__all__ = [
    "CLAIM_LEASE_SECONDS",
    "Plan",
    "Run",
    "arun_plan",
    "cached_row",
    "call_row",
    "record_cached_call",
    "record_result",
    "run_call",
    "run_plan",
]

_HOST = socket.gethostname()
CLAIM_LEASE_SECONDS = float(os.environ.get("WORKBENCH_CLAIM_LEASE_SECONDS") or 900)
"""How long a claim on a request's fingerprint holds when its owner cannot be asked (another host)."""


@dataclass
class Run:
    """One run as the ledger records it. ``images`` are absolute paths in the store."""

    id: str
    status: str
    kind: str
    backend: str
    model: str | None
    prompt: str
    spec: PromptSpec | None
    width: int
    height: int
    quality: str | None
    n: int
    credits: float
    usd: float
    credits_estimated: float
    usd_estimated: float
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: float | None
    fingerprint: str | None
    images: list[Path] = field(default_factory=list)
    error: str | None = None
    batch_id: str | None = None
    parent_id: str | None = None
    cached_from: str | None = None
    created_at: str = ""
    preset: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any], root: Path | Store) -> Run:
        """A run from its ledger row; ``root``: the Workbench's store (images on shared storage are
        fetched into its local cache) or a folder the store paths are relative to."""
        values = {f.name: row[f.name] for f in dataclasses.fields(cls)}  # its columns, by name
        values["spec"] = PromptSpec.from_json(row["spec"]) if row.get("spec") else None
        for name in ("credits", "credits_estimated"):  # a float of two decimals, however it was stored
            values[name] = credits_value(values[name])
        values["images"] = [root.path(p) if isinstance(root, Store) else root / p for p in row["images"]]
        return cls(**values)

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "cached")

    @property
    def cached(self) -> bool:
        return self.status == "cached"

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def image(self, index: int = 0) -> Image.Image:
        """Open one of the run's images with Pillow."""
        from PIL import Image

        return Image.open(self.images[index])

    def _repr_html_(self) -> str:
        """A small card in notebooks: a thumbnail from the store (never the full image), status,
        size, credits and dollars."""
        from workbench.widgets.html import run_html

        return run_html(self)

    def __repr__(self) -> str:
        return (
            f"<Run {self.id[:8]} {self.status} {self.backend}/{self.model} {self.size} "
            f"{format_credits(self.credits)} credits, {len(self.images)} image(s)>"
        )


@dataclass(frozen=True)
class _Attempt:
    """A run under way: its id, start time, batch, backend and the credits it holds."""

    run_id: str
    started: float
    batch_id: str | None
    shard: int | None
    backend: Backend | None  # None when the request went another way (Batch API answers)
    reservation: Reservation
    fingerprint: str | None = None  # the claim this attempt holds (released with its row)


@dataclass(frozen=True)
class Plan:
    """A validated run before it is paid for or sent: request, backend, fingerprint, estimate."""

    request: ImageRequest
    backend: str
    model: str
    fingerprint: str
    estimate: Estimate
    spec: PromptSpec | None
    params: dict[str, Any]
    parent_id: str | None = None


def run_plan(
    wb: Workbench,
    plan: Plan,
    *,
    fresh: bool = False,
    batch_id: str | None = None,
    shard: int | None = None,
    on_partial: PartialCallback | None = None,
    raise_errors: bool = True,
) -> Run:
    """Run a plan: cache, reserve, send, store, record, charge."""
    attempt = _begin(wb, plan, fresh, batch_id, shard)
    if isinstance(attempt, Run):
        return attempt
    try:
        try:
            _sent(wb, plan, attempt)
            result = attempt.backend.send(plan.request, on_partial=on_partial)
        except BaseException as exc:
            return _fail(wb, plan, attempt, exc, raise_errors)
        return _finish(wb, plan, attempt, result, raise_errors=raise_errors)
    except BaseException:
        _abandon(wb, attempt)
        raise
    finally:
        _ACTIVE.pop(attempt.run_id, None)


async def arun_plan(
    wb: Workbench,
    plan: Plan,
    *,
    fresh: bool = False,
    batch_id: str | None = None,
    shard: int | None = None,
    on_partial: PartialCallback | None = None,
    raise_errors: bool = True,
) -> Run:
    """Async twin of ``run_plan``.

    Storing the images (hashing, writing files) and the ledger commit after an answer mostly
    wait on the disk, so they run in a worker thread: the event loop keeps reading other
    requests' answers meanwhile (about 0.1 x the ideal time of a 200-request batch).
    """
    attempt = await _abegin(wb, plan, fresh, batch_id, shard)
    if isinstance(attempt, Run):
        return attempt
    try:
        try:
            _sent(wb, plan, attempt)
            result = await attempt.backend.asend(plan.request, on_partial=on_partial)
        except BaseException as exc:
            return _fail(wb, plan, attempt, exc, raise_errors)
        return await asyncio.to_thread(_finish, wb, plan, attempt, result, raise_errors=raise_errors)
    except BaseException:
        _abandon(wb, attempt)
        raise
    finally:
        _ACTIVE.pop(attempt.run_id, None)


def record_result(
    wb: Workbench,
    plan: Plan,
    *,
    result: ImageResult | None = None,
    error: BaseException | None = None,
    batch_id: str | None = None,
    shard: int | None = None,
    latency_ms: float = 0.0,
    batch_pricing: bool = False,
    escrow: Reservation | None = None,
) -> Run:
    """Log a run whose request was sent another way (see ``Workbench.record_result``); with an
    ``escrow`` (a Batch API submit's reservation) its credits are committed against it."""
    run_id = uuid.uuid4().hex
    attempt = _Attempt(
        run_id,
        time.perf_counter() - latency_ms / 1000,
        batch_id,
        shard,
        None,
        escrow or Reservation(None, run_id, 0, batch_id),
    )
    if result is not None:
        return _finish(wb, plan, attempt, result, raise_errors=False, batch_pricing=batch_pricing)
    failure = error if isinstance(error, Exception) else BackendError("No answer.", backend=plan.backend)
    return _fail(wb, plan, attempt, failure, False)


def cached_row(wb: Workbench, fingerprint: str) -> dict[str, Any] | None:
    """The run a request with this fingerprint can be served from: ok, with every image stored."""
    row = wb.ledger.find_ok(fingerprint)
    if row and row["images"] and all(wb.store.exists(p) for p in row["images"]):
        return row
    return None


# -- runs that are not images (the vision judge's) ----------------------------------------------
CallAnswer = tuple[dict[str, Any], list[dict[str, Any]]]
"""What a call's ``send`` returns: the row's values from the answer (``credits``, ``usd``, tokens,
``params``...) and the tries of the request (as the image backends record them)."""


def call_row(wb: Workbench, **values: Any) -> dict[str, Any]:
    """The run row of a request that is not an image (``kind``, ``backend``, ``model``, ``prompt``,
    ``params``, ``fingerprint``, the estimate...): every run-log column, a new id, its owner and,
    when it is about another run (``parent_id``), that run's batch and shard, so a batch's spend
    (and so its ``--budget``) counts it."""
    row = dict.fromkeys(RUN_COLUMNS) | {
        "id": uuid.uuid4().hex,
        "created_at": utc_now(),
        "n": 1,
        "variant": 0,
        "images": [],
        **values,
    }
    parent = wb.ledger.get(row["parent_id"]) if row.get("parent_id") else None
    if parent is not None:
        row["batch_id"] = row["batch_id"] or parent.get("batch_id")
        row["shard"] = row["shard"] if row["shard"] is not None else parent.get("shard")
    row["user"] = row["user"] or wb.user
    row["project"] = row["project"] or wb.project or (parent or {}).get("project")
    return row


def record_cached_call(wb: Workbench, row: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
    """Log a call answered from an earlier one (``source``, an ok row): a ``cached`` run at 0 credits."""
    cached = dict(row) | {
        "status": "cached",
        "credits": 0,
        "usd": 0.0,
        "tokens_in": 0,
        "tokens_out": 0,
        "latency_ms": 0.0,
        "cached_from": source["id"],
        "params": source.get("params"),
    }
    wb.ledger.record(cached)
    return cached


def run_call(
    wb: Workbench, row: Mapping[str, Any], send: Callable[[], CallAnswer], *, what: str = "this run"
) -> dict[str, Any]:
    """Run a request that is not an image (``row`` from ``call_row``) as an image run goes:
    reserve its ``credits_estimated`` (``BudgetError`` before anything is sent), ``send()``, then
    record the row and its attempts and charge the wallet in one transaction. When ``send`` fails,
    a ``failed`` row at 0 credits is recorded and the reservation released together, and the error
    is raised with the run's id (``exc.run_id``); interrupted, the credits come back, no row."""
    row = dict(row)
    run_id = row["id"]
    reservation = wb.wallet.reserve(
        credits_value(row["credits_estimated"]),
        run_id,
        what=what,
        user=row.get("user"),
        project=row.get("project"),
    )
    started = time.perf_counter()
    try:
        values, tries = send()
    except BaseException as exc:
        if not isinstance(exc, Exception):
            wb.wallet.release(reservation)
            raise
        tries = _billed_at(row, list(getattr(exc, "tries", None) or []))
        failed = row | {
            "status": "failed",
            "credits": 0,
            "usd": 0.0,
            "error": redact(str(exc) or type(exc).__name__),
            "latency_ms": (time.perf_counter() - started) * 1000,
            "usd_possibly_billed": _billed_usd(tries),
            "attempts": len(tries) or 1,
        }
        with wb.ledger.transaction() as db:
            wb.wallet.release(reservation, db=db)
            wb.ledger.record(failed, db=db)
            wb.ledger.record_attempts(_attempt_rows(run_id, tries), db=db)
        if hasattr(exc, "__dict__"):
            exc.run_id = run_id  # type: ignore[attr-defined]
        raise
    tries = _billed_at(row, tries)
    done = row | {
        "status": "ok",
        "latency_ms": (time.perf_counter() - started) * 1000,
        "usd_possibly_billed": _billed_usd(tries),
        "attempts": len(tries) or 1,
        **values,
    }
    try:
        with wb.ledger.transaction() as db:  # the answer's row and its charge: together or not at all
            done["credits"] = wb.wallet.commit(
                reservation, credits_value(done["credits"]), db=db, run_id=run_id
            )
            wb.ledger.record(done, db=db)
            wb.ledger.record_attempts(_attempt_rows(run_id, tries), db=db)
    except BaseException:
        with contextlib.suppress(Exception):
            wb.wallet.release(reservation)
        raise
    return done


def _billed_at(row: Mapping[str, Any], tries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A call's tries, each the service may have billed at the call's estimated dollars."""
    usd = float(row.get("usd_estimated") or 0.0)
    return [t | {"usd": usd if t.get("possibly_billed") else 0.0} for t in tries]


# -- the steps ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Pending:
    """A run past the cache, before its claim and reservation."""

    run_id: str
    started: float
    batch_id: str | None
    shard: int | None
    backend: Backend
    claims: bool  # whether it claims its fingerprint (paid backends, not fresh)


_BUSY = object()  # another request holds the claim: look again after a while

# This process's runs under way, by run id: [ledger, claimed fingerprint or None, reservation id or
# None]. A claim with our pid whose run is not here was left behind (it counts as gone); a thread
# renews the leases of the rest while their requests take long.
_ACTIVE: dict[str, list[Any]] = {}
_RENEWER: list[threading.Thread] = []
_RENEWER_LOCK = threading.Lock()
WAIT_MESSAGE_SECONDS = 2.0  # waiting this long for another request's claim says so (stderr)


def _active(wb: Workbench, run_id: str, fingerprint: str | None) -> None:
    _ACTIVE[run_id] = [wb.ledger, fingerprint, None]
    if not _RENEWER:
        with _RENEWER_LOCK:
            if not _RENEWER:
                thread = threading.Thread(target=_renew_leases, name="workbench-leases", daemon=True)
                _RENEWER.append(thread)
                thread.start()


def _renew_leases() -> None:
    """Renew the leases of this process's claims and reservations, a few times a lease."""
    from workbench.wallet import RUN_LEASE_SECONDS

    last = time.monotonic()
    while True:
        every = max(0.05, min(CLAIM_LEASE_SECONDS, RUN_LEASE_SECONDS) / 3)
        time.sleep(min(every, 1.0))
        if time.monotonic() - last < every:
            continue
        last = time.monotonic()
        by_ledger: dict[int, tuple[Any, list[tuple[str, str]], list[int]]] = {}
        for run_id, (ledger, fingerprint, reservation) in list(_ACTIVE.items()):
            _, claims, holds = by_ledger.setdefault(id(ledger), (ledger, [], []))
            if fingerprint:
                claims.append((fingerprint, run_id))
            if reservation is not None:
                holds.append(reservation)
        for ledger, claims, holds in by_ledger.values():
            with contextlib.suppress(Exception):  # a closed ledger: its runs are over
                ledger.leases_renew(
                    claims, holds, claim_seconds=CLAIM_LEASE_SECONDS, hold_seconds=RUN_LEASE_SECONDS
                )


def _sent(wb: Workbench, plan: Plan, attempt: _Attempt) -> None:
    """Before a paid request goes out: an attempt ``sent`` (possibly billed, its estimated dollars)
    carrying the failed row to log should this process die before the answer."""
    if attempt.backend is None or attempt.backend.is_draft:
        return
    row = _row(
        wb,
        plan,
        attempt.run_id,
        "failed",
        attempt.batch_id,
        attempt.shard,
        attempt.started,
        credits=0,
        usd=0.0,
        error="The process ended while the request was under way; the service may have billed it.",
        usd_possibly_billed=round(float(plan.estimate.usd or 0.0), 6),
        attempts=1,
    )
    wb.ledger.attempt_sent(attempt.run_id, plan.estimate.usd, json.dumps(row, default=str))


class _Duplicate(Exception):
    """A batch's job already has its run (another collect recorded it): nothing more is recorded."""


def _check_once(wb: Workbench, attempt: _Attempt, row: Mapping[str, Any], db: Any) -> None:
    """Inside a Batch API answer's transaction: refuse a second row for the same job of the batch."""
    if attempt.backend is not None or not attempt.batch_id:
        return  # only answers that came another way (Batch API collect): a sent request is claimed
    try:
        job = json.loads(row.get("params") or "{}").get("job")
    except (TypeError, ValueError):
        return
    if job and wb.ledger.batch_job_recorded(attempt.batch_id, str(job), db=db):
        raise _Duplicate


def _settle_sent(wb: Workbench, attempt: _Attempt, db: Any) -> None:
    if attempt.backend is not None and not attempt.backend.is_draft:
        wb.ledger.attempt_settle(attempt.run_id, db=db)


def _abandon(wb: Workbench, attempt: _Attempt) -> None:
    """An exception got past a run's own handling: never leave its claim or its credits behind."""
    with contextlib.suppress(Exception):
        if attempt.fingerprint:
            wb.ledger.claim_release(attempt.fingerprint, attempt.run_id)
    with contextlib.suppress(Exception):
        _release(wb, attempt.reservation)


def _waiting(holder: Any, said: list[bool]) -> None:
    """Say once (stderr) whose request this one waits for."""
    said.append(True)
    print(
        f"waiting for run {holder.run_id[:12]} (pid {holder.pid} on {holder.host}), which is sending "
        "the same request; its answer will serve this one",
        file=sys.stderr,
    )


@contextlib.contextmanager
def call_claim(wb: Workbench, fingerprint: str, run_id: str) -> Generator[None, None, None]:
    """Hold a call's fingerprint claim while it is made (the judge's, as an image request holds
    its own): the same call asked at the same moment elsewhere waits for this one's answer and
    reads it from the log at 0 credits, instead of being sent and paid twice. A holder that died
    (on this host) or whose lease ran out is taken over; waiting is bounded by the lease."""
    from workbench.wallet import process_alive

    ledger, pid, lease = wb.ledger, os.getpid(), CLAIM_LEASE_SECONDS
    delay, waited = 0.01, 0.0
    while (holder := ledger.claim(fingerprint, run_id, pid=pid, host=_HOST, lease_seconds=lease)) is not None:
        gone = not process_alive(holder.pid) if holder.host == _HOST else holder.expired()
        if (gone or waited > lease) and ledger.claim_take_over(
            holder, run_id, pid=pid, host=_HOST, lease_seconds=lease
        ):
            break
        time.sleep(delay)
        waited += delay
        delay = min(delay * 1.5, 0.2)
    try:
        yield
    finally:
        ledger.claim_release(fingerprint, run_id)


def _begin_steps(
    wb: Workbench, plan: Plan, fresh: bool, batch_id: str | None, shard: int | None
) -> Generator[float, None, Run | _Attempt]:
    """The start of a run, yielding how long to sleep while another request holds the claim;
    returns a cached Run (the request was made before, or by the request it waited for), else an
    attempt holding the request's claim and its credits. ``_begin`` and ``_abegin`` sleep."""
    pending = _start(wb, plan, fresh, batch_id, shard)
    if isinstance(pending, Run):
        return pending
    delay, waited, said = 0.01, 0.0, []
    while pending.claims:
        step = _claim_step(wb, plan, pending, waited)
        if step is not _BUSY:
            if isinstance(step, Run):
                return step
            break
        if waited >= WAIT_MESSAGE_SECONDS and not said:
            _waiting(wb.ledger.claim_holder(plan.fingerprint) or _NOBODY, said)
        yield delay
        waited += delay
        delay = min(delay * 1.5, 0.2)
    return _reserve(wb, plan, pending)


def _begin(wb: Workbench, plan: Plan, fresh: bool, batch_id: str | None, shard: int | None) -> Run | _Attempt:
    """A cached Run or an attempt holding the claim and credits (see ``_begin_steps``)."""
    steps = _begin_steps(wb, plan, fresh, batch_id, shard)
    try:
        while True:
            time.sleep(next(steps))
    except StopIteration as done:
        return done.value


async def _abegin(
    wb: Workbench, plan: Plan, fresh: bool, batch_id: str | None, shard: int | None
) -> Run | _Attempt:
    """``_begin`` for the event loop: waiting for another request's claim sleeps in the loop
    (never in a worker thread, which the request it waits for may need to finish)."""
    steps = _begin_steps(wb, plan, fresh, batch_id, shard)
    try:
        while True:
            await asyncio.sleep(next(steps))
    except StopIteration as done:
        return done.value


class _Nobody:
    run_id, pid, host = "?", "?", "?"


_NOBODY = _Nobody()


def _start(wb: Workbench, plan: Plan, fresh: bool, batch_id: str | None, shard: int | None) -> Run | _Pending:
    attempt_id, started = uuid.uuid4().hex, time.perf_counter()
    hit = None if fresh else _record_cached(wb, plan, attempt_id, batch_id, shard, started)
    if hit is not None:
        return hit
    backend = wb.backend(plan.backend)  # a missing key fails here, before any reservation
    return _Pending(attempt_id, started, batch_id, shard, backend, not fresh and not backend.is_draft)


def _reserve(wb: Workbench, plan: Plan, pending: _Pending) -> _Attempt:
    claimed = plan.fingerprint if pending.claims else None
    try:
        user, project = run_owner(wb, plan)
        reservation = wb.wallet.reserve(plan.estimate.credits, pending.run_id, user=user, project=project)
    except BaseException:
        _ACTIVE.pop(pending.run_id, None)
        if claimed:
            wb.ledger.claim_release(claimed, pending.run_id)
        raise
    if claimed or reservation.id is not None:
        _active(wb, pending.run_id, claimed)
        _ACTIVE[pending.run_id][2] = reservation.id
    return _Attempt(
        pending.run_id,
        pending.started,
        pending.batch_id,
        pending.shard,
        pending.backend,
        reservation,
        claimed,
    )


def _claim_step(wb: Workbench, plan: Plan, pending: _Pending, waited: float = 0.0) -> Run | None | object:
    """One try at the request's claim: None when it is ours, the answer of the request that held
    it as a cached run (0 credits), or ``_BUSY`` while that request is under way. A claim whose
    owner died (on this host) or whose lease ran out is taken over; one released without an answer
    (the request failed) is claimed again."""
    from workbench.wallet import process_alive

    ledger, pid, run_id = wb.ledger, os.getpid(), pending.run_id
    lease = CLAIM_LEASE_SECONDS
    _active(wb, run_id, plan.fingerprint)  # before the claim: ours is never taken for left behind
    holder = ledger.claim(plan.fingerprint, run_id, pid=pid, host=_HOST, lease_seconds=lease)
    if holder is not None:
        # On this host the holder is asked (in this process: is its run under way?); on another,
        # only its lease can tell (renewed while its request lasts). Waiting is bounded by the lease.
        if holder.host == _HOST and holder.pid == pid:
            gone = holder.run_id not in _ACTIVE
        elif holder.host == _HOST:
            gone = not process_alive(holder.pid)
        else:
            gone = holder.expired()
        gone = gone or waited > lease
        if not (gone and ledger.claim_take_over(holder, run_id, pid=pid, host=_HOST, lease_seconds=lease)):
            _ACTIVE.pop(run_id, None)
            hit = _record_cached(wb, plan, run_id, pending.batch_id, pending.shard, pending.started)
            return hit if hit is not None else _BUSY
    # Ours. The holder may have recorded its answer just before we claimed: use it. Also when we
    # did not wait: our first look at the cache can predate its row while its claim is gone.
    try:
        hit = _record_cached(wb, plan, run_id, pending.batch_id, pending.shard, pending.started)
    except BaseException:
        _ACTIVE.pop(run_id, None)
        ledger.claim_release(plan.fingerprint, run_id)
        raise
    if hit is not None:
        _ACTIVE.pop(run_id, None)
        ledger.claim_release(plan.fingerprint, run_id)
        return hit
    return None


def _row(
    wb: Workbench,
    plan: Plan,
    run_id: str,
    status: str,
    batch_id: str | None,
    shard: int | None,
    started: float,
    **values: Any,
) -> dict[str, Any]:
    request = plan.request
    return dict.fromkeys(RUN_COLUMNS) | {
        "id": run_id,
        "created_at": utc_now(),
        "batch_id": batch_id,
        "shard": shard,
        "parent_id": plan.parent_id,
        "kind": request.kind,
        "backend": plan.backend,
        "model": plan.model,
        "preset": plan.spec.preset if plan.spec else None,
        "prompt": request.prompt,
        "spec": plan.spec.to_json() if plan.spec else None,
        "params": _json(plan.params),
        "width": request.width,
        "height": request.height,
        "quality": request.quality,
        "n": request.n,
        "seed": request.seed,
        "variant": request.variant,
        "status": status,
        "credits_estimated": plan.estimate.credits,
        "usd_estimated": plan.estimate.usd,
        "fingerprint": plan.fingerprint,
        "latency_ms": (time.perf_counter() - started) * 1000,
        "user": run_owner(wb, plan)[0],
        "project": run_owner(wb, plan)[1],
        **values,
    }


def run_owner(wb: Workbench, plan: Plan) -> tuple[str | None, str | None]:
    """Who makes a run and what for: the Workbench's user, and its project, else the batch's
    experiment (a batch job's params name it)."""
    return wb.user, wb.project or (plan.params or {}).get("experiment")


def _record_cached(
    wb: Workbench, plan: Plan, run_id: str, batch_id: str | None, shard: int | None, started: float
) -> Run | None:
    source = cached_row(wb, plan.fingerprint)
    if source is None:
        return None
    row = _row(
        wb,
        plan,
        run_id,
        "cached",
        batch_id,
        shard,
        started,
        credits=0,
        usd=0.0,
        images=source["images"],
        cached_from=source["id"],
        tokens_in=0,
        tokens_out=0,
    )
    wb.ledger.record(row)
    return Run.from_row(row, wb.store)


def _finish(
    wb: Workbench,
    plan: Plan,
    attempt: _Attempt,
    result: ImageResult,
    *,
    raise_errors: bool = True,
    batch_pricing: bool = False,
) -> Run:
    """Store the answer's images, then record the run and charge the wallet in one transaction."""
    cls = get_backend_class(plan.backend)
    run_id = attempt.run_id
    tries = _tries(result.raw)
    decoded: list[Any] = []  # the answer's images as _check_answer decoded them: thumbnails from them
    problem = None if cls.is_draft else _check_answer(plan.request, result.images, decoded)
    if problem is not None:
        # The service did the work and may bill it: a failed run at 0 credits, its dollars possibly billed.
        return _fail(
            wb, plan, attempt, _unusable(BackendError(problem, backend=plan.backend), tries), raise_errors
        )
    try:
        images = []
        for index, data in enumerate(result.images):
            if plan.params.get("restore_aspect"):
                from workbench.imaging.finishing import restore_aspect

                data = restore_aspect(data, plan.params["restore_aspect"])  # never raises
                decoded = []  # not the pixels stored any more
            recipe = _recipe(wb, plan, run_id, index, draft=cls.is_draft)
            layouts = (result.raw or {}).get("layout") if isinstance(result.raw, dict) else None
            if isinstance(layouts, list) and index < len(layouts) and layouts[index]:
                recipe["layout"] = layouts[index]  # where the texts were laid: the text check reads there
            images.append(wb.store.put(data, recipe=recipe))
        if not images:
            raise BackendError(f"The {plan.backend} backend returned no image.", backend=plan.backend)
    except Exception as exc:
        # The request was sent: an answer that cannot be stored is a failed run, logged at 0 credits.
        error = (
            exc
            if isinstance(exc, BackendError)
            else BackendError(f"The {plan.backend} answer could not be stored: {exc}", backend=plan.backend)
        )
        error.__cause__ = None if error is exc else exc
        return _fail(wb, plan, attempt, _unusable(error, tries), raise_errors)
    except BaseException as exc:  # interrupted: release the credits and stop
        return _fail(wb, plan, attempt, exc, True)
    # Images beyond the n asked for are kept but not charged (and never more than was reserved).
    charged_images = min(len(images), plan.request.n or len(images))
    credits = credits_value(
        wb.prices.credits_for(plan.backend, plan.model, plan.request, batch=batch_pricing) * charged_images
    )
    usage = result.usage
    tries = _priced_tries(plan, tries)
    row = _row(
        wb,
        plan,
        run_id,
        "ok",
        attempt.batch_id,
        attempt.shard,
        attempt.started,
        credits=credits,
        usd=round(wb.prices.usd_for_usage(plan.backend, plan.model, usage, batch=batch_pricing), 6),
        tokens_in=usage.tokens_in if usage else None,
        tokens_out=usage.tokens_out if usage else None,
        usage=_json(usage.__dict__) if usage else None,
        images=images,
        usd_possibly_billed=_billed_usd(tries),
        attempts=len(tries) or 1,
    )
    row["model"] = result.model or plan.model
    try:
        with wb.ledger.transaction() as db:
            _check_once(wb, attempt, row, db)
            row["credits"] = wb.wallet.commit(
                attempt.reservation, credits, db=db, run_id=run_id, settle=not attempt.reservation.escrow
            )
            wb.ledger.record(row, db=db)
            _settle_sent(wb, attempt, db)
            wb.ledger.record_attempts(_attempt_rows(run_id, tries), db=db)
            if attempt.fingerprint:
                wb.ledger.claim_release(attempt.fingerprint, run_id, db=db)
    except _Duplicate:
        return Run.from_row(row | {"credits": 0, "status": "cached", "images": images}, wb.store)
    except BaseException:
        # Nothing was recorded or charged (the transaction rolled back): free the credits now
        # rather than when this process ends. The stored images stay, by content.
        with contextlib.suppress(Exception):
            _release(wb, attempt.reservation)
        if attempt.fingerprint:
            with contextlib.suppress(Exception):
                wb.ledger.claim_release(attempt.fingerprint, run_id)
        raise
    _thumbnails(wb, images, decoded)
    return Run.from_row(row, wb.store)


def _thumbnails(wb: Workbench, images: list[str], decoded: list[Any]) -> None:
    """Each stored image's thumbnail from the pixels the answer check already decoded, so no
    stored PNG is decoded again for the gallery or a batch report. After the row: it never
    fails the run (a thumbnail that cannot be made here is made from the file when asked)."""
    if len(decoded) != len(images):
        return
    for relative, image in zip(images, decoded, strict=True):
        with contextlib.suppress(Exception):
            wb.store.thumbnail(relative, image=image)


def _fail(wb: Workbench, plan: Plan, attempt: _Attempt, exc: BaseException, raise_errors: bool) -> Run:
    """Release the reservation; log the run as failed or blocked when a request was attempted."""
    if isinstance(exc, (SpecError, InputImageError)) or (
        not isinstance(exc, Exception) and (attempt.backend is None or attempt.backend.is_draft)
    ):
        # Refused before anything left the machine, or a draft interrupted: no row, no charge.
        if isinstance(exc, Exception) and attempt.backend is not None and not attempt.backend.is_draft:
            with contextlib.suppress(Exception), wb.ledger.transaction() as db:
                _settle_sent(wb, attempt, db)  # nothing went out: nothing may be billed
        _release(wb, attempt.reservation)
        if attempt.fingerprint:
            wb.ledger.claim_release(attempt.fingerprint, attempt.run_id)
        raise exc
    if not isinstance(exc, Exception):
        # Interrupted (Ctrl-C, a cancelled task, a timeout around it) while the request was out:
        # the service may do and bill the work; the row says so before the interrupt goes on.
        with contextlib.suppress(Exception):
            _record_interrupted(wb, plan, attempt, exc)
        raise exc
    status = "blocked" if isinstance(exc, ContentPolicyError) else "failed"
    message = redact(getattr(exc, "reason", None) or str(exc) or type(exc).__name__)
    run_id = attempt.run_id
    tries = _priced_tries(plan, list(getattr(exc, "tries", None) or []))
    row = _row(
        wb,
        plan,
        run_id,
        status,
        attempt.batch_id,
        attempt.shard,
        attempt.started,
        credits=0,
        usd=0.0,
        error=message,
        usd_possibly_billed=_billed_usd(tries),
        attempts=len(tries) or 1,
    )
    try:
        with wb.ledger.transaction() as db:
            _check_once(wb, attempt, row, db)
            _release(wb, attempt.reservation, db=db)
            wb.ledger.record(row, db=db)
            _settle_sent(wb, attempt, db)
            wb.ledger.record_attempts(_attempt_rows(run_id, tries), db=db)
            if attempt.fingerprint:
                wb.ledger.claim_release(attempt.fingerprint, run_id, db=db)
    except _Duplicate:
        return Run.from_row(row | {"images": [], "status": "cached"}, wb.store)
    if raise_errors:
        if hasattr(exc, "__dict__"):
            exc.run_id = run_id  # type: ignore[attr-defined]
        raise exc
    return Run.from_row(row | {"images": []}, wb.store)


def _record_interrupted(wb: Workbench, plan: Plan, attempt: _Attempt, exc: BaseException) -> None:
    """A failed row (0 credits) for a request interrupted under way, its estimated dollars possibly billed."""
    tries = list(getattr(exc, "tries", None) or [])
    tries.append(
        {
            "number": len(tries) + 1,
            "started_at": utc_now(),
            "outcome": "cancelled",
            "possibly_billed": True,
            "error": f"interrupted ({type(exc).__name__}) while the request was under way",
        }
    )
    tries = _priced_tries(plan, tries)
    row = _row(
        wb,
        plan,
        attempt.run_id,
        "failed",
        attempt.batch_id,
        attempt.shard,
        attempt.started,
        credits=0,
        usd=0.0,
        error=f"Cancelled ({type(exc).__name__}) while the request was under way; it may be billed.",
        usd_possibly_billed=_billed_usd(tries),
        attempts=len(tries),
    )
    with wb.ledger.transaction() as db:
        _release(wb, attempt.reservation, db=db)
        wb.ledger.record(row, db=db)
        _settle_sent(wb, attempt, db)
        wb.ledger.record_attempts(_attempt_rows(attempt.run_id, tries), db=db)
        if attempt.fingerprint:
            wb.ledger.claim_release(attempt.fingerprint, attempt.run_id, db=db)


def _release(wb: Workbench, reservation: Reservation, *, db: Any = None) -> None:
    """Free a run's reservation; a batch's escrow stays for its other runs (the batch releases it)."""
    if not reservation.escrow:
        wb.wallet.release(reservation, db=db)


def _tries(raw: Any) -> list[dict[str, Any]]:
    """The backend's record of each try of the request (``raw["tries"]``), or none (a draft)."""
    tries = raw.get("tries") if isinstance(raw, dict) else None
    return [dict(t) for t in tries] if isinstance(tries, list) else []


def _unusable(error: BackendError, tries: list[dict[str, Any]]) -> BackendError:
    """An answer that came but cannot be used: its try may be billed all the same."""
    tries = [dict(t) for t in tries] or [{"number": 1, "started_at": utc_now(), "http_status": 200}]
    tries[-1] |= {"outcome": "UnusableAnswer", "possibly_billed": True, "error": str(error)}
    error.tries = tries  # type: ignore[attr-defined]
    return error


def _priced_tries(plan: Plan, tries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each try the service may have billed gets the request's estimated dollars."""
    return [t | {"usd": plan.estimate.usd if t.get("possibly_billed") else 0.0} for t in tries]


def _billed_usd(tries: list[dict[str, Any]]) -> float:
    """Dollars the service may have billed for tries whose answer never came or was unusable."""
    return round(sum(t.get("usd") or 0.0 for t in tries if t.get("possibly_billed")), 6)


def _attempt_rows(run_id: str, tries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t | {"run_id": run_id, "error": redact(t["error"]) if t.get("error") else None} for t in tries]


def _check_answer(request: ImageRequest, images: list[bytes], decoded: list[Any] | None = None) -> str | None:
    """Why a service's answer cannot be charged (an image that does not decode, or of another
    size or format than asked), or None when every image is what was asked for; ``decoded``
    gets each image decoded, for its thumbnail."""
    import io

    from PIL import Image

    from workbench.store import sniff_stored_format

    for index, data in enumerate(images, 1):
        kind = sniff_stored_format(data)
        if kind is None:
            return f"Image {index} of the answer is not PNG, JPEG, WebP, GIF or SVG."
        if kind == "svg":  # vector: well-formed XML whose root is <svg>; it has no pixel size
            problem = _svg_problem(data)
            if problem is None and request.output_format != "svg":
                problem = f"is SVG, not the {request.output_format.upper()} asked for"
            if problem is not None:
                return f"Image {index} of the answer {problem}."
            if decoded is not None:
                decoded.append(None)
            continue
        try:
            # The reader of the sniffed format only: Image.open would try others' first.
            image = Image.open(io.BytesIO(data), formats=[kind.upper()])
            image.load()
            size = image.size
        except Exception as exc:  # noqa: BLE001 - any decoding failure is the same finding
            return f"Image {index} of the answer is truncated or cannot be decoded ({type(exc).__name__})."
        if decoded is not None:
            decoded.append(image)
        if kind != request.output_format:
            return (
                f"Image {index} of the answer is {kind.upper()}, not the {request.output_format.upper()} "
                "asked for."
            )
        if request.width and request.height and size != (request.width, request.height):
            return (
                f"Image {index} of the answer is {size[0]}x{size[1]}, not the "
                f"{request.width}x{request.height} asked for."
            )
    return None


def _svg_problem(data: bytes) -> str | None:
    """Why an SVG answer cannot be kept (not XML, not an <svg> root), or None. Expat refuses
    entity expansion bombs and fetches nothing."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        return f"is SVG that cannot be parsed ({exc})"
    if root.tag.rsplit("}", 1)[-1] != "svg":
        return "is XML whose root is not <svg>"
    return None


def _recipe(wb: Workbench, plan: Plan, run_id: str, index: int, *, draft: bool) -> dict[str, Any]:
    from workbench.version import __version__

    return {
        "workbench": __version__,
        "run_id": run_id,
        "index": index,
        "kind": plan.request.kind,
        "backend": plan.backend,
        "model": plan.model,
        "draft": draft,
        "prompt": plan.request.prompt,
        "spec": plan.spec.to_dict() if plan.spec else None,
        "size": plan.request.size,
        "quality": plan.request.quality,
        "params": plan.params,
        "parent_id": plan.parent_id,
        "fingerprint": plan.fingerprint,
    }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
