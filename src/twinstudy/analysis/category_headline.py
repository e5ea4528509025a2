"""The headline of the category analysis (issue 17): does an open answer follow the model's origin
or the culture the user brought?

Estimand (the same sentence as :data:`twinstudy.analysis.methods.METHODS`): the 2 x 2 of model
origin (CN, US) by user culture (cn, us), over the culture-framing cells only, so both effects are
main effects of one balanced table on the same cells: ``origin_effect`` = mean over the two
cultures of (CN - US), ``culture_effect`` = mean over the two origins of (cn - us), and
``difference`` = |origin_effect| - |culture_effect| with its own interval: the range of |o| - |c|
over the box of the 97.5 % item intervals of o + c and o - c (a projection interval, conservative;
see :func:`_difference_ci` for why not a bootstrap of it). The verdict (:func:`verdict`) reads the
three intervals.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from .bootstrap import FloatArray, ci_kind, summarize_columns
from .categories import CodebookLike, Coded, prepare
from .category_arrays import item_column_means, level_diff, model_array, origins_of, pool_origins

HEADLINE_COLUMNS = ["codebook", "category", "verdict", "larger", "origin_effect", "origin_low", "origin_high",
                    "culture_effect", "culture_low", "culture_high", "difference", "difference_low",
                    "difference_high", "n", "ci_kind", "reason", "coder"]

#: The verdicts of the headline, each defined in :func:`verdict`.
VERDICTS: tuple[str, ...] = ("origin", "user culture", "both", "neither detectable", "cannot tell")


def _excludes_zero(lo: float, hi: float) -> bool:
    return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))


def verdict(origin: tuple[float, float], culture: tuple[float, float], difference: tuple[float, float]
            ) -> tuple[str, str, str]:
    """(verdict, larger, reason) from the 95 % intervals of the origin effect, the user-culture
    effect and ``|origin| - |culture|``.

    - ``cannot tell``: an effect has no interval (the study lacks culture framings, models of one
      origin, or items), or exactly one effect excludes 0 but the difference interval does not show it
      larger than the other (the other's interval still allows an effect as large);
    - ``origin``: the origin interval excludes 0, the culture interval includes 0, and the difference
      interval lies above 0 (symmetrically ``user culture``);
    - ``both``: both intervals exclude 0 (``larger`` says which is larger when the difference interval
      excludes 0);
    - ``neither detectable``: both intervals include 0 (no effect shown; not evidence of none).

    ``larger``: ``origin`` / ``user culture`` when the difference interval lies above / below 0,
    otherwise ``not shown``.
    """
    (olo, ohi), (clo, chi), (dlo, dhi) = origin, culture, difference
    larger = ("origin" if np.isfinite(dlo) and dlo > 0 else
              "user culture" if np.isfinite(dhi) and dhi < 0 else "not shown")
    if not all(np.isfinite(v) for v in (olo, ohi)):
        return "cannot tell", larger, "the origin effect has no interval (needs CN and US models and 3+ items)"
    if not all(np.isfinite(v) for v in (clo, chi)):
        return "cannot tell", larger, "the user-culture effect has no interval (needs culture cn and us framings)"
    o, u = _excludes_zero(olo, ohi), _excludes_zero(clo, chi)
    if o and u:
        return "both", larger, "both intervals exclude 0"
    if not o and not u:
        return "neither detectable", larger, "both intervals include 0: no effect shown, which is not evidence of none"
    side, other = ("origin", "user culture") if o else ("user culture", "origin")
    if larger == side:
        return side, larger, f"only the {side} interval excludes 0 and |{side}| is larger than |{other}|"
    return "cannot tell", larger, (f"only the {side} interval excludes 0, but it is not shown larger than the "
                                   f"{other} effect, whose interval allows one as large")


def _headline_effects(c: Coded) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64], str]:
    """Item-level (n_items, K) origin and culture effects over the culture-framing cells, or over
    all framings (culture NaN) with a note saying why."""
    item_levels = sorted(set(c.cells["item"]))
    item_pos = {it: j for j, it in enumerate(item_levels)}
    n_items, K = len(item_levels), len(c.cols)
    nan = np.full((n_items, K), np.nan)
    origins = set(origins_of(c))
    if not {"CN", "US"} <= origins:
        return nan, nan, np.zeros(0, np.int64), "needs models of both origins CN and US"
    base = ["item", "lang", "paraphrase"]
    bkeys, diff3, s_cn, s_us = level_diff(c, "culture", "cn", "us", base)
    if len(bkeys) == 0:
        idx, arr = model_array(c.cells, ["item", "lang", "framing", "paraphrase"], c)
        o_rows = pool_origins(arr, c, c.models, ["CN"]) - pool_origins(arr, c, c.models, ["US"])
        it = idx["item"].map(item_pos).to_numpy(dtype=np.int64)
        o_items, _ = item_column_means(it, o_rows, n_items)
        return o_items, nan, it, "the study has no culture framings (culture: cn and us): origin over all framings"
    o_rows = 0.5 * ((pool_origins(s_cn, c, c.models, ["CN"]) - pool_origins(s_cn, c, c.models, ["US"]))
                    + (pool_origins(s_us, c, c.models, ["CN"]) - pool_origins(s_us, c, c.models, ["US"])))
    c_rows = 0.5 * (pool_origins(diff3, c, c.models, ["CN"]) + pool_origins(diff3, c, c.models, ["US"]))
    ok = np.isfinite(o_rows) & np.isfinite(c_rows)
    o_rows, c_rows = np.where(ok, o_rows, np.nan), np.where(ok, c_rows, np.nan)
    it = bkeys["item"].map(item_pos).to_numpy(dtype=np.int64)
    o_items, _ = item_column_means(it, o_rows, n_items)
    c_items, _ = item_column_means(it, c_rows, n_items)
    return o_items, c_items, it, ""


def _abs_difference(s: FloatArray, d: FloatArray) -> FloatArray:
    """|o| - |c| written in s = o + c and d = o - c: sign(s) sign(d) min(|s|, |d|)."""
    out: FloatArray = np.sign(s) * np.sign(d) * np.minimum(np.abs(s), np.abs(d))
    return out


def _range_over_box(slo: float, shi: float, dlo: float, dhi: float) -> tuple[float, float]:
    """Smallest and largest |o| - |c| over the box [slo, shi] x [dlo, dhi] of (s, d).

    The function is linear between the lines s = 0, d = 0, s = d and s = -d, so its extremes lie
    at the box's corners, where those lines cross its edges, or at the origin."""
    if not all(np.isfinite(v) for v in (slo, shi, dlo, dhi)):
        return float("nan"), float("nan")
    pts = [(a, b) for a in (slo, shi) for b in (dlo, dhi)]
    for a in (slo, shi):
        pts += [(a, b) for b in (a, -a, 0.0) if dlo <= b <= dhi]
    for b in (dlo, dhi):
        pts += [(a, b) for a in (b, -b, 0.0) if slo <= a <= shi]
    if slo <= 0 <= shi and dlo <= 0 <= dhi:
        pts.append((0.0, 0.0))
    arr = np.array(pts, dtype=np.float64)
    vals = _abs_difference(arr[:, 0], arr[:, 1])
    return float(vals.min()), float(vals.max())


def _difference_ci(o: FloatArray, u: FloatArray, rng: np.random.Generator, n_boot: int,
                   level: float = 0.95) -> tuple[FloatArray, FloatArray, FloatArray]:
    """|mean o| - |mean u| per column, with a projection interval.

    |o| - |u| is not a smooth function of (o, u) where either is 0, and there no bootstrap of it is
    consistent: a percentile interval covered 0.84-0.86 in bench/category_recovery.py when one effect
    was 0 (|mean u| is biased away from 0). It is smooth in s = o + u and d = o - u apart from
    sign changes (|o| - |u| = sign(s) sign(d) min(|s|, |d|)), whose item means have ordinary item
    intervals. The interval is the range of |o| - |u| over the box of the two (1 - (1 - level)/2)
    intervals of s and d (Bonferroni), which holds both with probability >= level, so it covers
    |o| - |u| at least that often: conservative by construction, and narrower than the same
    projection from the intervals of o and u (the half-widths add there)."""
    alpha_each = (1.0 - level) / 2.0
    res = summarize_columns(np.concatenate([o + u, o - u], axis=1), rng, n_boot, level=1.0 - alpha_each)
    k = o.shape[1]
    est = _abs_difference(res["estimate"][:k], res["estimate"][k:])
    lo, hi = np.full(k, np.nan), np.full(k, np.nan)
    for j in range(k):
        lo[j], hi[j] = _range_over_box(float(res["ci_low"][j]), float(res["ci_high"][j]),
                                       float(res["ci_low"][k + j]), float(res["ci_high"][k + j]))
    return est, lo, hi


def category_headline(frame: pd.DataFrame, book: CodebookLike, n_boot: int = 1000, seed: int = 0,
                      coded: Coded | None = None) -> pd.DataFrame:
    """Per category: origin effect, user-culture effect, |origin| - |culture|, and the verdict."""
    c = prepare(frame, book) if coded is None else coded
    rng = np.random.default_rng([seed, 17, 3])
    if c.cells.empty:
        return pd.DataFrame(columns=HEADLINE_COLUMNS)
    o_items, c_items, _, note = _headline_effects(c)
    K = len(c.cols)
    res_o = summarize_columns(o_items, rng, n_boot) if o_items.shape[0] else None
    res_c = summarize_columns(c_items, rng, n_boot) if c_items.shape[0] else None
    d_est, d_lo, d_hi = _difference_ci(o_items, c_items, rng, n_boot)
    nan = np.full(K, np.nan)

    def pick(res: Mapping[str, FloatArray] | None, key: str) -> FloatArray:
        return nan if res is None else res[key]

    rows = []
    for k, cat in enumerate(c.categories):
        o = (float(pick(res_o, "ci_low")[k]), float(pick(res_o, "ci_high")[k]))
        u = (float(pick(res_c, "ci_low")[k]), float(pick(res_c, "ci_high")[k]))
        d = (float(d_lo[k]), float(d_hi[k]))
        v, larger, reason = verdict(o, u, d)
        if note and v == "cannot tell":
            reason = note
        nk = float(pick(res_c, "n")[k]) if np.isfinite(pick(res_c, "n")[k]) else float(pick(res_o, "n")[k])
        nk = nk if np.isfinite(nk) else 0.0
        rows.append({"codebook": c.codebook, "category": cat, "verdict": v, "larger": larger,
                     "origin_effect": float(pick(res_o, "estimate")[k]), "origin_low": o[0], "origin_high": o[1],
                     "culture_effect": float(pick(res_c, "estimate")[k]), "culture_low": u[0],
                     "culture_high": u[1], "difference": float(d_est[k]), "difference_low": d[0],
                     "difference_high": d[1], "n": int(nk),
                     "ci_kind": f"{ci_kind(nk, n_boot > 0)}; difference: conservative projection of those intervals",
                     "reason": reason, "coder": c.coder})
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)
