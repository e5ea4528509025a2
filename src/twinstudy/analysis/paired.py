"""Paired model differences over identical cells.

For a pair (A, B) and a theme: answered Likert trials of both models, reduced to cell means
(cell = item x lang x framing x paraphrase, samples averaged); only cells that both models have
are kept; the per-cell difference A - B is averaged within items. The estimate is the mean of the
item-level differences; CI: cluster bootstrap over items; p-value: sign-flip permutation test of
the item-level differences (exact up to 14 items); ``p_adj``: Benjamini-Hochberg across the themes
of the pair (the "all" row, which pools themes, is left out of the adjustment). ``n`` = items.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from .bootstrap import summarize_item_values
from .cells import as_str_levels, likert_scored
from .frame import CELL_KEYS
from .inference import benjamini_hochberg

PAIRED_COLUMNS = ["model_a", "model_b", "theme", "estimate", "ci_low", "ci_high", "se", "p_value", "p_adj",
                  "n", "n_cells"]


def model_pairs(frame: pd.DataFrame, twins: list[tuple[str, str]] | None) -> list[tuple[str, str]]:
    models = as_str_levels(frame["model"])
    if twins is not None:
        known = set(models)
        for a, b in twins:
            for m in (a, b):
                if m not in known:
                    raise ValueError(f"twin model '{m}' is not in the scored frame")
        return [(str(a), str(b)) for a, b in twins]
    return list(combinations(models, 2))


def paired_differences(
    frame: pd.DataFrame, twins: list[tuple[str, str]] | None = None, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 2])
    pairs = model_pairs(frame, twins)
    df = likert_scored(frame, "score")
    rows: list[dict[str, object]] = []
    if df.empty or not pairs:
        return pd.DataFrame(columns=PAIRED_COLUMNS)
    keys = ["theme", *CELL_KEYS]
    cells = df.groupby([*keys, "model"], observed=True, sort=True)["score"].mean().unstack("model")
    cells.columns = [str(c) for c in cells.columns]
    item_code, item_levels = pd.factorize(cells.index.get_level_values("item"))
    theme_code, theme_levels = pd.factorize(cells.index.get_level_values("theme"), sort=True)
    n_items = len(item_levels)
    theme_of_item = np.zeros(n_items, dtype=np.int64)
    theme_of_item[item_code] = theme_code
    for a, b in pairs:
        if a not in cells.columns or b not in cells.columns:
            continue
        d = cells[a].to_numpy(dtype=np.float64) - cells[b].to_numpy(dtype=np.float64)
        ok = np.isfinite(d)
        if not ok.any():
            continue
        cnt = np.bincount(item_code[ok], minlength=n_items)
        tot = np.bincount(item_code[ok], weights=d[ok], minlength=n_items)
        has = cnt > 0
        item_mean = np.where(has, tot / np.maximum(cnt, 1), np.nan)
        pair_rows: list[dict[str, object]] = []
        pvals: list[float] = []
        for t_idx, theme in enumerate(theme_levels):
            sel = has & (theme_of_item == t_idx)
            if not sel.any():
                continue
            s = summarize_item_values(item_mean[sel], rng, n_boot, with_p=True)
            pvals.append(s["p_value"])
            pair_rows.append({"model_a": a, "model_b": b, "theme": str(theme), **s,
                              "n_cells": int(cnt[sel].sum())})
        padj = benjamini_hochberg(pvals)
        for r, p in zip(pair_rows, padj, strict=True):
            r["p_adj"] = float(p)
        s = summarize_item_values(item_mean[has], rng, n_boot, with_p=True)
        pair_rows.append({"model_a": a, "model_b": b, "theme": "all", **s, "p_adj": float("nan"),
                          "n_cells": int(cnt.sum())})
        rows.extend(pair_rows)
    out = pd.DataFrame(rows, columns=PAIRED_COLUMNS)
    out["n"] = out["n"].astype(int)
    return out
