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

import pandas as pd

from .frame import OPEN_OUTCOMES
from .inference import wilson_ci

RATE_OUTCOMES: tuple[str, ...] = ("refused", "evasive", "blocked", "truncated")
RATE_COLUMNS = ["model", "lang", "instrument", "theme", "outcome", "k", "n", "estimate", "ci_low", "ci_high"]


def _rate_table(base: pd.DataFrame, column: str, values: tuple[str, ...]) -> pd.DataFrame:
    """base has model, lang, instrument, theme and ``column``; returns long rate rows."""
    if base.empty:
        return pd.DataFrame(columns=RATE_COLUMNS)
    dummies = pd.DataFrame({v: (base[column] == v).to_numpy() for v in values})
    keys = base[["model", "lang", "instrument", "theme"]].reset_index(drop=True)
    data = pd.concat([keys, dummies], axis=1)
    parts = []
    for lang_all in (False, True):
        for theme_all in (False, True):
            d = data.copy() if (lang_all or theme_all) else data
            if lang_all:
                d["lang"] = "all"
            if theme_all:
                d["theme"] = "all"
            g = d.groupby(["model", "lang", "instrument", "theme"], sort=True, observed=True)
            agg = g[list(values)].sum()
            agg["n"] = g.size()
            parts.append(agg.reset_index())
    wide = pd.concat(parts, ignore_index=True)
    long = wide.melt(id_vars=["model", "lang", "instrument", "theme", "n"], value_vars=list(values),
                     var_name="outcome", value_name="k")
    long = long.drop_duplicates(["model", "lang", "instrument", "theme", "outcome"])
    long["k"] = long["k"].astype(int)
    long["n"] = long["n"].astype(int)
    long["estimate"] = long["k"] / long["n"]
    lo, hi = wilson_ci(long["k"].to_numpy(), long["n"].to_numpy())
    long["ci_low"], long["ci_high"] = lo, hi
    long = long.sort_values(["outcome", "model", "instrument", "theme", "lang"], kind="stable")
    return long[RATE_COLUMNS].reset_index(drop=True)


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({c: frame[c].astype(str).to_numpy() for c in ("model", "lang", "instrument", "theme")})


def outcome_rates(frame: pd.DataFrame) -> pd.DataFrame:
    sub = frame.loc[frame["outcome"] != "error"]
    base = _keys(sub)
    base["outcome"] = sub["outcome"].astype(str).to_numpy()
    return _rate_table(base, "outcome", RATE_OUTCOMES)


def open_outcome_rates(frame: pd.DataFrame) -> pd.DataFrame:
    sub = frame.loc[frame["open_outcome"].notna()]
    base = _keys(sub)
    base["open_outcome"] = sub["open_outcome"].astype(str).to_numpy()
    return _rate_table(base, "open_outcome", OPEN_OUTCOMES)
