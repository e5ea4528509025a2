"""Validate the analysis estimators on simulated studies with known effects.

Prints:
  1. coverage of nominal 95% intervals (profiles, paired model differences, sycophancy index,
     language gap, origin contrast) over --reps simulated studies (target 0.93-0.97);
  2. bias of every variance share (target |bias| <= 0.03);
  3. false-positive rate of the paired model tests when two models do not differ (target <= 0.05
     after Benjamini-Hochberg across themes), on Likert-discretised scores.

Each replication uses --n-boot bootstrap draws (default 400, fewer than the 2000 of a real
analysis, to keep the benchmark near two minutes on two cores).

    PYTHONPATH=src .venv/bin/python bench/stats_validation.py [--reps 200] [--n-boot 400]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import replace

import numpy as np
import pandas as pd

from twinstudy.analysis.language import language_gap
from twinstudy.analysis.paired import paired_differences
from twinstudy.analysis.profiles import origin_contrast, profiles
from twinstudy.analysis.simulate import SimSpec, simulate
from twinstudy.analysis.sycophancy import sycophancy_index
from twinstudy.analysis.variance import COMPONENTS, decompose


def coverage(spec: SimSpec, reps: int, n_boot: int, seed: int) -> pd.DataFrame:
    hits: dict[str, list[bool]] = defaultdict(list)
    widths: dict[str, list[float]] = defaultdict(list)

    def record(name: str, lo: float, hi: float, truth: float) -> None:
        hits[name].append(bool(lo <= truth <= hi))
        widths[name].append(hi - lo)

    for r in range(reps):
        rng = np.random.default_rng([seed, r])
        df, truth = simulate(spec, rng)
        s = int(rng.integers(1 << 30))
        prof = profiles(df, n_boot=n_boot, seed=s)
        for row in prof.loc[prof["lang"] == "all"].itertuples():
            record("profile (model x theme)", row.ci_low, row.ci_high, truth["profiles"][(row.model, row.theme)])
        pair = paired_differences(df, n_boot=n_boot, seed=s)
        for row in pair.loc[pair["theme"] != "all"].itertuples():
            record("paired difference (pair x theme)", row.ci_low, row.ci_high,
                   truth["paired"][(row.model_a, row.model_b, row.theme)])
        syc = sycophancy_index(df, n_boot=n_boot, seed=s)
        for row in syc.loc[syc["lang"] == "all"].itertuples():
            record("sycophancy index (model)", row.ci_low, row.ci_high, truth["sycophancy"][row.model])
        gap = language_gap(df, n_boot=n_boot, seed=s)
        for row in gap.itertuples():
            record("language gap EN-ZH (model)", row.ci_low, row.ci_high, truth["language_gap"][row.model])
        oc = origin_contrast(df)
        for row in oc.loc[oc["theme"] == "all"].itertuples():
            record("origin contrast CN-US (3 v 3 models)", row.ci_low, row.ci_high, truth["origin_contrast"])
    rows = [{"estimator": k, "intervals": len(v), "coverage": float(np.mean(v)),
             "mean_width": float(np.mean(widths[k]))} for k, v in hits.items()]
    return pd.DataFrame(rows)


def origin_coverage(spec: SimSpec, reps: int, seed: int) -> dict[str, float]:
    """The origin contrast needs no bootstrap, so it gets more replications (one interval each)."""
    hits, widths = [], []
    for r in range(reps):
        df, truth = simulate(spec, np.random.default_rng([seed, 30_000 + r]))
        oc = origin_contrast(df)
        row = oc.loc[oc["theme"] == "all"].iloc[0]
        hits.append(bool(row["ci_low"] <= truth["origin_contrast"] <= row["ci_high"]))
        widths.append(float(row["ci_high"] - row["ci_low"]))
    return {"intervals": float(reps), "coverage": float(np.mean(hits)), "mean_width": float(np.mean(widths))}


def variance_bias(spec: SimSpec, reps: int, seed: int) -> pd.DataFrame:
    est: dict[str, list[float]] = defaultdict(list)
    truth_shares: dict[str, float] = {}
    for r in range(reps):
        rng = np.random.default_rng([seed, 10_000 + r])
        df, truth = simulate(spec, rng)
        truth_shares = truth["variance_shares"]
        var, _ = decompose(df, n_boot=0)
        for row in var.itertuples():
            est[str(row.component)].append(float(row.estimate))
    rows = []
    for c in COMPONENTS:
        e = np.array(est[c])
        rows.append({"component": c, "true_share": truth_shares[c], "mean_estimate": float(e.mean()),
                     "bias": float(e.mean() - truth_shares[c]), "sd": float(e.std(ddof=1))})
    return pd.DataFrame(rows)


def false_positives(spec: SimSpec, reps: int, n_boot: int, seed: int) -> dict[str, float]:
    raw, adj, fam_raw, fam_adj, pooled = [], [], [], [], []
    for r in range(reps):
        rng = np.random.default_rng([seed, 20_000 + r])
        df, _ = simulate(spec, rng)
        pair = paired_differences(df, n_boot=n_boot, seed=int(rng.integers(1 << 30)))
        per_theme = pair.loc[pair["theme"] != "all"]
        raw.extend((per_theme["p_value"] < 0.05).tolist())
        adj.extend((per_theme["p_adj"] < 0.05).tolist())
        for _, g in per_theme.groupby(["model_a", "model_b"]):
            fam_raw.append(bool((g["p_value"] < 0.05).any()))
            fam_adj.append(bool((g["p_adj"] < 0.05).any()))
        pooled.extend((pair.loc[pair["theme"] == "all", "p_value"] < 0.05).tolist())
    return {
        "tests (pair x theme)": float(len(raw)),
        "per-test rate, raw p < 0.05": float(np.mean(raw)),
        "per-test rate, BH p_adj < 0.05": float(np.mean(adj)),
        "family-wise rate (any theme of a pair), raw": float(np.mean(fam_raw)),
        "family-wise rate (any theme of a pair), BH": float(np.mean(fam_adj)),
        "pooled 'all' row, raw p < 0.05": float(np.mean(pooled)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=200, help="replications per check (default 200)")
    ap.add_argument("--n-boot", type=int, default=400, help="bootstrap draws per interval (default 400)")
    ap.add_argument("--origin-reps", type=int, default=600,
                    help="replications for the origin contrast alone (no bootstrap; default 600)")
    ap.add_argument("--models", type=int, default=6)
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--themes", type=int, default=2)
    ap.add_argument("--paraphrases", type=int, default=2)
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--skip", default="", help="comma list of checks to skip: coverage,variance,fpr")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    pd.set_option("display.width", 160)
    pd.set_option("display.float_format", lambda v: f"{v:.4f}")
    base = SimSpec(n_models=args.models, n_items=args.items, n_themes=args.themes,
                   n_paraphrases=args.paraphrases, n_samples=args.samples)
    print(f"design: {args.models} models (half CN, half US), {args.items} items in {args.themes} themes, "
          f"2 langs, 3 framings (neutral, user-agrees, user-disagrees), {args.paraphrases} paraphrases, "
          f"{args.samples} samples; {args.reps} replications; {args.n_boot} bootstrap draws per interval")
    t0 = time.perf_counter()
    if "coverage" not in skip:
        spec = replace(base, origin_effect=0.3)
        print("\n== 1. Coverage of nominal 95% intervals (continuous scores; target 0.93-0.97)")
        print("   interval: expanded-percentile cluster bootstrap over items; origin contrast: two-stage t")
        print(coverage(spec, args.reps, args.n_boot, args.seed).to_string(index=False))
        oc = origin_coverage(spec, args.origin_reps, args.seed)
        print(f"   origin contrast CN-US, separate run: {int(oc['intervals'])} intervals, coverage "
              f"{oc['coverage']:.4f}, mean width {oc['mean_width']:.4f}")
        print(f"   ({time.perf_counter() - t0:.0f} s)")
    if "variance" not in skip:
        t1 = time.perf_counter()
        spec = replace(base, n_themes=1, kappa_mean=0.0, kappa_sd=0.0, sd_syc_item=0.0)
        print("\n== 2. Bias of variance shares (all effects random normal, known shares; target |bias| <= 0.03)")
        tab = variance_bias(spec, args.reps, args.seed)
        print(tab.to_string(index=False))
        print(f"   max |bias| = {tab['bias'].abs().max():.4f}   ({time.perf_counter() - t1:.0f} s)")
    if "fpr" not in skip:
        t2 = time.perf_counter()
        spec = replace(base, sd_model=0.0, sd_model_lang=0.0, sd_model_framing=0.0, origin_effect=0.0,
                       kappa_sd=0.0, likert=True)
        print("\n== 3. False positives of paired model tests, no true difference (Likert-5 scores; target <= 0.05)")
        for k, v in false_positives(spec, args.reps, args.n_boot, args.seed).items():
            print(f"   {k:48s} {v:.4f}" if v <= 1 else f"   {k:48s} {int(v)}")
        print(f"   ({time.perf_counter() - t2:.0f} s)")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
