"""Shared bench plumbing: a loopback OpenAI-compatible server in its own process, and a study
file that yields about N trials against it."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_SAMPLES = 1000  # the study schema's limit


def start_server(latency: float, *, rate_limit: float = 0.0, server_error: float = 0.0, reset: float = 0.0,
                 hang: float = 0.0, retry_after: float = 1.0, max_runtime: float = 900,
                 seed: int = 0) -> tuple[subprocess.Popen[str], str]:
    """Run tests/fault_server.py in another process (so its CPU is not counted as ours)."""
    cmd = [sys.executable, str(ROOT / "tests" / "fault_server.py"), "--latency", str(latency),
           "--rate-limit", str(rate_limit), "--server-error", str(server_error), "--reset", str(reset),
           "--hang", str(hang), "--retry-after", str(retry_after), "--max-runtime", str(max_runtime),
           "--seed", str(seed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    base = proc.stdout.readline().strip()
    if not base.startswith("http"):
        proc.kill()
        raise RuntimeError(f"fault server did not start: {base!r}")
    return proc, base


def study_yaml(base_url: str, n: int, concurrency: int, name: str = "bench",
               request_timeout: float | None = None) -> str:
    """A study with about n trials: 40 Likert items x 2 languages (x more framings past 80,000
    trials, since a study allows at most 1,000 samples) x enough samples."""
    items = 40
    framings = ["neutral", "user-agrees", "user-disagrees", "identity-us", "identity-cn"]
    n_framings = min(len(framings), max(1, math.ceil(n / (items * 2 * MAX_SAMPLES))))
    samples = max(1, math.ceil(n / (items * 2 * n_framings)))
    return f"""\
name: {name}
models:
  - id: loopback
    provider: openai-compatible
    base_url: {base_url}/bench/v1
    model: bench-model
    origin: US
    max_concurrency: {concurrency}
instruments:
  - {{id: us-china, limit: 28}}
  - {{id: ai-futures, limit: 12}}
languages: [en, zh]
framings: [{', '.join(framings[:n_framings])}]
samples: {samples}
params: {{temperature: 0.7, max_tokens: 16}}
"""
