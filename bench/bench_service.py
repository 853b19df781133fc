"""The path users take for many images, against the loopback server in its own process.

``workbench batch run --backend openai --concurrency N`` (a fresh command-line process: imports,
planning, kernels, requests, report) is timed beside a raw ``AsyncOpenAI`` loop with a semaphore
of N in the same run, against the same server:

* 2 s latency, 256 requests, concurrency 32: batch wall ≤ 1.3 x raw + 5 s;
* 50 ms latency, 200 requests, concurrency 8: batch wall ≤ 1.15 x ideal + 5 s
  (ideal = requests x latency / concurrency).

Beside them the fixed costs of item 2 of issue 16: ``workbench --help`` ≤ 250 ms, the first draft
image from a cold process ≤ 500 ms, a 2-shard batch's cost over its requests ≤ 5 s.

The start-up figures are of processes whose bytecode is cached, as an installed package runs (a
``PYTHONPYCACHEPREFIX`` of the benchmark's own, written by an untimed first run); beside them the
same with the package's own modules compiled on every start (a copy without its bytecode, run
with ``PYTHONDONTWRITEBYTECODE``). The batch cases run the checkout with the bytecode ``make``
writes for it (``make bench`` brings it up to date first), as an installed package has its own. The
first draft image is timed with a new prompt each time (a repeated one is a cached run, not a
render), in a root that already has its run log, and in a new root (the run log made too).

``BENCH_SERVICE_FLAGS`` replaces the batch command's concurrency flags (e.g. ``--workers 2`` to
time a version without ``--concurrency``); ``BENCH_SERVICE_QUICK=1`` runs only the 50 ms case;
``BENCH_SERVICE_COLD=1`` only the cold-start figures.
Each batch case also prints the seconds from its process's start to each step (the batch's
``timings.json``: planned, first kernel up and warm, first and last job done, report, exit), to
see where the fixed cost goes. Run with ``python -m bench service``.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a file (python bench/bench_service.py), not with -m bench
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "bench" / "_loopback.py"
KEY = "bench-not-a-real-key"
WORKBENCH = [str(Path(sys.executable).parent / "workbench")]  # the console script users run


class _Server:
    """tests/openai_server.py in a child process; ``base_url`` once it listens."""

    def __init__(self, latency: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER), str(latency)], stdout=subprocess.PIPE, text=True
        )
        self.base_url = self.process.stdout.readline().strip()

    def stats(self) -> dict:
        with urllib.request.urlopen(f"{self.base_url.removesuffix('/v1')}/_stats", timeout=10) as answer:
            return json.load(answer)

    def __enter__(self) -> _Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _env() -> dict[str, str]:
    env = dict(os.environ, OPENAI_API_KEY=KEY, PYTHONPATH=str(ROOT))
    env.pop("WORKBENCH_HOME", None)
    return env


def _raw(base_url: str, requests: int, concurrency: int, tag: str) -> float:
    """A raw AsyncOpenAI loop with a semaphore: what the account's concurrency allows at best."""
    import openai

    async def main() -> float:
        client = openai.AsyncOpenAI(api_key=KEY, base_url=base_url, max_retries=0)
        limit = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with limit:
                await client.images.generate(
                    model="gpt-image-2", prompt=f"raw {tag} take {i}", size="1024x1024", quality="low"
                )

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        elapsed = time.perf_counter() - started
        await client.close()
        return elapsed

    return asyncio.run(main())


def _experiment(folder: Path, name: str, requests: int) -> Path:
    path = folder / f"{name}.yaml"
    subjects = ", ".join(f"'a ceramic mug, take {i}'" for i in range(requests))
    path.write_text(f"name: {name}\nspec: {{quality: low}}\ngrid:\n  subject: [{subjects}]\n")
    return path


def _batch(
    base_url: str, requests: int, concurrency: int, folder: Path, name: str
) -> tuple[float, str, dict]:
    """``workbench batch run --backend openai`` in a new process; (wall seconds, its output, the
    seconds from the process's start to each step of the batch)."""
    root = folder / f"root-{name}"
    env = _env()
    base = [*WORKBENCH, "--root", str(root), "--base-url", base_url]
    subprocess.run([*base, "wallet", "topup", str(20 * requests)], env=env, check=True, capture_output=True)
    flags = os.environ.get("BENCH_SERVICE_FLAGS")
    extra = shlex.split(flags) if flags is not None else ["--concurrency", str(concurrency)]
    command = [*base, "batch", "run", str(_experiment(folder, name, requests)), "--backend", "openai"]
    command += [*extra, "--no-progress"]
    cpu = _children_cpu()
    started, wall = time.perf_counter(), time.time()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    cpu = _children_cpu() - cpu  # the runner and its kernels (it waits for them), not the server
    if done.returncode != 0:
        raise SystemExit(f"the batch failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout, _phases(root, wall) | {"exit": elapsed, "cpu": cpu}


def _children_cpu() -> float:
    """CPU seconds of the waited-for child processes so far (user and system)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# The steps of a batch, in order, as the runner's timings.json names them (earliest shard for the
# shards' first steps, latest for their last).
PHASES = (
    ("batch_started", "run_batch called (process start, imports, experiment)"),
    ("planned", "planned and priced"),
    ("shards_started", "shards handed to papermill"),
    ("kernel_started", "first kernel up"),
    ("kernel_warm", "first kernel warm (imports done)"),
    ("shard_started", "first shard's cell running"),
    ("first_job_done", "first job done"),
    ("last_job_done", "last job done"),
    ("shards_done", "shards' notebooks written"),
    ("reported", "report written"),
    ("kernels_stopped", "kernels stopped"),
    ("exit", "process exited"),
)


def _phases(root: Path, wall: float) -> dict:
    """Seconds from the batch process's start to each step in the batch's ``timings.json``."""
    found = sorted(root.glob("batches/*/timings.json"))
    if not found:
        return {}
    timings = json.loads(found[-1].read_text())
    shards = list(timings.get("shards", {}).values())
    seen = dict(timings.get("runner", {}))
    for key in ("shard_started", "first_job_done"):
        values = [s[key] for s in shards if key in s]
        if values:
            seen[key] = min(values)
    values = [s["last_job_done"] for s in shards if "last_job_done" in s]
    if values:
        seen["last_job_done"] = max(values)
    return {key: seen[key] - wall for key, _ in PHASES if key in seen}


def _phase_figures(phases: dict, case: str) -> list[dict]:
    figures = [
        {"name": f"  {case} +{label}", "value": phases[key], "unit": "s", "phase": key}
        for key, label in PHASES
        if key in phases
    ]
    if "cpu" in phases:  # on a busy machine the wall times above are mostly waits for a core
        figures.append(
            {"name": f"  {case} CPU time of the runner and kernels", "value": phases["cpu"], "unit": "s"}
        )
    return figures


def _cold_env(pycache: Path | None, folder: Path) -> dict[str, str]:
    """A cold process's environment: bytecode cached in ``pycache`` (written by a first run, as an
    installed package has it), or with ``None`` a copy of the package without its bytecode and
    none written, so its own modules are compiled on every start (``PYTHONDONTWRITEBYTECODE``, as
    on the project's machines, in a checkout whose bytecode ``make`` has not written)."""
    env = _env()
    if pycache is None:
        import shutil

        source = folder / "uncompiled"
        if not source.exists():
            shutil.copytree(
                ROOT / "workbench", source / "workbench", ignore=shutil.ignore_patterns("__pycache__")
            )
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPATH"] = str(source)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _cold(command: Callable[[int], list[str]], env: dict[str, str], repeat: int = 5) -> tuple[float, float]:
    """Median wall and CPU seconds of a fresh process running ``command(i)``, after one untimed run."""
    walls, cpus = [], []
    for i in range(-1, repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command(i), env=env, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i >= 0:
            walls.append(time.perf_counter() - started)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def _cold_figures(folder: Path) -> list[dict]:
    """Item 2's start-up targets, with bytecode cached; beside them the same compiling workbench."""
    cold = [*WORKBENCH, "--root", str(folder / "cold"), "generate"]
    figures = []
    for cached in (True, False):
        env = _cold_env(folder / "pycache" if cached else None, folder)
        note = "" if cached else " [workbench compiled]"
        target = {"target": 500} if cached else {}
        help_s, help_cpu = _cold(lambda i: [*WORKBENCH, "--help"], env)
        # A new prompt each time: a repeated one is a cached run, not a render.
        take = "take" if cached else "again"
        draft_s, draft_cpu = _cold(lambda i, t=take: [*cold, f"a ceramic mug, {t} {i}"], env)
        figures += [
            {"name": f"workbench --help, cold process{note}", "value": help_s * 1000, "unit": "ms"}
            | ({"target": 250} if cached else {}),
            {"name": f"first draft image, cold process{note}", "value": draft_s * 1000, "unit": "ms"}
            | target,
        ]
        if cached:
            new_root, _ = _cold(
                lambda i: [*WORKBENCH, "--root", str(folder / f"new-{i}"), "generate", "a mug"], env
            )
            figures += [
                {
                    "name": "  ... in a new root (its run log made first)",
                    "value": new_root * 1000,
                    "unit": "ms",
                }
                | target,
                {"name": "  --help's CPU time (less swayed by load)", "value": help_cpu * 1000, "unit": "ms"},
                {"name": "  first draft's CPU time", "value": draft_cpu * 1000, "unit": "ms"},
            ]
    return figures


def _case(latency: float, requests: int, concurrency: int, folder: Path, name: str) -> dict:
    with _Server(latency) as server:
        # Both loops meet a warm server: its first answers are slower (~0.1 s more at 50 ms latency,
        # its own start). One request at a time, so the most-in-flight counter is the batch's own.
        _raw(server.base_url, 4, 1, f"{name} warm-up")
        before = server.stats()
        batch, output, phases = _batch(server.base_url, requests, concurrency, folder, name)
        after = server.stats()
        _raw(server.base_url, 4, 4, f"{name} warm-up")
        raw = _raw(server.base_url, requests, concurrency, name)
    sent = sum(after["counts"].values()) - sum(before["counts"].values())
    return {
        "raw": raw,
        "batch": batch,
        "ideal": requests * latency / concurrency,
        "sent": sent,
        "max_inflight": after["max_inflight"],
        "output": output.strip().splitlines()[:1],
        "phases": phases,
    }


def main() -> None:
    quick = os.environ.get("BENCH_SERVICE_QUICK") == "1"
    load_at_start = os.getloadavg()[0]  # other work on the machine slows every figure here
    figures: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        figures += _cold_figures(folder)
        if os.environ.get("BENCH_SERVICE_COLD") == "1":
            figures.append(
                {"name": "load average (1 min) when done", "value": os.getloadavg()[0], "unit": ""}
            )
            report("service-cold", figures)
            return
        fast = _case(0.05, 200, 8, folder, "fast")
        figures += [
            {"name": "raw AsyncOpenAI, 200 x 50 ms, semaphore 8", "value": fast["raw"], "unit": "s"},
            {
                "name": "workbench batch run, 200 x 50 ms, concurrency 8",
                "value": fast["batch"],
                "unit": "s",
                "target": round(1.15 * fast["ideal"] + 5, 3),
                "requests_sent": fast["sent"],
                "server_max_inflight": fast["max_inflight"],
                "summary": fast["output"],
            },
            {
                "name": "  ... fixed cost over the raw loop (2 shards)",
                "value": fast["batch"] - fast["raw"],
                "unit": "s",
                "target": 5,
            },
            {
                "name": "  ... most requests in flight at the server (batch)",
                "value": fast["max_inflight"],
                "unit": "req",
            },
            *_phase_figures(fast["phases"], "50 ms"),
        ]
        if not quick:
            slow = _case(2.0, 256, 32, folder, "slow")
            figures += [
                {"name": "raw AsyncOpenAI, 256 x 2 s, semaphore 32", "value": slow["raw"], "unit": "s"},
                {
                    "name": "workbench batch run, 256 x 2 s, concurrency 32",
                    "value": slow["batch"],
                    "unit": "s",
                    "target": round(1.3 * slow["raw"] + 5, 3),
                    "requests_sent": slow["sent"],
                    "server_max_inflight": slow["max_inflight"],
                    "summary": slow["output"],
                },
                {
                    "name": "  ... most requests in flight at the server (batch)",
                    "value": slow["max_inflight"],
                    "unit": "req",
                },
                *_phase_figures(slow["phases"], "2 s"),
            ]
    figures.append({"name": "load average (1 min) when done", "value": os.getloadavg()[0], "unit": ""})
    figures.append({"name": "load average (1 min) at start", "value": load_at_start, "unit": ""})
    report("service", figures)


if __name__ == "__main__":
    main()
