"""Cluster bootstrap over items, vectorised with numpy.

Items are the clusters: every estimator first reduces the trials of one item (its samples, its
paraphrases, its languages and framings, as the estimator requires) to one number per item, and
the bootstrap resamples those item-level numbers with replacement. Samples and paraphrases are
thereby nested inside items: resampling an item carries all of its trials along.

A bootstrap draw is a vector of multinomial counts over the items, so the resampled means of many
statistics are one matrix product ``counts @ values``.

Interval: the *expanded percentile* interval (Hesterberg 2015, "What teachers should know about the
bootstrap"). Plain percentile intervals are too narrow for small numbers of clusters, because the
bootstrap variance of a mean is (n-1)/n times the unbiased one and normal tails stand in for t
tails. The expanded interval takes the percentiles at the adjusted level
``alpha'/2 = Phi(-sqrt(n/(n-1)) * t_{n-1, 1-alpha/2})``, which for 20 items turns 2.5 % into
about 1.6 %. It converges to the percentile interval as the number of items grows.

Few items. With k items every bootstrap mean lies inside [min, max] of the k item values, so no
percentile interval can cover more than about 1 - 2^(1-k) (0.875 at k = 4), however it is widened.
Below ``MIN_BOOT_ITEMS`` items the interval is therefore a t interval on the item-level values,
``mean +- t_{k-1} * sd / sqrt(k)`` (k - 1 degrees of freedom), which the benchmark shows holding
its level at k = 4. With fewer than ``MIN_CI_ITEMS`` items no interval is given (NaN), rather than
a degenerate ``[x, x]``. ``ci_kind`` names the interval of every row (:func:`ci_kind`).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: below this many items (clusters) the interval is a t interval on item means, not a bootstrap
MIN_BOOT_ITEMS = 10
#: below this many items no interval is given
MIN_CI_ITEMS = 3
KIND_BOOT = "item bootstrap, expanded percentile"
KIND_T = "t on item means (k-1 df), few items"
KIND_NONE = "none: fewer than 3 items"
KIND_STRAT = "stratified t over items (themes fixed)"
KIND_POINT = "none: point estimate only"


def ci_kind(n_items: float, with_interval: bool = True) -> str:
    """Name of the interval :func:`summarize_columns` gives for ``n_items`` items."""
    if not with_interval:
        return KIND_POINT
    if not np.isfinite(n_items) or n_items < MIN_CI_ITEMS:
        return KIND_NONE
    return KIND_T if n_items < MIN_BOOT_ITEMS else KIND_BOOT


def few_items_flag(n_items: float) -> str:
    """Empty, or a short warning that per-row inference rests on few items."""
    if not np.isfinite(n_items) or n_items < MIN_CI_ITEMS:
        return "too few items for an interval"
    if n_items < MIN_BOOT_ITEMS:
        return f"few items ({int(n_items)}): t interval, read the pooled rows first"
    return ""


def resample_counts(n_items: int, n_boot: int, rng: np.random.Generator) -> IntArray:
    """(n_boot, n_items) multinomial counts: how often each item is drawn in each resample."""
    if n_items <= 0 or n_boot <= 0:
        return np.zeros((max(n_boot, 0), max(n_items, 0)), dtype=np.int64)
    return rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_boot).astype(np.int64)


def stratified_counts(strata: npt.NDArray[np.generic], n_boot: int, rng: np.random.Generator) -> IntArray:
    """(n_boot, n_items) counts that resample items within each stratum (each keeps its size)."""
    _, code = np.unique(strata, return_inverse=True)
    out = np.zeros((n_boot, code.size), dtype=np.int64)
    for g in np.unique(code):
        idx = np.flatnonzero(code == g)
        out[:, idx] = resample_counts(idx.size, n_boot, rng)
    return out


def boot_means(values: FloatArray, n_boot: int, rng: np.random.Generator) -> FloatArray:
    """Bootstrap distribution of the mean of item-level values (NaNs must be removed first).

    ``values`` may be 1-D (n_items,) or 2-D (n_items, k); the result is (n_boot,) or (n_boot, k).
    """
    vals = np.asarray(values, dtype=np.float64)
    n = vals.shape[0]
    counts = resample_counts(n, n_boot, rng).astype(np.float64)
    if n == 0:
        return np.full((n_boot,) + vals.shape[1:], np.nan)
    out: FloatArray = (counts @ vals) / n
    return out


def expanded_alpha(n_clusters: int, level: float = 0.95) -> float:
    """Two-sided tail probability used by the expanded percentile interval."""
    alpha = 1.0 - level
    if n_clusters < 2:
        return float("nan")
    t = float(stats.t.ppf(1.0 - alpha / 2.0, df=n_clusters - 1))
    return float(2.0 * stats.norm.cdf(-math.sqrt(n_clusters / (n_clusters - 1.0)) * t))


def percentile_ci(
    boot: FloatArray, n_clusters: int, level: float = 0.95, expanded: bool = True
) -> tuple[float, float]:
    """Percentile (by default expanded percentile) interval from a bootstrap distribution.

    ``boot`` is 1-D; non-finite draws (e.g. a ratio with a zero denominator) are ignored. Returns
    (nan, nan) with fewer than two clusters or no finite draws.
    """
    b = np.asarray(boot, dtype=np.float64)
    b = b[np.isfinite(b)]
    if n_clusters < 2 or b.size == 0:
        return (float("nan"), float("nan"))
    alpha = expanded_alpha(n_clusters, level) if expanded else 1.0 - level
    lo, hi = np.quantile(b, [alpha / 2.0, 1.0 - alpha / 2.0])
    return (float(lo), float(hi))


def percentile_ci_columns(
    boot: FloatArray, n_clusters: int, level: float = 0.95, expanded: bool = True
) -> tuple[FloatArray, FloatArray]:
    """Column-wise intervals for a (n_boot, k) bootstrap matrix without non-finite values."""
    b = np.asarray(boot, dtype=np.float64)
    k = b.shape[1]
    if n_clusters < 2 or b.shape[0] == 0:
        return (np.full(k, np.nan), np.full(k, np.nan))
    alpha = expanded_alpha(n_clusters, level) if expanded else 1.0 - level
    q = np.nanquantile(b, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    return (np.asarray(q[0], dtype=np.float64), np.asarray(q[1], dtype=np.float64))


def sign_flip_pvalue(
    diffs: FloatArray, rng: np.random.Generator, n_perm: int = 2000, exact_up_to: int = 14
) -> float:
    """Two-sided sign-flip permutation p-value for H0: item-level differences symmetric about 0.

    With at most ``exact_up_to`` items all 2^n sign patterns are enumerated (exact p-value);
    otherwise ``n_perm`` random patterns are drawn and p = (1 + #{|perm| >= |obs|}) / (1 + n_perm).
    """
    d = np.asarray(diffs, dtype=np.float64)
    d = d[np.isfinite(d)]
    n = d.size
    if n == 0:
        return float("nan")
    obs = abs(float(d.mean()))
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))
    if n <= exact_up_to:
        patterns = ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1) * 2 - 1
        stat = np.abs(patterns @ d) / n
        return float(np.mean(stat >= obs - tol))
    signs = rng.integers(0, 2, size=(n_perm, n), dtype=np.int8) * 2 - 1
    stat = np.abs(signs.astype(np.float64) @ d) / n
    return float((1.0 + np.sum(stat >= obs - tol)) / (1.0 + n_perm))


def summarize_columns(
    values: FloatArray,
    rng: np.random.Generator,
    n_boot: int,
    scale: float = 1.0,
    with_p: bool = False,
    level: float = 0.95,
    strata: npt.ArrayLike | None = None,
) -> dict[str, FloatArray]:
    """Column means of an (n_items, k) matrix of item-level values, NaN = item absent for a column.

    ``strata`` (one label per item, e.g. the theme): for a mean over the items of several designed
    themes. The themes are fixed by the instrument, so the spread between themes is not sampling
    noise; an unstratified bootstrap counted it and over-covered (1.00 on the benchmark's pooled
    profile rows), while a bootstrap within strata of 4-6 items under-covered (0.90: its variance is
    (n_h - 1)/n_h of the unbiased one in each stratum). With strata the interval is therefore the
    stratified t interval: ``Var = sum_h n_h s_h^2 / n^2`` (a stratum with one item borrows the pooled
    within-stratum variance) on ``n - H`` degrees of freedom (``KIND_STRAT``).

    All columns share the same item resamples (and sign patterns), so one matrix product gives every
    column's bootstrap distribution. A column with absent items is the ratio
    ``sum(w_i x_i) / sum(w_i)`` over its present items. Returns arrays of length k: estimate,
    ci_low, ci_high, se (bootstrap SD), n (present items) and, with ``with_p``, p_value (sign-flip
    test of the unscaled values against 0; exact when the matrix has at most 14 items).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n_items, k = x.shape
    mask = np.isfinite(x)
    xz = np.where(mask, x, 0.0)
    m = mask.astype(np.float64)
    n = m.sum(axis=0)
    nan = np.full(k, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.where(n > 0, xz.sum(axis=0) / np.maximum(n, 1.0), np.nan) * scale
    out: dict[str, FloatArray] = {"estimate": est, "ci_low": nan.copy(), "ci_high": nan.copy(),
                                  "se": nan.copy(), "n": n}
    if n_boot > 0 and n_items >= 2 and k > 0:
        w = (resample_counts(n_items, n_boot, rng) if strata is None
             else stratified_counts(np.asarray(strata), n_boot, rng)).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = (w @ xz) / (w @ m) * scale
        for n_c in np.unique(n):
            cols = np.flatnonzero(n == n_c)
            if n_c < MIN_BOOT_ITEMS:
                continue
            lo, hi = percentile_ci_columns(boot[:, cols], int(n_c), level)
            out["ci_low"][cols], out["ci_high"][cols] = lo, hi
        big = n >= MIN_BOOT_ITEMS
        if big.any():
            with np.errstate(invalid="ignore"):
                out["se"][big] = np.nanstd(boot[:, big], axis=0, ddof=1)
    if n_boot > 0:
        _t_columns(x, mask, n, scale, level, out)
        if strata is not None:
            _stratified_t_columns(x, mask, np.asarray(strata), n, scale, level, out)
    if with_p:
        out["p_value"] = _sign_flip_columns(xz, n, rng, max(n_boot, 1000))
    return out


def _t_columns(x: FloatArray, mask: npt.NDArray[np.bool_], n: FloatArray, scale: float, level: float,
               out: dict[str, FloatArray]) -> None:
    """t intervals (k - 1 df) for the columns with MIN_CI_ITEMS <= k < MIN_BOOT_ITEMS items."""
    few = np.flatnonzero((n >= MIN_CI_ITEMS) & (n < MIN_BOOT_ITEMS))
    for j in few:
        v = x[mask[:, j], j] * scale
        k = v.size
        sd = float(v.std(ddof=1))
        se = sd / math.sqrt(k)
        t = float(stats.t.ppf(0.5 + level / 2.0, k - 1))
        m = float(v.mean())
        out["ci_low"][j], out["ci_high"][j], out["se"][j] = m - t * se, m + t * se, se


def _stratified_t_columns(x: FloatArray, mask: npt.NDArray[np.bool_], strata: npt.NDArray[np.generic],
                          n: FloatArray, scale: float, level: float, out: dict[str, FloatArray]) -> None:
    """Stratified t intervals for the columns with at least MIN_CI_ITEMS items."""
    _, code = np.unique(strata, return_inverse=True)
    for j in np.flatnonzero(n >= MIN_CI_ITEMS):
        v, g = x[mask[:, j], j] * scale, code[mask[:, j]]
        labels, counts = np.unique(g, return_counts=True)
        ss = np.array([float(((v[g == h] - v[g == h].mean()) ** 2).sum()) for h in labels])
        df = int(v.size - labels.size)
        if df < 1:
            continue
        pooled = float(ss.sum()) / df
        var_h = np.where(counts > 1, ss / np.maximum(counts - 1, 1), pooled)
        se = math.sqrt(float((counts * var_h).sum()) / v.size**2)
        t = float(stats.t.ppf(0.5 + level / 2.0, df))
        m = float(v.mean())
        out["ci_low"][j], out["ci_high"][j], out["se"][j] = m - t * se, m + t * se, se


def _sign_flip_columns(xz: FloatArray, n: FloatArray, rng: np.random.Generator, n_perm: int,
                       exact_up_to: int = 14) -> FloatArray:
    n_items = xz.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        obs = np.abs(xz.sum(axis=0)) / n
    tol = 1e-12 * np.maximum(1.0, np.abs(xz).max(axis=0, initial=0.0))
    if n_items <= exact_up_to:
        patterns = (((np.arange(2**n_items)[:, None] >> np.arange(n_items)[None, :]) & 1) * 2 - 1)
        with np.errstate(invalid="ignore", divide="ignore"):  # columns with no items give NaN
            stat = np.abs(patterns.astype(np.float64) @ xz) / n
            p = np.mean(stat >= obs - tol, axis=0)
    else:
        signs = (rng.integers(0, 2, size=(n_perm, n_items), dtype=np.int8) * 2 - 1).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            stat = np.abs(signs @ xz) / n
            p = (1.0 + np.sum(stat >= obs - tol, axis=0)) / (1.0 + n_perm)
    return np.where(n > 0, p, np.nan)


def summarize_item_values(
    values: FloatArray,
    rng: np.random.Generator,
    n_boot: int,
    scale: float = 1.0,
    with_p: bool = False,
    level: float = 0.95,
) -> dict[str, float]:
    """Mean of item-level values (times ``scale``) with its cluster-bootstrap CI (one column)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    res = summarize_columns(v[:, None], rng, n_boot, scale=scale, with_p=with_p, level=level)
    return {key: float(arr[0]) for key, arr in res.items()}
