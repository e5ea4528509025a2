"""Accuracy and throughput of twinstudy.scoring.parse_answer on the labelled parse corpora.

Corpora: the project's own main and holdout sets (tests/data/), the rule author's own phrasings
(regression cases, not a measurement), the blind development half
(tests/data/blind/parse_dev.yaml) and, when present, the blind test half
(tests/data/blind/parse_test.yaml, added by the lead; whoever writes parser rules never opens it).
A case is correct when both status and value match the label.

Estimand: the share of replies parsed correctly, for replies like those in the corpus. The
bracket after each share is a Wilson 95% score interval treating cases as independent draws; the
cases are not a random sample of real traffic, so read it as a guide to sampling noise, not as a
calibrated confidence interval (its coverage was not measured).

Usage: PYTHONPATH=src python bench/parse_accuracy.py [--corpus NAME] [--show-failures] [--repeat N]
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

from twinstudy.scoring import SCORER_NAME, SCORER_VERSION, ParsedAnswer, parse_answer

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
CORPORA = {
    "main": DATA / "parse_corpus.yaml",
    "holdout": DATA / "parse_holdout.yaml",
    "phrasings": DATA / "parse_phrasings.yaml",  # written by the rule author: regression, not a measurement
    "blind-dev": DATA / "blind" / "parse_dev.yaml",
    "blind-test": DATA / "blind" / "parse_test.yaml",
}
STATUSES = ("answered", "refused", "unparseable")


def load(path: Path) -> list[dict[str, Any]]:
    cases = yaml.safe_load(path.read_text("utf-8"))
    if not isinstance(cases, list):
        raise SystemExit(f"{path}: expected a YAML list of cases")
    return cases


def run(case: dict[str, Any]) -> ParsedAnswer:
    return parse_answer(case["text"] or "", case["item_type"], case["lang"], case.get("options"),
                        alt_options=case.get("alt_options"), question=case.get("question"))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def fmt(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k:>4}/{n:<4} = {k / n if n else 0:.3f}  [{lo:.3f}, {hi:.3f}]"


def report(name: str, path: Path, cases: list[dict[str, Any]], show_failures: bool) -> None:
    ok_n = 0
    by: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_gold: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    confusion: Counter[tuple[str, str]] = Counter()
    fails = []
    for c in cases:
        got = run(c)
        ok = got.status == c["status"] and got.value == c["value"]
        ok_n += ok
        for key, table in (((c["lang"], c["item_type"], c["status"]), by), (c["lang"], by_lang),
                           (c["item_type"], by_type), (c["status"], by_gold)):
            table[key][0] += ok  # type: ignore[index]
            table[key][1] += 1  # type: ignore[index]
        confusion[(c["status"], got.status)] += 1
        if not ok:
            fails.append((c, got))
    print(f"\n[{name}] {path.name}: accuracy {fmt(ok_n, len(cases))}")
    for title, table in (("language", by_lang), ("item type", by_type), ("gold status", by_gold)):
        print(f"  by {title}:")
        for key in sorted(table):
            a, n = table[key]
            print(f"    {key:<28} {fmt(a, n)}")
    print("  by language x item type x gold status:")
    for key in sorted(by):
        a, n = by[key]
        print(f"    {'/'.join(key):<28} {fmt(a, n)}")
    print("  confusion of statuses (rows: gold, columns: parsed; value errors count as matches here):")
    print("    " + " " * 13 + "".join(f"{s:>13}" for s in STATUSES))
    for g in STATUSES:
        print(f"    {g:<13}" + "".join(f"{confusion[(g, p)]:>13}" for p in STATUSES))
    if show_failures:
        for c, got in fails:
            print(f"  FAIL {c.get('id', '')} {c['item_type']}/{c['lang']} {c['text'][:70]!r}: expected "
                  f"{c['status']}/{c['value']!r}, got {got.status}/{got.value!r} ({got.reason})")


# Wrappers real chat models put around an answer; a verdict should not change under any of them.
PERTURBATIONS: dict[str, tuple[str, str, str, str]] = {
    # name: (English prefix, English suffix, Chinese prefix, Chinese suffix)
    "acknowledgement": ("Sure! ", "", "好的！", ""),
    "sign-off": ("", "\n\nLet me know if you'd like more detail.", "", "\n\n如需进一步说明，请告诉我。"),
    "thanks": ("Thanks for the question. ", "", "谢谢你的提问。", ""),
    "bold": ("**", "**", "**", "**"),
}


def perturbed(name: str, path: Path, cases: list[dict[str, Any]]) -> None:
    """Accuracy when each reply is wrapped; cut-off replies are skipped (a sign-off un-cuts them)."""
    print(f"\n[{name}] robustness to wrappers (same labels; cut-off replies skipped):")
    for pname, (ep, es, zp, zs) in PERTURBATIONS.items():
        ok = n = 0
        for c in cases:
            if "cut" in str(c.get("note", "")).lower() or "截断" in str(c.get("note", "")):
                continue
            pre, suf = (zp, zs) if c["lang"] == "zh" else (ep, es)
            text = pre + (c["text"] or "").strip() + suf
            got = parse_answer(text, c["item_type"], c["lang"], c.get("options"),
                               alt_options=c.get("alt_options"), question=c.get("question"))
            ok += got.status == c["status"] and got.value == c["value"]
            n += 1
        print(f"    {pname:<28} {fmt(ok, n)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show-failures", action="store_true",
                    help="list failing cases (never use this on the blind test half while writing rules)")
    ap.add_argument("--corpus", choices=["all", *CORPORA], default="all")
    ap.add_argument("--repeat", type=int, default=5, help="passes over all cases for the throughput figure")
    args = ap.parse_args()
    print(f"scorer {SCORER_NAME} v{SCORER_VERSION}")
    all_cases: list[dict[str, Any]] = []
    for name, path in CORPORA.items():
        if args.corpus not in ("all", name):
            continue
        if not path.exists():
            print(f"\n[{name}] {path} not present; skipped")
            continue
        cases = load(path)
        all_cases += cases
        report(name, path, cases, args.show_failures and name != "blind-test")
        if name.startswith("blind"):
            perturbed(name, path, cases)
    if not all_cases:
        return
    t0 = time.perf_counter()
    n = 0
    for _ in range(args.repeat):
        for c in all_cases:
            run(c)
            n += 1
    dt = time.perf_counter() - t0
    print(f"\nthroughput: {n / dt:,.0f} replies/second ({n} parses in {dt:.2f} s, one core; "
          f"a single timing, not an interval)")


if __name__ == "__main__":
    main()
