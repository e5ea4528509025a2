"""10,000 trials end to end through `twinstudy run --batch`: what a whole batch run costs on our side.

How it differs from bench/batch_adapters.py: that one times the adapters alone (lines built in
memory, one batch per protocol, no study, store, runner or command line); this one runs the real
command, ``python -m twinstudy run STUDY --batch`` in a subprocess, with the real OpenAI
files+batches adapter (the study's model has ``provider: openai`` and its ``base_url`` on the
loopback server), so it also pays for loading the study, planning the trials, the database (batch
rows, line states, trials, attempts), polling, scoring, the terminal summary and Python's start-up.

The server (tests/batchserver.py, started by bench/_batchbench.py) runs in its own process and
ends each batch ``--wait`` seconds after its creation (the simulated wait). Printed:

* HTTP requests the server received, by route, and the bytes of JSONL uploaded / downloaded;
* wall time of the command; the time a batch was open on the server (the simulated wait plus the
  polling slack) and the time the server spent in its handlers; wall minus both: the time in
  twinstudy; the command's CPU time (user + system) as a check that needs no subtraction;
* the command's peak resident memory (ru_maxrss of that child process alone, from wait4).

Run: ``python bench/batch.py [--samples 40]`` (125 items x 2 languages x 40 samples = 10,000 trials).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _batchbench import ROOT, batch_server, server_stats, waited_s  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=40, help="125 items x 2 languages x this = trials")
    ap.add_argument("--wait", type=float, default=2.0, help="the server's simulated batch wait (s)")
    ap.add_argument("--poll", type=float, default=0.25, help="first wait between polls (s), --batch-poll")
    args = ap.parse_args()

    env = {**os.environ, "OPENAI_API_KEY": "sk-bench-not-a-real-key",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    with batch_server(wait_s=args.wait) as base, tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "bench.yaml"
        study.write_text(STUDY.format(url=base + "/v1", samples=args.samples), encoding="utf-8")
        db = Path(tmp) / "results.db"
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "twinstudy", "run", str(study), "--batch", "--db", str(db),
                                 "-q", "--no-report", "--batch-poll", str(args.poll)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time and peak memory
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"twinstudy run --batch failed ({proc.returncode}): {err}")
        stats = server_stats(base)
        con = sqlite3.connect(db)
        try:
            outcomes = dict(con.execute("select outcome, count(*) from trials group by outcome").fetchall())
            batches, collected = con.execute("select count(*), count(collected_at) from batches").fetchone()
            integrity = con.execute("pragma integrity_check").fetchone()[0]
        finally:
            con.close()

    n_trials = sum(outcomes.values())
    waited, busy = waited_s(stats), stats["busy_s"]
    mine = wall - waited - busy
    cpu = usage.ru_utime + usage.ru_stime
    counts = stats["counts"]
    rows = [
        ("command", "python -m twinstudy run STUDY --batch (real OpenAI files+batches adapter)"),
        ("trials stored", f"{n_trials:,} ({', '.join(f'{k} {v:,}' for k, v in sorted(outcomes.items()))})"),
        ("batches submitted / collected", f"{batches} / {collected}"),
        ("HTTP requests to the server", f"{sum(counts.values()):,} "
                                        f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})"),
        ("lines received twice", str(sum(1 for n in stats["lines"].values() if n > 1))),
        ("JSONL uploaded", f"{stats['bytes_received'] / 1e6:.2f} MB "
                           f"({stats['bytes_received'] / max(n_trials, 1):,.0f} B/trial)"),
        ("results downloaded", f"{stats['bytes_sent'] / 1e6:.2f} MB"),
        ("wall time of the command", f"{wall:.2f} s"),
        ("a batch open on the server", f"{waited:.2f} s (simulated wait {args.wait:.1f} s + polling slack)"),
        ("server handlers", f"{busy:.2f} s (parsing the upload, writing results, serving them)"),
        ("time in twinstudy", f"{mine:.2f} s = wall - open - handlers ({mine / max(n_trials, 1) * 1e3:.3f} ms/trial;"
                              " includes Python start-up and the summary)"),
        ("CPU time of the command", f"{cpu:.2f} s (user {usage.ru_utime:.2f} + system {usage.ru_stime:.2f})"),
        ("peak RSS of the command", f"{usage.ru_maxrss / 1024:.0f} MB"),
        ("integrity_check", integrity),
        ("load average (1 min) / cores", f"{os.getloadavg()[0]:.1f} / {os.cpu_count()} (wall figures stretch "
                                         "when other processes share the cores; CPU time does not)"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"bench/batch.py: {n_trials:,} trials through `twinstudy run --batch` and a loopback OpenAI batch server")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


if __name__ == "__main__":
    main()
