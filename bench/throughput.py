"""Throughput of the whole pipeline (design, runner, backend, scoring, store) at high concurrency.

A loopback OpenAI-compatible server (another process) answers every request after a fixed
latency L. With C requests in flight the ideal wall time is N*L/C; efficiency = ideal / wall.
CPU milliseconds per trial are this process's CPU time (all threads) divided by N.

    python bench/throughput.py                      # N=2000, L=0.5, C=256
    python bench/throughput.py --bare               # also a bare aiohttp loop: the transport's floor
    python bench/throughput.py --inspect            # also run Inspect AI on the same workload
    python bench/throughput.py --inspect --inspect-python /tmp/inspect-venv/bin/python
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _loopback import start_server, study_yaml  # noqa: E402

from twinstudy.models.factory import create_model  # noqa: E402
from twinstudy.run.runner import Runner, RunOptions, check_models_ready  # noqa: E402
from twinstudy.store import Store  # noqa: E402
from twinstudy.study.design import count_trials  # noqa: E402
from twinstudy.study.spec import load_study  # noqa: E402


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_twinstudy(base: str, n: int, c: int, workdir: Path) -> tuple[int, float, float, int]:
    study = workdir / "study.yaml"
    study.write_text(study_yaml(base, n, c), encoding="utf-8")
    rs = load_study(study)
    models, _ = check_models_ready(rs.models, False, create_model)
    store = Store(workdir / "results.db")
    runner = Runner(rs, store, models, RunOptions(quiet=True))
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    result = asyncio.run(runner.run())
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    answered = store.counts().get("answered", 0)
    assert store.integrity() == "ok"
    store.close()
    assert result.done == count_trials(rs), result
    return result.done, wall, cpu, answered


def run_bare(base: str, n: int, c: int) -> tuple[float, float]:
    """The floor: N bare aiohttp POSTs at concurrency C, fresh session, no design/scoring/store."""
    import aiohttp

    body = json.dumps({"model": "bench-model", "max_tokens": 16, "temperature": 0.7,
                       "messages": [{"role": "user", "content": "Statement 1. Agree? Answer 1-5."}]}).encode()
    url = f"{base}/bench/v1/chat/completions"

    async def go() -> None:
        sem = asyncio.Semaphore(c)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2 * c),
                                         headers={"content-type": "application/json"}) as session:
            async def one() -> None:
                async with sem, session.post(url, data=body) as resp:
                    json.loads(await resp.read())

            await asyncio.gather(*(one() for _ in range(n)))

    cpu0, t0 = cpu_seconds(), time.perf_counter()
    asyncio.run(go())
    return time.perf_counter() - t0, cpu_seconds() - cpu0


def run_inspect(python: str, base: str, n: int, c: int) -> tuple[float, float] | None:
    """Inspect AI on the same workload and server, in its own process (its own venv if need be)."""
    script = Path(__file__).resolve().parent / "_inspect_workload.py"
    done = subprocess.run([python, str(script), base, str(n), str(c)], capture_output=True, text=True)
    if done.returncode != 0:
        if "No module named 'inspect_ai'" in done.stderr:
            return None
        raise RuntimeError(f"the Inspect AI run failed:\n{done.stderr[-2000:]}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    return float(got["wall"]), float(got["cpu"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("-l", "--latency", type=float, default=0.5)
    ap.add_argument("-c", "--concurrency", type=int, default=256)
    ap.add_argument("--bare", action="store_true", help="also run a bare aiohttp loop (no pipeline)")
    ap.add_argument("--inspect", action="store_true", help="also run Inspect AI, if installed")
    ap.add_argument("--inspect-python", default=sys.executable, metavar="PYTHON",
                    help="interpreter with inspect-ai installed (default: this one)")
    a = ap.parse_args()
    proc, base = start_server(a.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            n, wall, cpu, answered = run_twinstudy(base, a.n, a.concurrency, Path(tmp))
        ideal = n * a.latency / a.concurrency
        print(f"twinstudy: N={n} L={a.latency}s C={a.concurrency}")
        print(f"  wall time        {wall:8.2f} s")
        print(f"  ideal N*L/C      {ideal:8.2f} s")
        print(f"  efficiency       {ideal / wall:8.3f}   (target >= 0.85)")
        print(f"  CPU per trial    {1000 * cpu / n:8.3f} ms (target <= 1.5)")
        print(f"  answered         {answered}/{n}")
        if a.bare:
            bw, bcpu = run_bare(base, n, a.concurrency)
            print(f"bare aiohttp loop: wall {bw:.2f} s, efficiency {ideal / bw:.3f}, "
                  f"CPU per request {1000 * bcpu / n:.3f} ms (same server, just after)")
        if a.inspect:
            got = run_inspect(a.inspect_python, base, n, a.concurrency)
            if got is None:
                print("Inspect AI is not installed for that interpreter (pip install inspect-ai, or pass "
                      "--inspect-python); skipped the comparison.")
            else:
                iw, icpu = got
                print(f"inspect-ai: wall {iw:.2f} s, CPU per sample {1000 * icpu / n:.3f} ms")
                print(f"  ratio of wall times, inspect / twinstudy: {iw / wall:.2f}x (same run, same server)")
    finally:
        proc.kill()


if __name__ == "__main__":
    main()
