"""Category shares of coded open answers (issue 17): per model x lang x framing, the share of
coded replies in each category of a codebook.

Estimand (the same sentence as :data:`twinstudy.analysis.methods.METHODS`): per model x lang x
framing ("all" pools languages / framings inside items), the mean over items of the share of coded
replies in each category. Intervals are clipped to [0, 1]. Each row carries ``coded_share`` (coded
replies / open trials of the items the coder took up), because which replies get coded is rarely
ignorable (:mod:`twinstudy.analysis.categories`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .bootstrap import ci_kind, few_items_flag
from .categories import ALL, CodebookLike, Coded, prepare
from .category_arrays import item_summaries

SHARE_COLUMNS = ["codebook", "model", "lang", "framing", "category", "estimate", "ci_low", "ci_high", "se", "n",
                 "n_replies", "coded_share", "ci_kind", "flag", "origin", "coder"]


def category_shares(frame: pd.DataFrame, book: CodebookLike, n_boot: int = 1000, seed: int = 0,
                    coded: Coded | None = None) -> pd.DataFrame:
    """Share of coded replies in each category per model x lang x framing (see the module docstring)."""
    c = prepare(frame, book) if coded is None else coded
    rng = np.random.default_rng([seed, 17, 1])
    cells = c.cells
    if cells.empty:
        return pd.DataFrame(columns=SHARE_COLUMNS)
    item_code, item_levels = pd.factorize(cells["item"], sort=True)
    vals = cells[c.cols].to_numpy(dtype=np.float64)
    model_a = cells["model"].to_numpy(dtype=object)
    lang_a = cells["lang"].to_numpy(dtype=object)
    fr_a = cells["framing"].to_numpy(dtype=object)
    n_a = cells["n"].to_numpy(dtype=np.float64)
    langs = sorted(set(lang_a))
    framings = list(dict.fromkeys(sorted(set(fr_a), key=lambda f: (f != "neutral", f))))
    tr = c.trials
    tm, tl, tf = (tr[k].to_numpy(dtype=object) for k in ("model", "lang", "framing"))
    tc = tr["coded"].to_numpy(dtype=bool)
    rows: list[dict[str, Any]] = []
    for m in c.models:
        in_m = model_a == m
        t_m = tm == m
        for lang in [*langs, ALL] if len(langs) > 1 else langs:
            in_l = in_m if lang == ALL else in_m & (lang_a == lang)
            t_l = t_m if lang == ALL else t_m & (tl == lang)
            for fr in [*framings, ALL] if len(framings) > 1 else framings:
                sel = in_l if fr == ALL else in_l & (fr_a == fr)
                if not sel.any():
                    continue
                t_sel = t_l if fr == ALL else t_l & (tf == fr)
                res, _ = item_summaries(vals[sel], item_code[sel], len(item_levels), rng, n_boot)
                n_rep = int(n_a[sel].sum())
                share = float(tc[t_sel].mean()) if t_sel.any() else float("nan")
                for k, cat in enumerate(c.categories):
                    nk = float(res["n"][k])
                    rows.append({
                        "codebook": c.codebook, "model": m, "lang": lang, "framing": fr, "category": cat,
                        "estimate": float(res["estimate"][k]),
                        "ci_low": float(np.clip(res["ci_low"][k], 0.0, 1.0)),
                        "ci_high": float(np.clip(res["ci_high"][k], 0.0, 1.0)),
                        "se": float(res["se"][k]), "n": int(nk), "n_replies": n_rep, "coded_share": share,
                        "ci_kind": ci_kind(nk, n_boot > 0), "flag": few_items_flag(nk),
                        "origin": c.origin.get(m, ""), "coder": c.coder})
    return pd.DataFrame(rows, columns=SHARE_COLUMNS)
