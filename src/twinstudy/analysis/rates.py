"""Outcome rates with Wilson intervals.

``rates``: share of trials whose outcome is ``refused``, ``evasive``, ``blocked`` or ``truncated``
per model x lang x instrument x theme (theme "all" = the whole instrument; lang "all" = both
languages). Denominator: every trial with a final outcome except ``error`` (transport failures say
nothing about the model). A ``blocked`` trial (the provider's filter) is never counted as refused.
``n`` = trials, ``k`` = trials with the outcome. Wilson 95% intervals treat trials as independent.

``open_outcomes``: for open items with a judged ``open_outcome``, the share ``complete``,
``evasive`` and ``denial`` per model x lang x instrument x theme, same conventions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .frame import OPEN_OUTCOMES
from .inference import wilson_ci

RATE_OUTCOMES: tuple[str, ...] = ("refused", "evasive", "blocked", "truncated")
RATE_COLUMNS = ["model", "lang", "instrument", "theme", "outcome", "k", "n", "estimate", "ci_low", "ci_high"]


def _codes(series: pd.Series) -> tuple[np.ndarray, list[str]]:  # type: ignore[type-arg]
    codes, uniques = pd.factorize(series.astype(str) if not isinstance(series.dtype, pd.CategoricalDtype)
                                  else series, sort=True)
    return codes.astype(np.int64), [str(u) for u in uniques]


def _rate_table(sub: pd.DataFrame, column: str, values: tuple[str, ...]) -> pd.DataFrame:
    """Long rate rows for the trials in ``sub`` (model, lang, instrument, theme, ``column``)."""
    if sub.empty:
        return pd.DataFrame(columns=RATE_COLUMNS)
    (m, m_names), (lg, l_names), (ins, i_names), (th, t_names) = (
        _codes(sub[c]) for c in ("model", "lang", "instrument", "theme"))
    nl, nt = len(l_names) + 1, len(t_names) + 1  # last level = "all"
    shape = (len(m_names), nl, len(i_names), nt)
    size = int(np.prod(shape))
    target = sub[column].astype(str).to_numpy()
    n = np.zeros(size)
    k = {v: np.zeros(size) for v in values}
    hits = {v: (target == v).astype(np.float64) for v in values}
    for l_idx in (lg, np.full_like(lg, nl - 1)):
        for t_idx in (th, np.full_like(th, nt - 1)):
            flat = np.ravel_multi_index((m, l_idx, ins, t_idx), shape)
            n += np.bincount(flat, minlength=size)
            for v in values:
                k[v] += np.bincount(flat, weights=hits[v], minlength=size)
    present = np.flatnonzero(n > 0)
    mi, li, ii, ti = np.unravel_index(present, shape)
    lang_names = [*l_names, "all"]
    theme_names = [*t_names, "all"]
    parts = []
    for v in values:
        parts.append(pd.DataFrame({
            "model": np.array(m_names, dtype=object)[mi], "lang": np.array(lang_names, dtype=object)[li],
            "instrument": np.array(i_names, dtype=object)[ii], "theme": np.array(theme_names, dtype=object)[ti],
            "outcome": v, "k": k[v][present].astype(np.int64), "n": n[present].astype(np.int64)}))
    long = pd.concat(parts, ignore_index=True)
    long["estimate"] = long["k"] / long["n"]
    lo, hi = wilson_ci(long["k"].to_numpy(), long["n"].to_numpy())
    long["ci_low"], long["ci_high"] = lo, hi
    long = long.sort_values(["outcome", "model", "instrument", "theme", "lang"], kind="stable")
    return long[RATE_COLUMNS].reset_index(drop=True)


def outcome_rates(frame: pd.DataFrame) -> pd.DataFrame:
    sub = frame.loc[(frame["outcome"] != "error").to_numpy(), ["model", "lang", "instrument", "theme", "outcome"]]
    return _rate_table(sub, "outcome", RATE_OUTCOMES)


def open_outcome_rates(frame: pd.DataFrame) -> pd.DataFrame:
    sub = frame.loc[frame["open_outcome"].notna().to_numpy(), ["model", "lang", "instrument", "theme", "open_outcome"]]
    return _rate_table(sub, "open_outcome", OPEN_OUTCOMES)
