"""Profiles (mean score per model x theme) and the origin contrast built on them.

Profile: answered Likert trials under the profile framing (``neutral`` when the frame has any
neutral trials, otherwise all framings pooled; the ``framing`` column says which). Per model x
theme x lang (lang "all" pools both languages; theme "all" pools every theme, item by item, and
comes first because per-theme rows rest on few items): item means (samples, then cells, averaged)
and their mean over items. Interval: cluster bootstrap over items, or a t interval on item means
below 10 items, none below 3; the pooled row uses a stratified t interval (themes are fixed by the
instrument, items random within them). ``ci_kind`` names it; ``flag`` warns when a row rests on
few items.
``n`` = number of items. ``refusal_rate`` is the share of the model's Likert trials in that row
(same framing, theme and language, transport errors left out) that were refused, evasive or
blocked, and ``empty_cells`` the share of its cells with no answered trial at all: the estimate
describes the answered part only, and refusals are rarely ignorable.

Origin contrast (CN vs US, or any two origins), with the *company* as the unit: variants of one
company's model (thinking on/off, quantisations, system prompts) are not independent draws of an
origin, so counting them as such overstates the evidence (pseudo-replication). Stage 1: each
model's profile mean (as above); stage 1b: mean over the models of each company (``company`` from
the model metadata; a model without one is its own company). Stage 2: difference of the origin
groups' averages of company means, with the pooled between-company variance
``s^2 (1/n_a + 1/n_b)`` and a t interval on ``n_a + n_b - 2`` degrees of freedom. Beside it an
exact permutation p-value over every relabelling of the companies (``p_perm``) and the smallest
value it can take (``p_perm_min``): with 3 v 3 companies that is 0.10, so no permutation test can
reject at 5 %, and a t-test p below 0.05 leans entirely on the normality of six means. ``note``
says this in words. ``p_adj``: Benjamini-Hochberg over every row of the table. ``n`` = companies.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from twinstudy.vocab import LIKERT_TYPES

from .bootstrap import KIND_NONE, KIND_STRAT, ci_kind, few_items_flag, summarize_columns
from .cells import item_matrix, likert_cells
from .inference import benjamini_hochberg

PROFILE_COLUMNS = ["model", "origin", "theme", "lang", "framing", "estimate", "ci_low", "ci_high", "se", "n",
                   "ci_kind", "flag", "refusal_rate", "empty_cells"]
CONTRAST_COLUMNS = [
    "origin_a", "origin_b", "theme", "framing", "estimate", "ci_low", "ci_high", "se", "df", "p_value",
    "p_perm", "p_perm_min", "p_adj", "n", "n_a", "n_b", "n_items", "models_a", "models_b", "companies_a",
    "companies_b", "ci_kind", "note",
]
NOT_ANSWERED = ("refused", "evasive", "blocked")


def profile_cells(cells: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Cells under the profile framing, and the framing's label."""
    neutral = cells["framing"] == "neutral"
    if neutral.any():
        return cells.loc[neutral], "neutral"
    return cells, "all"


def _origin_map(frame: pd.DataFrame) -> dict[str, str]:
    pairs = frame[["model", "origin"]].drop_duplicates("model")
    return {str(m): str(o) for m, o in zip(pairs["model"], pairs["origin"], strict=True)}


def _company_map(frame: pd.DataFrame) -> dict[str, str]:
    pairs = frame[["model", "company"]].drop_duplicates("model")
    out = {}
    for m, c in zip(pairs["model"], pairs["company"], strict=True):
        known = c is not None and c == c and str(c).strip() and str(c).lower() not in ("unknown", "none")
        out[str(m)] = str(c) if known else f"model:{m}"
    return out


def refusal_table(frame: pd.DataFrame, framing: str) -> pd.DataFrame:
    """Per model x theme x lang ("all" pooled in both): not-answered share and empty-cell share.

    Likert trials under ``framing`` ("all" = every framing), transport errors left out.
    """
    lik = frame.loc[frame["item_type"].isin(LIKERT_TYPES).to_numpy() & (frame["outcome"] != "error").to_numpy()]
    if framing != "all":
        lik = lik.loc[(lik["framing"] == framing).to_numpy()]
    cols = ["model", "theme", "lang", "refusal_rate", "empty_cells"]
    if lik.empty:
        return pd.DataFrame(columns=cols)
    base = pd.DataFrame({
        "model": lik["model"].astype(str).to_numpy(), "theme": lik["theme"].astype(str).to_numpy(),
        "lang": lik["lang"].astype(str).to_numpy(), "item": lik["item"].astype(str).to_numpy(),
        "cell": (lik["item"].astype(str) + "|" + lik["framing"].astype(str) + "|"
                 + lik["paraphrase"].astype(str)).to_numpy(),
        "refused": lik["outcome"].isin(NOT_ANSWERED).to_numpy(),
        "answered": (lik["outcome"] == "answered").to_numpy(),
    })
    parts = []
    for theme_all in (False, True):
        for lang_all in (False, True):
            b = base.assign(**({"theme": "all"} if theme_all else {}), **({"lang": "all"} if lang_all else {}))
            g = b.groupby(["model", "theme", "lang"], sort=True)
            keys = ["model", "theme", "lang", "cell"] + (["orig_lang"] if lang_all else [])
            cell = b.assign(orig_lang=base["lang"]).groupby(keys, sort=True)["answered"]
            empty = (~cell.any()).groupby(level=[0, 1, 2]).mean()
            parts.append(pd.DataFrame({"refusal_rate": g["refused"].mean(), "empty_cells": empty}).reset_index())
    return pd.concat(parts, ignore_index=True)[cols]


def profiles(frame: pd.DataFrame, n_boot: int = 2000, seed: int = 0,
             cells: pd.DataFrame | None = None) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 1])
    cells = likert_cells(frame) if cells is None else cells
    sub, framing = profile_cells(cells)
    if sub.empty:
        return pd.DataFrame(columns=PROFILE_COLUMNS)
    origin_of = _origin_map(frame)
    langs = sorted(str(v) for v in pd.unique(sub["lang"]))
    rows: list[dict[str, object]] = []
    groups: list[tuple[str, pd.DataFrame]] = [("all", sub)]
    if sub["theme"].nunique() > 1:
        groups += [(str(t), g) for t, g in sub.groupby("theme", observed=True, sort=True)]
    else:
        groups = [(str(sub["theme"].iloc[0]), sub)]
    for theme, tcells in groups:
        for lang in ["all", *langs]:
            c = tcells if lang == "all" else tcells.loc[tcells["lang"] == lang]
            if c.empty:
                continue
            mat = item_matrix(c, "score", "model")
            strata = None
            if theme == "all":
                theme_of = c.drop_duplicates("item").set_index("item")["theme"]
                strata = theme_of.reindex(mat.index).astype(str).to_numpy()
            res = summarize_columns(mat.to_numpy(dtype=np.float64), rng, n_boot, strata=strata)
            for j, model in enumerate(mat.columns):
                nj = float(res["n"][j])
                kind = ci_kind(nj, n_boot > 0)
                if strata is not None and kind != KIND_NONE and n_boot > 0:
                    kind = KIND_STRAT
                rows.append({"model": model, "origin": origin_of.get(model), "theme": theme, "lang": lang,
                             "framing": framing, **{k: float(v[j]) for k, v in res.items()},
                             "ci_kind": kind, "flag": few_items_flag(nj)})
    out = pd.DataFrame(rows)
    ref = refusal_table(frame, framing)
    out = out.merge(ref, on=["model", "theme", "lang"], how="left")
    out = out.reindex(columns=PROFILE_COLUMNS)
    out["n"] = out["n"].astype(int)
    out["_all"] = out["theme"] != "all"
    out = out.sort_values(["_all", "model", "theme", "lang"], kind="stable").drop(columns="_all")
    return out.reset_index(drop=True)


def origin_contrast(frame: pd.DataFrame, level: float = 0.95, cells: pd.DataFrame | None = None) -> pd.DataFrame:
    """Two-stage contrast of origins per theme (and "all" themes pooled by item), companies as units."""
    cells = likert_cells(frame) if cells is None else cells
    sub, framing = profile_cells(cells)
    if sub.empty:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    origin_of = _origin_map(frame)
    company_of = _company_map(frame)
    groups: list[tuple[str, pd.DataFrame]] = [("all", sub)]
    groups += [(str(t), g) for t, g in sub.groupby("theme", observed=True, sort=True)]
    rows: list[dict[str, object]] = []
    for theme, c in groups:
        mat = item_matrix(c, "score", "model")
        means = {m: float(np.nanmean(mat[m].to_numpy(dtype=np.float64))) for m in mat.columns}
        # company means; a company that spans origins is split by origin
        comp: dict[tuple[str, str], list[float]] = {}
        for m, v in means.items():
            comp.setdefault((origin_of[m], company_of[m]), []).append(v)
        cmean = {k: float(np.mean(v)) for k, v in comp.items()}
        origins = sorted({o for o, _ in cmean})
        if "CN" in origins and "US" in origins:
            order = [("CN", "US")] + [(a, b) for i, a in enumerate(origins) for b in origins[i + 1:]
                                      if (a, b) != ("CN", "US")]
        else:
            order = [(a, b) for i, a in enumerate(origins) for b in origins[i + 1:]]
        for oa, ob in order:
            ca = sorted(k for k in cmean if k[0] == oa)
            cb = sorted(k for k in cmean if k[0] == ob)
            row = _two_stage(np.array([cmean[k] for k in ca]), np.array([cmean[k] for k in cb]), level)
            rows.append({"origin_a": oa, "origin_b": ob, "theme": theme, "framing": framing, **row,
                         "n_items": len(mat),
                         "models_a": ",".join(sorted(m for m in means if origin_of[m] == oa)),
                         "models_b": ",".join(sorted(m for m in means if origin_of[m] == ob)),
                         "companies_a": ",".join(k[1] for k in ca), "companies_b": ",".join(k[1] for k in cb)})
    out = pd.DataFrame(rows, columns=CONTRAST_COLUMNS)
    out["p_adj"] = benjamini_hochberg(out["p_value"].to_numpy(dtype=np.float64))
    out["_all"] = out["theme"] != "all"
    out = out.sort_values(["origin_a", "origin_b", "_all", "theme"], kind="stable").drop(columns="_all")
    return out.reset_index(drop=True)


def permutation_p(xa: np.ndarray, xb: np.ndarray) -> tuple[float, float]:
    """Exact two-sided permutation p of the difference in means over all relabellings, and its minimum."""
    x = np.concatenate([xa, xb])
    na, n = xa.size, xa.size + xb.size
    if na == 0 or na == n:
        return float("nan"), float("nan")
    idx = list(combinations(range(n), na))
    if len(idx) > 200_000:
        return float("nan"), float("nan")
    sel = np.zeros((len(idx), n), dtype=bool)
    for r, c in enumerate(idx):
        sel[r, list(c)] = True
    tot = x.sum()
    sa = sel @ x
    diff = sa / na - (tot - sa) / (n - na)
    obs = abs(float(xa.mean() - xb.mean()))
    tol = 1e-12 * max(1.0, float(np.abs(x).max()))
    p = float(np.mean(np.abs(diff) >= obs - tol))
    # the smallest attainable p: the observed labelling alone, and its mirror when the groups are equal
    p_min = (2.0 if na == n - na else 1.0) / len(idx)
    return p, min(p_min, 1.0)


def _note(na: int, nb: int, p_min: float) -> str:
    if na == 0 or nb == 0:
        return "one origin has no company: no contrast"
    if na + nb - 2 < 1:
        return f"{na} v {nb} companies: no between-company variance, so no interval and no test"
    text = (f"{na} v {nb} companies: the t interval assumes company means are normal; an exact permutation "
            f"test cannot go below p = {p_min:.2g}")
    if p_min > 0.05:
        text += ", so it can never reject at 5 %; treat any significance as provisional"
    return text


def _two_stage(xa: np.ndarray, xb: np.ndarray, level: float) -> dict[str, float | int | str]:
    na, nb = xa.size, xb.size
    nan = float("nan")
    out: dict[str, float | int | str] = {"estimate": nan, "ci_low": nan, "ci_high": nan, "se": nan, "df": nan,
                                         "p_value": nan, "p_perm": nan, "p_perm_min": nan, "n": na + nb,
                                         "n_a": na, "n_b": nb, "ci_kind": "none", "note": ""}
    if na == 0 or nb == 0:
        out["note"] = _note(na, nb, nan)
        return out
    est = float(xa.mean() - xb.mean())
    out["estimate"] = est
    p_perm, p_min = permutation_p(xa, xb)
    out["p_perm"], out["p_perm_min"] = p_perm, p_min
    out["note"] = _note(na, nb, p_min)
    df = na + nb - 2
    if df < 1:
        return out
    ss = float(((xa - xa.mean()) ** 2).sum() + ((xb - xb.mean()) ** 2).sum())
    s2 = ss / df
    se = math.sqrt(s2 * (1.0 / na + 1.0 / nb))
    t = float(stats.t.ppf(0.5 + level / 2.0, df))
    out.update({"se": se, "df": float(df), "ci_low": est - t * se, "ci_high": est + t * se,
                "ci_kind": "two-stage t, companies as units"})
    if se > 0:
        out["p_value"] = float(2.0 * stats.t.sf(abs(est) / se, df))
    else:
        out["p_value"] = 1.0 if est == 0 else 0.0
    return out
