"""Accuracy and throughput of twinstudy.scoring.parse_answer on the hand-labelled corpora.

Usage: PYTHONPATH=src python bench/parse_accuracy.py [--show-failures]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from twinstudy.scoring import SCORER_NAME, SCORER_VERSION, parse_answer

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
CORPORA = {"main": DATA / "parse_corpus.yaml", "holdout": DATA / "parse_holdout.yaml"}


def load(path: Path) -> list[dict[str, Any]]:
    cases = yaml.safe_load(path.read_text("utf-8"))
    assert isinstance(cases, list)
    return cases


def check(case: dict[str, Any]) -> tuple[bool, Any]:
    got = parse_answer(case["text"] or "", case["item_type"], case["lang"], case.get("options"))
    ok = got.status == case["status"] and got.value == case["value"]
    return ok, got


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show-failures", action="store_true")
    ap.add_argument("--corpus", choices=["all", *CORPORA], default="all")
    ap.add_argument("--repeat", type=int, default=20, help="passes over all cases for the throughput figure")
    args = ap.parse_args()
    print(f"scorer {SCORER_NAME} v{SCORER_VERSION}")
    all_cases: list[dict[str, Any]] = []
    for name, path in CORPORA.items():
        if args.corpus not in ("all", name):
            continue
        cases = load(path)
        all_cases += cases
        ok_n = 0
        by: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        fails = []
        for c in cases:
            ok, got = check(c)
            ok_n += ok
            for key in (f"lang={c['lang']}", f"type={c['item_type']}"):
                by[key][0] += ok
                by[key][1] += 1
            if not ok:
                fails.append((c, got))
        print(f"\n[{name}] {path.name}: accuracy {ok_n}/{len(cases)} = {ok_n / len(cases):.3f}")
        for key in sorted(by):
            a, n = by[key]
            print(f"  {key:<16} {a:>3}/{n:<3} = {a / n:.3f}")
        if args.show_failures or len(fails) <= 10:
            for c, got in fails:
                print(f"  FAIL {c['item_type']}/{c['lang']} {c['text'][:70]!r}: expected "
                      f"{c['status']}/{c['value']!r}, got {got.status}/{got.value!r} ({got.reason})")
    t0 = time.perf_counter()
    n = 0
    for _ in range(args.repeat):
        for c in all_cases:
            parse_answer(c["text"] or "", c["item_type"], c["lang"], c.get("options"))
            n += 1
    dt = time.perf_counter() - t0
    print(f"\nthroughput: {n / dt:,.0f} replies/second ({n} parses in {dt:.2f} s, one core)")


if __name__ == "__main__":
    main()
