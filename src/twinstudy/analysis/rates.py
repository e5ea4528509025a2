"""Outcome rates with item-clustered intervals.

``rates``: share of trials whose outcome is ``refused``, ``evasive``, ``blocked`` or ``truncated``
per model x lang x instrument x theme (theme "all" = the whole instrument; lang "all" = both
languages). Denominator: every trial with a final outcome except ``error`` (transport failures say
nothing about the model). A ``blocked`` trial (the provider's filter) is never counted as refused.
``n`` = trials, ``k`` = trials with the outcome, ``n_items`` = items.

Interval: refusing is mostly a property of the item (a model refuses the same question again and
again), so trials are not independent; a plain Wilson interval on trials covered 0.21-0.83 in the
statistical review. The interval here is a Wilson interval on the design-effect-adjusted sample
size, items as clusters (:func:`twinstudy.analysis.inference.cluster_wilson`); ``deff`` is the
design effect. ``ci_kind`` names it.

``open_outcomes``: for open items with a judged ``open_outcome``, the share ``complete``,
``evasive`` and ``denial`` per model x lang x instrument x theme, same conventions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .frame import OPEN_OUTCOMES
from .inference import cluster_wilson

RATE_OUTCOMES: tuple[str, ...] = ("refused", "evasive", "blocked", "truncated")
RATE_COLUMNS = ["model", "lang", "instrument", "theme", "outcome", "k", "n", "n_items", "estimate", "ci_low",
                "ci_high", "deff", "ci_kind"]
CI_KIND_RATE = "Wilson on design-effect-adjusted n, items as clusters"


def clustered_rates(base: pd.DataFrame, keys: list[str], hit: str) -> pd.DataFrame:
    """Rate of the boolean column ``hit`` per ``keys``, with item-clustered Wilson intervals.

    ``base`` has ``keys``, ``item`` and ``hit``. Returns keys, k, n, n_items, estimate, ci_low,
    ci_high, deff, ci_kind. Vectorised with integer codes (one pass of bincounts), because the rate
    tables have many rows.
    """
    cols = [*keys, "item"]
    if base.empty:
        return pd.DataFrame(columns=[*keys, "k", "n", "n_items", "estimate", "ci_low", "ci_high", "deff", "ci_kind"])
    codes, uniques = [], []
    for c in cols:
        cd, un = pd.factorize(base[c], sort=True)
        codes.append(cd.astype(np.int64))
        uniques.append(un)
    dims = tuple(len(u) for u in uniques)
    cell_key, cell_inv = np.unique(np.ravel_multi_index(tuple(codes), dims), return_inverse=True)
    x = base[hit].to_numpy().astype(np.float64)
    ni = np.bincount(cell_inv).astype(np.float64)
    ki = np.bincount(cell_inv, weights=x)
    row_of_cell = np.unravel_index(cell_key, dims)[:-1]
    row_key, row_inv = np.unique(np.ravel_multi_index(row_of_cell, dims[:-1]), return_inverse=True)
    agg = {name: np.bincount(row_inv, weights=w) for name, w in
           (("k", ki), ("n", ni), ("kk", ki**2), ("kn", ki * ni), ("nn", ni**2), ("g", np.ones_like(ni)))}
    lo, hi, deff = cluster_wilson(agg["k"], agg["n"], agg["kk"], agg["kn"], agg["nn"], agg["g"])
    idx = np.unravel_index(row_key, dims[:-1])
    out = pd.DataFrame({c: np.asarray(uniques[j], dtype=object)[idx[j]] for j, c in enumerate(keys)})
    out["k"] = agg["k"].astype(np.int64)
    out["n"] = agg["n"].astype(np.int64)
    out["n_items"] = agg["g"].astype(np.int64)
    out["estimate"] = agg["k"] / agg["n"]
    out["ci_low"], out["ci_high"], out["deff"] = lo, hi, deff
    out["ci_kind"] = np.where(out["n_items"] >= 2, CI_KIND_RATE, "none: one item")
    return out


def _rate_table(sub: pd.DataFrame, column: str, values: tuple[str, ...]) -> pd.DataFrame:
    """Long rate rows for the trials in ``sub`` (model, lang, instrument, theme, item, ``column``)."""
    if sub.empty:
        return pd.DataFrame(columns=RATE_COLUMNS)
    base = pd.DataFrame({c: sub[c].astype(str).to_numpy() for c in ("model", "lang", "instrument", "theme")})
    base["item"] = sub["instrument"].astype(str).to_numpy() + "/" + sub["item"].astype(str).to_numpy()
    target = sub[column].astype(str).to_numpy()
    parts = []
    for v in values:
        b = base.assign(hit=target == v)
        for lang_all in (False, True):
            for theme_all in (False, True):
                bb = b.assign(**({"lang": "all"} if lang_all else {}), **({"theme": "all"} if theme_all else {}))
                r = clustered_rates(bb, ["model", "lang", "instrument", "theme"], "hit")
                r["outcome"] = v
                parts.append(r)
    long = pd.concat(parts, ignore_index=True)
    long = long.sort_values(["outcome", "model", "instrument", "theme", "lang"], kind="stable")
    return long[RATE_COLUMNS].reset_index(drop=True)


def outcome_rates(frame: pd.DataFrame) -> pd.DataFrame:
    sub = frame.loc[(frame["outcome"] != "error").to_numpy(),
                    ["model", "lang", "instrument", "theme", "item", "outcome"]]
    return _rate_table(sub, "outcome", RATE_OUTCOMES)


def open_outcome_rates(frame: pd.DataFrame) -> pd.DataFrame:
    sub = frame.loc[frame["open_outcome"].notna().to_numpy(),
                    ["model", "lang", "instrument", "theme", "item", "open_outcome"]]
    return _rate_table(sub, "open_outcome", OPEN_OUTCOMES)
