"""Language gap per model: EN - ZH.

Score gap: answered Likert trials; cells (item x framing x paraphrase, samples averaged) present in
both languages; per-cell EN - ZH difference averaged within items; mean over items with a
cluster-bootstrap CI and a sign-flip p-value. ``n`` = items.

Binary gaps (exact McNemar): for each model and binary measure, EN and ZH trials are paired by
(item, framing, paraphrase, sample). Measures:

* ``refused``: outcome == "refused" (a ``blocked`` trial is *not* refused), over trials whose
  outcome is not ``error``;
* ``blocked``: outcome == "blocked", same denominator;
* ``complete``: open items with a judged ``open_outcome``: open_outcome == "complete".

``b`` = pairs positive in EN only, ``c`` = positive in ZH only; the exact McNemar p-value is the
two-sided binomial test of b out of b + c at 1/2. The estimate is rate_en - rate_zh over the pairs,
its CI a cluster bootstrap over items (pairs of one item move together). ``n`` = pairs (trials);
``n_items`` = items. McNemar treats pairs as independent; several samples per item make its
p-value somewhat optimistic (the bootstrap CI does not share that problem).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bootstrap import summarize_item_values
from .cells import likert_scored, paired_item_diffs
from .inference import mcnemar_exact

GAP_COLUMNS = ["model", "estimate", "ci_low", "ci_high", "se", "p_value", "n", "n_cells"]
MCNEMAR_COLUMNS = ["model", "measure", "n", "n_items", "k_en", "k_zh", "rate_en", "rate_zh", "b", "c",
                   "estimate", "ci_low", "ci_high", "p_value"]
PAIR_KEYS = ["item", "framing", "paraphrase", "sample"]


def language_gap(frame: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 5])
    df = likert_scored(frame, "score")
    diffs = paired_item_diffs(df, "score", "lang", "en", "zh", ["item", "framing", "paraphrase"], ["model"])
    rows: list[dict[str, object]] = []
    for model, g in diffs.groupby("model", sort=True, observed=True):
        s = summarize_item_values(g["diff"].to_numpy(dtype=np.float64), rng, n_boot, with_p=True)
        rows.append({"model": str(model), **s, "n_cells": int(g["n_cells"].sum())})
    out = pd.DataFrame(rows, columns=GAP_COLUMNS)
    out["n"] = out["n"].astype(int)
    return out


def binary_measures(frame: pd.DataFrame) -> dict[str, tuple[pd.Series, pd.Series]]:  # type: ignore[type-arg]
    """measure -> (eligible mask, indicator) over the rows of ``frame``."""
    outcome = frame["outcome"].astype(str)
    not_error = outcome != "error"
    open_known = frame["open_outcome"].notna()
    return {
        "refused": (not_error, outcome == "refused"),
        "blocked": (not_error, outcome == "blocked"),
        "complete": (open_known, frame["open_outcome"].astype(str) == "complete"),
    }


def paired_binary(
    frame: pd.DataFrame, eligible: pd.Series, indicator: pd.Series,  # type: ignore[type-arg]
    by: list[str], keys: list[str] = PAIR_KEYS,
) -> pd.DataFrame:
    """EN/ZH pairs of a 0/1 indicator: ``by + keys + [x_en, x_zh]`` (both languages present)."""
    sub = frame.loc[eligible, [*by, *keys, "lang"]].copy()
    sub["x"] = indicator.loc[eligible].astype(np.float64).to_numpy()
    sub = sub.loc[sub["lang"].isin(["en", "zh"])]
    if sub.empty:
        return pd.DataFrame(columns=[*by, *keys, "x_en", "x_zh"])
    wide = sub.groupby([*by, *keys, "lang"], observed=True, sort=True)["x"].mean().unstack("lang")
    if "en" not in wide.columns or "zh" not in wide.columns:
        return pd.DataFrame(columns=[*by, *keys, "x_en", "x_zh"])
    wide = wide[["en", "zh"]].dropna()
    wide.columns = ["x_en", "x_zh"]
    return wide.reset_index()


def mcnemar_table(frame: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 6])
    rows: list[dict[str, object]] = []
    for measure, (eligible, indicator) in binary_measures(frame).items():
        pairs = paired_binary(frame, eligible, indicator, ["model"])
        if pairs.empty:
            continue
        for model, g in pairs.groupby("model", sort=True, observed=True):
            rows.append({"model": str(model), "measure": measure,
                         **mcnemar_summary(g, rng, n_boot)})
    return pd.DataFrame(rows, columns=MCNEMAR_COLUMNS)


def mcnemar_summary(pairs: pd.DataFrame, rng: np.random.Generator, n_boot: int) -> dict[str, float | int]:
    """McNemar counts, exact p-value and the item-clustered CI of rate_en - rate_zh."""
    xe = pairs["x_en"].to_numpy(dtype=np.float64) >= 0.5
    xz = pairs["x_zh"].to_numpy(dtype=np.float64) >= 0.5
    b = int(np.sum(xe & ~xz))
    c = int(np.sum(~xe & xz))
    n = len(pairs)
    d = pairs.assign(d=xe.astype(np.float64) - xz.astype(np.float64))
    per_item = d.groupby("item", observed=True)["d"].agg(["sum", "size"])
    # ratio estimator: resample items, recompute sum(d) / number of pairs
    s = summarize_ratio(per_item["sum"].to_numpy(dtype=np.float64),
                        per_item["size"].to_numpy(dtype=np.float64), rng, n_boot)
    return {"n": n, "n_items": len(per_item), "k_en": int(xe.sum()), "k_zh": int(xz.sum()),
            "rate_en": float(xe.mean()), "rate_zh": float(xz.mean()), "b": b, "c": c,
            "estimate": float((b - c) / n), "ci_low": s[0], "ci_high": s[1], "p_value": mcnemar_exact(b, c)}


def summarize_ratio(
    num: np.ndarray, den: np.ndarray, rng: np.random.Generator, n_boot: int  # type: ignore[type-arg]
) -> tuple[float, float]:
    from .bootstrap import percentile_ci, resample_counts

    n = num.size
    if n < 2 or n_boot <= 0:
        return (float("nan"), float("nan"))
    w = resample_counts(n, n_boot, rng).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (w @ num) / (w @ den)
    return percentile_ci(boot, n)
