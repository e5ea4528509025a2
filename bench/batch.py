"""10,000 trials through a loopback batch server: what `twinstudy run --batch` costs on our side.

The server (tests/batch_fake_server.py, OpenAI files+batches shapes) runs in its own process, so
its work and its simulated batch wait (``--delay``) are not counted. twinstudy runs in this
process, as `twinstudy run --batch` does minus the terminal summary and the report: load the study,
build the lines, submit, poll, collect, score and store. Printed:

* HTTP requests the server received, by route, and the bytes of JSONL uploaded / downloaded;
* wall time, the time asleep between polls (the simulated wait plus the polling slack), and their
  difference: the time spent in twinstudy; CPU time (user + system) of this process as a check;
* peak resident memory of this process (ru_maxrss) and what it was before the run.

Uses the provider adapters (``twinstudy.batch.providers``) when they are in the tree, else the
stand-in adapter of tests/batch_http_adapter.py. Run: ``python bench/batch.py [--samples 40]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

STUDY = """\
name: batch-bench
models:
  - {{id: openai/gpt-4.1, provider: openai, model: gpt-4.1, base_url: {url}, batch: true}}
instruments:
  - ai-futures
  - ai-society
  - superintelligence-governance
  - us-china
  - values
  - {{id: self-perception, limit: 2}}
languages: [en, zh]
framings: [neutral]
samples: {samples}
params: {{temperature: 0.7, max_tokens: 16}}
"""


class _Timed:
    """The adapter, with the time spent in its submit and poll calls (server round trips) summed."""

    def __init__(self, api: Any, timed: dict[str, float]) -> None:
        self._api, self._timed = api, timed

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._api, name)
        if name not in self._timed:
            return attr

        async def call(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return await attr(*a, **kw)
            finally:
                self._timed[name] += time.perf_counter() - t

        return call


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=40, help="125 items x 2 languages x this = trials")
    ap.add_argument("--delay", type=float, default=2.0, help="the server's simulated batch wait (s)")
    ap.add_argument("--poll", type=float, default=0.25, help="first wait between polls (s)")
    ap.add_argument("--tracemalloc", action="store_true", help="also the peak of Python allocations (slower)")
    args = ap.parse_args()

    from twinstudy.batch import orchestrate
    from twinstudy.batch.start import batch_runner
    from twinstudy.models.factory import create_model
    from twinstudy.run.runner import RunOptions
    from twinstudy.run.start import ready_models, run_to_end
    from twinstudy.store import Store
    from twinstudy.study.design import count_trials
    from twinstudy.study.spec import load_study

    adapter = "twinstudy.batch.providers"
    if importlib.util.find_spec(adapter) is None:
        from batch_http_adapter import install

        install()
        adapter = "tests/batch_http_adapter.py (stand-in)"
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-real-key")
    timed: dict[str, float] = {"submit": 0.0, "poll": 0.0}
    build = orchestrate.api_factory

    def timing_factory(info: Any, model: Any) -> Any:
        api = build(info, model)
        return None if api is None else _Timed(api, timed)

    orchestrate.api_factory = timing_factory

    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "batch_fake_server.py"), "--delay", str(args.delay)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            study = Path(tmp) / "bench.yaml"
            study.write_text(STUDY.format(url=url, samples=args.samples), encoding="utf-8")
            rss_before = _rss_mb()
            if args.tracemalloc:
                tracemalloc.start()
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.perf_counter()
            rs = design = load_study(study)
            rs, models, _ = ready_models(rs, skip_unavailable=False, max_cost=None, factory=create_model)
            store = Store(Path(tmp) / "results.db")
            opts = RunOptions(quiet=True)
            runner = batch_runner(rs, store, models, opts, design, every=True, poll=args.poll)
            assert isinstance(runner, orchestrate.BatchRunner), "no batch adapter for the bench model"
            result = run_to_end(rs, store, models, opts, design=design, runner=runner)
            wall = time.perf_counter() - t0
            py_peak = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
            tracemalloc.stop()
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            n_trials = count_trials(rs)
            counts = store.counts()
            integrity = store.integrity()
            store.close()
        with urllib.request.urlopen(url.removesuffix("/v1") + "/_stats") as resp:  # noqa: S310 (loopback)
            stats = json.loads(resp.read())
    finally:
        server.terminate()
        server.wait(10)

    asleep = runner.poll_wait_s
    mine = wall - asleep - timed["submit"] - timed["poll"]
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    requests = sum(stats["counts"].values())
    rows = [
        ("adapter", adapter),
        ("trials (stored / planned)", f"{result.done:,} / {n_trials:,} ({', '.join(f'{k} {v:,}' for k, v in sorted(counts.items()))})"),
        ("batches submitted / collected", f"{runner.batches_submitted} / {runner.batches_collected}"),
        ("HTTP requests to the server", f"{requests:,} ({', '.join(f'{k} {v}' for k, v in sorted(stats['counts'].items()))})"),
        ("lines received twice", str(sum(1 for n in stats["lines"].values() if n > 1))),
        ("JSONL uploaded", f"{stats['bytes_in'] / 1e6:.2f} MB ({stats['bytes_in'] / max(n_trials, 1):,.0f} B/trial)"),
        ("results downloaded", f"{stats['bytes_out'] / 1e6:.2f} MB"),
        ("wall time", f"{wall:.2f} s"),
        ("asleep between polls", f"{asleep:.2f} s (server's simulated wait {args.delay:.1f} s + polling slack)"),
        ("in submit calls (upload + create)", f"{timed['submit']:.2f} s (includes the server parsing the file)"),
        ("in poll calls", f"{timed['poll']:.2f} s (includes the server writing the result file)"),
        ("time in twinstudy", f"{mine:.2f} s = wall - asleep - submit - poll ({mine / max(n_trials, 1) * 1e3:.3f} ms/trial)"),
        ("CPU time (user + system)", f"{cpu:.2f} s"),
        ("peak RSS (before the run)", f"{_rss_mb():.0f} MB ({rss_before:.0f} MB)"),
        *([("peak of Python allocations", f"{py_peak / 1e6:.1f} MB (tracemalloc, during the run)")]
          if py_peak is not None else []),
        ("integrity_check", integrity),
        ("load average (1 min) / cores", f"{os.getloadavg()[0]:.1f} / {os.cpu_count()} (wall figures stretch "
                                         "when other processes share the cores; CPU time does not)"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"bench/batch.py: {n_trials:,} trials through a loopback OpenAI files+batches server")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


if __name__ == "__main__":
    main()
