"""Category cells as (rows, models, categories) arrays, and the averages every category estimator
takes: over the NaN-free entries, over items, over companies within an origin, and between two
levels of a factor over identical cells.

Shared by :mod:`~twinstudy.analysis.category_shares`, :mod:`~twinstudy.analysis.category_contrasts`
and :mod:`~twinstudy.analysis.category_headline`, so that all three average in the same order
(:mod:`twinstudy.analysis.categories` says which).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from .bootstrap import FloatArray, summarize_columns
from .categories import Coded
from .order import origin_rank


def nanmean(x: FloatArray, axis: int) -> FloatArray:
    """Mean over ``axis`` ignoring NaN; NaN where nothing is present (no warnings)."""
    ok = np.isfinite(x)
    cnt = ok.sum(axis=axis)
    tot = np.where(ok, x, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
    return out


def item_column_means(codes: npt.NDArray[np.int64], values: FloatArray, n_items: int
                      ) -> tuple[FloatArray, FloatArray]:
    """(n_items, K) means of ``values`` rows per item (NaN ignored) and the (n_items, K) row counts."""
    ok = np.isfinite(values)
    sums = np.zeros((n_items, values.shape[1]))
    cnt = np.zeros((n_items, values.shape[1]))
    np.add.at(sums, codes, np.where(ok, values, 0.0))
    np.add.at(cnt, codes, ok.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(cnt > 0, sums / np.maximum(cnt, 1.0), np.nan)
    return means, cnt


def pool_origins(x: FloatArray, c: Coded, models: Sequence[str], groups: Sequence[str]) -> FloatArray:
    """(rows, M, K) per-model values -> (rows, K): mean over ``groups`` (origins) of the mean over
    the origin's companies of the mean over the company's models; absent values ignored."""
    per_group = []
    for g in groups:
        comps: dict[str, list[int]] = {}
        for j, m in enumerate(models):
            if c.origin.get(m) == g:
                comps.setdefault(c.company.get(m, m), []).append(j)
        if not comps:
            continue
        cv = np.stack([nanmean(x[:, idx, :], axis=1) for idx in comps.values()], axis=1)
        per_group.append(nanmean(cv, axis=1))
    if not per_group:
        return np.full((x.shape[0], x.shape[2]), np.nan)
    return nanmean(np.stack(per_group, axis=1), axis=1)


def origins_of(c: Coded) -> list[str]:
    """The origins of the coded models, in the analysis' convention order (CN before US)."""
    return sorted({c.origin[m] for m in c.models}, key=origin_rank)


def model_array(cells: pd.DataFrame, keys: list[str], c: Coded) -> tuple[pd.DataFrame, FloatArray]:
    """Cells as an array (rows, models, K) over the distinct ``keys`` rows, NaN where absent."""
    w = pd.DataFrame(cells.set_index([*keys, "model"])[c.cols].unstack("model"))
    w = w.reindex(columns=pd.MultiIndex.from_product([c.cols, c.models]))
    arr = w.to_numpy(dtype=np.float64).reshape(len(w), len(c.cols), len(c.models)).transpose(0, 2, 1)
    return w.index.to_frame(index=False), arr


def item_summaries(values: FloatArray, item: npt.NDArray[np.int64], n_items: int, rng: np.random.Generator,
                   n_boot: int, with_p: bool = False) -> tuple[dict[str, FloatArray], FloatArray]:
    """Item means of (rows, K) cell values summarised by
    :func:`~twinstudy.analysis.bootstrap.summarize_columns` (estimate, interval, se, ``n`` items
    and, with ``with_p``, ``p_value``), and the number of cells behind each column."""
    means, cnt = item_column_means(item, values, n_items)
    return summarize_columns(means, rng, n_boot, with_p=with_p), cnt.sum(axis=0)


def level_diff(c: Coded, level_col: str, a: str, b: str, base: list[str]
               ) -> tuple[pd.DataFrame, FloatArray, FloatArray, FloatArray]:
    """Per model, level ``a`` minus level ``b`` of ``level_col`` over identical ``base`` cells
    (several framings of one level averaged first). Returns the base rows, the (rows, M, K)
    differences and the two (rows, M, K) level means."""
    sub = c.cells.loc[c.cells[level_col].isin([a, b])]
    if sub.empty or sub[level_col].nunique() < 2:
        empty = np.zeros((0, len(c.models), len(c.cols)))
        return pd.DataFrame(columns=base), empty, empty, empty
    per = sub.groupby([*base, level_col, "model"], sort=True, observed=True)[c.cols].mean().reset_index()
    wa = per.loc[per[level_col] == a].drop(columns=level_col)
    wb = per.loc[per[level_col] == b].drop(columns=level_col)
    idx_a, arr_a = model_array(wa, base, c)
    idx_b, arr_b = model_array(wb, base, c)
    keys = pd.concat([idx_a, idx_b]).drop_duplicates().sort_values(base).reset_index(drop=True)
    pos_a = pd.MultiIndex.from_frame(idx_a)
    pos_b = pd.MultiIndex.from_frame(idx_b)
    kk = pd.MultiIndex.from_frame(keys)
    full_a = np.full((len(keys), len(c.models), len(c.cols)), np.nan)
    full_b = full_a.copy()
    full_a[kk.get_indexer(pos_a)] = arr_a
    full_b[kk.get_indexer(pos_b)] = arr_b
    return keys, full_a - full_b, full_a, full_b
