"""Language gap per model: EN - ZH.

Score gap: answered Likert trials; cells (item x framing x paraphrase, samples averaged) present in
both languages; per-cell EN - ZH difference averaged within items; mean over items with a
cluster-bootstrap CI and a sign-flip p-value. ``n`` = items.

Binary gaps (exact McNemar): for each model and binary measure, EN and ZH trials are paired by
(item, framing, paraphrase, sample). Measures:

* ``refused``: outcome == "refused" (a ``blocked`` trial is *not* refused), over trials whose
  outcome is not ``error``;
* ``blocked``: outcome == "blocked", same denominator;
* ``complete``: open items with a judged ``open_outcome``: open_outcome == "complete".

``b`` = pairs positive in EN only, ``c`` = positive in ZH only; the exact McNemar p-value is the
two-sided binomial test of b out of b + c at 1/2. The estimate is rate_en - rate_zh over the pairs,
its CI a cluster bootstrap over items (pairs of one item move together). ``n`` = pairs (trials);
``n_items`` = items. McNemar treats pairs as independent; several samples per item make its
p-value somewhat optimistic (the bootstrap CI does not share that problem).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bootstrap import summarize_columns
from .cells import cell_diffs, item_matrix, likert_cells
from .inference import mcnemar_exact

GAP_COLUMNS = ["model", "estimate", "ci_low", "ci_high", "se", "p_value", "n", "n_cells"]
MCNEMAR_COLUMNS = ["model", "measure", "n", "n_items", "k_en", "k_zh", "rate_en", "rate_zh", "b", "c",
                   "estimate", "ci_low", "ci_high", "p_value"]
PAIR_KEYS = ["item", "framing", "paraphrase", "sample"]


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
    rows = [{"model": m, **{k: float(v[j]) for k, v in res.items()}, "n_cells": int(counts[m])}
            for j, m in enumerate(mat.columns)]
    out = pd.DataFrame(rows, columns=GAP_COLUMNS)
    out["n"] = out["n"].astype(int)
    return out


def binary_measures(frame: pd.DataFrame) -> dict[str, tuple[pd.Series, pd.Series]]:  # type: ignore[type-arg]
    """measure -> (eligible mask, indicator) over the rows of ``frame``."""
    outcome = frame["outcome"].astype(str)
    not_error = outcome != "error"
    open_known = frame["open_outcome"].notna()
    return {
        "refused": (not_error, outcome == "refused"),
        "blocked": (not_error, outcome == "blocked"),
        "complete": (open_known, frame["open_outcome"].astype(str) == "complete"),
    }


def _codes(series: pd.Series) -> tuple[np.ndarray, list[str]]:  # type: ignore[type-arg]
    codes, uniques = pd.factorize(series, sort=True)
    return codes.astype(np.int64), [str(u) for u in uniques]


def mcnemar_table(frame: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 6])
    rows: list[dict[str, object]] = []
    if frame.empty:
        return pd.DataFrame(columns=MCNEMAR_COLUMNS)
    model_c, model_names = _codes(frame["model"])
    item_c, _ = _codes(frame["item"])
    parts = [model_c, item_c] + [_codes(frame[k])[0] for k in PAIR_KEYS if k != "item"]
    dims = tuple(int(p.max()) + 1 for p in parts)
    key, _ = pd.factorize(np.ravel_multi_index(tuple(parts), dims))
    n_keys = int(key.max()) + 1
    model_of = np.zeros(n_keys, dtype=np.int64)
    model_of[key] = model_c
    item_of = np.zeros(n_keys, dtype=np.int64)
    item_of[key] = item_c
    lang = frame["lang"].astype(str).to_numpy()
    for measure, (eligible, indicator) in binary_measures(frame).items():
        ok = eligible.to_numpy()
        x = indicator.to_numpy().astype(np.float64)
        mean = {}
        for lg in ("en", "zh"):
            sel = ok & (lang == lg)
            cnt = np.bincount(key[sel], minlength=n_keys)
            tot = np.bincount(key[sel], weights=x[sel], minlength=n_keys)
            mean[lg] = (cnt, np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan))
        paired = (mean["en"][0] > 0) & (mean["zh"][0] > 0)
        if not paired.any():
            continue
        xe_all = mean["en"][1] >= 0.5
        xz_all = mean["zh"][1] >= 0.5
        for m in np.unique(model_of[paired]):
            sel = paired & (model_of == m)
            rows.append({"model": model_names[m], "measure": measure,
                         **mcnemar_summary(xe_all[sel], xz_all[sel], item_of[sel], rng, n_boot)})
    return pd.DataFrame(rows, columns=MCNEMAR_COLUMNS)


def mcnemar_summary(xe: np.ndarray, xz: np.ndarray, items: np.ndarray,  # type: ignore[type-arg]
                    rng: np.random.Generator, n_boot: int) -> dict[str, float | int]:
    """McNemar counts, exact p-value and the item-clustered CI of rate_en - rate_zh.

    ``xe``/``xz``: 0/1 (bool) outcome of each pair in EN and ZH; ``items``: item code of each pair.
    """
    xe = np.asarray(xe, dtype=bool)
    xz = np.asarray(xz, dtype=bool)
    b = int(np.sum(xe & ~xz))
    c = int(np.sum(~xe & xz))
    n = int(xe.size)
    _, inv = np.unique(items, return_inverse=True)
    d = xe.astype(np.float64) - xz.astype(np.float64)
    num = np.bincount(inv, weights=d)
    den = np.bincount(inv).astype(np.float64)
    lo, hi = summarize_ratio(num, den, rng, n_boot)
    return {"n": n, "n_items": int(num.size), "k_en": int(xe.sum()), "k_zh": int(xz.sum()),
            "rate_en": float(xe.mean()), "rate_zh": float(xz.mean()), "b": b, "c": c,
            "estimate": float((b - c) / n), "ci_low": lo, "ci_high": hi, "p_value": mcnemar_exact(b, c)}


def summarize_ratio(
    num: np.ndarray, den: np.ndarray, rng: np.random.Generator, n_boot: int  # type: ignore[type-arg]
) -> tuple[float, float]:
    from .bootstrap import percentile_ci, resample_counts

    n = num.size
    if n < 2 or n_boot <= 0:
        return (float("nan"), float("nan"))
    w = resample_counts(n, n_boot, rng).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (w @ num) / (w @ den)
    return percentile_ci(boot, n)
