"""Faults: every trial ends in a final outcome, and retries stay cheap.

A loopback OpenAI-compatible server (another process) answers after latency L but injects 10% 429
(with Retry-After), 5% 500, 2% connection resets and 1% hangs (no answer; the request timeout
ends them). N trials at concurrency C go through the real Runner with store and scoring.
Printed: trials by outcome (no "error" expected with the default 6 attempts), total requests and
requests per trial (target <= 1.3), the adaptive limit at the end, and wall time.

    python bench/faults.py                      # N=2000, C=64, L=0.1 s, request timeout 3 s
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _loopback import start_server, study_yaml  # noqa: E402

from twinstudy.models.factory import create_model  # noqa: E402
from twinstudy.run import runner as runner_mod  # noqa: E402
from twinstudy.run.concurrency import AdaptiveLimit  # noqa: E402
from twinstudy.run.runner import Runner, RunOptions, check_models_ready  # noqa: E402
from twinstudy.store import Store  # noqa: E402
from twinstudy.study.design import count_trials  # noqa: E402
from twinstudy.study.spec import load_study  # noqa: E402

RATE_LIMIT, SERVER_ERROR, RESET, HANG, RETRY_AFTER_S = 0.10, 0.05, 0.02, 0.01, 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("-l", "--latency", type=float, default=0.1)
    ap.add_argument("-c", "--concurrency", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=3.0, help="per-request timeout, seconds")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    limits: list[AdaptiveLimit] = []
    make_limit = runner_mod.limit_for

    def spy(*args: object, **kw: object) -> AdaptiveLimit:  # keep the limit to report it afterwards
        limits.append(make_limit(*args, **kw))  # type: ignore[arg-type]
        return limits[-1]

    runner_mod.limit_for = spy  # type: ignore[assignment]
    proc, base = start_server(a.latency, rate_limit=RATE_LIMIT, server_error=SERVER_ERROR, reset=RESET,
                              hang=HANG, retry_after=RETRY_AFTER_S, seed=a.seed)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            study = Path(tmp) / "study.yaml"
            study.write_text(study_yaml(base, a.n, a.concurrency, name="faults"), encoding="utf-8")
            rs = load_study(study)
            models, _ = check_models_ready(rs.models, False, create_model)
            store = Store(Path(tmp) / "results.db")
            opts = RunOptions(quiet=True, request_timeout=a.timeout)
            t0 = time.perf_counter()
            result = asyncio.run(Runner(rs, store, models, opts).run())
            wall = time.perf_counter() - t0
            outcomes = store.counts()
            attempts = store.n_attempts()
            statuses = dict(store.conn.execute(
                "SELECT coalesce(http_status, CASE WHEN error LIKE '%timeout%' OR error LIKE '%no reply%' "
                "THEN 'timeout' ELSE 'connection' END), count(*) FROM attempts GROUP BY 1").fetchall())
            finals = store.conn.execute("SELECT count(*) FROM trials").fetchone()[0]
            ends = [r[0] for r in store.conn.execute("SELECT finished_at FROM trials ORDER BY finished_at")]
            first = store.conn.execute("SELECT min(started_at) FROM attempts").fetchone()[0]
            most = [ends[min(len(ends) - 1, int(q * len(ends)))] - first for q in (0.5, 0.9, 0.99)]
            slowest = store.conn.execute("SELECT max(n_attempts) FROM trials").fetchone()[0]
            assert store.integrity() == "ok"
            store.close()
    finally:
        proc.kill()
    n = count_trials(rs)
    limit = limits[0] if limits else None
    print(f"faults: N={n} C={a.concurrency} L={a.latency}s, server injects {RATE_LIMIT:.0%} 429 "
          f"(Retry-After {RETRY_AFTER_S:g} s), {SERVER_ERROR:.0%} 500, {RESET:.0%} resets, {HANG:.0%} hangs; "
          f"request timeout {a.timeout:g} s")
    print(f"  trials with a final row  {finals}/{n}")
    print(f"  outcomes                 {dict(sorted(outcomes.items()))}   (error must be 0)")
    print(f"  requests                 {result.requests} ({attempts} attempt rows)")
    print(f"  requests per trial       {result.requests / n:.3f}   (target <= 1.3)")
    print(f"  attempts by status       {dict(sorted((str(k), v) for k, v in statuses.items()))}")
    if limit is not None:
        print(f"  adaptive limit at end    {limit.limit:.1f} of {limit.maximum:.0f} "
              f"({limit.rate_limited} responses were 429, {limit.cuts} cuts)")
    print(f"  wall time                {wall:.2f} s   (no faults would take about "
          f"{n * a.latency / a.concurrency:.2f} s)")
    print(f"  trials finished after    50%: {most[0]:.1f} s, 90%: {most[1]:.1f} s, 99%: {most[2]:.1f} s, "
          f"all: {ends[-1] - first:.1f} s (most attempts for one trial: {slowest}; the tail is "
          "the exponential backoff of the unluckiest trials)")


if __name__ == "__main__":
    main()
