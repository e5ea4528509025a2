"""Recovery of planted origin and user-culture effects on coded open answers (issue 17).

Simulates coded open answers (:mod:`twinstudy.analysis.simulate_codes`: 3 CN and 3 US models,
30 items, EN/ZH, framings neutral / culture-cn / culture-us, 3 samples, a coder that misreads 10 %
of replies, 3 % uncodable) under four scenarios -- origin only, culture only, both, neither -- for a
single-label and a multi-label codebook of five categories, and runs the production estimators of
:mod:`twinstudy.analysis.category_tables` on each replication. Prints:

1. per scenario and category: the planted logit effects, the true origin / culture effects on the
   share *as coded* (the estimand; mean and SD over replications: the models are redrawn in each
   one and the estimand takes them as fixed, so a 0 planted origin effect still leaves these six
   models a small true difference) and on the latent share (what a perfect coder would see: the
   coder's noise attenuates effects), the mean estimate, its bias, the coverage of the 95 %
   intervals of origin effect, culture effect and |origin| - |culture|, and the verdict rates;
2. coverage per table over every row the estimators give (shares per model x lang x framing; origin,
   culture and language contrasts; the headline's three intervals), pooled over scenarios.

Truth is computed given each replication's models (the estimand takes the models as fixed) from
exact cell probabilities over 6,000 fresh items. Target coverage: 0.93-0.97 (the |origin| - |culture|
interval is a conservative projection interval: at least 0.95 by construction, more where an
effect is 0).

    PYTHONPATH=src .venv/bin/python bench/category_recovery.py [--reps 40] [--boot 400] [--items 30]

``--items 15`` is the size of the bundled ai-visions bank: coverage holds (0.94 pooled), but a
0.12 shift in a share is then called correctly in only about half the replications and the rest
say "cannot tell".
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from twinstudy.analysis.categories import prepare
from twinstudy.analysis.category_contrasts import category_contrasts
from twinstudy.analysis.category_headline import category_headline
from twinstudy.analysis.category_shares import category_shares
from twinstudy.analysis.simulate_codes import CodeSimSpec, simulate_codes

CATS = ("administrator", "sage", "guardian", "servant", "other")
# origin on administrator / sage, culture on guardian / servant; "both" puts both on administrator
SCENARIOS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "origin only": ((0.8, -0.8, 0.0, 0.0, 0.0), (0.0,) * 5),
    "culture only": ((0.0,) * 5, (0.0, 0.0, 0.8, -0.8, 0.0)),
    "both": ((0.8, -0.8, 0.0, 0.0, 0.0), (0.8, 0.0, 0.0, -0.8, 0.0)),
    "neither": ((0.0,) * 5, (0.0,) * 5),
}


def _covers(lo: float, hi: float, truth: float) -> float:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return np.nan
    return float(lo - 1e-12 <= truth <= hi + 1e-12)


def run(scenario: str, multi: bool, reps: int, n_boot: int, seed: int, n_items: int,
        cover: dict[str, dict[str, list[float]]], rowtype: dict[str, list[float]]) -> list[dict[str, Any]]:
    origin, culture = SCENARIOS[scenario]
    spec = CodeSimSpec(categories=CATS, multi_label=multi, origin_effect=origin, culture_effect=culture,
                       sd_model=0.15, n_items=n_items)
    book = spec.book()
    acc: dict[str, dict[str, list[float]]] = {c: defaultdict(list) for c in CATS}
    verdicts: dict[str, Counter[str]] = {c: Counter() for c in CATS}
    for r in range(reps):
        rng = np.random.default_rng([seed, r, int(multi), list(SCENARIOS).index(scenario)])
        frame, truth = simulate_codes(spec, rng)
        coded = prepare(frame, book)
        tc, tl = truth["coded"], truth["latent"]
        head = category_headline(frame, book, n_boot, r, coded).set_index("category")
        for k, cat in enumerate(CATS):
            row = head.loc[cat]
            a = acc[cat]
            for eff, col in (("origin", "origin_effect"), ("culture", "culture_effect"),
                             ("difference", "difference")):
                t = float(tc["headline"][eff][k])
                a[f"{eff}_true"].append(t)
                a[f"{eff}_latent"].append(float(tl["headline"][eff][k]))
                a[f"{eff}_est"].append(float(row[col]))
                lo, hi = (row["origin_low"], row["origin_high"]) if eff == "origin" else (
                    (row["culture_low"], row["culture_high"]) if eff == "culture" else
                    (row["difference_low"], row["difference_high"]))
                c = _covers(float(lo), float(hi), t)
                a[f"{eff}_cover"].append(c)
                cover[f"headline {eff}"][f"{scenario}/{multi}/{cat}"].append(c)
            verdicts[cat][str(row["verdict"])] += 1
        shares = category_shares(frame, book, n_boot, r, coded)
        for rec in shares.itertuples(index=False):
            t = float(tc["shares"][(rec.model, rec.lang, rec.framing)][CATS.index(rec.category)])
            kind = ("pooled lang+framing" if rec.lang == "all" and rec.framing == "all" else
                    "pooled lang" if rec.lang == "all" else "pooled framing" if rec.framing == "all" else "cell")
            c = _covers(rec.ci_low, rec.ci_high, t)
            cover["shares"][f"{scenario}/{multi}/{rec.category}"].append(c)
            rowtype[f"shares, {kind} rows"].append(c)
        con = category_contrasts(frame, book, None, n_boot, r, coded)
        for rec in con.itertuples(index=False):
            k = CATS.index(rec.category)
            if rec.contrast == "origin" and rec.lang == "all" and rec.framing == "all":
                t = float(tc["origin_all"][k])
            elif rec.contrast in ("culture", "language"):
                t = float(tc[rec.contrast][rec.model][k])
            else:
                continue
            c = _covers(rec.ci_low, rec.ci_high, t)
            cover[f"contrast {rec.contrast}"][f"{scenario}/{multi}/{rec.category}"].append(c)
            if rec.contrast != "origin":
                rowtype[f"contrast {rec.contrast}, {'pooled' if rec.model == 'all' else 'per-model'} rows"].append(c)
    rows = []
    for k, cat in enumerate(CATS):
        a = acc[cat]
        rows.append({"scenario": scenario, "labels": "multi" if multi else "single", "category": cat,
                     "planted": f"o{origin[k]:+.1f} c{culture[k]:+.1f}",
                     **{f"{e}_{s}": float(np.nanmean(a[f"{e}_{s}"]))
                        for e in ("origin", "culture", "difference") for s in ("true", "latent", "est", "cover")},
                     **{f"{e}_bias": float(np.nanmean(np.subtract(a[f"{e}_est"], a[f"{e}_true"])))
                        for e in ("origin", "culture", "difference")},
                     **{f"{e}_sd": float(np.std(a[f"{e}_true"])) for e in ("origin", "culture")},
                     "verdicts": {v: n / reps for v, n in verdicts[cat].most_common()}})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=40, help="replications per scenario and label mode")
    ap.add_argument("--boot", type=int, default=400, help="bootstrap draws per interval")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--items", type=int, default=30, help="open items (the bundled ai-visions bank has 15)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    cover: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    rowtype: dict[str, list[float]] = defaultdict(list)
    print(f"{args.reps} replications per scenario, {args.boot} bootstrap draws; 3 CN + 3 US models, {args.items} items, "
          "EN/ZH, neutral / culture-cn / culture-us, 3 samples, coder misreads 10 %, 3 % uncodable\n")
    print("1. Headline per category: true effect on the coded share (latent share in brackets), mean estimate, "
          "bias, coverage of the 95 % interval; verdict rates")
    hdr = (f"{'scenario':13} {'labels':6} {'category':13} {'planted':11} | {'origin: true±sd [latent]':24} "
           f"{'est':>7} {'bias':>7} {'cov':>5} | {'culture: true±sd [latent]':24} {'est':>7} {'bias':>7} {'cov':>5} | "
           f"{'|o|-|c|: true':>13} {'bias':>7} {'cov':>5} | verdicts")
    print(hdr)
    print("-" * len(hdr))
    for multi in (False, True):
        for scenario in SCENARIOS:
            for row in run(scenario, multi, args.reps, args.boot, args.seed, args.items, cover, rowtype):
                verd = ", ".join(f"{v} {p:.2f}" for v, p in row["verdicts"].items())
                print(f"{row['scenario']:13} {row['labels']:6} {row['category']:13} {row['planted']:11} | "
                      f"{row['origin_true']:+.3f}±{row['origin_sd']:.3f} [{row['origin_latent']:+.3f}] {row['origin_est']:+7.3f} "
                      f"{row['origin_bias']:+7.3f} {row['origin_cover']:5.2f} | "
                      f"{row['culture_true']:+.3f}±{row['culture_sd']:.3f} [{row['culture_latent']:+.3f}] {row['culture_est']:+7.3f} "
                      f"{row['culture_bias']:+7.3f} {row['culture_cover']:5.2f} | "
                      f"{row['difference_true']:+13.3f} {row['difference_bias']:+7.3f} "
                      f"{row['difference_cover']:5.2f} | {verd}")
    print("\n2. Coverage of the nominal 95 % intervals over every row measured: pooled over scenarios, label "
          "modes and categories, and the lowest / highest of the scenario x label mode x category cells")
    for name, cells in sorted(cover.items()):
        per = [np.asarray(v, dtype=float) for v in cells.values()]
        per = [v[np.isfinite(v)] for v in per]
        allv = np.concatenate(per)
        rates = [v.mean() for v in per if v.size]
        print(f"  {name:22} {allv.mean():.3f}  (cells {min(rates):.3f}-{max(rates):.3f}; {allv.size} intervals)")
    print("   by kind of row:")
    for name, vals in sorted(rowtype.items()):
        v = np.asarray(vals, dtype=float)
        v = v[np.isfinite(v)]
        print(f"  {name:38} {v.mean():.3f}  ({v.size} intervals)")
    print(f"\nwall {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
