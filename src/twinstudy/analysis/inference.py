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
