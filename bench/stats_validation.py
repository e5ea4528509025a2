"""Validate the analysis estimators on simulated studies with known effects.

The realistic design (issue 13): the bundled ai-futures and us-china Likert items with their real
themes (4 of 6 items, 7 of 4), keying (half reverse) and 2 paraphrases; items in families of two
that share a model x family effect (correlated items); 7 models, 4 CN (3 companies, one with two
variants) and 3 US (2 companies, one with two variants); EN and ZH; framings neutral, user-agrees,
user-disagrees, identity-us, identity-cn; sycophancy on; 3 samples per cell; informative refusals
(a model refuses more where it would answer toward the pole) emptying about 30 % of the cells.

Prints:
  1. coverage of every interval the report prints, on the realistic design, with informative
     refusals and (same design) without refusals, to separate the estimator from the refusal bias
     (target 0.93-0.97);
  2. coverage of rate intervals (refusal rate with item-clustered refusals; pushback flip rate net
     of the re-ask control);
  3. size of every test at 5 % (target <= 0.06), and the chance that the BH-adjusted paired table
     shows any "significant" row under the complete null;
  4. bias of every variance share (target |bias| <= 0.03): no refusals, 30 % of cells missing at
     random, 30 % emptied by informative refusals.

    PYTHONPATH=src .venv/bin/python bench/stats_validation.py [--reps 400] [--n-boot 400]

BLAS is pinned to one thread (a multi-threaded BLAS on a busy 2-core machine is many times
slower on these small products).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from dataclasses import replace  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from twinstudy.analysis import variance as variance_mod  # noqa: E402
from twinstudy.analysis.cells import likert_cells  # noqa: E402
from twinstudy.analysis.frame import COLUMNS  # noqa: E402
from twinstudy.analysis.framings import with_roles  # noqa: E402
from twinstudy.analysis.language import language_gap, mcnemar_table  # noqa: E402
from twinstudy.analysis.paired import paired_differences  # noqa: E402
from twinstudy.analysis.profiles import origin_contrast, profiles  # noqa: E402
from twinstudy.analysis.rates import outcome_rates  # noqa: E402
from twinstudy.analysis.simulate import SimSpec, simulate  # noqa: E402
from twinstudy.analysis.sycophancy import flip_rates, identity_effect, sycophancy_index  # noqa: E402
from twinstudy.analysis.variance import COMPONENTS, decompose  # noqa: E402

variance_mod.SMALL_PRODUCTS_WITHOUT_BLAS = False

ORIGINS = ("CN", "CN", "CN", "CN", "US", "US", "US")
COMPANIES = ("cn-lab-1", "cn-lab-1", "cn-lab-2", "cn-lab-3", "us-lab-1", "us-lab-1", "us-lab-2")
FRAMINGS = ("neutral", "user-agrees", "user-disagrees", "identity-us", "identity-cn")


def bundled_items() -> tuple[tuple[str, bool, int, str], ...]:
    """(theme, reverse, paraphrases, family) of the bundled ai-futures and us-china Likert items."""
    from twinstudy.instruments.loader import load_instrument

    out = []
    for inst in ("ai-futures", "us-china"):
        per_theme: dict[str, int] = defaultdict(int)
        for it in load_instrument(inst).items:
            if it.type != "likert5":
                continue
            k = per_theme[it.theme]
            per_theme[it.theme] += 1
            out.append((it.theme, bool(it.reverse), min(2, it.n_paraphrases), f"{it.theme}/{k // 2}"))
    return tuple(out)


def realistic(refusals: bool) -> SimSpec:
    return SimSpec(
        n_models=len(ORIGINS), origins=ORIGINS, companies=COMPANIES, items=bundled_items(), framings=FRAMINGS,
        n_samples=3, origin_effect=0.3, sd_model=0.25, sd_variant=0.05, sd_lang=0.1, sd_framing=0.1,
        sd_model_lang=0.1, sd_model_framing=0.05, sd_theme=0.25, sd_item=0.3, sd_family_model=0.1,
        sd_paraphrase=0.1, sd_item_model=0.2, sd_noise=0.35, kappa_mean=0.2, kappa_sd=0.1, sd_syc_item=0.1,
        refusal_share=0.45 if refusals else 0.0, refusal_p=0.9, refusal_informative=True,
    )


def _profile_truth(truth: dict[str, Any], df: pd.DataFrame, model: str, theme: str) -> float:
    if theme != "all":
        return float(truth["profiles"][(model, theme)])
    items = df[["item", "theme"]].drop_duplicates()
    return float(np.mean([truth["profiles"][(model, t)] for t in items["theme"]]))


def coverage(spec: SimSpec, reps: int, n_boot: int, seed: int, with_variance: bool) -> pd.DataFrame:
    hits: dict[str, list[bool]] = defaultdict(list)
    widths: dict[str, list[float]] = defaultdict(list)
    kinds: dict[str, set[str]] = defaultdict(set)
    empty: list[float] = []

    def record(name: str, row: Any, truth: float) -> None:
        lo, hi = float(row.ci_low), float(row.ci_high)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return
        hits[name].append(bool(lo <= truth <= hi))
        widths[name].append(hi - lo)
        kinds[name].add(str(row.ci_kind).split(";")[0])

    for r in range(reps):
        rng = np.random.default_rng([seed, r])
        df, truth = simulate(spec, rng)
        df = with_roles(df)
        s = int(rng.integers(1 << 30))
        cells = likert_cells(df)
        answered = df.assign(ok=(df["outcome"] == "answered").to_numpy())
        empty.append(float(1.0 - answered.groupby(["model", "item", "lang", "framing", "paraphrase"])["ok"]
                           .any().mean()))
        prof = profiles(df, n_boot=n_boot, seed=s, cells=cells)
        for row in prof.loc[prof["lang"] == "all"].itertuples():
            name = "profile, model x theme" if row.theme != "all" else "profile, model (all themes)"
            record(name, row, _profile_truth(truth, df, row.model, row.theme))
        pair = paired_differences(df, n_boot=n_boot, seed=s, cells=cells)
        for row in pair.itertuples():
            name = "paired A-B, pair x theme" if row.theme != "all" else "paired A-B, pair (all themes)"
            record(name, row, truth["paired"][(row.model_a, row.model_b, row.theme)])
        syc = sycophancy_index(df, n_boot=n_boot, seed=s, cells=cells)
        for row in syc.loc[syc["lang"] == "all"].itertuples():
            record("sycophancy index, model", row, truth["sycophancy"][row.model])
        ident = identity_effect(df, n_boot=n_boot, seed=s, cells=cells)
        for row in ident.loc[ident["lang"] == "all"].itertuples():
            record("identity effect CN-US, model", row, truth["identity"][row.model])
        gap = language_gap(df, n_boot=n_boot, seed=s, cells=cells)
        for row in gap.itertuples():
            record("language gap EN-ZH, model", row, truth["language_gap"][row.model])
        oc = origin_contrast(df, cells=cells)
        for row in oc.loc[oc["theme"] == "all"].itertuples():
            record("origin contrast CN-US (3 v 2 companies)", row, truth["origin_contrast"])
        if with_variance:
            var, head = decompose(df, n_boot=n_boot, seed=s)
            shares = truth["variance_shares"]
            for row in var.itertuples():
                if row.component in ("unresolved",):
                    continue
                record(f"variance share: {row.component}", row, shares[row.component])
            ms = shares["model"] + shares["model:lang"] + shares["model:framing"]
            us = shares["lang"] + shares["framing"]
            t_head = {"model_side": ms, "user_side": us, "model_share": ms / (ms + us)}
            for row in head.itertuples():
                if row.measure in t_head:
                    record(f"variance headline: {row.measure}", row, t_head[row.measure])
    rows = [{"interval": k, "kind": ", ".join(sorted(kinds[k])), "intervals": len(v), "coverage": float(np.mean(v)),
             "mean_width": float(np.mean(widths[k]))} for k, v in hits.items()]
    out = pd.DataFrame(rows)
    out["in target"] = np.where((out["coverage"] >= 0.93) & (out["coverage"] <= 0.97), "yes", "NO")
    print(f"   mean share of empty Likert cells: {np.mean(empty):.3f}")
    return out


def _base_rows(n: int) -> dict[str, Any]:
    return {"trial_key": np.arange(n).astype(str), "origin": "US", "company": "c", "tier": "x", "open_weights": True,
            "instrument": "sim", "theme": "T", "item_type": "choice", "reverse": False, "paraphrase": 0,
            "answer": None, "agreement": np.nan, "score": np.nan, "correct": np.nan, "final_answer": None,
            "final_correct": np.nan, "flipped": np.nan, "open_outcome": None}


def rate_coverage(reps: int, n_boot: int, seed: int) -> pd.DataFrame:
    """Refusal rates with item-clustered refusals (Beta item propensities) and net pushback flips."""
    out = []
    n_items, per_item = 24, 30
    for icc in (0.02, 0.33, 0.77):
        mean = 0.15
        a = mean * (1 - icc) / icc
        b = (1 - mean) * (1 - icc) / icc
        hits, widths = [], []
        for r in range(reps):
            rng = np.random.default_rng([seed, 40_000 + r])
            p = rng.beta(a, b, n_items)
            ref = rng.random((n_items, per_item)) < p[:, None]
            n = ref.size
            df = pd.DataFrame({**_base_rows(n), "model": "m", "item": np.repeat([f"q{i}" for i in range(n_items)],
                                                                              per_item),
                               "lang": "en", "framing": "neutral", "sample": np.tile(np.arange(per_item), n_items),
                               "outcome": np.where(ref.ravel(), "refused", "answered")})[list(COLUMNS)]
            row = outcome_rates(df)
            row = row[(row["outcome"] == "refused") & (row["lang"] == "all") & (row["theme"] == "all")].iloc[0]
            hits.append(bool(row["ci_low"] <= mean <= row["ci_high"]))
            widths.append(float(row["ci_high"] - row["ci_low"]))
        out.append({"interval": f"refusal rate, ICC {icc}", "kind": "design-effect Wilson, items",
                    "intervals": reps, "coverage": float(np.mean(hits)), "mean_width": float(np.mean(widths))})
    # pushback flip net of re-ask: item flip propensity ~ Beta(mean 0.2), pushback adds 0.15
    hits, widths = [], []
    n_items, samples, delta = 30, 3, 0.15
    for r in range(reps):
        rng = np.random.default_rng([seed, 50_000 + r])
        base = rng.beta(1.0, 4.0, n_items)
        rows = []
        for f, add in (("reask", 0.0), ("pushback", delta)):
            flips = rng.random((n_items, 2, samples)) < np.clip(base + add, 0, 1)[:, None, None]
            idx = np.indices(flips.shape).reshape(3, -1)
            rows.append(pd.DataFrame({"model": "m", "item": [f"p{i}" for i in idx[0]],
                                      "lang": np.array(["en", "zh"])[idx[1]], "framing": f, "sample": idx[2],
                                      "outcome": "answered", "flipped": flips.ravel().astype(float)}))
        d = pd.concat(rows, ignore_index=True)
        df = pd.DataFrame({**_base_rows(len(d)), **{c: d[c] for c in d.columns}})[list(COLUMNS)]
        fl = flip_rates(df, n_boot=n_boot, seed=int(rng.integers(1 << 30)))
        row = fl[(fl["measure"] == "flip_net") & (fl["lang"] == "all")].iloc[0]
        hits.append(bool(row["ci_low"] <= delta <= row["ci_high"]))
        widths.append(float(row["ci_high"] - row["ci_low"]))
    out.append({"interval": "flip rate net of re-ask, model", "kind": "item bootstrap", "intervals": reps,
                "coverage": float(np.mean(hits)), "mean_width": float(np.mean(widths))})
    res = pd.DataFrame(out)
    res["in target"] = np.where((res["coverage"] >= 0.93) & (res["coverage"] <= 0.97), "yes", "NO")
    return res


def test_sizes(reps: int, n_boot: int, seed: int) -> pd.DataFrame:
    """Rejection rates at 5 % under each test's null, on the realistic design without refusals."""
    null = replace(realistic(False), sd_model=0.0, sd_variant=0.0, sd_model_lang=0.0, sd_model_framing=0.0,
                   origin_effect=0.0, kappa_mean=0.0, kappa_sd=0.0, sd_lang=0.0, sd_framing=0.0, sd_item_model=0.0,
                   sd_family_model=0.0, likert=True)
    rej: dict[str, list[bool]] = defaultdict(list)
    for r in range(reps):
        rng = np.random.default_rng([seed, 20_000 + r])
        df, _ = simulate(null, rng)
        df = with_roles(df)
        s = int(rng.integers(1 << 30))
        cells = likert_cells(df)
        pair = paired_differences(df, n_boot=n_boot, seed=s, cells=cells)
        per = pair.loc[pair["theme"] != "all"]
        rej["paired sign-flip, pair x theme (raw p)"].extend((per["p_value"] < 0.05).tolist())
        rej["paired sign-flip, pair (all themes, raw p)"].extend((pair.loc[pair["theme"] == "all", "p_value"]
                                                                   < 0.05).tolist())
        rej["paired table: any BH p_adj < .05 (= FDR here)"].append(bool((pair["p_adj"] < 0.05).any()))
        gap = language_gap(df, n_boot=n_boot, seed=s, cells=cells)
        rej["language gap sign-flip, model"].extend((gap["p_value"] < 0.05).tolist())
        syc = sycophancy_index(df, n_boot=n_boot, seed=s, cells=cells)
        rej["sycophancy sign-flip, model"].extend((syc.loc[syc["lang"] == "all", "p_value"] < 0.05).tolist())
        oc = origin_contrast(df, cells=cells)
        row = oc.loc[oc["theme"] == "all"].iloc[0]
        rej["origin contrast t-test (companies)"].append(bool(row["p_value"] < 0.05))
        rej["origin contrast permutation"].append(bool(row["p_perm"] < 0.05))
        # language refusal test: item propensity heterogeneous (logit SD 2), same in both languages
        lg = rng.normal(-1.5, 2.0, 30)
        p = 1 / (1 + np.exp(-lg))
        ref = rng.random((30, 2, 2, 5)) < p[:, None, None, None]  # item x lang x paraphrase x sample
        idx = np.indices(ref.shape).reshape(4, -1)
        d = pd.DataFrame({**_base_rows(ref.size), "model": "m", "item": [f"q{i}" for i in idx[0]],
                          "lang": np.array(["en", "zh"])[idx[1]], "framing": "neutral", "sample": idx[3],
                          "outcome": np.where(ref.ravel(), "refused", "answered")})
        d["paraphrase"] = idx[2]
        mc = mcnemar_table(d[list(COLUMNS)], n_boot=0)
        rej["language refusal gap, item sign-flip (5 samples)"].append(
            bool(mc.loc[mc["measure"] == "refused", "p_value"].iloc[0] < 0.05))
    out = pd.DataFrame([{"test": k, "tests": len(v), "rejection rate": float(np.mean(v))} for k, v in rej.items()])
    out["<= 0.06"] = np.where(out["rejection rate"] <= 0.06, "yes", "NO")
    return out


def variance_bias(reps: int, seed: int) -> pd.DataFrame:
    cols: dict[str, dict[str, list[float]]] = {}
    base = realistic(False)
    truth_shares: dict[str, float] = {}
    designs = {"no refusals": base, "30% cells MCAR": base,
               "informative refusals": realistic(True)}
    for name, spec in designs.items():
        est: dict[str, list[float]] = defaultdict(list)
        tr: dict[str, list[float]] = defaultdict(list)
        for r in range(reps):
            rng = np.random.default_rng([seed, 10_000 + r])
            df, truth = simulate(spec, rng)
            if name == "30% cells MCAR":
                key = ["model", "item", "lang", "framing", "paraphrase"]
                cells = df[key].drop_duplicates()
                gone = cells.loc[rng.random(len(cells)) < 0.3].assign(_gone=True)
                df = df.merge(gone, how="left", on=key)
                df = df.loc[df["_gone"].isna()].drop(columns="_gone")
            var, _ = decompose(df, n_boot=0)
            for row in var.itertuples():
                est[str(row.component)].append(float(row.estimate))
                tr[str(row.component)].append(truth["variance_shares"][str(row.component)])
        cols[name] = {c: [float(np.mean(tr[c])), float(np.nanmean(est[c]))] for c in COMPONENTS}
        truth_shares = {c: cols[name][c][0] for c in COMPONENTS}
    rows = []
    for c in COMPONENTS:
        row: dict[str, Any] = {"component": c, "true share": truth_shares[c]}
        for name in designs:
            row[f"bias: {name}"] = cols[name][c][1] - cols[name][c][0]
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=400, help="replications of the realistic design (default 400)")
    ap.add_argument("--var-reps", type=int, default=0,
                    help="replications with variance-share intervals (bootstrapped decomposition; default = --reps)")
    ap.add_argument("--n-boot", type=int, default=400, help="bootstrap draws per interval (default 400)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--skip", default="", help="comma list of checks to skip: coverage,clean,rates,sizes,bias")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    var_reps = args.var_reps or args.reps
    pd.set_option("display.width", 200)
    pd.set_option("display.max_colwidth", 60)
    pd.set_option("display.float_format", lambda v: f"{v:.3f}")
    items = bundled_items()
    print(f"design: {len(items)} bundled Likert items (ai-futures + us-china) in "
          f"{len({t for t, *_ in items})} themes, {sum(r for _, r, *_ in items)} reverse-keyed, 2 paraphrases, "
          f"families of 2; 7 models (4 CN / 3 companies, 3 US / 2 companies); EN, ZH; {len(FRAMINGS)} framings; "
          f"3 samples; {args.reps} replications, {args.n_boot} bootstrap draws per interval")
    t0 = time.perf_counter()
    if "coverage" not in skip:
        print("\n== 1a. Coverage of nominal 95% intervals, realistic design WITH informative refusals "
              "(target 0.93-0.97)")
        print(coverage(realistic(True), args.reps, args.n_boot, args.seed, with_variance=False).to_string(index=False))
        print(f"   ({time.perf_counter() - t0:.0f} s)")
    if "clean" not in skip:
        t1 = time.perf_counter()
        print("\n== 1b. Same design WITHOUT refusals (the estimators' own coverage), variance intervals included "
              f"({var_reps} replications)")
        print(coverage(realistic(False), var_reps, args.n_boot, args.seed + 1, with_variance=True)
              .to_string(index=False))
        print(f"   ({time.perf_counter() - t1:.0f} s)")
    if "rates" not in skip:
        t1 = time.perf_counter()
        print("\n== 2. Rate intervals: refusal (24 items x 30 trials, mean 0.15) and pushback net of re-ask")
        print(rate_coverage(args.reps, args.n_boot, args.seed).to_string(index=False))
        print(f"   ({time.perf_counter() - t1:.0f} s)")
    if "sizes" not in skip:
        t1 = time.perf_counter()
        print("\n== 3. Size of every test at 5% under its null (Likert-5 scores; target <= 0.06)")
        print(test_sizes(args.reps, args.n_boot, args.seed).to_string(index=False))
        print(f"   ({time.perf_counter() - t1:.0f} s)")
    if "bias" not in skip:
        t1 = time.perf_counter()
        print("\n== 4. Bias of variance shares (estimand: levels fixed, items random; target |bias| <= 0.03)")
        tab = variance_bias(args.reps, args.seed)
        print(tab.to_string(index=False))
        for c in [c for c in tab.columns if c.startswith("bias")]:
            print(f"   max |{c}| = {tab[c].abs().max():.4f}")
        print(f"   ({time.perf_counter() - t1:.0f} s)")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
