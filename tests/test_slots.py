"""SharedSlots: one limit on requests in flight across event loops, threads and processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from workbench.backends.slots import SharedSlots


def _most_at_once(
    slots: SharedSlots, tasks: int, hold: float = 0.03, *, split: float = 0.0
) -> tuple[int, int]:
    """The most requests in flight at once, before and after ``split`` seconds from the start."""
    current = 0
    most = [0, 0]
    started = time.perf_counter()

    async def one() -> None:
        nonlocal current
        async with slots.slot():
            current += 1
            phase = int(time.perf_counter() - started >= split)
            most[phase] = max(most[phase], current)
            await asyncio.sleep(hold)
            current -= 1

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(tasks)))

    asyncio.run(main())
    return most[0], most[1]


def _holder(folder: Path, total: int, held: int) -> subprocess.Popen:
    """Another process holding ``held`` of the folder's slots until killed."""
    script = textwrap.dedent(
        f"""
        import contextlib, sys, time
        from workbench.backends.slots import SharedSlots
        slots = SharedSlots({str(folder)!r}, {total})
        with contextlib.ExitStack() as stack:
            for _ in range({held}):
                stack.enter_context(slots.sync_slot())
            print("held", flush=True)
            time.sleep(60)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_slots_held_by_another_process_count_and_a_killed_process_frees_them(tmp_path):
    folder = tmp_path / "limits"
    other = _holder(folder, 3, 2)
    killer = subprocess.Popen(
        [sys.executable, "-c", f"import os, time; time.sleep(0.5); os.kill({other.pid}, 9)"]
    )
    try:
        slots = SharedSlots.open(folder, 3)
        # Two of three are in flight elsewhere until that process is killed; then the kernel
        # releases its locks and all three are ours.
        before, after = _most_at_once(slots, 60, split=0.3)
    finally:
        killer.wait()
        other.wait()
    assert (before, after) == (1, 3)


def test_a_busy_slot_is_taken_as_soon_as_the_other_process_lets_go(tmp_path):
    folder = tmp_path / "limits"
    other = _holder(folder, 1, 1)
    slots = SharedSlots(folder, 1)

    async def main() -> float:
        started = time.perf_counter()
        async with slots.slot():
            return time.perf_counter() - started

    killer = subprocess.Popen(
        [sys.executable, "-c", f"import os, time; time.sleep(0.3); os.kill({other.pid}, 9)"]
    )
    waited = asyncio.run(main())  # the event loop waits in a thread, not by polling
    killer.wait()
    other.wait()
    assert 0.25 < waited < 5


def test_the_limit_drops_on_a_429_once_per_burst_and_climbs_back(tmp_path):
    slots = SharedSlots(None, 4)
    slots.on_rate_limited(now=100.0)
    slots.on_rate_limited(now=100.5)  # the same burst
    assert slots.limit == 3.0 and slots.slowdowns == 1
    assert _most_at_once(slots, 8, split=60) == (3, 0)
    for _ in range(3):
        slots.on_success()
    assert 3.9 < slots.limit < 4  # one slot back per `limit` successes
    slots.on_success()
    assert slots.limit == 4.0
    assert _most_at_once(slots, 8, split=60) == (4, 0)


def test_threads_and_event_loops_share_one_process_limit(tmp_path):
    import threading

    slots = SharedSlots.open(tmp_path / "limits", 2)
    assert SharedSlots.open(tmp_path / "limits", 2) is slots
    current = most = 0
    lock = threading.Lock()

    def hold() -> None:
        nonlocal current, most
        with slots.sync_slot():
            with lock:
                current += 1
                most = max(most, current)
            time.sleep(0.02)
            with lock:
                current -= 1

    threads = [threading.Thread(target=hold) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2


def test_two_processes_of_one_root_keep_the_openai_concurrency_as_one_total(
    openai_server, tmp_path, monkeypatch
):
    """Two processes (as two batch kernels) with concurrency 3 and the same slots folder: the
    service never sees more than 3 requests at once, and sees 3."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-slots")
    openai_server.faults.latency = 0.1
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from workbench.backends.base import ImageRequest
        from workbench.backends.openai import OpenAIBackend
        backend = OpenAIBackend(
            base_url={openai_server.base_url!r}, concurrency=3, slots_folder={str(tmp_path)!r}
        )
        async def main():
            requests = [ImageRequest(f"{{sys.argv[1]}} {{i}}", 1024, 1024) for i in range(12)]
            await asyncio.gather(*(backend.asend(r) for r in requests))
        asyncio.run(main())
        backend.close()
        """
    )
    started = time.perf_counter()
    kernels = [subprocess.Popen([sys.executable, "-c", script, name]) for name in ("a mug", "a vase")]
    assert [k.wait(timeout=60) for k in kernels] == [0, 0]
    assert openai_server.max_inflight == 3
    assert openai_server.counts["/v1/images/generations"] == 24
    assert time.perf_counter() - started >= 24 * 0.1 / 3
    assert [p.name for p in tmp_path.iterdir()] == [f"openai-127.0.0.1-{openai_server.port}-v1"]


def test_the_limiter_follows_the_services_rate_limit_headers():
    from workbench.backends.openai import AdaptiveRateLimiter, parse_duration

    assert [parse_duration(t) for t in ("1s", "6m0s", "20ms", "1h2m3.5s", "0.5", "soon")] == [
        1.0,
        360.0,
        0.02,
        3723.5,
        0.5,
        None,
    ]
    now = [0.0]
    limiter = AdaptiveRateLimiter(clock=lambda: now[0])
    limiter.on_headers({"x-ratelimit-remaining-requests": "50", "x-ratelimit-reset-requests": "1s"})
    assert [limiter.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]  # plenty left: no waiting
    limiter.on_headers({"X-RateLimit-Remaining-Requests": "0", "X-RateLimit-Reset-Requests": "2s"})
    assert limiter.reserve() == 2.0 and limiter.header_pauses == 1  # nothing left: wait for the reset
    now[0] = 10.0
    limiter.on_headers({"x-ratelimit-remaining-tokens": "2", "x-ratelimit-reset-tokens": "1s"})
    assert [limiter.reserve() for _ in range(3)] == [0.0, 0.5, 1.0]  # two left in a second: spread
    now[0] = 20.0
    assert limiter.reserve() == 0.0  # the window has passed


def test_headers_from_the_service_pace_the_requests(openai_server, monkeypatch):
    from workbench.backends.base import ImageRequest
    from workbench.backends.openai import OpenAIBackend

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-headers")
    openai_server.faults.headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "250ms",
    }
    backend = OpenAIBackend(base_url=openai_server.base_url, concurrency=4)

    async def three() -> list:
        return await asyncio.gather(
            *(backend.asend(ImageRequest(f"a cup {i}", 1024, 1024)) for i in range(3))
        )

    asyncio.run(three())  # the first answers say nothing is left
    started = time.perf_counter()
    results = asyncio.run(three())
    assert len(results) == 3 and time.perf_counter() - started >= 0.2
    assert backend.limiter.header_pauses >= 1
    backend.close()


def test_two_processes_share_one_images_per_minute_pace(openai_server, tmp_path, monkeypatch):
    """images_per_minute=600 (one every 0.1 s) in two processes with one slots folder: 12 images
    take at least 1.1 s together (each process alone would send its 6 in 0.5 s)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-pace")
    script = textwrap.dedent(
        f"""
        import asyncio, sys, time
        from workbench.backends.base import ImageRequest
        from workbench.backends.openai import OpenAIBackend
        backend = OpenAIBackend(
            base_url={openai_server.base_url!r}, images_per_minute=600, slots_folder={str(tmp_path)!r}
        )
        async def main():
            requests = [ImageRequest(f"{{sys.argv[1]}} {{i}}", 1024, 1024) for i in range(6)]
            await asyncio.gather(*(backend.asend(r) for r in requests))
        ready = time.time()
        time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # both start sending together
        asyncio.run(main())
        print(ready, time.time(), flush=True)
        """
    )
    go = time.time() + 6
    kernels = [
        subprocess.Popen([sys.executable, "-c", script, name, str(go)], stdout=subprocess.PIPE, text=True)
        for name in ("a mug", "a vase")
    ]
    times = [[float(t) for t in k.communicate(timeout=60)[0].split()] for k in kernels]
    assert all(ready < go for ready, _ in times), "a process was not ready in time"
    assert openai_server.counts["/v1/images/generations"] == 12
    assert max(end for _, end in times) - go >= 1.0  # 12 sends, 0.1 s apart, in turns
