"""The batch adapters alone (no study, store, runner or command line): N lines through each protocol
against the loopback batch server running in another process, so the figures are twinstudy's side only.

    python bench/batch_adapters.py [--lines 10000]

How it differs from bench/batch.py: that one runs the whole command (``twinstudy run --batch``:
study, database, polling, scoring) for one protocol; this one isolates what the adapters cost per
protocol (OpenAI files+batches and Anthropic Message Batches), so a regression in building JSONL or
reading result lines shows here without the orchestration's cost around it.

Prints, per protocol: management requests made, bytes uploaded, CPU seconds and wall seconds in
this process (building lines, uploading, polling, downloading and classifying every result line;
the server ends each batch at the first poll, so there is no simulated wait to exclude), and the
peak of Python allocations while doing so (tracemalloc; it slows the run, so wall/CPU are measured
in a separate pass without it). The server is started by bench/_batchbench.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

from twinstudy.batch.api import ENDED, BatchLine
from twinstudy.batch.providers import batch_api_for
from twinstudy.models.base import GenerateParams, Message, ModelInfo
from twinstudy.models.factory import create_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _batchbench import batch_server  # noqa: E402

KEY = "sk-bench-batch-key-000000"


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_lines(n: int) -> list[BatchLine]:
    params = GenerateParams(max_tokens=16, temperature=0.7, seed=1)
    return [BatchLine(f"{i:032x}", [Message("system", "Answer with one digit."),
                                    Message("user", f"Statement {i}: people should be free to speak. "
                                                    f"Rate from 1 (disagree) to 5 (agree).")], params)
            for i in range(n)]


async def one_pass(provider: str, base: str, lines: list[BatchLine]) -> tuple[int, int, int]:
    info = ModelInfo(id=f"{provider}/bench", provider=provider, model="bench", base_url=base)
    api = batch_api_for(info, create_model(info))
    assert api is not None
    sub = await api.submit(lines)
    status = await api.poll(sub.batch_id)
    while status.state not in ENDED:
        status = await api.poll(sub.batch_id)
    answered = 0
    async for r in api.results(sub.batch_id, status):
        answered += r.completion is not None
    http = api.http  # type: ignore[attr-defined]
    await api.aclose()
    return answered, http.requests, http.bytes_sent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=10_000)
    args = ap.parse_args()
    for env in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        os.environ[env] = KEY
    with batch_server(max_runtime=600) as base:
        lines = make_lines(args.lines)
        print(f"{args.lines} lines per batch, loopback server in another process")
        print(f"{'protocol':<12} {'answered':>8} {'requests':>8} {'MB up':>8} {'cpu s':>7} {'wall s':>7} "
              f"{'peak MB':>8}")
        for provider, url in (("openai", base + "/v1"), ("anthropic", base)):
            cpu0, t0 = cpu_seconds(), time.perf_counter()
            answered, requests, sent = asyncio.run(one_pass(provider, url, lines))
            cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - t0
            tracemalloc.start()
            asyncio.run(one_pass(provider, url, lines))
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"{provider:<12} {answered:>8} {requests:>8} {sent / 1e6:>8.2f} {cpu:>7.2f} {wall:>7.2f} "
                  f"{peak / 1e6:>8.1f}")

if __name__ == "__main__":
    main()
