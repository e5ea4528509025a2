"""The throughput workload through Inspect AI, for comparison; run by bench/throughput.py --inspect
with an interpreter that has inspect-ai installed. Imports nothing from twinstudy.

    python bench/_inspect_workload.py BASE_URL N C      # prints {"wall": s, "cpu": s} as JSON
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    base, n, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.scorer import includes
    from inspect_ai.solver import generate

    os.environ["OPENAI_API_KEY"] = "sk-bench"
    os.environ["OPENAI_BASE_URL"] = f"{base}/inspect/v1"
    task = Task(dataset=[Sample(input=f"Statement {i}. Agree?", target="Agree") for i in range(n)],
                solver=generate(), scorer=includes())
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    eval(task, model="openai/bench-model", max_connections=c, log_dir=tempfile.mkdtemp(), display="none",
         max_tokens=16)
    print(json.dumps({"wall": time.perf_counter() - t0, "cpu": cpu_seconds() - cpu0}))


if __name__ == "__main__":
    main()
