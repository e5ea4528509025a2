"""Language gap per model: EN - ZH.

Score gap: answered Likert trials; cells (item x framing x paraphrase, samples averaged) present in
both languages; per-cell EN - ZH difference averaged within items; mean over items with an item
interval (bootstrap; t below 10 items; none below 3, ``ci_kind``) and a sign-flip p-value;
``p_adj``: Benjamini-Hochberg across models. ``n`` = items.

Binary gaps (``mcnemar`` table; refused, blocked, complete): the unit is the item. For each model,
measure and item, the EN rate and the ZH rate over that item's eligible trials (samples,
paraphrases and framings pooled within language); the estimate is the mean over items of
``rate_en - rate_zh``, with an item-cluster interval, and the p-value is the sign-flip test of the
item-level differences (``test`` = "item sign-flip"). Pairing trials by sample index, as a
McNemar test on trials does, is arbitrary (EN sample 2 has nothing to do with ZH sample 2) and
rejected 11-28 % of the time under the null in the review's check. Only when every item has exactly
one eligible trial per language is the design a true matched-pairs one; then the exact McNemar test
is used (``test`` = "exact McNemar") and ``b``/``c`` are its discordant counts (NaN otherwise).

* ``refused``: outcome == "refused" (a ``blocked`` trial is *not* refused), over trials whose
  outcome is not ``error``;
* ``blocked``: outcome == "blocked", same denominator;
* ``complete``: open items with a judged ``open_outcome``: open_outcome == "complete".

``rate_en`` / ``rate_zh`` are trial rates over the items with trials in both languages; ``n`` =
trials, ``n_items`` = items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bootstrap import ci_kind, summarize_columns
from .cells import cell_diffs, item_matrix, likert_cells
from .inference import benjamini_hochberg, mcnemar_exact

GAP_COLUMNS = ["model", "estimate", "ci_low", "ci_high", "se", "p_value", "p_adj", "n", "n_cells", "ci_kind"]
MCNEMAR_COLUMNS = ["model", "measure", "n", "n_items", "k_en", "k_zh", "rate_en", "rate_zh", "b", "c",
                   "estimate", "ci_low", "ci_high", "p_value", "test", "ci_kind"]


def language_gap(frame: pd.DataFrame, n_boot: int = 2000, seed: int = 0,
                 cells: pd.DataFrame | None = None) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 5])
    cells = likert_cells(frame) if cells is None else cells
    diffs = cell_diffs(cells, "score", "lang", "en", "zh", ["model", "item", "framing", "paraphrase"])
    if diffs.empty:
        return pd.DataFrame(columns=GAP_COLUMNS)
    mat = item_matrix(diffs, "diff", "model")
    counts = diffs.groupby("model", observed=True).size()
    res = summarize_columns(mat.to_numpy(dtype=np.float64), rng, n_boot, with_p=True)
    rows = [{"model": m, **{k: float(v[j]) for k, v in res.items()}, "n_cells": int(counts[m]),
             "ci_kind": ci_kind(float(res["n"][j]), n_boot > 0)}
            for j, m in enumerate(mat.columns)]
    out = pd.DataFrame(rows, columns=GAP_COLUMNS)
    out["p_adj"] = benjamini_hochberg(out["p_value"].to_numpy(dtype=np.float64))
    out["n"] = out["n"].astype(int)
    return out


def binary_measures(frame: pd.DataFrame) -> dict[str, tuple[pd.Series, pd.Series]]:
    """measure -> (eligible mask, indicator) over the rows of ``frame``."""
    outcome = frame["outcome"].astype(str)
    not_error = outcome != "error"
    open_known = frame["open_outcome"].notna()
    return {
        "refused": (not_error, outcome == "refused"),
        "blocked": (not_error, outcome == "blocked"),
        "complete": (open_known, frame["open_outcome"].astype(str) == "complete"),
    }


def mcnemar_table(frame: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 6])
    rows: list[dict[str, object]] = []
    if frame.empty:
        return pd.DataFrame(columns=MCNEMAR_COLUMNS)
    lang = frame["lang"].astype(str).to_numpy()
    model = frame["model"].astype(str).to_numpy()
    item = (frame["instrument"].astype(str) + "/" + frame["item"].astype(str)).to_numpy()
    for measure, (eligible, indicator) in binary_measures(frame).items():
        ok = eligible.to_numpy() & np.isin(lang, ("en", "zh"))
        if not ok.any():
            continue
        d = pd.DataFrame({"model": model[ok], "item": item[ok], "lang": lang[ok],
                          "x": indicator.to_numpy()[ok].astype(np.float64)})
        g = pd.DataFrame(d.groupby(["model", "item", "lang"], sort=True)["x"].agg(["sum", "size"]).unstack("lang"))
        if ("size", "en") not in g.columns or ("size", "zh") not in g.columns:
            continue
        g = g.dropna(subset=[("size", "en"), ("size", "zh")])
        for m, gm in g.groupby(level=0, sort=True):
            k_en, n_en = gm[("sum", "en")].to_numpy(), gm[("size", "en")].to_numpy()
            k_zh, n_zh = gm[("sum", "zh")].to_numpy(), gm[("size", "zh")].to_numpy()
            rows.append({"model": str(m), "measure": measure,
                         **item_level_binary(k_en, n_en, k_zh, n_zh, rng, n_boot)})
    return pd.DataFrame(rows, columns=MCNEMAR_COLUMNS)


def item_level_binary(k_en: np.ndarray, n_en: np.ndarray, k_zh: np.ndarray, n_zh: np.ndarray,
                      rng: np.random.Generator, n_boot: int) -> dict[str, object]:
    """EN - ZH rate difference with items as the unit; exact McNemar only with one trial per item x lang."""
    diff = k_en / n_en - k_zh / n_zh
    res = summarize_columns(diff[:, None], rng, n_boot, with_p=True)
    n_items = int(diff.size)
    one_each = bool((n_en == 1).all() and (n_zh == 1).all())
    nan = float("nan")
    b = c = nan
    if one_each:
        b = float(np.sum((k_en == 1) & (k_zh == 0)))
        c = float(np.sum((k_en == 0) & (k_zh == 1)))
        p = mcnemar_exact(int(b), int(c))
        test = "exact McNemar"
    else:
        p = float(res["p_value"][0])
        test = "item sign-flip"
    return {"n": int(n_en.sum() + n_zh.sum()), "n_items": n_items, "k_en": int(k_en.sum()), "k_zh": int(k_zh.sum()),
            "rate_en": float(k_en.sum() / n_en.sum()), "rate_zh": float(k_zh.sum() / n_zh.sum()), "b": b, "c": c,
            "estimate": float(res["estimate"][0]), "ci_low": float(res["ci_low"][0]),
            "ci_high": float(res["ci_high"][0]), "p_value": p, "test": test,
            "ci_kind": ci_kind(float(n_items), n_boot > 0)}
