"""Variance decomposition of the score: how much is the model, how much is the user.

Design: model x lang x framing x item x paraphrase cells with repeated samples, paraphrases nested
in items (paraphrase k of item i has nothing to do with paraphrase k of item j).

Estimator: method of moments (ANOVA expected mean squares) on the cell-mean array, treating every
factor as random (Cornfield-Tukey, unrestricted model). For a fully crossed balanced array with
factors j = 1..k of n_j levels and r samples per cell, ``E[MS_U] = s2_e + sum_{V >= U} K_V s2_V``
with ``K_V = r * prod_{j not in V} n_j``, which inverts in closed form (Moebius inversion):
``s2_T = (1/K_T) sum_{U >= T} (-1)^{|U - T|} MS_U`` for every term T, with MS_e (within-cell
variance of samples) subtracted for the highest-order term. Paraphrase is first treated as crossed
with item; the nested component is then ``s2_P + s2_{IxP}`` (the usual identity SS_P(I) = SS_P +
SS_IxP). Sums of squares come from the marginal means of the array (one pass per marginal, the
marginals computed down the subset lattice), so the cost is linear in the number of rows and tiny
in the number of cells; a million trials take about a second.

Reported components (shares of the total, summing to 1):
``model``, ``lang``, ``framing``, ``model:lang``, ``model:framing``, ``item``, ``paraphrase``
(nested in item), ``item:model``, ``other`` (every remaining interaction, e.g. item x lang,
lang x framing, model x item x lang) and ``residual`` (sample-to-sample noise inside a cell; when
every cell has a single sample it cannot be told apart from the highest-order interaction, and that
interaction is reported as residual). Headline: ``model_side`` = model + model:lang +
model:framing, ``user_side`` = lang + framing, and their ratio.

Conventions and caveats:

* Negative variance-component estimates (which happen when a component is small) are truncated
  at 0 term by term before shares are formed. Truncation biases small components upward a little.
* Unbalanced data: empty cells (e.g. refusals of every sample, fewer paraphrases for some items)
  are imputed from an additive main-effects fit of the observed cell means, and ``r`` is the
  harmonic mean of the per-cell sample counts. This is the "near-balanced" approximation; with many
  empty cells interactions are shrunk toward 0. The table reports the share of imputed cells.
* The components of factors with few levels (2 languages, a handful of framings) rest on 1-4
  degrees of freedom and are noisy; the bootstrap resamples items only, so its CI does not include
  the uncertainty from having only these particular languages and framings.
* ``n`` = number of items.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import numpy.typing as npt
import pandas as pd

from .bootstrap import percentile_ci
from .cells import likert_scored

FloatArray = npt.NDArray[np.float64]

FACTORS: tuple[str, ...] = ("item", "model", "lang", "framing", "paraphrase")  # item axis first
COMPONENTS: tuple[str, ...] = (
    "model", "lang", "framing", "model:lang", "model:framing", "item", "paraphrase", "item:model",
    "other", "residual",
)
VARIANCE_COLUMNS = ["component", "estimate", "ci_low", "ci_high", "variance", "n", "n_rows", "imputed_cells"]
HEADLINE_COLUMNS = ["measure", "estimate", "ci_low", "ci_high", "n"]
_NAMED: dict[frozenset[str], str] = {
    frozenset({"model"}): "model",
    frozenset({"lang"}): "lang",
    frozenset({"framing"}): "framing",
    frozenset({"model", "lang"}): "model:lang",
    frozenset({"model", "framing"}): "model:framing",
    frozenset({"item"}): "item",
    frozenset({"paraphrase"}): "paraphrase",
    frozenset({"item", "paraphrase"}): "paraphrase",
    frozenset({"item", "model"}): "item:model",
}


def _codes(series: pd.Series) -> tuple[npt.NDArray[np.int64], int]:  # type: ignore[type-arg]
    if isinstance(series.dtype, pd.CategoricalDtype):
        raw = series.cat.codes.to_numpy().astype(np.int64)
        uniq, inv = np.unique(raw, return_inverse=True)
        return inv.astype(np.int64), int(uniq.size)
    codes, uniques = pd.factorize(series, sort=True)
    return codes.astype(np.int64), int(len(uniques))


class CellArray:
    """Cell means of the score on the item x model x lang x framing x paraphrase grid."""

    def __init__(self, df: pd.DataFrame) -> None:
        y = df["score"].to_numpy(dtype=np.float64)
        codes = []
        shape = []
        for f in FACTORS:
            c, n = _codes(df[f])
            codes.append(c)
            shape.append(n)
        self.n_rows = int(y.size)
        flat = np.ravel_multi_index(tuple(codes), tuple(shape))
        ncell = int(np.prod(shape))
        cnt = np.bincount(flat, minlength=ncell).astype(np.float64)
        s1 = np.bincount(flat, weights=y, minlength=ncell)
        s2 = np.bincount(flat, weights=y * y, minlength=ncell)
        obs = cnt > 0
        mean = np.zeros(ncell)
        mean[obs] = s1[obs] / cnt[obs]
        within = np.zeros(ncell)
        within[obs] = np.maximum(s2[obs] - s1[obs] * mean[obs], 0.0)
        full_shape = tuple(shape)
        mean_a = mean.reshape(full_shape)
        obs_a = obs.reshape(full_shape)
        self.imputed_share = float(1.0 - obs.mean()) if ncell else 0.0
        if not obs.all():
            mean_a = _impute_additive(mean_a, obs_a)
        self.r = float(obs.sum() / np.sum(1.0 / cnt[obs])) if obs.any() else 1.0
        per_item_cells = obs_a.reshape(shape[0], -1)
        self.within_ss = within.reshape(shape[0], -1).sum(axis=1)
        self.within_df = cnt.reshape(shape[0], -1).sum(axis=1) - per_item_cells.sum(axis=1)
        # drop factors with a single level (other than item): they carry no variance
        keep = [0] + [j for j in range(1, len(FACTORS)) if shape[j] > 1]
        self.factors = tuple(FACTORS[j] for j in keep)
        self.Y = mean_a.reshape(tuple(shape[j] for j in keep))
        self.n_items = shape[0]


def _impute_additive(mean: FloatArray, obs: npt.NDArray[np.bool_]) -> FloatArray:
    grand = float(mean[obs].mean())
    fitted = np.full(mean.shape, grand)
    w = obs.astype(np.float64)
    for ax in range(mean.ndim):
        other = tuple(a for a in range(mean.ndim) if a != ax)
        num = (mean * w).sum(axis=other, keepdims=True)
        den = w.sum(axis=other, keepdims=True)
        eff = np.where(den > 0, num / np.maximum(den, 1.0) - grand, 0.0)
        fitted = fitted + eff
    out = np.where(obs, mean, fitted)
    return np.asarray(out, dtype=np.float64)


def _item_marginals(Y: FloatArray) -> dict[frozenset[int], FloatArray]:
    """Marginal means of Y over every subset of axes that keeps the item axis (axis 0).

    marg[V] has shape (n_items, prod of the other axes in V); computed down the subset lattice, each
    marginal from its cheapest parent.
    """
    k = Y.ndim
    n = Y.shape
    axes = tuple(range(1, k))
    full: frozenset[int] = frozenset(range(k))
    arrays: dict[frozenset[int], FloatArray] = {full: Y}
    for size in range(k - 2, -1, -1):
        for sub in combinations(axes, size):
            v = frozenset((0, *sub))
            j = min((a for a in axes if a not in v), key=lambda a: n[a])
            parent = arrays[v | {j}]
            arrays[v] = parent.mean(axis=sorted(v | {j}).index(j))
    return {v: a.reshape(n[0], -1) for v, a in arrays.items()}


def _q_values(marg: dict[frozenset[int], FloatArray], sq: dict[frozenset[int], FloatArray],
              weights: FloatArray, shape: tuple[int, ...]) -> dict[frozenset[int], FloatArray]:
    """Uncorrected sums of squares Q_V = prod_{j not in V} n_j * sum(m_V^2) for item resamples.

    ``weights`` (B, n_items) are how often each item is drawn. A marginal that keeps the item axis
    is just re-indexed by the resample, so its sum of squares is ``weights @ per-item sums``; one
    that averages over items is ``weights @ marginal / n_items``.
    """
    n_items = shape[0]
    total = float(np.prod(shape))
    out: dict[frozenset[int], FloatArray] = {}
    for v, m in marg.items():
        mult_keep = total / float(np.prod([shape[a] for a in v]))
        out[v] = mult_keep * (weights @ sq[v])
        rest = v - {0}
        mult_drop = total / float(np.prod([shape[a] for a in rest])) if rest else total
        mb = (weights @ m) / n_items
        out[frozenset(rest)] = mult_drop * (mb**2).sum(axis=1)
    return out


def _components(q: dict[frozenset[int], FloatArray], shape: tuple[int, ...], factors: tuple[str, ...],
                within_var_over_r: FloatArray | None) -> dict[frozenset[str], FloatArray]:
    """Variance components (truncated at 0) from the Q values; term -> (batch,) array."""
    k = len(shape)
    axes = tuple(range(k))
    batch = next(iter(q.values())).shape[0]
    ms: dict[frozenset[int], FloatArray] = {}
    for size in range(1, k + 1):
        for sub in combinations(axes, size):
            u = frozenset(sub)
            ss = np.zeros(batch)
            for s2 in range(0, size + 1):
                for vv in combinations(sub, s2):
                    ss = ss + (-1) ** (size - s2) * q[frozenset(vv)]
            ms[u] = ss / float(np.prod([shape[a] - 1 for a in u]))
    full = frozenset(axes)
    out: dict[frozenset[str], FloatArray] = {}
    for t in ms:
        acc = np.zeros(batch)
        others = [a for a in axes if a not in t]
        for s2 in range(0, len(others) + 1):
            for extra in combinations(others, s2):
                acc = acc + (-1) ** s2 * ms[t | frozenset(extra)]
        if t == full and within_var_over_r is not None:
            acc = acc - within_var_over_r
        kt = float(np.prod([shape[a] for a in others])) if others else 1.0
        out[frozenset(factors[a] for a in t)] = np.maximum(acc / kt, 0.0)
    return out


def _shares(comp: dict[frozenset[str], FloatArray], residual: FloatArray | None, factors: tuple[str, ...],
            batch: int) -> dict[str, FloatArray]:
    grouped = {c: np.zeros(batch) for c in COMPONENTS}
    full = frozenset(factors)
    for term, val in comp.items():
        if term == full and residual is None:
            grouped["residual"] += val  # no replicates: highest-order interaction + noise
            continue
        grouped[_NAMED.get(term, "other")] += val
    if residual is not None:
        grouped["residual"] += residual
    return grouped


_HEADLINE = ("model_side", "user_side", "model_to_user_ratio")


def decompose(df: pd.DataFrame, n_boot: int = 2000, seed: int = 0
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Variance shares (with bootstrap CIs over items) and the model-vs-user headline."""
    rng = np.random.default_rng([seed, 7])
    data = likert_scored(df, "score", keep=FACTORS)
    if data.empty or data["item"].nunique() < 2:
        return (pd.DataFrame(columns=VARIANCE_COLUMNS), pd.DataFrame(columns=HEADLINE_COLUMNS))
    cells = CellArray(data)
    n_items = cells.n_items
    marg = _item_marginals(cells.Y)
    sq = {v: (m**2).sum(axis=1) for v, m in marg.items()}
    point = _estimate(cells, marg, sq, np.ones((1, n_items)))
    boots: dict[str, list[FloatArray]] = {c: [] for c in [*COMPONENTS, *_HEADLINE]}
    if n_boot > 0:
        widest = max(m.shape[1] for m in marg.values())
        per = max(1, min(n_boot, int(2_000_000 // max(widest, 1))))
        done = 0
        while done < n_boot:
            nb = min(per, n_boot - done)
            w = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=nb).astype(np.float64)
            res = _estimate(cells, marg, sq, w)
            for key in boots:
                boots[key].append(res[key])
            done += nb
    rows = []
    for c in COMPONENTS:
        b = np.concatenate(boots[c]) if boots[c] else np.zeros(0)
        lo, hi = percentile_ci(b, n_items) if b.size else (float("nan"), float("nan"))
        rows.append({"component": c, "estimate": float(point[c][0]), "ci_low": lo, "ci_high": hi,
                     "variance": float(point["var:" + c][0]), "n": n_items, "n_rows": cells.n_rows,
                     "imputed_cells": cells.imputed_share})
    head = []
    for h in _HEADLINE:
        b = np.concatenate(boots[h]) if boots[h] else np.zeros(0)
        lo, hi = percentile_ci(b, n_items) if b.size else (float("nan"), float("nan"))
        head.append({"measure": h, "estimate": float(point[h][0]), "ci_low": lo, "ci_high": hi, "n": n_items})
    return pd.DataFrame(rows, columns=VARIANCE_COLUMNS), pd.DataFrame(head, columns=HEADLINE_COLUMNS)


def _estimate(cells: CellArray, marg: dict[frozenset[int], FloatArray], sq: dict[frozenset[int], FloatArray],
              weights: FloatArray) -> dict[str, FloatArray]:
    shape = cells.Y.shape
    # replicates are judged on the data, not per resample, so every draw uses the same model
    has_rep = bool(cells.within_df.sum() > 0)
    tot_df = weights @ cells.within_df
    residual = (weights @ cells.within_ss) / np.maximum(tot_df, 1.0) if has_rep else None
    q = _q_values(marg, sq, weights, shape)
    comp = _components(q, shape, cells.factors, residual / cells.r if residual is not None else None)
    grouped = _shares(comp, residual, cells.factors, weights.shape[0])
    total = sum(grouped.values())
    out: dict[str, FloatArray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for c, v in grouped.items():
            out["var:" + c] = v
            out[c] = np.where(total > 0, v / total, np.nan)
        ms = out["model"] + out["model:lang"] + out["model:framing"]
        us = out["lang"] + out["framing"]
        out["model_side"] = ms
        out["user_side"] = us
        out["model_to_user_ratio"] = np.where(us > 0, ms / us, np.nan)
    return out
