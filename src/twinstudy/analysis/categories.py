"""Open answers as data: category shares of coded replies, their contrasts, and the headline
"does the answer follow the model's origin or the culture the user brought?" (issue 17).

Input: a *coded frame* (:func:`twinstudy.coding.frame.coded_frame`): one row per open trial with a
``cat:<id>`` indicator column per category of the codebook (1.0 assigned, 0.0 not, NaN when the
reply was not coded) and ``code_status``. Only replies with ``code_status == "coded"`` enter the
shares; refused, blocked or uncodable replies are counted in ``coded_share`` beside every share
(coded replies / open trials of the items the coder took up), because which replies get coded is
rarely ignorable.

Unit of inference: items, as everywhere in the analysis. A *cell* is item x lang x framing x
paraphrase for one model; samples are averaged inside a cell, cells inside an item, and every
interval resamples items (all trials of an item travel together), with the expanded percentile
interval, a t interval on item means below 10 items and none below 3
(:mod:`twinstudy.analysis.bootstrap`). Because every category column of an item is resampled
together, single-label shares sum to one in the estimate and in every draw; multi-label categories
are separate proportions (an answer may have several or none).

Estimands (the same sentences as :data:`twinstudy.analysis.methods.METHODS`):

- ``category_shares``: per model x lang x framing ("all" pools languages / framings inside items),
  the mean over items of the share of coded replies in each category. Intervals are clipped to
  [0, 1].
- ``category_contrasts``: differences of those shares, each paired over identical cells:

  * ``origin``: CN - US. In each cell, the mean over the origin's *companies* (a company's model
    variants averaged first: they are not independent draws of an origin) minus the same for the
    other origin; cells with both origins only; then items. The models are taken as fixed: the
    interval covers item sampling only, so it answers "do *these* CN models code differently from
    *these* US models on questions like these", not "do CN models in general".
  * ``twin``: model_a - model_b for the pairs the analysis was asked for (``--twins``).
  * ``culture``: within each model, cells under framings that bring up Chinese culture (framing
    ``culture: cn``) minus the same item x lang x paraphrase under American culture (``culture:
    us``); per model, and pooled ("all": origins' averages of company means, averaged).
  * ``identity``: as ``culture`` for the identity framings (identity cn - us).
  * ``language``: within model, EN - ZH over identical item x framing x paraphrase cells (the sign
    of every language difference in the analysis, :mod:`twinstudy.analysis.order`).

- ``category_headline``: the 2 x 2 of model origin (CN, US) by user culture (cn, us), over the
  culture-framing cells only, so both effects are main effects of one balanced table on the same
  cells: ``origin_effect`` = mean over the two cultures of (CN - US), ``culture_effect`` = mean over
  the two origins of (cn - us), and ``difference`` = |origin_effect| - |culture_effect| with its own
  interval: the range of |o| - |c| over the box of the 97.5 % item intervals of o + c and o - c (a
  projection interval, conservative; see :func:`_difference_ci` for why not a bootstrap of it). The verdict
  (:func:`verdict`) reads the three intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from .bootstrap import ci_kind, few_items_flag, summarize_columns
from .framings import with_roles
from .inference import benjamini_hochberg
from .order import ordered_models, origin_rank

FloatArray = npt.NDArray[np.float64]

#: Prefix of the indicator columns; the same as :data:`twinstudy.coding.frame.CAT_PREFIX` (repeated
#: here because the analysis never imports what opens a database; a test checks they agree).
CAT_PREFIX = "cat:"
NONE = "none"
ALL = "all"

SHARE_COLUMNS = ["codebook", "model", "lang", "framing", "category", "estimate", "ci_low", "ci_high", "se", "n",
                 "n_replies", "coded_share", "ci_kind", "flag", "origin", "coder"]
CONTRAST_COLUMNS = ["codebook", "contrast", "model", "lang", "framing", "category", "estimate", "ci_low",
                    "ci_high", "se", "p_value", "p_adj", "n", "n_cells", "level_a", "level_b", "ci_kind", "flag",
                    "coder"]
HEADLINE_COLUMNS = ["codebook", "category", "verdict", "larger", "origin_effect", "origin_low", "origin_high",
                    "culture_effect", "culture_low", "culture_high", "difference", "difference_low",
                    "difference_high", "n", "ci_kind", "reason", "coder"]

#: The verdicts of the headline, each defined in :func:`verdict`.
VERDICTS: tuple[str, ...] = ("origin", "user culture", "both", "neither detectable", "cannot tell")


class CodebookLike(Protocol):
    """What the analysis needs of a codebook (:class:`twinstudy.coding.codebook.Codebook`)."""

    @property
    def id(self) -> str: ...

    @property
    def multi_label(self) -> bool: ...

    @property
    def category_ids(self) -> tuple[str, ...]: ...


# -- preparing the coded frame ------------------------------------------------------------------

@dataclass(frozen=True)
class Coded:
    """A coded frame reduced to cells: what every estimator below starts from."""

    cells: pd.DataFrame       # model, item, lang, framing, paraphrase, culture, identity, cat columns, n
    trials: pd.DataFrame      # model, lang, framing, coded (bool): every non-error open trial
    cols: list[str]           # the cat: columns, in codebook order
    categories: list[str]
    models: list[str]         # convention order (origin, then study order)
    origin: dict[str, str]
    company: dict[str, str]   # model -> company key (origin-scoped; a model without one is its own)
    coder: str
    codebook: str


def _lower_or_none(values: pd.Series) -> pd.Series:  # type: ignore[type-arg]
    out = values.astype(object).where(values.notna(), None)
    return out.map(lambda v: NONE if v is None or str(v).strip() == "" else str(v).strip().lower())


def _culture(frame: pd.DataFrame) -> pd.Series:  # type: ignore[type-arg]
    """The ``culture`` column, or, for frames built without it, the bundled framings' ``culture``."""
    if "culture" in frame.columns:
        return _lower_or_none(frame["culture"])
    try:
        from twinstudy.instruments.loader import load_framings

        defs = {fid: getattr(f, "culture", None) for fid, f in load_framings().items()}
    except Exception:  # noqa: BLE001 - the analysis must not depend on the instrument files loading
        defs = {}
    return _lower_or_none(frame["framing"].astype(str).map(lambda f: defs.get(f)))


def _company_keys(frame: pd.DataFrame) -> dict[str, str]:
    cols = ["model", "origin"] + (["company"] if "company" in frame.columns else [])
    info = frame[cols].drop_duplicates("model")
    out: dict[str, str] = {}
    for row in info.itertuples(index=False):
        m, o = str(row[0]), str(row[1])
        c = row[2] if len(row) > 2 else None
        known = c is not None and c == c and str(c).strip() and str(c).lower() not in ("unknown", "none")
        out[m] = f"{o}/{c}" if known else f"model:{m}"
    return out


def prepare(frame: pd.DataFrame, book: CodebookLike) -> Coded:
    """Reduce a coded frame to cells (coded replies only; samples averaged)."""
    cats = list(book.category_ids)
    cols = [f"{CAT_PREFIX}{c}" for c in cats]
    missing = [c for c in ["model", "origin", "item", "lang", "framing", "paraphrase", "code_status", *cols]
               if c not in frame.columns]
    if missing:
        raise ValueError(f"the coded frame for codebook '{book.id}' lacks column(s) {', '.join(missing)}; build it "
                         "with twinstudy.coding.frame.coded_frame (or attach_codes)")
    df = frame
    if "instrument" in df.columns and len(df):
        pairs = df[["instrument", "item"]].drop_duplicates()
        if pairs["item"].duplicated().any():
            df = df.assign(item=df["instrument"].astype(str) + "/" + df["item"].astype(str))
    culture = _culture(df).to_numpy(dtype=object)
    identity = with_roles(df[["framing"] + (["identity"] if "identity" in df.columns else [])])["identity"]
    coder = ""
    if "coder" in df.columns and df["coder"].notna().any():
        coder = str(df["coder"].dropna().iloc[0])
    base = pd.DataFrame({
        "model": df["model"].astype(str).to_numpy(), "item": df["item"].astype(str).to_numpy(),
        "lang": df["lang"].astype(str).to_numpy(), "framing": df["framing"].astype(str).to_numpy(),
        "paraphrase": df["paraphrase"].to_numpy(), "culture": culture,
        "identity": _lower_or_none(identity).to_numpy(dtype=object),
        "coded": (df["code_status"] == "coded").to_numpy(),
        "error": (df["outcome"] == "error").to_numpy() if "outcome" in df.columns else np.zeros(len(df), bool),
    })
    for c in cols:
        base[c] = df[c].to_numpy(dtype=np.float64, na_value=np.nan)
    # coded_share's denominator: open trials of the items the coder took up at all (a codebook applies
    # to some instruments only; the other open items are not "uncoded", just not its business)
    taken_up = set(base.loc[df["code_status"].notna().to_numpy(), "item"])
    in_scope = ~base["error"].to_numpy() & base["item"].isin(taken_up).to_numpy()
    trials = base.loc[in_scope, ["model", "lang", "framing", "coded"]]
    coded = base.loc[base["coded"].to_numpy()]
    keys = ["model", "item", "lang", "framing", "paraphrase"]
    if coded.empty:
        cells = pd.DataFrame(columns=[*keys, "culture", "identity", *cols, "n"])
    else:
        g = coded.groupby(keys, sort=True, observed=True)
        cells = g[cols].mean()
        cells["n"] = g.size()
        cells = cells.reset_index()
        roles = coded.drop_duplicates("framing").set_index("framing")
        cells["culture"] = cells["framing"].map(roles["culture"]).to_numpy(dtype=object)
        cells["identity"] = cells["framing"].map(roles["identity"]).to_numpy(dtype=object)
    present = df if coded.empty else df.loc[base["coded"].to_numpy()]
    models = [m for m in ordered_models(present) if m in set(cells["model"])] if len(present) else []
    origin = {str(m): str(o) for m, o in present[["model", "origin"]].drop_duplicates("model").to_numpy()}
    return Coded(cells, trials, cols, cats, models, origin, _company_keys(present) if len(present) else {},
                 coder, str(book.id))


# -- small numeric helpers ----------------------------------------------------------------------

def _nanmean(x: FloatArray, axis: int) -> FloatArray:
    """Mean over ``axis`` ignoring NaN; NaN where nothing is present (no warnings)."""
    ok = np.isfinite(x)
    cnt = ok.sum(axis=axis)
    tot = np.where(ok, x, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
    return out


def _item_means(codes: npt.NDArray[np.int64], values: FloatArray, n_items: int) -> tuple[FloatArray, FloatArray]:
    """(n_items, K) means of ``values`` rows per item (NaN ignored) and the (n_items, K) row counts."""
    ok = np.isfinite(values)
    sums = np.zeros((n_items, values.shape[1]))
    cnt = np.zeros((n_items, values.shape[1]))
    np.add.at(sums, codes, np.where(ok, values, 0.0))
    np.add.at(cnt, codes, ok.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(cnt > 0, sums / np.maximum(cnt, 1.0), np.nan)
    return means, cnt


def _pool(x: FloatArray, c: Coded, models: Sequence[str], groups: Sequence[str]) -> FloatArray:
    """(rows, M, K) per-model values -> (rows, K): mean over ``groups`` (origins) of the mean over
    the origin's companies of the mean over the company's models; absent values ignored."""
    per_group = []
    for g in groups:
        comps: dict[str, list[int]] = {}
        for j, m in enumerate(models):
            if c.origin.get(m) == g:
                comps.setdefault(c.company.get(m, m), []).append(j)
        if not comps:
            continue
        cv = np.stack([_nanmean(x[:, idx, :], axis=1) for idx in comps.values()], axis=1)
        per_group.append(_nanmean(cv, axis=1))
    if not per_group:
        return np.full((x.shape[0], x.shape[2]), np.nan)
    return _nanmean(np.stack(per_group, axis=1), axis=1)


def _origins(c: Coded) -> list[str]:
    return sorted({c.origin[m] for m in c.models}, key=origin_rank)


def _wide(cells: pd.DataFrame, keys: list[str], c: Coded) -> tuple[pd.DataFrame, FloatArray]:
    """Cells as an array (rows, models, K) over the distinct ``keys`` rows, NaN where absent."""
    w = pd.DataFrame(cells.set_index([*keys, "model"])[c.cols].unstack("model"))
    w = w.reindex(columns=pd.MultiIndex.from_product([c.cols, c.models]))
    arr = w.to_numpy(dtype=np.float64).reshape(len(w), len(c.cols), len(c.models)).transpose(0, 2, 1)
    return w.index.to_frame(index=False), arr


def _summaries(values: FloatArray, item: npt.NDArray[np.int64], n_items: int, rng: np.random.Generator,
               n_boot: int, with_p: bool = False) -> tuple[dict[str, FloatArray], FloatArray]:
    means, cnt = _item_means(item, values, n_items)
    return summarize_columns(means, rng, n_boot, with_p=with_p), cnt.sum(axis=0)


# -- category shares ----------------------------------------------------------------------------

def category_shares(frame: pd.DataFrame, book: CodebookLike, n_boot: int = 1000, seed: int = 0,
                    coded: Coded | None = None) -> pd.DataFrame:
    """Share of coded replies in each category per model x lang x framing (see the module docstring)."""
    c = prepare(frame, book) if coded is None else coded
    rng = np.random.default_rng([seed, 17, 1])
    cells = c.cells
    if cells.empty:
        return pd.DataFrame(columns=SHARE_COLUMNS)
    item_code, item_levels = pd.factorize(cells["item"], sort=True)
    vals = cells[c.cols].to_numpy(dtype=np.float64)
    model_a = cells["model"].to_numpy(dtype=object)
    lang_a = cells["lang"].to_numpy(dtype=object)
    fr_a = cells["framing"].to_numpy(dtype=object)
    n_a = cells["n"].to_numpy(dtype=np.float64)
    langs = sorted(set(lang_a))
    framings = list(dict.fromkeys(sorted(set(fr_a), key=lambda f: (f != "neutral", f))))
    tr = c.trials
    tm, tl, tf = (tr[k].to_numpy(dtype=object) for k in ("model", "lang", "framing"))
    tc = tr["coded"].to_numpy(dtype=bool)
    rows: list[dict[str, Any]] = []
    for m in c.models:
        in_m = model_a == m
        t_m = tm == m
        for lang in [*langs, ALL] if len(langs) > 1 else langs:
            in_l = in_m if lang == ALL else in_m & (lang_a == lang)
            t_l = t_m if lang == ALL else t_m & (tl == lang)
            for fr in [*framings, ALL] if len(framings) > 1 else framings:
                sel = in_l if fr == ALL else in_l & (fr_a == fr)
                if not sel.any():
                    continue
                t_sel = t_l if fr == ALL else t_l & (tf == fr)
                res, _ = _summaries(vals[sel], item_code[sel], len(item_levels), rng, n_boot)
                n_rep = int(n_a[sel].sum())
                share = float(tc[t_sel].mean()) if t_sel.any() else float("nan")
                for k, cat in enumerate(c.categories):
                    nk = float(res["n"][k])
                    rows.append({
                        "codebook": c.codebook, "model": m, "lang": lang, "framing": fr, "category": cat,
                        "estimate": float(res["estimate"][k]),
                        "ci_low": float(np.clip(res["ci_low"][k], 0.0, 1.0)),
                        "ci_high": float(np.clip(res["ci_high"][k], 0.0, 1.0)),
                        "se": float(res["se"][k]), "n": int(nk), "n_replies": n_rep, "coded_share": share,
                        "ci_kind": ci_kind(nk, n_boot > 0), "flag": few_items_flag(nk),
                        "origin": c.origin.get(m, ""), "coder": c.coder})
    return pd.DataFrame(rows, columns=SHARE_COLUMNS)


# -- contrasts ----------------------------------------------------------------------------------

def _contrast_rows(diff: FloatArray, item: npt.NDArray[np.int64], n_items: int, c: Coded,
                   rng: np.random.Generator, n_boot: int, **labels: str) -> list[dict[str, Any]]:
    """One row per category for (rows, K) cell-level differences."""
    keep = np.isfinite(diff).any(axis=1)
    if not keep.any():
        return []
    res, n_cells = _summaries(diff[keep], item[keep], n_items, rng, n_boot, with_p=True)
    rows = []
    for k, cat in enumerate(c.categories):
        nk = float(res["n"][k])
        if nk == 0:
            continue
        rows.append({"codebook": c.codebook, **labels, "category": cat,
                     **{key: float(res[key][k]) for key in ("estimate", "ci_low", "ci_high", "se", "p_value")},
                     "p_adj": float("nan"), "n": int(nk), "n_cells": int(n_cells[k]),
                     "ci_kind": ci_kind(nk, n_boot > 0), "flag": few_items_flag(nk), "coder": c.coder})
    return rows


def _level_diff(c: Coded, level_col: str, a: str, b: str, base: list[str]
                ) -> tuple[pd.DataFrame, FloatArray, FloatArray, FloatArray]:
    """Per model, level ``a`` minus level ``b`` of ``level_col`` over identical ``base`` cells
    (several framings of one level averaged first). Returns the base rows, the (rows, M, K)
    differences and the two (rows, M, K) level means."""
    sub = c.cells.loc[c.cells[level_col].isin([a, b])]
    if sub.empty or sub[level_col].nunique() < 2:
        empty = np.zeros((0, len(c.models), len(c.cols)))
        return pd.DataFrame(columns=base), empty, empty, empty
    per = sub.groupby([*base, level_col, "model"], sort=True, observed=True)[c.cols].mean().reset_index()
    wa = per.loc[per[level_col] == a].drop(columns=level_col)
    wb = per.loc[per[level_col] == b].drop(columns=level_col)
    idx_a, arr_a = _wide(wa, base, c)
    idx_b, arr_b = _wide(wb, base, c)
    keys = pd.concat([idx_a, idx_b]).drop_duplicates().sort_values(base).reset_index(drop=True)
    pos_a = pd.MultiIndex.from_frame(idx_a)
    pos_b = pd.MultiIndex.from_frame(idx_b)
    kk = pd.MultiIndex.from_frame(keys)
    full_a = np.full((len(keys), len(c.models), len(c.cols)), np.nan)
    full_b = full_a.copy()
    full_a[kk.get_indexer(pos_a)] = arr_a
    full_b[kk.get_indexer(pos_b)] = arr_b
    return keys, full_a - full_b, full_a, full_b


def category_contrasts(frame: pd.DataFrame, book: CodebookLike, twins: Sequence[tuple[str, str]] | None = None,
                       n_boot: int = 1000, seed: int = 0, coded: Coded | None = None) -> pd.DataFrame:
    """Origin, twin, user-culture, identity and language contrasts of every category share (module
    docstring). ``p_adj``: Benjamini-Hochberg over every row of the table."""
    c = prepare(frame, book) if coded is None else coded
    rng = np.random.default_rng([seed, 17, 2])
    if c.cells.empty:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    rows: list[dict[str, Any]] = []
    keys = ["item", "lang", "framing", "paraphrase"]
    idx, arr = _wide(c.cells, keys, c)
    item_levels = sorted(set(c.cells["item"]))
    item_pos = {it: j for j, it in enumerate(item_levels)}
    n_items = len(item_levels)
    item = idx["item"].map(item_pos).to_numpy(dtype=np.int64)
    lang = idx["lang"].to_numpy(dtype=object)
    fr = idx["framing"].to_numpy(dtype=object)
    langs = sorted(set(lang))
    framings = sorted(set(fr), key=lambda f: (f != "neutral", f))
    origins = _origins(c)
    for oa, ob in combinations(origins, 2):
        diff = _pool(arr, c, c.models, [oa]) - _pool(arr, c, c.models, [ob])
        scopes: list[tuple[str, str, npt.NDArray[np.bool_]]] = [(ALL, ALL, np.ones(len(idx), bool))]
        if len(framings) > 1:
            scopes += [(ALL, f, fr == f) for f in framings]
        if len(langs) > 1:
            scopes += [(lg, ALL, lang == lg) for lg in langs]
        for lg, f, sel in scopes:
            rows += _contrast_rows(np.where(sel[:, None], diff, np.nan), item, n_items, c, rng, n_boot,
                                   contrast="origin", model=ALL, lang=lg, framing=f, level_a=oa, level_b=ob)
    col = {m: j for j, m in enumerate(c.models)}
    for a, b in twins or []:
        if a in col and b in col:
            rows += _contrast_rows(arr[:, col[a], :] - arr[:, col[b], :], item, n_items, c, rng, n_boot,
                                   contrast="twin", model=f"{a} − {b}", lang=ALL, framing=ALL, level_a=a, level_b=b)
    for name, level_col, la, lb, base in (
            ("culture", "culture", "cn", "us", ["item", "lang", "paraphrase"]),
            ("identity", "identity", "cn", "us", ["item", "lang", "paraphrase"]),
            ("language", "lang", "en", "zh", ["item", "framing", "paraphrase"])):
        bkeys, diff3, _, _ = _level_diff(c, level_col, la, lb, base)
        if len(bkeys) == 0:
            continue
        bitem = bkeys["item"].map(item_pos).to_numpy(dtype=np.int64)
        for m in [*c.models, ALL]:
            d = _pool(diff3, c, c.models, origins) if m == ALL else diff3[:, col[m], :]
            rows += _contrast_rows(d, bitem, n_items, c, rng, n_boot, contrast=name, model=m, lang=ALL,
                                   framing=ALL, level_a=la, level_b=lb)
    out = pd.DataFrame(rows, columns=CONTRAST_COLUMNS)
    if len(out):
        out["p_adj"] = benjamini_hochberg(out["p_value"].to_numpy(dtype=np.float64))
    return out


# -- the headline ------------------------------------------------------------------------------

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
    origins = set(_origins(c))
    if not {"CN", "US"} <= origins:
        return nan, nan, np.zeros(0, np.int64), "needs models of both origins CN and US"
    base = ["item", "lang", "paraphrase"]
    bkeys, diff3, s_cn, s_us = _level_diff(c, "culture", "cn", "us", base)
    if len(bkeys) == 0:
        idx, arr = _wide(c.cells, ["item", "lang", "framing", "paraphrase"], c)
        o_rows = _pool(arr, c, c.models, ["CN"]) - _pool(arr, c, c.models, ["US"])
        it = idx["item"].map(item_pos).to_numpy(dtype=np.int64)
        o_items, _ = _item_means(it, o_rows, n_items)
        return o_items, nan, it, "the study has no culture framings (culture: cn and us): origin over all framings"
    o_rows = 0.5 * ((_pool(s_cn, c, c.models, ["CN"]) - _pool(s_cn, c, c.models, ["US"]))
                    + (_pool(s_us, c, c.models, ["CN"]) - _pool(s_us, c, c.models, ["US"])))
    c_rows = 0.5 * (_pool(diff3, c, c.models, ["CN"]) + _pool(diff3, c, c.models, ["US"]))
    ok = np.isfinite(o_rows) & np.isfinite(c_rows)
    o_rows, c_rows = np.where(ok, o_rows, np.nan), np.where(ok, c_rows, np.nan)
    it = bkeys["item"].map(item_pos).to_numpy(dtype=np.int64)
    o_items, _ = _item_means(it, o_rows, n_items)
    c_items, _ = _item_means(it, c_rows, n_items)
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


# -- every codebook at once ---------------------------------------------------------------------

CATEGORY_TABLES: tuple[str, ...] = ("category_shares", "category_contrasts", "category_headline")


def category_tables(coded: Mapping[str, tuple[CodebookLike, pd.DataFrame]],
                    twins: Sequence[tuple[str, str]] | None = None, n_boot: int = 1000, seed: int = 0,
                    errors: dict[str, str] | None = None) -> dict[str, pd.DataFrame]:
    """The three tables over every codebook (rows of each carry ``codebook``).

    ``coded``: codebook id -> (codebook, coded frame). A codebook whose estimator raises leaves
    ``errors["<table>[<codebook>]"]`` and costs only its own rows. No codebooks: no tables.
    """
    errs = errors if errors is not None else {}
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in CATEGORY_TABLES}
    columns = dict(zip(CATEGORY_TABLES, (SHARE_COLUMNS, CONTRAST_COLUMNS, HEADLINE_COLUMNS), strict=True))
    for cid, (book, frame) in coded.items():
        try:
            prepared = prepare(frame, book)
        except Exception as exc:  # isolation: one bad codebook costs its own rows only
            for t in CATEGORY_TABLES:
                errs[f"{t}[{cid}]"] = f"{type(exc).__name__}: {exc}"
            continue
        for t in CATEGORY_TABLES:
            try:
                if t == "category_shares":
                    parts[t].append(category_shares(frame, book, n_boot, seed, prepared))
                elif t == "category_contrasts":
                    parts[t].append(category_contrasts(frame, book, twins, n_boot, seed, prepared))
                else:
                    parts[t].append(category_headline(frame, book, n_boot, seed, prepared))
            except Exception as exc:  # isolation, as in analysis.results.run_isolated
                errs[f"{t}[{cid}]"] = f"{type(exc).__name__}: {exc}"
    if not coded:
        return {}
    return {t: (pd.concat([p for p in ps if len(p)], ignore_index=True) if any(len(p) for p in ps)
                else pd.DataFrame(columns=columns[t])) for t, ps in parts.items()}
