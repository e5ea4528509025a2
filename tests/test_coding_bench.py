"""bench/coding_agreement.py runs on the smoke fixture and prints its tables (figures not asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_coding_agreement_bench_prints_per_codebook_and_language() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "coding_agreement.py"),
                          str(ROOT / "tests" / "data" / "coding_fixture.yaml")],
                         capture_output=True, text=True, env=env, timeout=120, check=True).stdout
    for line in ("== archetype (single-label", "== culture (multi-label", "[zh]", "kappa=", "alpha=",
                 "precision=", "not confidence intervals"):
        assert line in out
