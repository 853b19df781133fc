"""OpenAI backend throughput against the loopback server (tests/openai_server.py) in its own process.

With 50 ms of service latency, 200 runs through ``Workbench.agenerate`` at concurrency 8 should
finish within 1.15 x the ideal (200 x 50 ms / 8 = 1.25 s), against a plain sequential loop over the
openai client (ideal 10 s); with 10 % of requests answered 429 (retry-after-ms: 20), within 1.5 x
the ideal and with zero double charges. The server runs in a separate process so it does not share
the client's GIL (the machine has 2 cores).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench._common import report

REQUESTS = 200
CONCURRENCY = 8
LATENCY = 0.05
REPEAT = 3
SERVER = Path(__file__).resolve().parents[1] / "tests" / "openai_server.py"
KEY = "bench-not-a-real-key"


class _Server:
    """tests/openai_server.py in a child process; ``base_url`` once it listens."""

    def __init__(self, latency: float, rate_limit: float = 0.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER), str(latency), str(rate_limit)], stdout=subprocess.PIPE, text=True
        )
        self.base_url = self.process.stdout.readline().strip()

    def stats(self) -> dict:
        root = self.base_url.removesuffix("/v1")
        with urllib.request.urlopen(f"{root}/_stats", timeout=10) as answer:
            return json.load(answer)

    def __enter__(self) -> _Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _sequential(base_url: str) -> float:
    import openai

    client = openai.OpenAI(api_key=KEY, base_url=base_url, max_retries=0)
    client.images.generate(model="gpt-image-2", prompt="warm-up", size="1024x1024", quality="low")
    started = time.perf_counter()
    for i in range(REQUESTS):
        client.images.generate(
            model="gpt-image-2", prompt=f"a ceramic mug, take {i}", size="1024x1024", quality="low"
        )
    client.close()
    return time.perf_counter() - started


def _backend(base_url: str) -> tuple[float, float]:
    from workbench.backends.base import ImageRequest
    from workbench.backends.openai import OpenAIBackend

    backend = OpenAIBackend(base_url=base_url, concurrency=CONCURRENCY)

    async def batch() -> tuple[float, float]:
        await backend.asend(ImageRequest("warm-up", 1024, 1024, quality="low"))
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(
            *(
                backend.asend(ImageRequest(f"a ceramic mug, take {i}", 1024, 1024, quality="low"))
                for i in range(REQUESTS)
            )
        )
        return time.perf_counter() - started, time.process_time() - cpu

    elapsed, cpu = asyncio.run(batch())
    backend.close()
    return elapsed, cpu


def _batch(base_url: str) -> tuple[float, dict]:
    from workbench import Workbench

    with tempfile.TemporaryDirectory() as tmp:
        wb = Workbench(
            Path(tmp),
            backend="openai",
            backend_options={"openai": {"base_url": base_url, "concurrency": CONCURRENCY}},
        )
        wb.wallet.topup(10 * REQUESTS)
        asyncio.run(wb.agenerate("warm-up", quality="low"))  # client, connections and the first ledger rows
        before = wb.wallet.spent

        async def batch():
            return await asyncio.gather(
                *(wb.agenerate(f"a ceramic mug, take {i}", quality="low") for i in range(REQUESTS))
            )

        started, cpu = time.perf_counter(), time.process_time()
        runs = asyncio.run(batch())
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        charges = wb.ledger.query(
            "SELECT run_id, count(*) FROM wallet_journal WHERE kind = 'commit' "
            "GROUP BY run_id HAVING count(*) > 1"
        )
        figures = {
            "ok": sum(r.status == "ok" for r in runs),
            "charged": wb.wallet.spent - before,
            "credits": sum(r.credits for r in runs),
            "double_charged_runs": len(charges),
            "slowdowns": wb.backend("openai").limiter.slowdowns,
            "cpu": cpu,
        }
        wb.close()
    return elapsed, figures


def tables() -> None:
    """What the model and price tables cost a run: reading them (once per Workbench) and checking
    and pricing one request (every plan). Targets: load <= 50 ms, check + price <= 0.2 ms."""
    from bench._common import median, timeit
    from workbench.backends.base import ImageRequest
    from workbench.models import ModelTable
    from workbench.pricing import PriceTable

    load_models = median(timeit(ModelTable.load, repeat=15))
    load_prices = median(timeit(PriceTable.load, repeat=15))
    table, prices = ModelTable.load(), PriceTable.load()
    request = ImageRequest("a harbour at dawn", 3840, 2160, quality="high", model="gpt-image-2")

    def check_and_price() -> None:
        for _ in range(1000):
            table.check(request)
            prices.estimate("openai", "gpt-image-2", request)

    per_request = median(timeit(check_and_price, repeat=7))  # ms per 1000 = us per request
    nearest = median(timeit(lambda: table.nearest_sizes("gpt-image-2", 1920, 1080), repeat=15))
    report(
        "openai_tables",
        [
            {
                "name": "models.yaml: load and check the table",
                "value": load_models,
                "unit": "ms",
                "target": 50,
            },
            {
                "name": "prices.yaml: load and check the table",
                "value": load_prices,
                "unit": "ms",
                "target": 50,
            },
            {"name": "check + price one request", "value": per_request / 1000, "unit": "ms", "target": 0.2},
            {"name": "nearest sizes for a refused size", "value": nearest, "unit": "ms", "target": 5},
        ],
    )


def main() -> None:
    tables()
    os.environ["OPENAI_API_KEY"] = KEY
    ideal = REQUESTS * LATENCY / CONCURRENCY
    # Medians of REPEAT rounds: the machine is small and shared, single rounds are noisy.
    with _Server(LATENCY) as server:
        sequential = _sequential(server.base_url)
        backend_rounds = [_backend(server.base_url) for _ in range(REPEAT)]
        clean_rounds = [_batch(server.base_url) for _ in range(REPEAT)]
    backend = statistics.median(elapsed for elapsed, _ in backend_rounds)
    backend_cpu = statistics.median(cpu for _, cpu in backend_rounds) / REQUESTS * 1000
    clean = statistics.median(elapsed for elapsed, _ in clean_rounds)
    clean_cpu = statistics.median(f["cpu"] for _, f in clean_rounds) / REQUESTS * 1000
    rounds = []
    with _Server(LATENCY, rate_limit=0.10) as server:
        backend_limited = statistics.median(_backend(server.base_url)[0] for _ in range(REPEAT))
        for _ in range(REPEAT):
            before = server.stats()["successes"]
            elapsed, figures = _batch(server.base_url)
            after = server.stats()
            # A prompt the server answered with an image more than once in a round was paid twice.
            figures["twice"] = sum(1 for p, c in after["successes"].items() if c - before.get(p, 0) > 1)
            rounds.append((elapsed, figures))
        stats = server.stats()
    limited = statistics.median(elapsed for elapsed, _ in rounds)
    limited_figures = {
        "ok": min(f["ok"] for _, f in rounds),
        "slowdowns": statistics.median(f["slowdowns"] for _, f in rounds),
    }
    double_charges = sum(
        f["double_charged_runs"] + f["twice"] + abs(f["charged"] - REQUESTS) for _, f in rounds
    )
    report(
        "openai",
        [
            {
                "name": f"sequential openai client, {REQUESTS} x {LATENCY * 1000:g} ms",
                "value": sequential,
                "unit": "s",
            },
            {
                "name": f"OpenAIBackend.arun, concurrency {CONCURRENCY}, ideal {ideal:g} s",
                "value": backend,
                "unit": "s",
            },
            {
                "name": "  ... as a multiple of the ideal",
                "value": backend / ideal,
                "unit": "x",
                "target": 1.15,
            },
            {"name": "  ... speed-up over the sequential loop", "value": sequential / backend, "unit": "x"},
            {"name": "  ... client CPU per request", "value": backend_cpu, "unit": "ms"},
            {"name": "Workbench.agenerate (+ store, ledger, wallet)", "value": clean, "unit": "s"},
            {"name": "  ... as a multiple of the ideal", "value": clean / ideal, "unit": "x", "target": 1.15},
            {"name": "  ... client CPU per run", "value": clean_cpu, "unit": "ms"},
            {
                "name": "OpenAIBackend.arun with 10 % 429s (retry-after-ms 20)",
                "value": backend_limited,
                "unit": "s",
            },
            {
                "name": "  ... as a multiple of the ideal",
                "value": backend_limited / ideal,
                "unit": "x",
                "target": 1.5,
            },
            {"name": "Workbench.agenerate with 10 % 429s", "value": limited, "unit": "s"},
            {
                "name": "  ... as a multiple of the ideal",
                "value": limited / ideal,
                "unit": "x",
                "target": 1.5,
            },
            {
                "name": f"  ... 429s answered in {2 * REPEAT} rounds",
                "value": stats["faults"].get("rate_limit", 0),
                "unit": "req",
            },
            {"name": "  ... limiter slowdowns", "value": limited_figures["slowdowns"], "unit": ""},
            {
                "name": "  ... runs ok",
                "value": limited_figures["ok"],
                "unit": "runs",
                "target": REQUESTS,
                "lower_is_better": False,
            },
            {"name": "  ... double charges", "value": double_charges, "unit": "", "target": 0},
            {
                "name": "load average (1 min) when done: other work on the machine",
                "value": os.getloadavg()[0],
                "unit": "",
            },
        ],
    )


if __name__ == "__main__":
    main()
