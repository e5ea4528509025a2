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

from twinstudy.vocab import LIKERT_TYPES

from .frame import CELL_KEYS


def likert_scored(frame: pd.DataFrame, value: str = "score", keep: Sequence[str] | None = None) -> pd.DataFrame:
    """Answered Likert trials with a finite ``value`` (only the ``keep`` columns, if given)."""
    mask = (
        (frame["outcome"] == "answered").to_numpy()
        & frame["item_type"].isin(LIKERT_TYPES).to_numpy()
        & np.isfinite(frame[value].to_numpy(dtype=np.float64, na_value=np.nan))
    )
    src = frame if keep is None else frame[list(dict.fromkeys([*keep, value]))]
    out: pd.DataFrame = src.loc[mask]
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


def cell_diffs(
    cells: pd.DataFrame, value: str, contrast_col: str, level_a: str, level_b: str, keys: list[str]
) -> pd.DataFrame:
    """Per-cell differences level_a - level_b of ``value`` over cells present at both levels.

    ``keys`` (with ``contrast_col``) must identify a row of the cell table. Returns keys + diff.
    """
    sub = cells.loc[cells[contrast_col].isin([level_a, level_b]), [*keys, contrast_col, value]]
    if sub.empty:
        return pd.DataFrame(columns=[*keys, "diff"])
    wide = sub.set_index([*keys, contrast_col])[value].unstack(contrast_col)
    wide.columns = [str(c) for c in wide.columns]
    if level_a not in wide.columns or level_b not in wide.columns:
        return pd.DataFrame(columns=[*keys, "diff"])
    d = (wide[level_a] - wide[level_b]).dropna()
    d.name = "diff"
    return d.reset_index()


CELL_TABLE_KEYS: tuple[str, ...] = ("model", "theme", *CELL_KEYS)


def likert_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Cell table of answered Likert trials: mean score and agreement per model x cell.

    Columns: model, theme, item, lang, framing, paraphrase, score, agreement, n_trials. Computed
    once per analysis and shared by every estimator that works on scores (one groupby over the
    trials instead of one per estimator).
    """
    keys = list(CELL_TABLE_KEYS)
    slim = likert_scored(frame, "score", keep=[*keys, "agreement"])
    if slim.empty:
        return pd.DataFrame(columns=[*keys, "score", "agreement", "n_trials"])
    g = slim.groupby(keys, observed=True, sort=True)
    out = g[["score", "agreement"]].mean()
    out["n_trials"] = g.size()
    return out.reset_index()


def item_matrix(cells: pd.DataFrame, value: str, column: str) -> pd.DataFrame:
    """Item-level means (cells averaged within item) as an items x ``column`` matrix.

    ``cells`` must hold one row per cell with ``item`` and ``column``; rows are items (sorted).
    """
    g = cells.groupby(["item", column], observed=True, sort=True)[value].mean()
    wide = g.unstack(column)
    wide.columns = [str(c) for c in wide.columns]
    return wide


def as_str_levels(series: pd.Series) -> list[str]:
    """Sorted distinct non-null values of a column, as strings."""
    vals = pd.unique(series.dropna())
    return sorted(str(v) for v in vals)
