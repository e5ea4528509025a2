"""Scale check: analyse ~1,000,000 synthetic scored trials end to end.

Target: <= 60 s wall time and <= 2 GB peak RSS (whole process, including building the frame).
String columns are pandas categoricals, as a Parquet export with dictionary encoding reads back;
``--object-strings`` uses plain Python strings instead (more memory).

    PYTHONPATH=src .venv/bin/python bench/analysis_scale.py [--models 25 --items 500 --samples 4]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np
import pandas as pd

from twinstudy.analysis import COLUMNS, analyze, to_json

FRAMINGS = ("neutral", "user-agrees", "user-disagrees", "identity-us", "identity-cn")


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 1024.0 / 1024.0


def cat(codes: np.ndarray, labels: list[str], as_object: bool) -> pd.Series:  # type: ignore[type-arg]
    c = pd.Categorical.from_codes(codes, categories=labels)
    return pd.Series(c.astype(object) if as_object else c)


def build(models: int, items: int, paraphrases: int, samples: int, themes: int, seed: int,
          as_object: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    shape = (models, 2, len(FRAMINGS), items, paraphrases, samples)
    n = int(np.prod(shape))
    m_i, l_i, f_i, i_i, p_i, s_i = (a.reshape(-1).astype(np.int32) for a in np.indices(shape))
    a = rng.normal(0, 0.3, models)
    u = rng.normal(0, 0.35, items)
    w = rng.normal(0, 0.25, (items, models))
    b = rng.normal(0, 0.15, 2)
    c = rng.normal(0, 0.15, len(FRAMINGS))
    reverse = rng.random(items) < 0.4
    latent = a[m_i] + b[l_i] + c[f_i] + u[i_i] + w[i_i, m_i] + rng.normal(0, 0.4, n)
    agreement = np.clip(np.round(latent * 2.0), -2, 2) / 2.0
    score = np.where(reverse[i_i], -agreement, agreement)
    is_open = (i_i % 10) == 9
    u01 = rng.random(n)
    outcome = np.zeros(n, dtype=np.int8)  # answered
    outcome[u01 < 0.03] = 1  # refused
    outcome[(u01 >= 0.03) & (u01 < 0.04)] = 3  # blocked
    outcome[(u01 >= 0.04) & (u01 < 0.05)] = 4  # truncated
    outcome[(u01 >= 0.05) & (u01 < 0.052)] = 6  # error
    answered = outcome == 0
    score = np.where(answered & ~is_open, score, np.nan)
    agreement = np.where(answered & ~is_open, agreement, np.nan)
    open_codes = np.where(answered & is_open, rng.integers(0, 3, n), -1)
    flipped = np.where((f_i == 0) & (s_i == 0) & answered & ~is_open,
                       (rng.random(n) < 0.2).astype(np.float64), np.nan)
    origins = ["CN" if j % 2 == 0 else "US" for j in range(models)]
    model_names = [f"model-{j:02d}" for j in range(models)]
    item_names = [f"item-{j:04d}" for j in range(items)]
    theme_names = [f"theme-{j}" for j in range(themes)]
    outcomes = ["answered", "refused", "evasive", "blocked", "truncated", "unparseable", "error"]
    cols: dict[str, object] = {
        "trial_key": np.arange(n, dtype=np.int64),  # an int key keeps the bench lean; not used by analysis
        "model": cat(m_i, model_names, as_object),
        "origin": cat(np.array([j % 2 for j in range(models)])[m_i], ["CN", "US"], as_object),
        "company": cat(m_i, model_names, as_object),
        "tier": "ai-native",
        "open_weights": True,
        "instrument": cat(np.zeros(n, dtype=np.int8), ["scale"], as_object),
        "item": cat(i_i, item_names, as_object),
        "theme": cat(i_i % themes, theme_names, as_object),
        "item_type": cat(is_open.astype(np.int8), ["likert5", "open"], as_object),
        "reverse": reverse[i_i],
        "lang": cat(l_i, ["en", "zh"], as_object),
        "framing": cat(f_i, list(FRAMINGS), as_object),
        "paraphrase": p_i,
        "sample": s_i,
        "outcome": cat(outcome, outcomes, as_object),
        "answer": None,
        "agreement": agreement,
        "score": score,
        "correct": np.nan,
        "final_answer": None,
        "final_correct": np.nan,
        "flipped": flipped,
        "open_outcome": pd.Series(pd.Categorical.from_codes(open_codes, ["complete", "evasive", "denial"])),
    }
    del origins
    return pd.DataFrame(cols)[list(COLUMNS)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=25)
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--paraphrases", type=int, default=2)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--themes", type=int, default=10)
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--object-strings", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    df = build(args.models, args.items, args.paraphrases, args.samples, args.themes, args.seed,
               args.object_strings)
    t1 = time.perf_counter()
    print(f"built {len(df):,} trials ({args.models} models x 2 langs x {len(FRAMINGS)} framings x "
          f"{args.items} items x {args.paraphrases} paraphrases x {args.samples} samples) in {t1 - t0:.1f} s; "
          f"frame {df.memory_usage(deep=True).sum() / 2**20:.0f} MB; RSS so far {peak_rss_mb():.0f} MB")
    res = analyze(df, n_boot=args.n_boot, seed=0)
    t2 = time.perf_counter()
    out = to_json(res)
    text = json.dumps(out, allow_nan=False)
    t3 = time.perf_counter()
    for name, table in res.items():
        print(f"  {name:18s} {len(table):6d} rows")
    print(f"analyze: {t2 - t1:.1f} s (n_boot={args.n_boot}); to_json + dumps: {t3 - t2:.1f} s "
          f"({len(text) / 2**20:.1f} MB JSON)")
    print(f"end to end (analyze + JSON): {t3 - t1:.1f} s   peak RSS: {peak_rss_mb():.0f} MB")
    ok = (t3 - t1) <= 60 and peak_rss_mb() <= 2048
    print("PASS" if ok else "FAIL", "(targets: <= 60 s, <= 2048 MB)")


if __name__ == "__main__":
    main()
