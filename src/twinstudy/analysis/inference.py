"""Small inference helpers: Benjamini-Hochberg, Wilson intervals, exact McNemar."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

FloatArray = npt.NDArray[np.float64]


def benjamini_hochberg(pvalues: npt.ArrayLike) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1). NaNs pass through."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv)
    ranked = pv[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    adj = np.minimum(adj, 1.0)
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


def wilson_ci(k: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """Wilson score intervals for k successes out of n (vectorised; NaN where n == 0)."""
    kk = np.atleast_1d(np.asarray(k, dtype=np.float64))
    nn = np.atleast_1d(np.asarray(n, dtype=np.float64))
    lo = np.full(kk.shape, np.nan)
    hi = np.full(kk.shape, np.nan)
    ok = nn > 0
    if ok.any():
        low, high = proportion_confint(kk[ok], nn[ok], alpha=1.0 - level, method="wilson")
        lo[ok] = np.asarray(low, dtype=np.float64)
        hi[ok] = np.asarray(high, dtype=np.float64)
    return lo, hi


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts.

    ``b`` = pairs positive only in the first condition, ``c`` = positive only in the second.
    Under H0 the b of the b + c discordant pairs are Binomial(b + c, 1/2); p = 1 when b + c == 0.
    """
    b, c = int(b), int(c)
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    if b + c == 0:
        return 1.0
    return float(stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)


def wilson_z(p: npt.ArrayLike, n: npt.ArrayLike, z: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval for a proportion ``p`` on ``n`` (possibly fractional) trials, quantile ``z``."""
    pp = np.atleast_1d(np.asarray(p, dtype=np.float64))
    nn = np.atleast_1d(np.asarray(n, dtype=np.float64))
    zz = np.broadcast_to(np.asarray(z, dtype=np.float64), pp.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        z2n = zz**2 / nn
        centre = (pp + z2n / 2.0) / (1.0 + z2n)
        half = zz / (1.0 + z2n) * np.sqrt(pp * (1.0 - pp) / nn + zz**2 / (4.0 * nn**2))
    ok = (nn > 0) & np.isfinite(zz)
    lo = np.where(ok, np.clip(centre - half, 0.0, 1.0), np.nan)
    hi = np.where(ok, np.clip(centre + half, 0.0, 1.0), np.nan)
    return lo, hi


def cluster_wilson(k: npt.ArrayLike, n: npt.ArrayLike, s_kk: npt.ArrayLike, s_kn: npt.ArrayLike,
                   s_nn: npt.ArrayLike, g: npt.ArrayLike, level: float = 0.95
                   ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Design-effect-adjusted Wilson interval for a rate over trials clustered in items.

    ``k``, ``n``: events and trials of the row; ``s_kk``, ``s_kn``, ``s_nn``: sums over its items of
    k_i^2, k_i n_i and n_i^2; ``g``: number of items. The cluster-robust (ratio-estimator) variance
    ``V = g/(g-1) sum_i (k_i - p n_i)^2 / n^2`` gives the effective sample size
    ``n_eff = p (1 - p) / V`` (at most n: the design effect is not allowed below 1), and the Wilson
    interval is taken on n_eff with the t quantile on g - 1 degrees of freedom (Korn & Graubard
    1998). When p is 0 or 1 the items carry no variance information; then n_eff = g, as if every
    trial of an item gave the same answer (the conservative end). One item: no interval.
    Returns (low, high, design effect n / n_eff).
    """
    kk = np.atleast_1d(np.asarray(k, dtype=np.float64))
    nn = np.atleast_1d(np.asarray(n, dtype=np.float64))
    gg = np.atleast_1d(np.asarray(g, dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = kk / nn
        ss = np.asarray(s_kk, dtype=np.float64) - 2 * p * np.asarray(s_kn, dtype=np.float64) \
            + p**2 * np.asarray(s_nn, dtype=np.float64)
        v = gg / (gg - 1.0) * np.maximum(ss, 0.0) / nn**2
        n_eff = np.where((p > 0) & (p < 1) & (v > 0), p * (1 - p) / v, gg)
        n_eff = np.minimum(n_eff, nn)
        z = np.where(gg >= 2, stats.t.ppf(0.5 + level / 2.0, np.maximum(gg - 1.0, 1.0)), np.nan)
    lo, hi = wilson_z(p, n_eff, z)
    return lo, hi, nn / n_eff
