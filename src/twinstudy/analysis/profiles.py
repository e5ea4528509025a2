"""Profiles (mean score per model x theme) and the origin contrast built on them.

Profile: answered Likert trials under the profile framing (``neutral`` when the frame has any
neutral trials, otherwise all framings pooled; the ``framing`` column says which). Per model x
theme x lang (lang "all" pools both languages): item means (samples, then cells, averaged) and
their mean over items, with a cluster-bootstrap CI over items. ``n`` = number of items.

Origin contrast (CN vs US, or any two origins): a two-stage random-effects estimator so that one
odd model cannot stand for its country. Stage 1: each model's profile mean (as above). Stage 2:
difference of the origin groups' averages of model means, with the pooled between-model variance
``s^2 (1/n_a + 1/n_b)`` and a t interval on ``n_a + n_b - 2`` degrees of freedom. The model means
already contain their item-sampling noise, so the between-model variance covers both the spread of
models and the finite item sample. With 3 models a side the interval has 4 df: wide, and honest.
``n`` = number of models; ``n_items`` = items in the theme.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .bootstrap import summarize_item_values
from .cells import item_means, likert_scored

PROFILE_COLUMNS = ["model", "origin", "theme", "lang", "framing", "estimate", "ci_low", "ci_high", "se", "n"]
CONTRAST_COLUMNS = [
    "origin_a", "origin_b", "theme", "framing", "estimate", "ci_low", "ci_high", "se", "df", "p_value",
    "n", "n_a", "n_b", "n_items", "models_a", "models_b",
]


def profile_subset(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Answered Likert trials under the profile framing, and the framing's label."""
    df = likert_scored(frame, "score")
    if (df["framing"] == "neutral").any():
        return df.loc[df["framing"] == "neutral"], "neutral"
    return df, "all"


def profiles(frame: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 1])
    df, framing = profile_subset(frame)
    rows: list[dict[str, object]] = []
    if df.empty:
        return pd.DataFrame(columns=PROFILE_COLUMNS)
    origin_of = _origin_map(frame)
    items = item_means(df, "score", ["model", "theme", "lang"])
    pooled = item_means(df, "score", ["model", "theme"])
    pooled["lang"] = "all"
    allrows = pd.concat([pooled, items], ignore_index=True)
    for (model, theme, lang), g in allrows.groupby(["model", "theme", "lang"], sort=True, observed=True):
        s = summarize_item_values(g["score"].to_numpy(dtype=np.float64), rng, n_boot)
        rows.append({"model": str(model), "origin": origin_of.get(str(model)), "theme": str(theme),
                     "lang": str(lang), "framing": framing, **s})
    out = pd.DataFrame(rows, columns=PROFILE_COLUMNS)
    out["n"] = out["n"].astype(int)
    return out


def _origin_map(frame: pd.DataFrame) -> dict[str, str]:
    pairs = frame[["model", "origin"]].drop_duplicates("model")
    return {str(m): str(o) for m, o in zip(pairs["model"], pairs["origin"], strict=True)}


def origin_contrast(frame: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Two-stage contrast of origins per theme (and "all" themes pooled by item)."""
    df, framing = profile_subset(frame)
    if df.empty:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    origin_of = _origin_map(frame)
    per_theme = item_means(df, "score", ["model", "theme"])
    pooled = item_means(df, "score", ["model"])
    pooled["theme"] = "all"
    items = pd.concat([per_theme, pooled], ignore_index=True)
    model_means = items.groupby(["theme", "model"], observed=True)["score"].agg(["mean", "size"]).reset_index()
    model_means["origin"] = model_means["model"].astype(str).map(origin_of)
    origins = sorted(o for o in model_means["origin"].dropna().unique())
    if "CN" in origins and "US" in origins:
        order = [("CN", "US")] + [(a, b) for i, a in enumerate(origins) for b in origins[i + 1:]
                                  if (a, b) != ("CN", "US")]
    else:
        order = [(a, b) for i, a in enumerate(origins) for b in origins[i + 1:]]
    rows: list[dict[str, object]] = []
    for theme, g in model_means.groupby("theme", sort=True):
        n_items = int(items.loc[items["theme"] == theme, "item"].nunique())
        for oa, ob in order:
            xa = g.loc[g["origin"] == oa, "mean"].to_numpy(dtype=np.float64)
            xb = g.loc[g["origin"] == ob, "mean"].to_numpy(dtype=np.float64)
            row = _two_stage(xa, xb, level)
            rows.append({"origin_a": oa, "origin_b": ob, "theme": str(theme), "framing": framing, **row,
                         "n_items": n_items,
                         "models_a": ",".join(sorted(g.loc[g["origin"] == oa, "model"].astype(str))),
                         "models_b": ",".join(sorted(g.loc[g["origin"] == ob, "model"].astype(str)))})
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def _two_stage(xa: np.ndarray, xb: np.ndarray, level: float) -> dict[str, float | int]:  # type: ignore[type-arg]
    na, nb = xa.size, xb.size
    nan = float("nan")
    out: dict[str, float | int] = {"estimate": nan, "ci_low": nan, "ci_high": nan, "se": nan, "df": nan,
                                   "p_value": nan, "n": na + nb, "n_a": na, "n_b": nb}
    if na == 0 or nb == 0:
        return out
    est = float(xa.mean() - xb.mean())
    out["estimate"] = est
    df = na + nb - 2
    if df < 1:
        return out
    ss = float(((xa - xa.mean()) ** 2).sum() + ((xb - xb.mean()) ** 2).sum())
    s2 = ss / df
    se = math.sqrt(s2 * (1.0 / na + 1.0 / nb))
    t = float(stats.t.ppf(0.5 + level / 2.0, df))
    out.update({"se": se, "df": float(df), "ci_low": est - t * se, "ci_high": est + t * se})
    if se > 0:
        out["p_value"] = float(2.0 * stats.t.sf(abs(est) / se, df))
    else:
        out["p_value"] = 1.0 if est == 0 else 0.0
    return out
