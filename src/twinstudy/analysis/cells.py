"""Reducing trials to cell means and item-level values, the units every estimator works on.

Order of averaging, everywhere: samples within a cell first (cell = item x lang x framing x
paraphrase for one model), then cells within an item. Each item then counts once, whatever its
number of answered trials, so a model that refuses half the samples of an item does not give that
item less weight.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .frame import CELL_KEYS, LIKERT_TYPES


def likert_scored(frame: pd.DataFrame, value: str = "score") -> pd.DataFrame:
    """Answered Likert trials with a finite ``value``."""
    mask = (
        (frame["outcome"] == "answered")
        & frame["item_type"].isin(LIKERT_TYPES)
        & np.isfinite(frame[value].to_numpy(dtype=np.float64, na_value=np.nan))
    )
    out: pd.DataFrame = frame.loc[mask]
    return out


def cell_means(df: pd.DataFrame, value: str, keys: Sequence[str]) -> pd.DataFrame:
    """Mean of ``value`` per combination of ``keys`` (samples averaged), as a flat frame."""
    keys = list(dict.fromkeys(keys))
    if df.empty:
        return pd.DataFrame(columns=[*keys, value])
    g = df.groupby(keys, observed=True, sort=True)[value].mean()
    return g.reset_index()


def item_means(df: pd.DataFrame, value: str, by: Sequence[str]) -> pd.DataFrame:
    """Per ``by`` + item: mean over the item's cells of the sample-averaged cell means."""
    cells = cell_means(df, value, [*by, *CELL_KEYS])
    if cells.empty:
        return pd.DataFrame(columns=[*by, "item", value])
    return cells.groupby([*by, "item"], observed=True, sort=True)[value].mean().reset_index()


def paired_item_diffs(
    df: pd.DataFrame,
    value: str,
    contrast_col: str,
    level_a: str,
    level_b: str,
    match: Sequence[str],
    by: Sequence[str],
) -> pd.DataFrame:
    """Item-level mean differences (level_a - level_b) over matched cells.

    Rows at ``contrast_col == level_a`` and ``== level_b`` are reduced to cell means over
    ``by + match`` (samples averaged), only cells present at both levels are kept, the per-cell
    difference is averaged within items. ``match`` must contain "item". Returns ``by + [item, diff,
    n_cells]``.
    """
    if "item" not in match:
        raise ValueError("match keys must include 'item'")
    sub = df.loc[df[contrast_col].isin([level_a, level_b])]
    keys = list(dict.fromkeys([*by, *match]))
    empty = pd.DataFrame(columns=[*by, "item", "diff", "n_cells"])
    if sub.empty:
        return empty
    g = sub.groupby([*keys, contrast_col], observed=True, sort=True)[value].mean()
    wide = g.unstack(contrast_col)
    if level_a not in wide.columns or level_b not in wide.columns:
        return empty
    d = (wide[level_a] - wide[level_b]).dropna()
    if d.empty:
        return empty
    d.name = "diff"
    frame = d.reset_index()
    out = (
        frame.groupby([*by, "item"], observed=True, sort=True)["diff"]
        .agg(["mean", "size"])
        .rename(columns={"mean": "diff", "size": "n_cells"})
        .reset_index()
    )
    return out


def as_str_levels(series: pd.Series) -> list[str]:  # type: ignore[type-arg]
    """Sorted distinct non-null values of a column, as strings."""
    vals = pd.unique(series.dropna())
    return sorted(str(v) for v in vals)
