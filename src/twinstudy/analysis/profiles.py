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

from .bootstrap import summarize_columns
from .cells import item_matrix, likert_cells

PROFILE_COLUMNS = ["model", "origin", "theme", "lang", "framing", "estimate", "ci_low", "ci_high", "se", "n"]
CONTRAST_COLUMNS = [
    "origin_a", "origin_b", "theme", "framing", "estimate", "ci_low", "ci_high", "se", "df", "p_value",
    "n", "n_a", "n_b", "n_items", "models_a", "models_b",
]


def profile_cells(cells: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Cells under the profile framing, and the framing's label."""
    neutral = cells["framing"] == "neutral"
    if neutral.any():
        return cells.loc[neutral], "neutral"
    return cells, "all"


def _origin_map(frame: pd.DataFrame) -> dict[str, str]:
    pairs = frame[["model", "origin"]].drop_duplicates("model")
    return {str(m): str(o) for m, o in zip(pairs["model"], pairs["origin"], strict=True)}


def profiles(frame: pd.DataFrame, n_boot: int = 2000, seed: int = 0,
             cells: pd.DataFrame | None = None) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 1])
    cells = likert_cells(frame) if cells is None else cells
    sub, framing = profile_cells(cells)
    if sub.empty:
        return pd.DataFrame(columns=PROFILE_COLUMNS)
    origin_of = _origin_map(frame)
    langs = sorted(str(v) for v in pd.unique(sub["lang"]))
    rows: list[dict[str, object]] = []
    for theme, tcells in sub.groupby("theme", observed=True, sort=True):
        for lang in ["all", *langs]:
            c = tcells if lang == "all" else tcells.loc[tcells["lang"] == lang]
            if c.empty:
                continue
            mat = item_matrix(c, "score", "model")
            res = summarize_columns(mat.to_numpy(dtype=np.float64), rng, n_boot)
            for j, model in enumerate(mat.columns):
                rows.append({"model": model, "origin": origin_of.get(model), "theme": str(theme), "lang": lang,
                             "framing": framing, **{k: float(v[j]) for k, v in res.items()}})
    out = pd.DataFrame(rows, columns=PROFILE_COLUMNS)
    out["n"] = out["n"].astype(int)
    return out.sort_values(["model", "theme", "lang"], kind="stable").reset_index(drop=True)


def origin_contrast(frame: pd.DataFrame, level: float = 0.95, cells: pd.DataFrame | None = None) -> pd.DataFrame:
    """Two-stage contrast of origins per theme (and "all" themes pooled by item)."""
    cells = likert_cells(frame) if cells is None else cells
    sub, framing = profile_cells(cells)
    if sub.empty:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    origin_of = _origin_map(frame)
    groups: list[tuple[str, pd.DataFrame]] = [("all", sub)]
    groups += [(str(t), g) for t, g in sub.groupby("theme", observed=True, sort=True)]
    rows: list[dict[str, object]] = []
    for theme, c in groups:
        mat = item_matrix(c, "score", "model")
        means = {m: float(np.nanmean(mat[m].to_numpy(dtype=np.float64))) for m in mat.columns}
        origins = sorted({origin_of[m] for m in means})
        if "CN" in origins and "US" in origins:
            order = [("CN", "US")] + [(a, b) for i, a in enumerate(origins) for b in origins[i + 1:]
                                      if (a, b) != ("CN", "US")]
        else:
            order = [(a, b) for i, a in enumerate(origins) for b in origins[i + 1:]]
        for oa, ob in order:
            ma = sorted(m for m in means if origin_of[m] == oa)
            mb = sorted(m for m in means if origin_of[m] == ob)
            row = _two_stage(np.array([means[m] for m in ma]), np.array([means[m] for m in mb]), level)
            rows.append({"origin_a": oa, "origin_b": ob, "theme": theme, "framing": framing, **row,
                         "n_items": len(mat), "models_a": ",".join(ma), "models_b": ",".join(mb)})
    out = pd.DataFrame(rows, columns=CONTRAST_COLUMNS)
    return out.sort_values(["origin_a", "origin_b", "theme"], kind="stable").reset_index(drop=True)


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
