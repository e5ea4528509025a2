"""Shared by the batch benches (bench/batch.py, bench/batch_adapters.py): the loopback batch server
of the tests (tests/batchserver.py) in a process of its own, so that neither its CPU nor its memory
is counted as twinstudy's, and its counters."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def batch_server(*, wait_s: float = 0.0, polls: int = 0, max_runtime: float = 900) -> Iterator[str]:
    """Run tests/batchserver.py until the block ends; yields its base URL (``http://127.0.0.1:PORT``,
    OpenAI routes under ``/v1``, Anthropic's under ``/v1/messages/batches``)."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "batchserver.py"), "--port", "0", "--print-port",
                             "--wait-s", str(wait_s), "--polls", str(polls), "--max-runtime", str(max_runtime)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"the loopback batch server did not start (it printed {port!r})")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def server_stats(base: str) -> dict[str, Any]:
    """The server's counters (``GET /_stats``; see tests/batchserver.py)."""
    with urllib.request.urlopen(base + "/_stats") as resp:  # noqa: S310 (loopback)
        stats: dict[str, Any] = json.loads(resp.read())
    return stats


def waited_s(stats: dict[str, Any]) -> float:
    """Seconds during which at least one batch was open on the server (from its creation to the poll
    that found it ended): the simulated wait plus the client's polling slack, overlaps counted once."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(stats["waits"]):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total
