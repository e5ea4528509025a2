"""Paired model differences over identical cells.

For a pair (A, B) and a theme: answered Likert trials of both models, reduced to cell means
(cell = item x lang x framing x paraphrase, samples averaged); only cells that both models have
are kept; the per-cell difference A - B is averaged within items. Default pairs follow one sign
convention (:mod:`twinstudy.analysis.order`): A's origin comes first in CN, US order, and within
one origin A is listed first in the study. The estimate is the mean of the
item-level differences; CI: cluster bootstrap over items; p-value: sign-flip permutation test of
the item-level differences (exact up to 14 items); ``p_adj``: Benjamini-Hochberg across the themes
of the pair (the "all" row, which pools themes, is left out of the adjustment). ``n`` = items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bootstrap import summarize_columns
from .cells import as_str_levels, likert_cells
from .frame import CELL_KEYS
from .inference import benjamini_hochberg
from .order import default_pairs

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
    return default_pairs(frame)  # A − B in one convention: see twinstudy.analysis.order


def paired_differences(
    frame: pd.DataFrame, twins: list[tuple[str, str]] | None = None, n_boot: int = 2000, seed: int = 0,
    cells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 2])
    pairs = model_pairs(frame, twins)
    cells = likert_cells(frame) if cells is None else cells
    if cells.empty or not pairs:
        return pd.DataFrame(columns=PAIRED_COLUMNS)
    keys = ["theme", *CELL_KEYS]
    wide = cells.set_index([*keys, "model"])["score"].unstack("model")
    wide.columns = [str(c) for c in wide.columns]
    pairs = [(a, b) for a, b in pairs if a in wide.columns and b in wide.columns]
    if not pairs:
        return pd.DataFrame(columns=PAIRED_COLUMNS)
    item_code, item_levels = pd.factorize(wide.index.get_level_values("item"))
    theme_code, theme_levels = pd.factorize(wide.index.get_level_values("theme"), sort=True)
    n_items = len(item_levels)
    theme_of_item = np.zeros(n_items, dtype=np.int64)
    theme_of_item[item_code] = theme_code
    # items x pairs matrix of item-level mean differences (NaN: no shared cell for that item)
    values = wide.to_numpy(dtype=np.float64)
    col = {c: j for j, c in enumerate(wide.columns)}
    item_mean = np.full((n_items, len(pairs)), np.nan)
    n_cells = np.zeros((n_items, len(pairs)))
    for k, (a, b) in enumerate(pairs):
        d = values[:, col[a]] - values[:, col[b]]
        ok = np.isfinite(d)
        cnt = np.bincount(item_code[ok], minlength=n_items)
        tot = np.bincount(item_code[ok], weights=d[ok], minlength=n_items)
        item_mean[:, k] = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
        n_cells[:, k] = cnt
    blocks: list[tuple[str, dict[str, np.ndarray], np.ndarray]] = []  # type: ignore[type-arg]
    for t_idx, theme in enumerate(theme_levels):
        sel = theme_of_item == t_idx
        res = summarize_columns(item_mean[sel], rng, n_boot, with_p=True)
        blocks.append((str(theme), res, n_cells[sel].sum(axis=0)))
    p_by_theme = np.array([res["p_value"] for _, res, _ in blocks])  # themes x pairs
    p_adj = np.full(p_by_theme.shape, np.nan)
    for k in range(len(pairs)):
        p_adj[:, k] = benjamini_hochberg(p_by_theme[:, k])
    pooled = summarize_columns(item_mean, rng, n_boot, with_p=True)
    rows: list[dict[str, object]] = []
    for k, (a, b) in enumerate(pairs):
        for t, (theme, res, nc) in enumerate(blocks):
            if res["n"][k] == 0:
                continue
            rows.append({"model_a": a, "model_b": b, "theme": theme, **{key: float(v[k]) for key, v in res.items()},
                         "p_adj": float(p_adj[t, k]), "n_cells": int(nc[k])})
        rows.append({"model_a": a, "model_b": b, "theme": "all", **{key: float(v[k]) for key, v in pooled.items()},
                     "p_adj": float("nan"), "n_cells": int(n_cells[:, k].sum())})
    out = pd.DataFrame(rows, columns=PAIRED_COLUMNS)
    out["n"] = out["n"].astype(int)
    return out
