"""Contrasts of category shares (issue 17): differences of the shares of
:mod:`~twinstudy.analysis.category_shares`, each paired over identical cells.

Estimands (the same sentences as :data:`twinstudy.analysis.methods.METHODS`):

- ``origin``: CN - US. In each cell, the mean over the origin's *companies* (a company's model
  variants averaged first: they are not independent draws of an origin) minus the same for the
  other origin; cells with both origins only; then items. The models are taken as fixed: the
  interval covers item sampling only, so it answers "do *these* CN models code differently from
  *these* US models on questions like these", not "do CN models in general".
- ``twin``: model_a - model_b for the pairs the analysis was asked for (``--twins``).
- ``culture``: within each model, cells under framings that bring up Chinese culture (framing
  ``culture: cn``) minus the same item x lang x paraphrase under American culture (``culture:
  us``); per model, and pooled ("all": origins' averages of company means, averaged).
- ``identity``: as ``culture`` for the identity framings (identity cn - us).
- ``language``: within model, EN - ZH over identical item x framing x paraphrase cells (the sign
  of every language difference in the analysis, :mod:`twinstudy.analysis.order`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .bootstrap import FloatArray, ci_kind, few_items_flag
from .categories import ALL, CodebookLike, Coded, prepare
from .category_arrays import item_summaries, level_diff, model_array, origins_of, pool_origins
from .inference import benjamini_hochberg

CONTRAST_COLUMNS = ["codebook", "contrast", "model", "lang", "framing", "category", "estimate", "ci_low",
                    "ci_high", "se", "p_value", "p_adj", "n", "n_cells", "level_a", "level_b", "ci_kind", "flag",
                    "coder"]


def _contrast_rows(diff: FloatArray, item: npt.NDArray[np.int64], n_items: int, c: Coded,
                   rng: np.random.Generator, n_boot: int, **labels: str) -> list[dict[str, Any]]:
    """One row per category for (rows, K) cell-level differences."""
    keep = np.isfinite(diff).any(axis=1)
    if not keep.any():
        return []
    res, n_cells = item_summaries(diff[keep], item[keep], n_items, rng, n_boot, with_p=True)
    rows = []
    for k, cat in enumerate(c.categories):
        nk = float(res["n"][k])
        if nk == 0:
            continue
        rows.append({"codebook": c.codebook, **labels, "category": cat,
                     **{key: float(res[key][k]) for key in ("estimate", "ci_low", "ci_high", "se", "p_value")},
                     "p_adj": float("nan"), "n": int(nk), "n_cells": int(n_cells[k]),
                     "ci_kind": ci_kind(nk, n_boot > 0), "flag": few_items_flag(nk), "coder": c.coder})
    return rows


def category_contrasts(frame: pd.DataFrame, book: CodebookLike, twins: Sequence[tuple[str, str]] | None = None,
                       n_boot: int = 1000, seed: int = 0, coded: Coded | None = None) -> pd.DataFrame:
    """Origin, twin, user-culture, identity and language contrasts of every category share (module
    docstring). ``p_adj``: Benjamini-Hochberg over every row of the table."""
    c = prepare(frame, book) if coded is None else coded
    rng = np.random.default_rng([seed, 17, 2])
    if c.cells.empty:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    rows: list[dict[str, Any]] = []
    keys = ["item", "lang", "framing", "paraphrase"]
    idx, arr = model_array(c.cells, keys, c)
    item_levels = sorted(set(c.cells["item"]))
    item_pos = {it: j for j, it in enumerate(item_levels)}
    n_items = len(item_levels)
    item = idx["item"].map(item_pos).to_numpy(dtype=np.int64)
    lang = idx["lang"].to_numpy(dtype=object)
    fr = idx["framing"].to_numpy(dtype=object)
    langs = sorted(set(lang))
    framings = sorted(set(fr), key=lambda f: (f != "neutral", f))
    origins = origins_of(c)
    for oa, ob in combinations(origins, 2):
        diff = pool_origins(arr, c, c.models, [oa]) - pool_origins(arr, c, c.models, [ob])
        scopes: list[tuple[str, str, npt.NDArray[np.bool_]]] = [(ALL, ALL, np.ones(len(idx), bool))]
        if len(framings) > 1:
            scopes += [(ALL, f, fr == f) for f in framings]
        if len(langs) > 1:
            scopes += [(lg, ALL, lang == lg) for lg in langs]
        for lg, f, sel in scopes:
            rows += _contrast_rows(np.where(sel[:, None], diff, np.nan), item, n_items, c, rng, n_boot,
                                   contrast="origin", model=ALL, lang=lg, framing=f, level_a=oa, level_b=ob)
    col = {m: j for j, m in enumerate(c.models)}
    for a, b in twins or []:
        if a in col and b in col:
            rows += _contrast_rows(arr[:, col[a], :] - arr[:, col[b], :], item, n_items, c, rng, n_boot,
                                   contrast="twin", model=f"{a} − {b}", lang=ALL, framing=ALL, level_a=a, level_b=b)
    for name, level_col, la, lb, base in (
            ("culture", "culture", "cn", "us", ["item", "lang", "paraphrase"]),
            ("identity", "identity", "cn", "us", ["item", "lang", "paraphrase"]),
            ("language", "lang", "en", "zh", ["item", "framing", "paraphrase"])):
        bkeys, diff3, _, _ = level_diff(c, level_col, la, lb, base)
        if len(bkeys) == 0:
            continue
        bitem = bkeys["item"].map(item_pos).to_numpy(dtype=np.int64)
        for m in [*c.models, ALL]:
            d = pool_origins(diff3, c, c.models, origins) if m == ALL else diff3[:, col[m], :]
            rows += _contrast_rows(d, bitem, n_items, c, rng, n_boot, contrast=name, model=m, lang=ALL,
                                   framing=ALL, level_a=la, level_b=lb)
    out = pd.DataFrame(rows, columns=CONTRAST_COLUMNS)
    if len(out):
        out["p_adj"] = benjamini_hochberg(out["p_value"].to_numpy(dtype=np.float64))
    return out
