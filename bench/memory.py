"""Memory: a long run must not hold its trials or results in memory.

N trials (default 100,000) against the loopback OpenAI-compatible server (another process, so
its memory is not counted) with a short latency, through the real Runner with store and scoring.
Printed: peak RSS of this process (target <= 400 MB), RSS sampled along the run (flat means
nothing grows with N), and trials per second.

    python bench/memory.py                          # N=100000, L=0.005 s, C=128
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _loopback import start_server, study_yaml  # noqa: E402

from twinstudy.models.factory import create_model  # noqa: E402
from twinstudy.run.runner import Runner, RunOptions, check_models_ready  # noqa: E402
from twinstudy.store import Store  # noqa: E402
from twinstudy.study.design import count_trials  # noqa: E402
from twinstudy.study.spec import load_study  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_EVERY_S = 0.5


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("-l", "--latency", type=float, default=0.005)
    ap.add_argument("-c", "--concurrency", type=int, default=128)
    a = ap.parse_args()
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        t0 = time.perf_counter()
        while not stop.wait(SAMPLE_EVERY_S):
            samples.append((time.perf_counter() - t0, rss_mb()))

    proc, base = start_server(a.latency, max_runtime=1800)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            study = Path(tmp) / "study.yaml"
            study.write_text(study_yaml(base, a.n, a.concurrency, name="memory"), encoding="utf-8")
            rs = load_study(study)
            models, _ = check_models_ready(rs.models, False, create_model)
            store = Store(Path(tmp) / "results.db")
            before = rss_mb()
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            t0, cpu0 = time.perf_counter(), cpu_seconds()
            result = asyncio.run(Runner(rs, store, models, RunOptions(quiet=True)).run())
            wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
            stop.set()
            sampler.join()
            answered = store.counts().get("answered", 0)
            db_mb = sum(p.stat().st_size for p in Path(tmp).glob("results.db*")) / 2**20
            store.close()
    finally:
        proc.kill()
    n = count_trials(rs)
    assert result.done == n, result
    print(f"memory: N={n} L={a.latency}s C={a.concurrency}")
    print(f"  peak RSS          {peak_rss_mb():8.1f} MB   (target <= 400)")
    print(f"  RSS before run    {before:8.1f} MB")
    marks = [samples[min(len(samples) - 1, int(q * len(samples)))] for q in (0.1, 0.25, 0.5, 0.75, 1.0)] \
        if samples else []
    print("  RSS along the run " + ", ".join(f"{t:.0f} s: {m:.0f} MB" for t, m in marks))
    print(f"  trials per second {n / wall:8.0f}   ({n} trials in {wall:.1f} s, {answered} answered)")
    print(f"  CPU per trial     {1000 * cpu / n:8.3f} ms")
    print(f"  database          {db_mb:8.1f} MB on disk")


if __name__ == "__main__":
    main()
