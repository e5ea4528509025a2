"""Paired model differences over identical cells, per framing.

For a pair (A, B), a framing and a theme: answered Likert trials of both models under that framing,
reduced to cell means (cell = item x lang x paraphrase, samples averaged); only cells that both
models have are kept; the per-cell difference A - B is averaged within items. The estimate is the
mean of the item-level differences. Default pairs follow one sign convention
(:mod:`twinstudy.analysis.order`): A's origin comes first in CN, US order, and within one origin A
is listed first in the study. By default only the profile framing is used (``neutral`` when
present, otherwise every framing pooled, labelled "all"), so that the neutral "A - B" row is the
difference of the two profiles over their shared cells and does not change with which other
framings the study ran; ``framings=`` asks for others.

Interval: cluster bootstrap over items, a t interval below 10 items, none below 3 (``ci_kind``,
``flag``). p-value: sign-flip permutation test of the item-level differences (exact up to 14
items; with k items it cannot go below 2 / 2^k, 0.125 at k = 4). ``p_adj``: Benjamini-Hochberg over
*every* row of the table (all pairs, themes, framings and the pooled "all" rows), so that the
table as a whole controls the false discovery rate; per-pair adjustment let a 15-pair table show a
"significant" pair under the complete null 38 % of the time. Pooled "all" rows come first: per-theme
rows on the bundled banks rest on 4-6 items. ``n`` = items.

Refusal beside every difference: ``refusal_a`` / ``refusal_b`` are each model's not-answered shares
(refused, evasive, blocked) of its Likert trials in that theme and framing. When they differ, the
answered subsets are not comparable; ``lee_low`` / ``lee_high`` are Lee (2009, REStud 76:1071)
trimming bounds: the more-answering model's answered trials are trimmed by the excess answer share
from the top and from the bottom, and the difference of trial means is taken against the other
model. They bound the difference among trials both would answer under monotone refusal; they are a
sensitivity range, not a confidence interval (NaN when the answer shares are equal).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twinstudy.vocab import LIKERT_TYPES

from .bootstrap import ci_kind, few_items_flag, summarize_columns
from .cells import as_str_levels, likert_cells
from .inference import benjamini_hochberg
from .order import default_pairs

PAIRED_COLUMNS = ["model_a", "model_b", "framing", "theme", "estimate", "ci_low", "ci_high", "se", "p_value",
                  "p_adj", "n", "n_cells", "ci_kind", "flag", "refusal_a", "refusal_b", "lee_low", "lee_high"]
CELL_KEYS_NO_FRAMING = ["item", "lang", "paraphrase"]


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


def lee_bounds(ya: np.ndarray, yb: np.ndarray, share_a: float, share_b: float
               ) -> tuple[float, float]:
    """Lee trimming bounds on mean(A) - mean(B) given answered values and answer shares."""
    nan = float("nan")
    if ya.size == 0 or yb.size == 0 or not (share_a > 0 and share_b > 0) or share_a == share_b:
        return nan, nan
    hi_is_a = share_a > share_b
    y_h = np.sort(ya if hi_is_a else yb)
    q = abs(share_a - share_b) / max(share_a, share_b)
    k = int(np.floor(q * y_h.size))
    keep = y_h.size - k
    if keep <= 0:
        return nan, nan
    low_h, high_h = float(y_h[:keep].mean()), float(y_h[k:].mean())
    if hi_is_a:
        m_b = float(yb.mean())
        return low_h - m_b, high_h - m_b
    m_a = float(ya.mean())
    return m_a - high_h, m_a - low_h


def _answer_data(frame: pd.DataFrame, framing: str) -> pd.DataFrame:
    lik = frame.loc[frame["item_type"].isin(LIKERT_TYPES).to_numpy() & (frame["outcome"] != "error").to_numpy()]
    if framing != "all":
        lik = lik.loc[(lik["framing"] == framing).to_numpy()]
    return pd.DataFrame({
        "model": lik["model"].astype(str).to_numpy(), "theme": lik["theme"].astype(str).to_numpy(),
        "answered": (lik["outcome"] == "answered").to_numpy()
        & np.isfinite(lik["score"].to_numpy(dtype=np.float64, na_value=np.nan)),
        "not_answered": lik["outcome"].isin(("refused", "evasive", "blocked")).to_numpy(),
        "score": lik["score"].to_numpy(dtype=np.float64, na_value=np.nan),
    })


def _refusal_info(ans: pd.DataFrame) -> dict[tuple[str, str], tuple[float, float, np.ndarray]]:
    """(model, theme or "all") -> (not-answered share, answered share, answered scores)."""
    out: dict[tuple[str, str], tuple[float, float, np.ndarray]] = {}
    if ans.empty:
        return out
    score = ans["score"].to_numpy(dtype=np.float64)
    answered = ans["answered"].to_numpy()
    not_ans = ans["not_answered"].to_numpy()
    for keys in (["model", "theme"], ["model"]):
        for key, idx in ans.groupby(keys, sort=False).indices.items():
            model, theme = (key if isinstance(key, tuple) else (key, "all"))
            if len(keys) == 1:
                theme = "all"
            a = answered[idx]
            out[(str(model), str(theme))] = (float(not_ans[idx].mean()), float(a.mean()), score[idx][a])
    return out


def paired_differences(
    frame: pd.DataFrame, twins: list[tuple[str, str]] | None = None, n_boot: int = 2000, seed: int = 0,
    cells: pd.DataFrame | None = None, framings: list[str] | None = None,
) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 2])
    pairs = model_pairs(frame, twins)
    cells = likert_cells(frame) if cells is None else cells
    if cells.empty or not pairs:
        return pd.DataFrame(columns=PAIRED_COLUMNS)
    if framings is None:
        framings = ["neutral"] if (cells["framing"] == "neutral").any() else ["all"]
    rows: list[dict[str, object]] = []
    for framing in framings:
        sub = cells if framing == "all" else cells.loc[cells["framing"] == framing]
        if sub.empty:
            continue
        rows += _pairs_for(sub, frame, pairs, framing, n_boot, rng)
    out = pd.DataFrame(rows, columns=PAIRED_COLUMNS)
    if out.empty:
        return out
    out["p_adj"] = benjamini_hochberg(out["p_value"].to_numpy(dtype=np.float64))
    out["n"] = out["n"].astype(int)
    return out


def _pairs_for(cells: pd.DataFrame, frame: pd.DataFrame, pairs: list[tuple[str, str]], framing: str,
               n_boot: int, rng: np.random.Generator) -> list[dict[str, object]]:
    keys = ["theme", "framing", *CELL_KEYS_NO_FRAMING]
    wide = cells.groupby([*keys, "model"], observed=True)["score"].mean().unstack("model")
    wide.columns = [str(c) for c in wide.columns]
    pairs = [(a, b) for a, b in pairs if a in wide.columns and b in wide.columns]
    if not pairs:
        return []
    item_code, item_levels = pd.factorize(wide.index.get_level_values("item"))
    theme_code, theme_levels = pd.factorize(wide.index.get_level_values("theme"), sort=True)
    n_items = len(item_levels)
    theme_of_item = np.zeros(n_items, dtype=np.int64)
    theme_of_item[item_code] = theme_code
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
    blocks: list[tuple[str, dict[str, np.ndarray], np.ndarray]] = []
    blocks.append(("all", summarize_columns(item_mean, rng, n_boot, with_p=True), n_cells.sum(axis=0)))
    if len(theme_levels) > 1:
        for t_idx, theme in enumerate(theme_levels):
            sel = theme_of_item == t_idx
            blocks.append((str(theme), summarize_columns(item_mean[sel], rng, n_boot, with_p=True),
                           n_cells[sel].sum(axis=0)))
    else:
        blocks[0] = (str(theme_levels[0]), blocks[0][1], blocks[0][2])
    info = _refusal_info(_answer_data(frame, framing))
    missing = (float("nan"), float("nan"), np.zeros(0))
    rows: list[dict[str, object]] = []
    for theme, res, nc in blocks:
        for k, (a, b) in enumerate(pairs):
            if res["n"][k] == 0:
                continue
            ra, sa, ya = info.get((a, theme), missing)
            rb, sb, yb = info.get((b, theme), missing)
            lo, hi = lee_bounds(ya, yb, sa, sb)
            nk = float(res["n"][k])
            rows.append({"model_a": a, "model_b": b, "framing": framing, "theme": theme,
                         **{key: float(v[k]) for key, v in res.items()}, "p_adj": float("nan"),
                         "n_cells": int(nc[k]), "ci_kind": ci_kind(nk, n_boot > 0), "flag": few_items_flag(nk),
                         "refusal_a": ra, "refusal_b": rb, "lee_low": lo, "lee_high": hi})
    return rows
