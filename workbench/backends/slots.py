"""Requests in flight, counted across threads, event loops and processes: one shared limit.

A batch runs its jobs in several kernels (processes), each with its own event loop; the limit a
user sets (``--concurrency N``) is the total in flight for all of them. ``SharedSlots`` keeps that
total with ``N`` lock files in a folder (``slot-0.lock`` …): a request in flight holds an
exclusive ``flock`` on one of them. The operating system releases a dead process's locks, so a
killed kernel never holds a slot; any process that uses the same folder shares the same N (two
batches of one outputs folder, or a team on one machine).

Inside one process, slot numbers are handed out by a local pool, so no two of its requests wait
on the same file: a request takes a number, locks that file (at once when it is free, else in a
waiting thread, so the event loop never blocks) and unlocks it when done. No polling.

The limit adapts: ``limit`` (at most N) drops by a quarter on a 429 (once per burst) and climbs
back by one slot per ``limit`` successes; numbers at or above ``limit`` are parked until it grows.

Example:
    >>> slots = SharedSlots.open("outputs/limits/openai-api.openai.com", 32)
    >>> async with slots.slot():
    ...     await send()
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import struct
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

try:  # POSIX; elsewhere the limit holds per process only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["SharedPace", "SharedSlots"]

_REGISTRY: dict[tuple[str, int], SharedSlots] = {}
_REGISTRY_LOCK = threading.Lock()


class SharedSlots:
    """``total`` slots shared by every process that opens the same ``folder``.

    Args:
        folder: where the lock files live (created if missing); None for a limit in this process only.
        total: the most requests in flight at once, across processes.
        decrease: the factor applied to ``limit`` on a 429.
        window: seconds within which further 429s belong to the same burst.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str] | None,
        total: int,
        *,
        decrease: float = 0.75,
        window: float = 1.0,
    ) -> None:
        if total < 1:
            raise ValueError("concurrency must be at least 1.")
        self.folder = Path(folder) if folder is not None else None
        self.total = total
        self.decrease = decrease
        self.window = window
        self.limit = float(total)
        self.slowdowns = 0
        self.in_flight = 0
        self._lock = threading.Lock()
        self._free: list[int] = list(range(total - 1, -1, -1))  # pop() gives the lowest number
        self._parked: list[int] = []
        self._waiters: deque[Any] = deque()  # asyncio futures (with their loop) or threading events
        self._fds: dict[int, int] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._last_decrease = -math.inf
        if self.folder is not None and fcntl is not None:
            self.folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def open(cls, folder: str | os.PathLike[str] | None, total: int) -> SharedSlots:
        """The process's one instance for ``folder`` and ``total`` (backends of several Workbench
        objects in one kernel share it, and its open files)."""
        if folder is None:
            return cls(None, total)
        key = (str(Path(folder).resolve()), total)
        with _REGISTRY_LOCK:
            slots = _REGISTRY.get(key)
            if slots is None:
                slots = _REGISTRY[key] = cls(key[0], total)
            return slots

    def __repr__(self) -> str:
        where = f" in {self.folder}" if self.folder else ""
        return f"<SharedSlots {self.in_flight}/{self.limit:.0f} of {self.total}{where}>"

    # -- the local pool of slot numbers -------------------------------------------------------
    def _take_number(self) -> int | None:
        with self._lock:
            return self._free.pop() if self._free else None

    def _give_number(self, number: int) -> None:
        with self._lock:
            if number >= max(1, math.floor(self.limit)):
                self._parked.append(number)  # the limit came down: this number rests
                return
            while self._waiters:
                waiter = self._waiters.popleft()
                if isinstance(waiter, threading.Event):
                    waiter.number = number  # type: ignore[attr-defined]
                    waiter.set()
                    return
                loop, future = waiter
                if not future.done() and not loop.is_closed():
                    loop.call_soon_threadsafe(self._hand_over, future, number)
                    return
            self._free.append(number)
            self._free.sort(reverse=True)

    def _hand_over(self, future: asyncio.Future[int], number: int) -> None:
        if future.done():  # cancelled meanwhile: the next waiter gets it
            self._give_number(number)
        else:
            future.set_result(number)

    async def _anumber(self) -> int:
        number = self._take_number()
        if number is not None:
            return number
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        with self._lock:
            if self._free:
                return self._free.pop()
            self._waiters.append((loop, future))
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._give_number(future.result())
            raise

    def _number(self) -> int:
        number = self._take_number()
        if number is not None:
            return number
        event = threading.Event()
        with self._lock:
            if self._free:
                return self._free.pop()
            self._waiters.append(event)
        event.wait()
        return event.number  # type: ignore[attr-defined]

    # -- the lock files -----------------------------------------------------------------------
    def _fd(self, number: int) -> int | None:
        if self.folder is None or fcntl is None:
            return None
        fd = self._fds.get(number)
        if fd is None:
            fd = os.open(self.folder / f"slot-{number}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            with self._lock:
                if number in self._fds:
                    os.close(fd)
                    fd = self._fds[number]
                else:
                    self._fds[number] = fd
        return fd

    def _try_lock(self, fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                # One waiting thread per slot at most: a number is held by one request at a time.
                self._pool = ThreadPoolExecutor(self.total, thread_name_prefix="slot-wait")
            return self._pool

    async def _alock(self, number: int) -> None:
        """Lock slot ``number``'s file; on failure the number is given back."""
        try:
            fd = self._fd(number)
            if fd is None or self._try_lock(fd):
                return
            loop = asyncio.get_running_loop()
            waiting = loop.run_in_executor(self._executor(), fcntl.flock, fd, fcntl.LOCK_EX)
        except BaseException:
            self._give_number(number)
            raise
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # The thread takes the lock eventually; give it back then, with the number.
            waiting.add_done_callback(lambda _: self._unlock(number))
            raise

    def _lock_file(self, number: int) -> None:
        fd = self._fd(number)
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(self, number: int) -> None:
        fd = self._fds.get(number)
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        self._give_number(number)

    # -- taking a slot ------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[int]:
        """Hold one slot (its number) while the body runs: a request in flight."""
        number = await self._anumber()
        await self._alock(number)
        self.in_flight += 1
        try:
            yield number
        finally:
            self.in_flight -= 1
            self._unlock(number)

    @contextlib.contextmanager
    def sync_slot(self) -> Iterator[int]:
        """The same for a thread (the sync client)."""
        number = self._number()
        try:
            self._lock_file(number)
        except BaseException:
            self._give_number(number)
            raise
        self.in_flight += 1
        try:
            yield number
        finally:
            self.in_flight -= 1
            self._unlock(number)

    # -- adapting -----------------------------------------------------------------------------
    def on_rate_limited(self, now: float | None = None) -> None:
        """A 429: use a quarter fewer slots (once per burst)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if now - self._last_decrease < self.window:
                return
            self._last_decrease = now
            self.limit = max(1.0, self.limit * self.decrease)
            self.slowdowns += 1
            usable = math.floor(self.limit)
            self._parked += [n for n in self._free if n >= usable]
            self._free = [n for n in self._free if n < usable]

    def on_success(self) -> None:
        """Climb back by one slot per ``limit`` successes; hand out parked numbers as it grows."""
        with self._lock:
            if self.limit >= self.total:
                return
            self.limit = min(float(self.total), self.limit + 1.0 / self.limit)
            usable = math.floor(self.limit)
            back = sorted(n for n in self._parked if n < usable)
            self._parked = [n for n in self._parked if n >= usable]
        for number in back:
            self._give_number(number)

    def close(self) -> None:
        """Close the lock files (held slots are released by closing)."""
        with self._lock:
            fds, self._fds = self._fds, {}
            pool, self._pool = self._pool, None
        for fd in fds.values():
            os.close(fd)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


class SharedPace:
    """An images-per-minute pace shared by every process of a folder: the next free moment to
    send (wall-clock seconds) lives in one 8-byte file, read and moved under an exclusive lock.
    Each process spaces its own requests by its rate; through this file they take turns, so
    two kernels with ``images_per_minute=60`` send 60 a minute together, not 120.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._lock = threading.Lock()

    def take(self, earliest: float, spacing: float) -> float:
        """The moment (``time.time()`` seconds, at least ``earliest``) this request may be sent;
        the next one waits ``spacing`` seconds after it, in whichever process it is."""
        if fcntl is None:
            return earliest
        with self._lock:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                data = os.pread(self._fd, 8, 0)
                stored = struct.unpack("<d", data)[0] if len(data) == 8 else 0.0
                start = max(earliest, stored)
                os.pwrite(self._fd, struct.pack("<d", start + spacing), 0)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            return start
