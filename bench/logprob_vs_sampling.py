"""Answer distributions on the embedded model: read from logits in one call vs estimated by sampling.

For each Likert item (quickstart-tagged likert5 items from the bundled banks, neutral framing, no
system prompt, rendered with twinstudy.study.prompts.render_messages) and each language:

* logprob: one LocalModel call with ``GenerateParams.options = ("1".."5")`` and max_tokens=1;
  ``Completion.option_probs`` is the distribution (renormalised over the labels) and
  ``option_mass`` the labels' share of the first-token probability before renormalising.
* sampling (parsed): K calls (temperature 1.0, seeds 0..K-1, small max_tokens) parsed with
  ``parse_answer``; the empirical distribution of the answers that parsed.
* first-token: K' calls with max_tokens=1 (temperature 1.0, seeds); a reply counts only if its one
  token is a label. This is what the logprob reading predicts directly, but note that LocalModel
  samples with llama-cpp-python's default truncation (top_k=40, top_p=0.95, min_p=0.05), which cuts
  off low-probability tokens, so rare labels can never be drawn.
* first-token, untruncated: the same with the sampler's truncation switched off (top_k=0, top_p=1,
  min_p=0, calling llama.cpp directly). With enough draws it must converge on the logprob
  reading; it checks the reading itself rather than the sampler.

Per language it prints the mean Jensen-Shannon distance (scipy, base 2) between the logprob
distribution and each sampling estimate over the items where that estimate got >= --min-valid
answers, next to the distance expected from sampling noise alone (multinomial draws of the same size
from the logprob distribution); then the same for all items pooled (every valid answer counts, the
prediction being the logprob distributions weighted by each item's valid answers), the valid-answer
rates, and the cost of each method: calls, tokens
generated, prompt+completion tokens (what an API would bill) and wall time, as ratios to logprob.
Each method starts every item from a cold prompt cache, so each pays for one prompt evaluation
(the untruncated check runs on the warm cache and is left out of the cost ratios).

Threads: llama.cpp with as many threads as cores is many times slower on a busy machine (barrier
waits); --threads (default 1) sets TWINSTUDY_THREADS before the model is loaded.

Usage: PYTHONPATH=src python bench/logprob_vs_sampling.py [--items 8] [--k 20] [--k-first 200]
       [--max-tokens 8] [--langs en,zh] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial.distance import jensenshannon

LABELS = ("1", "2", "3", "4", "5")
INSTRUMENTS = ("ai-futures", "superintelligence-governance", "us-china")


@dataclass
class Cost:
    calls: int = 0
    tokens_out: int = 0
    tokens_billed: int = 0  # prompt + completion per call, as an API would count them
    wall_s: float = 0.0

    def add(self, other: Cost) -> None:
        self.calls += other.calls
        self.tokens_out += other.tokens_out
        self.tokens_billed += other.tokens_billed
        self.wall_s += other.wall_s


@dataclass
class Estimate:
    counts: Counter[str] = field(default_factory=Counter)
    n_calls: int = 0
    cost: Cost = field(default_factory=Cost)

    @property
    def n_valid(self) -> int:
        return sum(self.counts.values())

    def vector(self) -> np.ndarray[Any, Any]:
        return np.array([self.counts[lab] for lab in LABELS], dtype=float) / max(1, self.n_valid)


def pick_items(n: int) -> list[Any]:
    """Up to n quickstart likert5 items, taken round-robin across the bundled banks."""
    from twinstudy.instruments.loader import load_instrument

    pools = [[it for it in load_instrument(i).items if "quickstart" in it.tags and it.type == "likert5"]
             for i in INSTRUMENTS]
    out: list[Any] = []
    while len(out) < n and any(pools):
        for pool in pools:
            if pool and len(out) < n:
                out.append(pool.pop(0))
    return out


def noise_floor(p: np.ndarray[Any, Any], n: int, rng: np.random.Generator, draws: int = 300) -> float:
    """Mean JS distance between p and the empirical distribution of n draws from p."""
    total = 0.0
    for _ in range(draws):
        q = rng.multinomial(n, p) / n
        total += float(jensenshannon(p, q, base=2))
    return total / draws


def pooled(rows: list[dict[str, Any]], method: str, rng: np.random.Generator,
           draws: int = 300) -> tuple[float, float]:
    """JS distance of the pooled answers of all items against what the logprob readings predict for
    them (sum of n_i * p_i), and the same distance expected from sampling noise alone."""
    ns = [r["ests"][method].n_valid for r in rows]
    total = sum(ns)
    if total == 0:
        return float("nan"), float("nan")
    expected = sum(n * r["p"] for n, r in zip(ns, rows, strict=True)) / total
    observed = sum(r["ests"][method].vector() * n for n, r in zip(ns, rows, strict=True)) / total
    js = float(jensenshannon(expected, observed, base=2))
    floor = 0.0
    for _ in range(draws):
        sim = sum(rng.multinomial(n, r["p"]) for n, r in zip(ns, rows, strict=True) if n) / total
        floor += float(jensenshannon(expected, sim, base=2))
    return js, floor / draws


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=8, help="Likert items per language")
    ap.add_argument("--langs", default="en,zh")
    ap.add_argument("--k", type=int, default=20, help="samples per item for the parsed estimate")
    ap.add_argument("--k-first", type=int, default=200, help="samples per item for the first-token estimates")
    ap.add_argument("--max-tokens", type=int, default=8, help="max_tokens of the parsed samples")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--min-valid", type=int, default=5, help="valid answers an item needs to be compared")
    ap.add_argument("--no-untruncated", action="store_true", help="skip the untruncated first-token estimate")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads (sets TWINSTUDY_THREADS)")
    args = ap.parse_args()
    os.environ["TWINSTUDY_THREADS"] = str(args.threads)

    from twinstudy.instruments.loader import load_framings
    from twinstudy.models import local
    from twinstudy.models.base import GenerateParams, Message, ModelInfo
    from twinstudy.scoring.parse import SCORER_NAME, SCORER_VERSION, parse_answer
    from twinstudy.study.prompts import render_messages

    model = local.LocalModel(ModelInfo(id="local/smollm2-135m", provider="local", model="SmolLM2-135M-Instruct"))
    t_load = time.perf_counter()
    engine = local._engine(model.path, model.info.id)
    t_load = time.perf_counter() - t_load
    neutral = load_framings()["neutral"]
    items = pick_items(args.items)
    langs = [x.strip() for x in args.langs.split(",") if x.strip()]
    methods = ["sampling (parsed)", "first-token"] + ([] if args.no_untruncated else ["first-token, untruncated"])
    print(f"embedded model {model.path.name}, {args.threads} thread(s), loaded in {t_load:.1f} s; "
          f"{len(items)} likert5 items x {langs}; parsed K={args.k} (max_tokens={args.max_tokens}), "
          f"first-token K={args.k_first}, temperature {args.temperature}; parser {SCORER_NAME} {SCORER_VERSION}")

    def cold() -> None:
        engine.llm.n_tokens = 0  # forget the cached prompt: every method pays one prompt evaluation

    def call(msgs: list[Message], params: GenerateParams) -> tuple[Any, Cost]:
        t0 = time.perf_counter()
        comp = model._generate_sync(msgs, params)
        dt = time.perf_counter() - t0
        out = comp.tokens_out or 0
        return comp, Cost(1, out, (comp.tokens_in or 0) + out, dt)

    def raw_first_token(msgs: list[Message], seed: int) -> tuple[str, Cost]:
        t0 = time.perf_counter()
        out = engine.llm.create_chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in msgs], max_tokens=1,
            temperature=args.temperature, top_k=0, top_p=1.0, min_p=0.0, seed=seed)
        dt = time.perf_counter() - t0
        usage = out.get("usage") or {}
        n_out = int(usage.get("completion_tokens") or 0)
        text = out["choices"][0]["message"].get("content") or ""
        return text, Cost(1, n_out, int(usage.get("prompt_tokens") or 0) + n_out, dt)

    rng = np.random.default_rng(0)
    t_all = time.perf_counter()
    per_lang: dict[str, list[dict[str, Any]]] = {lang: [] for lang in langs}
    for lang in langs:
        for item in items:
            msgs = render_messages(None, neutral, item, lang, 0, None)
            cold()
            comp, lp_cost = call(msgs, GenerateParams(max_tokens=1, temperature=0.0, options=LABELS))
            probs = comp.option_probs or {}
            p = np.array([probs.get(lab, 0.0) for lab in LABELS])
            ests: dict[str, Estimate] = {m: Estimate() for m in methods}

            est = ests["sampling (parsed)"]
            cold()
            for s in range(args.k):
                c, cost = call(msgs, GenerateParams(max_tokens=args.max_tokens, temperature=args.temperature, seed=s))
                est.cost.add(cost)
                est.n_calls += 1
                parsed = parse_answer(c.text, item.type, lang)
                if parsed.status == "answered" and str(parsed.value) in LABELS:
                    est.counts[str(parsed.value)] += 1

            est = ests["first-token"]
            cold()
            for s in range(args.k_first):
                c, cost = call(msgs, GenerateParams(max_tokens=1, temperature=args.temperature, seed=s))
                est.cost.add(cost)
                est.n_calls += 1
                if c.text.strip() in LABELS:
                    est.counts[c.text.strip()] += 1

            if "first-token, untruncated" in ests:
                est = ests["first-token, untruncated"]  # a check of the reading: runs on the warm cache
                for s in range(args.k_first):
                    text, cost = raw_first_token(msgs, s)
                    est.cost.add(cost)
                    est.n_calls += 1
                    if text.strip() in LABELS:
                        est.counts[text.strip()] += 1

            row: dict[str, Any] = {"item": item.id, "p": p, "mass": comp.option_mass or 0.0, "lp_cost": lp_cost,
                                   "ests": ests}
            per_lang[lang].append(row)
            shown = " ".join(f"{x:.2f}" for x in p)
            counts = "; ".join(f"{m.split(' ')[0] if m != 'first-token, untruncated' else 'untrunc'} "
                               f"{e.n_valid}/{e.n_calls}" for m, e in ests.items())
            print(f"  {lang} {item.id:<16} logprob [{shown}] label-mass {row['mass']:.3f} | valid: {counts}",
                  flush=True)

    print()
    print(f"{'lang':<4} {'estimate':<26} {'valid rate':>10} {'items>=' + str(args.min_valid):>9} "
          f"{'mean JS':>8} {'noise JS':>8} {'pooled JS':>9} {'noise':>6} {'calls':>7} {'tok out':>8} {'tok billed':>10} {'wall s':>7}")
    for lang in langs:
        rows = per_lang[lang]
        lp = Cost()
        for r in rows:
            lp.add(r["lp_cost"])
        mass = float(np.mean([r["mass"] for r in rows])) if rows else float("nan")
        print(f"{lang:<4} {'logprob (1 call/item)':<26} {'':>10} {len(rows):>9} {'':>8} {'':>8} {'':>9} {'':>6} {lp.calls:>7} "
              f"{lp.tokens_out:>8} {lp.tokens_billed:>10} {lp.wall_s:>7.2f}   mean label mass {mass:.3f}")
        for m in methods:
            cost = Cost()
            valid = calls = 0
            js: list[float] = []
            floor: list[float] = []
            for r in rows:
                e: Estimate = r["ests"][m]
                cost.add(e.cost)
                valid += e.n_valid
                calls += e.n_calls
                if e.n_valid >= args.min_valid and r["p"].sum() > 0:
                    js.append(float(jensenshannon(r["p"], e.vector(), base=2)))
                    floor.append(noise_floor(r["p"], e.n_valid, rng))
            mean_js = f"{np.mean(js):.3f}" if js else "n/a"
            mean_floor = f"{np.mean(floor):.3f}" if floor else "n/a"
            rate = valid / calls if calls else float("nan")
            pjs, pfloor = pooled(rows, m, rng)
            print(f"{lang:<4} {m:<26} {rate:>10.1%} {len(js):>9} {mean_js:>8} {mean_floor:>8} {pjs:>9.3f} "
                  f"{pfloor:>6.3f} {cost.calls:>7} "
                  f"{cost.tokens_out:>8} {cost.tokens_billed:>10} {cost.wall_s:>7.2f}")
        for m in methods[:2]:
            cost = Cost()
            for r in rows:
                cost.add(r["ests"][m].cost)
            ratio_tok = cost.tokens_out / lp.tokens_out if lp.tokens_out else float("nan")
            ratio_bill = cost.tokens_billed / lp.tokens_billed if lp.tokens_billed else float("nan")
            ratio_t = cost.wall_s / lp.wall_s if lp.wall_s else float("nan")
            print(f"{lang:<4} cost ratio {m} / logprob: tokens generated x{ratio_tok:.1f}, "
                  f"tokens billed x{ratio_bill:.1f}, wall time x{ratio_t:.2f}")
    if not args.no_untruncated:
        print("(first-token, untruncated: a check of the reading, run on the warm prompt cache; not in the ratios)")
    print(f"\ntotal wall time {time.perf_counter() - t_all:.1f} s (+ {t_load:.1f} s model load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
