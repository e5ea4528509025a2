"""Agreement of twinstudy's coders (the offline lexicon, optionally an LLM judge) with hand-coded answers.

Gold set: YAML files, each a list of entries
  {id, lang: en|zh, question, answer, codes: {archetype: sage, deference: full,
   centralisation: unclear, culture: [chinese, universal]}, why: optional note}
(a codebook left out of an entry's ``codes`` is not scored for it). Default: the held-out half,
tests/data/coding_gold/test/*.yaml (see that folder's README for how the set was written and split). tests/data/coding_fixture.yaml is a 12-entry smoke fixture written by
the lexicon's author; figures on it say nothing about accuracy.

Printed per codebook and language (and both together):
- single-label codebooks: n, accuracy (share of exact matches), Cohen's kappa and Krippendorff's
  alpha (nominal) of coder vs gold, then recall per gold category and the commonest confusions;
- multi-label codebooks: n, exact-set accuracy, and per category: precision, recall, kappa and
  alpha (binary, assigned or not), plus the mean alpha over categories;
- with --judge: the same for the judge, and alpha between the lexicon and the judge;
- with a second coder's codes of the same entries (--second-coder; by default
  tests/data/coding_gold/second-coder/*.yaml): alpha between the two human coders, the ceiling
  against which a machine coder's alpha with the gold is read.
A judge reply without a readable CODES line is missing for the judge (its count is printed).
All figures are point estimates over the entries given; none is a confidence interval.

Usage:
  PYTHONPATH=src python bench/coding_agreement.py [GOLD.yaml ...] [--codebook ID]...
      [--judge MODEL_ID | --judge '{"id": "j", "provider": "openai-compatible", "base_url": "...", "model": "..."}']
      [--concurrency 4] [--max-tokens 400] [--second-coder CODES.yaml ...]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import math
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from twinstudy.coding.agreement import alpha_nominal, cohen_kappa, percent_agreement, precision_recall
from twinstudy.coding.codebook import Codebook
from twinstudy.coding.lexicon import LexiconCoder
from twinstudy.coding.loader import bundled_codebook_ids, load_codebook
from twinstudy.coding.result import CODED

DEFAULT_GOLD = "tests/data/coding_gold/test/*.yaml"
DEFAULT_SECOND = "tests/data/coding_gold/second-coder/*.yaml"
Codes = dict[str, tuple[str, ...] | None]  # entry id -> categories (None: missing / uncodable)


def load_gold(paths: list[str]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for p in paths:
        data = yaml.safe_load(Path(p).read_text(encoding="utf-8")) or []
        if not isinstance(data, list):
            sys.exit(f"{p}: expected a YAML list of entries")
        for i, e in enumerate(data):
            missing = [k for k in ("id", "lang", "answer", "codes") if k not in e]
            if missing:
                sys.exit(f"{p}: entry {i} lacks {', '.join(missing)}")
            entries.append({**e, "id": f"{Path(p).stem}:{e['id']}", "question": e.get("question", "")})
    return entries


def load_second(paths: list[str]) -> dict[str, dict[str, Any]]:
    """A second coder's codes: YAML lists of {id, codes}, keyed by the entry's own id."""
    out: dict[str, dict[str, Any]] = {}
    for p in paths:
        for e in yaml.safe_load(Path(p).read_text(encoding="utf-8")) or []:
            out[str(e["id"])] = e["codes"] or {}
    return out


def gold_codes(book: Codebook, entries: list[dict[str, Any]]) -> Codes:
    out: Codes = {}
    for e in entries:
        value = (e["codes"] or {}).get(book.id)
        if value is None:
            continue
        cats = tuple(value) if isinstance(value, list) else (str(value),)
        unknown = [c for c in cats if c not in book.category_ids]
        if unknown:
            sys.exit(f"gold entry {e['id']}: '{unknown[0]}' is not a category of {book.id} {book.category_ids}")
        out[e["id"]] = cats
    return out


def _f(x: float) -> str:
    return "  -  " if math.isnan(x) else f"{x:5.2f}"


def _single(coded: Codes, gold: Codes) -> dict[str, str | None]:
    return {u: (c[0] if c else None) for u, c in coded.items() if u in gold}


def report_single(book: Codebook, name: str, coded: Codes, gold: Codes) -> None:
    pred, ref = _single(coded, gold), _single(gold, gold)
    n = sum(v is not None for v in pred.values())
    alpha = alpha_nominal({"coder": pred, "gold": ref})
    print(f"    {name:<28} n={n:<4} accuracy={_f(percent_agreement(pred, ref))} "
          f"kappa={_f(cohen_kappa(pred, ref))} alpha={_f(alpha)}")
    recalls = []
    for cat in book.category_ids:
        p, r, support = precision_recall({u: [v] if v else [] for u, v in pred.items()},
                                         {u: [v] if v else [] for u, v in ref.items()}, cat)
        if support:
            recalls.append(f"{cat} {_f(r).strip()}/{support}")
    print(f"      recall per gold category: {', '.join(recalls)}")
    confusions = Counter((ref[u], v) for u, v in pred.items() if v is not None and v != ref[u])
    if confusions:
        print("      commonest confusions (gold -> coded): "
              + ", ".join(f"{g}->{c} x{k}" for (g, c), k in confusions.most_common(4)))


def report_multi(book: Codebook, name: str, coded: Codes, gold: Codes) -> None:
    units = [u for u in gold if coded.get(u) is not None]
    exact = sum(set(coded[u] or ()) == set(gold[u] or ()) for u in units) / len(units) if units else math.nan
    alphas = []
    lines = []
    for cat in book.category_ids:
        pred = {u: cat in (coded[u] or ()) for u in units}
        ref = {u: cat in (gold[u] or ()) for u in units}
        a = alpha_nominal({"coder": pred, "gold": ref})
        if not math.isnan(a):
            alphas.append(a)
        p, r, support = precision_recall({u: coded[u] or () for u in units}, {u: gold[u] or () for u in units}, cat)
        lines.append(f"      {cat:<18} support={support:<4} precision={_f(p)} recall={_f(r)} "
                     f"kappa={_f(cohen_kappa(pred, ref))} alpha={_f(a)}")
    mean = sum(alphas) / len(alphas) if alphas else math.nan
    print(f"    {name:<28} n={len(units):<4} exact-set accuracy={_f(exact)} mean alpha={_f(mean)}")
    print("\n".join(lines))


def between(book: Codebook, a: Codes, b: Codes) -> float:
    units = [u for u in a if a[u] is not None and b.get(u) is not None]
    if not book.multi_label:
        return alpha_nominal({"a": {u: (a[u] or ("",))[0] for u in units}, "b": {u: (b[u] or ("",))[0] for u in units}})
    vals = [alpha_nominal({"a": {u: c in (a[u] or ()) for u in units}, "b": {u: c in (b[u] or ()) for u in units}})
            for c in book.category_ids]
    vals = [v for v in vals if not math.isnan(v)]
    return sum(vals) / len(vals) if vals else math.nan


def _judge_model(ref: str) -> Any:
    from twinstudy.models.factory import create_model
    from twinstudy.models.registry import resolve

    entry: str | dict[str, Any] = yaml.safe_load(ref) if ref.lstrip().startswith("{") else ref
    return create_model(resolve(entry))


async def judge_all(ref: str, books: list[Codebook], entries: list[dict[str, Any]],
                    concurrency: int, max_tokens: int) -> dict[str, Codes]:
    from twinstudy.coding.judge import judge_code
    from twinstudy.models.base import ModelCallError

    model = _judge_model(ref)
    sem = asyncio.Semaphore(concurrency)
    out: dict[str, Codes] = {b.id: {} for b in books}
    failed = Counter[str]()

    async def one(book: Codebook, e: dict[str, Any]) -> None:
        async with sem:
            try:
                code = await judge_code(model, book, e["lang"], e["question"], e["answer"], max_tokens=max_tokens)
            except ModelCallError as exc:
                failed[book.id] += 1
                print(f"  judge call failed for {e['id']}: {exc}", file=sys.stderr)
                out[book.id][e["id"]] = None
                return
        out[book.id][e["id"]] = code.categories if code.status == CODED else None

    try:
        await asyncio.gather(*(one(b, e) for b in books for e in entries if b.id in (e["codes"] or {})))
    finally:
        await model.aclose()
    for b in books:
        missing = sum(v is None for v in out[b.id].values())
        if missing:
            print(f"judge on {b.id}: {missing} of {len(out[b.id])} replies uncodable or failed (left out)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gold", nargs="*", help=f"gold YAML files (default {DEFAULT_GOLD})")
    ap.add_argument("--codebook", action="append", help="codebook id or path (default: the four bundled ones)")
    ap.add_argument("--judge", help="also code with this model (registry id or JSON/YAML model entry)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=400, help="longest judge reply (default 400)")
    ap.add_argument("--second-coder", nargs="*", help=f"a second coder's codes of the same entries (default "
                    f"{DEFAULT_SECOND} when the default gold is used)")
    args = ap.parse_args()
    paths = args.gold or sorted(glob.glob(DEFAULT_GOLD))
    if not paths:
        sys.exit(f"no gold set at {DEFAULT_GOLD}; pass gold YAML files (tests/data/coding_fixture.yaml is a "
                 "smoke fixture).")
    entries = load_gold(paths)
    second_paths = args.second_coder if args.second_coder is not None else (
        [] if args.gold else sorted(glob.glob(DEFAULT_SECOND)))
    second_raw = load_second(second_paths)
    if second_raw:
        print(f"second coder: {len(second_raw)} entries from {', '.join(second_paths)}")
    books = [load_codebook(b) for b in (args.codebook or bundled_codebook_ids())]
    print(f"gold: {len(entries)} entries from {', '.join(paths)}")
    print("figures are point estimates over these entries, not confidence intervals")
    coders = {b.id: LexiconCoder(b) for b in books}  # keyword compilation is not timed
    t0 = time.perf_counter()
    lex: dict[str, Codes] = {}
    for b in books:
        lex[b.id] = {}
        for e in entries:
            code = coders[b.id].code(e["answer"])
            lex[b.id][e["id"]] = code.categories if code.status == CODED else None
    lex_s = time.perf_counter() - t0
    n = len(entries) * len(books)
    print(f"lexicon: {n} codings in {lex_s * 1000:.0f} ms ({n / lex_s:.0f} per second, one core)")
    judged = asyncio.run(judge_all(args.judge, books, entries, args.concurrency, args.max_tokens)) if args.judge else {}
    for b in books:
        gold_all = gold_codes(b, entries)
        kind = "multi-label" if b.multi_label else "single-label"
        print(f"\n== {b.id} ({kind}, {len(b.category_ids)} categories) ==")
        for lang in ("en", "zh", "all"):
            ids = {e["id"] for e in entries if lang == "all" or e["lang"] == lang}
            gold = {u: c for u, c in gold_all.items() if u in ids}
            if not gold:
                continue
            print(f"  [{lang}]")
            coders: list[tuple[str, Codes]] = [(f"lexicon ({LexiconCoder(b).version})", lex[b.id])]
            if args.judge:
                coders.append((f"judge {args.judge[:40]}", judged.get(b.id, {})))
            for name, coded in coders:
                sub = {u: coded.get(u) for u in gold}
                (report_multi if b.multi_label else report_single)(b, name, sub, gold)
            if args.judge:
                a = between(b, {u: lex[b.id].get(u) for u in gold}, {u: judged[b.id].get(u) for u in gold})
                print(f"    alpha between lexicon and judge: {_f(a)}")
            if second_raw:
                second = gold_codes(b, [{"id": u, "codes": second_raw.get(u.split(":", 1)[1], {})} for u in gold])
                both = {u: gold[u] for u in gold if u in second}
                a = between(b, both, second)
                print(f"    second coder vs gold coder: n={len(both)} alpha= {_f(a)}"
                      f" | lexicon vs second coder: alpha= {_f(between(b, {u: lex[b.id].get(u) for u in both}, second))}")


if __name__ == "__main__":
    main()
