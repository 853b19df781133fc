"""The loopback OpenAI server (tests/openai_server.py) as a process of its own, for benchmarks.

``python bench/_loopback.py LATENCY [RATE_LIMIT]`` prints the base URL on its first line and serves
until killed. The server listens with a deep accept queue (tests/openai_server.py's ``_Listener``),
so a client opening dozens of connections at once (concurrency 32) is not reset by a backlog of 5.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from openai_server import Faults, OpenAIServer  # noqa: E402


def main(argv: list[str]) -> None:
    faults = Faults(
        latency=float(argv[0]) if argv else 0.0, rate_limit=float(argv[1]) if len(argv) > 1 else 0.0
    )
    server = OpenAIServer(faults)
    print(server.base_url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
