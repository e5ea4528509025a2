"""Variance decomposition of the score: how much is the model, how much is the user.

Estimand (stated once, used everywhere): **levels fixed, items random.** The models, the languages
and the framings are the ones the study chose, so they are fixed levels; items, paraphrases and
samples are draws from larger populations. The total is the variance of one trial's score across a
cell of the full design chosen uniformly (every model x language x framing combination weighted
equally) and a fresh item, paraphrase and sample. It splits into

* finite-population variances of the fixed terms (Gelman 2005, Ann. Statist. 33:1-53, sec. 3.5):
  for ``model`` the mean squared deviation of the model means, divisor k (not k - 1: a factor with
  two levels at +-0.1 adds 0.01, and that is what is reported), and likewise for ``lang``,
  ``framing`` and their interactions;
* variance components of the random terms (``item``, ``paraphrase`` within item, ``item:model``,
  the other item interactions, and ``residual`` = sample-to-sample noise within a cell), each as
  the variance it adds to one trial (the restricted mixed-model convention: an item's effect is its
  mean over these models, languages and framings).

Shares are those variances over their sum. Intervals: cluster bootstrap over items (expanded
percentile), which is the right resampling for this estimand because only the items are random
(``ci_kind`` says so). They are *not* intervals for models, languages or framings in general; with
2 languages no such interval is possible at all (use ``language_gap`` for the EN - ZH contrast).

Framing is coded by the user's position relative to the theme's pole (see
:mod:`twinstudy.analysis.framings`): an opinion framing is ``toward`` or ``away`` according to the
stance and the item's keying. A model that follows the user's opinion therefore contributes a
framing main effect (the mean pull, user side) and a model:framing interaction (how much more one
model follows than another, model side), instead of an item x framing interaction in "other".

Estimator (moments, items as the unit). Each item is a vector of cell means over the grid of
conditions j = model x lang x framing x paraphrase (samples averaged). Two moments of those vectors
across items are estimated from the observed cells only, pairwise-complete, so an empty cell is
never filled in and counted as data:

* the condition means ``mu_j`` (mean over the items that have cell j), and
* the covariance ``Sigma_jj'`` across items of cells j and j' (over items that have both).

Every term of the estimand is then a quadratic form in one of them. With ``P_T`` the projection of
the grid's ANOVA onto term T (a Kronecker product of centring and averaging matrices), the random
item x T term is ``tr(P_T Sigma) / J`` minus the within-cell noise that the cell means carry, and
the fixed term T is ``mu' P_T mu / J - tr(P_T V) / J``, where ``V = Cov(mu-hat)`` follows from
``Sigma`` and the pairwise counts (the bias correction). Both are unbiased when cells are missing
independently of their values (including different numbers of paraphrases per item). Paraphrase is
random and nested in item: item x T x paraphrase terms are rescaled from the P observed paraphrase
indices to the paraphrase population (factor P / (P - 1)).

Empty cells (every sample refused, blocked or unparseable) are usually *not* missing at random:
a model that refuses what it would answer toward the pole shifts every answered-only estimate, and
no variance estimator can undo that. The share of empty cells per model x language is therefore
reported beside the decomposition (the ``missing_cells`` table), and the benchmark prints the bias
under informative refusals as well.

``samples: 1``: sampling noise cannot be told apart from the highest-order interaction. Then the
``residual`` row is NaN with a ``note``, and the two together are reported as ``unresolved``.

``empty_cells`` is the share of the item x condition grid with no answered trial; nothing is
imputed any more (``imputed_cells`` is kept, always 0, for readers of the old column).

Negative estimates are truncated at 0 per reported component (after summing the terms that make
it up, so ``other``, a sum of many small terms, is not inflated by truncating each one).

Headline: ``model_side`` = model + model:lang + model:framing, ``user_side`` = lang + framing, and
``model_share`` = model_side / (model_side + user_side), bounded in [0, 1] (the old unbounded
ratio is kept as a point estimate only, without an interval, for readers that still ask for it).
``n`` = number of items.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np
import numpy.typing as npt
import pandas as pd

from .bootstrap import percentile_ci
from .cells import likert_scored
from .framings import pole_framing

FloatArray = npt.NDArray[np.float64]

GRID: tuple[str, ...] = ("model", "lang", "framing", "paraphrase")
FACTORS: tuple[str, ...] = ("item", *GRID)
COMPONENTS: tuple[str, ...] = (
    "model", "lang", "framing", "model:lang", "model:framing", "item", "paraphrase", "item:model",
    "other", "residual", "unresolved",
)
CI_KIND = "item bootstrap, expanded percentile; levels fixed"
VARIANCE_COLUMNS = ["component", "estimate", "ci_low", "ci_high", "ci_kind", "variance", "n", "n_rows",
                    "empty_cells", "imputed_cells", "estimand", "note"]
HEADLINE_COLUMNS = ["measure", "estimate", "ci_low", "ci_high", "ci_kind", "n", "note"]
MISSING_COLUMNS = ["model", "lang", "cells", "empty_cells", "share", "estimate", "ci_low", "ci_high", "n",
                   "ci_kind"]
ESTIMAND = "share of score variance; models, languages, framings fixed; items, paraphrases, samples random"
_FIXED_NAMES: dict[frozenset[str], str] = {
    frozenset({"model"}): "model", frozenset({"lang"}): "lang", frozenset({"framing"}): "framing",
    frozenset({"model", "lang"}): "model:lang", frozenset({"model", "framing"}): "model:framing",
}
_RANDOM_NAMES: dict[frozenset[str], str] = {
    frozenset(): "item", frozenset({"paraphrase"}): "paraphrase", frozenset({"model"}): "item:model",
}
_NOTE_NO_REPS = ("not estimable with one sample per cell (samples: 1): sampling noise cannot be told apart "
                 "from the highest-order interaction; both are in 'unresolved'")
#: multiply-adds allowed for the bootstrap of one decomposition; beyond it fewer draws are used
#: (never fewer than _MIN_DRAWS), and ``ci_kind`` says how many
_BOOT_BUDGET = 2e10
_MIN_DRAWS = 200


def _codes(series: pd.Series) -> tuple[npt.NDArray[np.int64], int]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        raw = series.cat.codes.to_numpy().astype(np.int64)
        uniq, inv = np.unique(raw, return_inverse=True)
        return inv.astype(np.int64), int(uniq.size)
    codes, uniques = pd.factorize(series, sort=True)
    return codes.astype(np.int64), int(len(uniques))


class ItemGrid:
    """Items x conditions matrix of cell means (NaN-free, with an observed mask) and within-cell sums."""

    def __init__(self, df: pd.DataFrame) -> None:
        y = df["score"].to_numpy(dtype=np.float64)
        codes, shape = [], []
        for f in FACTORS:
            c, n = _codes(df[f])
            codes.append(c)
            shape.append(n)
        self.n_rows = int(y.size)
        self.n_items = shape[0]
        keep = [j for j in range(1, len(FACTORS)) if shape[j] > 1]  # single-level factors carry nothing
        self.factors = tuple(FACTORS[j] for j in keep)
        self.levels = tuple(shape[j] for j in keep)
        self.J = int(np.prod(self.levels)) if keep else 1
        col = np.ravel_multi_index(tuple(codes[j] for j in keep), self.levels) if keep else np.zeros(y.size, int)
        flat = codes[0] * self.J + col
        size = self.n_items * self.J
        cnt = np.bincount(flat, minlength=size).astype(np.float64)
        s1 = np.bincount(flat, weights=y, minlength=size)
        s2 = np.bincount(flat, weights=y * y, minlength=size)
        obs = cnt > 0
        mean = np.where(obs, s1 / np.maximum(cnt, 1.0), 0.0)
        within = np.where(obs, np.maximum(s2 - s1 * mean, 0.0), 0.0)
        self.O = obs.reshape(self.n_items, self.J).astype(np.float64)
        self.Y = mean.reshape(self.n_items, self.J)
        self.inv_cnt = np.where(obs, 1.0 / np.maximum(cnt, 1.0), 0.0).reshape(self.n_items, self.J)
        self.within_ss = within.reshape(self.n_items, self.J).sum(axis=1)
        self.within_df = (cnt - obs).reshape(self.n_items, self.J).sum(axis=1)
        self.empty_share = float(1.0 - obs.mean()) if size else 0.0
        self.has_rep = bool(self.within_df.sum() > 0)


def _project_trace(mat: FloatArray, levels: tuple[int, ...], term: frozenset[int]) -> float:
    """``tr(P_T M)`` for a J x J matrix M and the grid projection P_T (Kronecker structure)."""
    m = mat.reshape(levels + levels)
    for ax in range(len(levels)):
        n = levels[ax]
        p = (np.eye(n) - 1.0 / n) if ax in term else np.full((n, n), 1.0 / n)
        # contract axis ax (row) and k + ax (column) with p: sum_{a,b} p[a,b] m[..a.., ..b..]
        m = _contract(m, p)
    return float(m)


def _contract(m: FloatArray, p: FloatArray) -> FloatArray:
    """Contract the first row axis and its matching column axis of ``m`` with ``p``."""
    k = m.ndim // 2
    out = np.tensordot(m, p, axes=([0, k], [0, 1]))
    return np.asarray(out, dtype=np.float64)


def _terms(k: int) -> list[frozenset[int]]:
    return [frozenset(sub) for size in range(0, k + 1) for sub in combinations(range(k), size)]


@lru_cache(maxsize=8)
def _projections(levels: tuple[int, ...]) -> FloatArray | None:
    """Every term's projection P_T flattened, (terms, J*J), in ``_terms`` order; None when too large."""
    J = int(np.prod(levels)) if levels else 1
    terms = _terms(len(levels))
    if len(terms) * J * J > 4_000_000:
        return None
    out = np.empty((len(terms), J * J))
    for r, t in enumerate(terms):
        p = np.ones((1, 1))
        for ax, n in enumerate(levels):
            p = np.kron(p, (np.eye(n) - 1.0 / n) if ax in t else np.full((n, n), 1.0 / n))
        out[r] = p.ravel()
    return out


def _all_traces(mat: FloatArray, levels: tuple[int, ...]) -> list[float]:
    """``tr(P_T M)`` for every term, in ``_terms`` order (P_T symmetric)."""
    proj = _projections(levels)
    if proj is None:
        return [_project_trace(mat, levels, t) for t in _terms(len(levels))]
    return [float(v) for v in proj @ mat.ravel()]


#: Small products avoid BLAS: a multi-threaded BLAS on a busy 2-core machine took 100x longer on a
#: 60 x 144 product than einsum's plain loop. A caller that has pinned BLAS to one thread (the
#: benchmark) may set this to False for the faster BLAS path.
SMALL_PRODUCTS_WITHOUT_BLAS = True


def _cross(a: FloatArray, b: FloatArray) -> FloatArray:
    """``a.T @ b`` (see SMALL_PRODUCTS_WITHOUT_BLAS)."""
    if SMALL_PRODUCTS_WITHOUT_BLAS and a.shape[1] <= 256:
        return np.asarray(np.einsum("ij,ik->jk", a, b), dtype=np.float64)
    return np.asarray(a.T @ b, dtype=np.float64)


def _moments(grid: ItemGrid, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weighted pairwise-complete condition means, covariance across items, and Cov(mean-hat)."""
    seen, Y = grid.O, grid.Y
    ow = seen * w[:, None]
    yw = Y * w[:, None]
    N = _cross(ow, seen)
    S1 = _cross(yw, seen)  # S1[j, j'] = sum over items having both of y_j
    S2 = _cross(yw, Y)          # sum of y_j y_j' over items having both (Y is 0 where missing)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = (S2 - S1 * S1.T / N) / (N - 1.0)
        nj = np.diag(N)
        mu = np.diag(S1) / nj
        V = cov * N / np.outer(nj, nj)
    bad = ~np.isfinite(cov)
    if bad.any():
        cov = np.where(bad, np.nanmean(np.where(bad, np.nan, cov)) if (~bad).any() else 0.0, cov)
        V = np.where(~np.isfinite(V), 0.0, V)
    mu = np.where(np.isfinite(mu), mu, np.nanmean(mu) if np.isfinite(mu).any() else 0.0)
    return mu, cov, V


def _estimate_one(grid: ItemGrid, w: FloatArray) -> dict[str, float]:
    """Variances of every reported component for one set of item weights (1 = the data)."""
    mu, cov, V = _moments(grid, w)
    J, levels, factors = grid.J, grid.levels, grid.factors
    k = len(levels)
    dims = {t: float(np.prod([levels[a] - 1 for a in t])) for t in _terms(k)}
    full = frozenset(range(k))
    terms = _terms(k)
    tr_cov = _all_traces(cov, levels)
    tr_v = _all_traces(V, levels)
    quad = _all_traces(np.outer(mu, mu), levels)
    # within-cell noise carried by a cell mean (cell scale), and per trial
    if grid.has_rep:
        sigma_e = float((w @ grid.within_ss) / max(float(w @ grid.within_df), 1.0))
        wo = float((w[:, None] * grid.O).sum())
        noise_cell = sigma_e * float((w[:, None] * grid.inv_cnt).sum()) / max(wo, 1.0)
    else:
        sigma_e = float("nan")
        noise_cell = tr_cov[-1] / max(dims[full], 1.0)
    rand: dict[frozenset[str], float] = {}
    for t, trc in zip(terms, tr_cov, strict=True):
        rand[frozenset(factors[a] for a in t)] = trc / J - noise_cell * dims[t] / J
    # paraphrase is random: rescale the P observed indices to the paraphrase population
    if "paraphrase" in factors:
        n_p = levels[factors.index("paraphrase")]
        for name in list(rand):
            if "paraphrase" in name:
                rand[name] = rand[name] * n_p / (n_p - 1.0)
                rand[name - {"paraphrase"}] -= rand[name] / n_p
    fixed: dict[frozenset[str], float] = {}
    for t, q, trv in zip(terms, quad, tr_v, strict=True):
        if t:
            fixed[frozenset(factors[a] for a in t)] = q / J - trv / J
    out = dict.fromkeys(COMPONENTS, 0.0)
    for term, val in fixed.items():
        out[_FIXED_NAMES.get(term, "other")] += val
    for term, val in rand.items():
        if term == frozenset(factors) and not grid.has_rep:
            continue  # assumed 0: it cannot be told apart from the noise
        out[_RANDOM_NAMES.get(term, "other")] += val
    for c in out:
        out[c] = max(out[c], 0.0)
    out["residual"] = sigma_e if grid.has_rep else float("nan")
    out["unresolved"] = 0.0 if grid.has_rep else max(noise_cell, 0.0)
    return out


_HEADLINE = ("model_side", "user_side", "model_share", "model_to_user_ratio")
_HEAD_NOTES = {
    "model_side": "model + model:lang + model:framing",
    "user_side": "lang + framing (framing coded toward / away from the theme's pole)",
    "model_share": "model_side / (model_side + user_side), bounded in [0, 1]",
    "model_to_user_ratio": "unbounded ratio, point estimate only (no interval); prefer model_share",
}


def _shares(var: dict[str, float]) -> dict[str, float]:
    total = sum(v for v in var.values() if np.isfinite(v))
    nan = float("nan")
    out = {c: (v / total if total > 0 and np.isfinite(v) else nan) for c, v in var.items()}
    ms = out["model"] + out["model:lang"] + out["model:framing"]
    us = out["lang"] + out["framing"]
    out["model_side"], out["user_side"] = ms, us
    out["model_share"] = ms / (ms + us) if ms + us > 0 else nan
    out["model_to_user_ratio"] = ms / us if us > 0 else nan
    return out


def missing_cells(df: pd.DataFrame) -> pd.DataFrame:
    """Per model x lang: Likert cells (item x framing x paraphrase) attempted and how many hold no score.

    A cell is attempted when any trial of it reached a final outcome other than ``error``; it is
    empty when none of those trials is an answered Likert trial with a score (every sample refused,
    blocked, truncated or unparseable). Empty cells carry no data into the variance decomposition or
    any other score estimate, and they are rarely missing at random, so this share belongs beside
    every score figure. ``lang`` "all" pools languages.
    """
    from twinstudy.vocab import LIKERT_TYPES

    lik = df.loc[df["item_type"].isin(LIKERT_TYPES).to_numpy() & (df["outcome"] != "error").to_numpy()]
    if lik.empty:
        return pd.DataFrame(columns=MISSING_COLUMNS)
    keys = ["model", "lang", "item", "framing", "paraphrase"]
    ok = (lik["outcome"] == "answered").to_numpy() & np.isfinite(
        lik["score"].to_numpy(dtype=np.float64, na_value=np.nan))
    cell = lik[keys].assign(ok=ok).groupby(keys, observed=True, sort=True)["ok"].any().reset_index()
    parts = []
    for by_lang in (True, False):
        g = cell.groupby(["model", "lang"] if by_lang else ["model"], observed=True, sort=True)["ok"]
        agg = pd.DataFrame({"cells": g.size(), "full": g.sum()}).reset_index()
        if not by_lang:
            agg["lang"] = "all"
        agg["empty_cells"] = agg["cells"] - agg["full"]
        parts.append(agg)
    out = pd.concat(parts, ignore_index=True)
    out["share"] = out["empty_cells"] / out["cells"]
    out[["cells", "empty_cells"]] = out[["cells", "empty_cells"]].astype(int)
    out["estimate"], out["ci_low"], out["ci_high"] = out["share"], np.nan, np.nan
    out["n"], out["ci_kind"] = out["cells"], "none: a count of this study's cells"
    return out.sort_values(["model", "lang"], kind="stable")[MISSING_COLUMNS].reset_index(drop=True)


def decompose(df: pd.DataFrame, n_boot: int = 2000, seed: int = 0
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Variance shares (with item-bootstrap CIs) and the model-vs-user headline; see the module doc."""
    rng = np.random.default_rng([seed, 7])
    data = likert_scored(df, "score", keep=[*FACTORS, "reverse", *(c for c in ("stance",) if c in df.columns)])
    if data.empty or data["item"].nunique() < 2:
        return (pd.DataFrame(columns=VARIANCE_COLUMNS), pd.DataFrame(columns=HEADLINE_COLUMNS))
    data = data.assign(framing=pole_framing(data))
    grid = ItemGrid(data)
    n_items = grid.n_items
    raw = _estimate_one(grid, np.ones(n_items))
    point = _shares(raw)
    cost = 3.0 * n_items * grid.J**2
    draws = min(n_boot, max(int(_BOOT_BUDGET // max(cost, 1.0)), _MIN_DRAWS)) if n_boot > 0 else 0
    keys = [*COMPONENTS, *_HEADLINE]
    boot = np.full((draws, len(keys)), np.nan)
    if draws > 0:
        counts = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=draws).astype(np.float64)
        for d in range(draws):
            sh = _shares(_estimate_one(grid, counts[d]))
            boot[d] = [sh[c] for c in keys]
    nan = float("nan")
    fewer = f"; {draws} of {n_boot} bootstrap draws (cost budget)" if 0 < draws < n_boot else ""
    rows = []
    for j, c in enumerate(COMPONENTS):
        est = point[c]
        lo, hi = percentile_ci(boot[:, j], n_items) if draws and np.isfinite(est) else (nan, nan)
        note = ""
        if c == "residual" and not grid.has_rep:
            note = _NOTE_NO_REPS
        elif c == "unresolved":
            note = ("sampling noise + highest-order interaction (samples: 1)" if not grid.has_rep
                    else "0: with repeated samples the noise is the residual")
        rows.append({"component": c, "estimate": est, "ci_low": lo, "ci_high": hi,
                     "ci_kind": CI_KIND + fewer if np.isfinite(lo) else "none",
                     "variance": raw[c],
                     "n": n_items, "n_rows": grid.n_rows, "empty_cells": grid.empty_share,
                     "imputed_cells": 0.0, "estimand": ESTIMAND,
                     "note": note})
    head = []
    for h in _HEADLINE:
        j = keys.index(h)
        ok = draws and h != "model_to_user_ratio" and np.isfinite(point[h])
        lo, hi = percentile_ci(boot[:, j], n_items) if ok else (nan, nan)
        head.append({"measure": h, "estimate": point[h], "ci_low": lo, "ci_high": hi,
                     "ci_kind": CI_KIND + fewer if np.isfinite(lo) else "none", "n": n_items, "note": _HEAD_NOTES[h]})
    return pd.DataFrame(rows, columns=VARIANCE_COLUMNS), pd.DataFrame(head, columns=HEADLINE_COLUMNS)
