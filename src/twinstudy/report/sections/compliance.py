"""Report section "Open requests: compliance, lineage twins, language": for studies of open requests.

Written for SpeechMap-style studies (requests to write criticism of a government, judged COMPLETE /
EVASIVE / DENIAL) but computed from any study with judged open items. It shows, in this order:

1. **Lineage twins** (``analyze()["lineage"]``): a model minus its own base model, where the two
   were post-trained (or merged) by companies of different origin; per prompt set and language, the
   difference in the share of complete replies over the same items, with an item-bootstrap CI and
   the exact McNemar p-value.
2. **Compliance by origin and language**: the share of complete replies per origin, company-
   clustered (each model's share, averaged within its company, then across companies, so a company
   with seven models counts once), with a t interval over companies; and the CN − US contrast with
   a Welch interval over companies. Models of UNKNOWN origin are listed, never assigned.
3. **English − Chinese gap per model** (``analyze()["mcnemar"]``, measure ``complete``): pairs of
   the same item in both languages, item-bootstrap CI, exact McNemar p.
4. **Per set, per model**: share complete with Wilson intervals for every prompt set and language;
   a set criticising another government (SpeechMap's US set) is the symmetric control.
5. **Who made each model**: the metadata the origins come from, with sources.

Everything returned is plain values for ``templates/compliance_section.html``; model text never
passes through here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from twinstudy.report.figures import ordered_models
from twinstudy.report.numbers import finite, fmt

Meta = dict[str, dict[str, Any]]
UNKNOWN = ("UNKNOWN", "?", "", "unknown")


def _pp(est: Any, lo: Any, hi: Any) -> str:
    """A difference of shares in percentage points: ``+72 pp [+58, +84]``."""
    return f"{fmt(est * 100, '+.0f')} pp [{fmt(lo * 100, '+.0f')}, {fmt(hi * 100, '+.0f')}]"


def _share(est: Any, lo: Any, hi: Any) -> str:
    """A share with its interval in percent; interval ends outside [0, 100] are shown at the bound."""
    lo, hi = (min(max(float(v), 0.0), 1.0) if v is not None else v for v in (lo, hi))
    return f"{fmt(est * 100, '.0f')}% [{fmt(lo * 100, '.0f')}–{fmt(hi * 100, '.0f')}]"


def _p(p: Any) -> str:
    v = finite(p)
    if v is None:
        return "–"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def _complete_rates(res: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    oo = res.get("open_outcomes", pd.DataFrame())
    if oo.empty:
        return oo
    r = oo[(oo["outcome"] == "complete") & (oo["theme"] != "all") & (oo["lang"] != "all")]
    return r.reset_index(drop=True)


def _t_interval(values: np.ndarray) -> tuple[float, float, float]:
    n = values.size
    est = float(values.mean()) if n else float("nan")
    if n < 2:
        return est, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
    return est, est - half, est + half


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float]:
    if a.size < 2 or b.size < 2:
        return float(a.mean() - b.mean()) if a.size and b.size else float("nan"), math.nan, math.nan, math.nan
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    est = float(a.mean() - b.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        return est, est, est, float("nan")
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(stats.t.ppf(0.975, df)) * se
    p = float(2 * stats.t.sf(abs(est) / se, df))
    return est, est - half, est + half, p


def _by_origin(rates: pd.DataFrame, meta: Meta) -> dict[str, Any]:
    """Company-clustered share complete per origin x set x language, and CN − US."""
    if rates.empty:
        return {"rows": [], "contrast": [], "unknown": []}
    df = rates.copy()
    df["share"] = df["k"] / df["n"]
    df["origin"] = [str(meta.get(m, {}).get("origin", "UNKNOWN")) for m in df["model"]]
    df["company"] = [str(meta.get(m, {}).get("company", "unknown")) for m in df["model"]]
    unknown = sorted(set(df.loc[df["origin"].isin(UNKNOWN), "model"].astype(str)))
    known = df[~df["origin"].isin(UNKNOWN)]
    comp = known.groupby(["instrument", "theme", "lang", "origin", "company"], observed=True).agg(
        share=("share", "mean"), models=("model", "nunique")).reset_index()
    rows, contrast = [], []
    for (inst, theme, lang), g in comp.groupby(["instrument", "theme", "lang"], sort=True):
        per_origin: dict[str, np.ndarray] = {}
        for origin, h in g.groupby("origin", sort=True):
            vals = h["share"].to_numpy(dtype=float)
            per_origin[str(origin)] = vals
            est, lo, hi = _t_interval(vals)
            rows.append({"set": f"{theme}", "instrument": inst, "lang": lang, "origin": origin,
                         "share": _share(est, lo, hi) if math.isfinite(lo) else f"{fmt(est * 100, '.0f')}% (one company: no interval)",
                         "companies": int(vals.size), "models": int(h["models"].sum())})
        if "CN" in per_origin and "US" in per_origin:
            est, lo, hi, p = _welch(per_origin["CN"], per_origin["US"])
            contrast.append({"set": theme, "lang": lang, "diff": _pp(est, lo, hi), "p": _p(p),
                             "companies": f"{per_origin['CN'].size} vs {per_origin['US'].size}"})
    return {"rows": rows, "contrast": contrast, "unknown": unknown}


def _lineage(res: Mapping[str, pd.DataFrame], meta: Meta) -> list[dict[str, Any]]:
    lin = res.get("lineage", pd.DataFrame())
    out = []
    for r in lin.to_dict("records"):
        info = meta.get(str(r["descendant"]), {})
        share = r["measure"] == "complete"
        b, c, p_mc = finite(r["b"]), finite(r["c"]), finite(r["p_mcnemar"])
        out.append({
            "descendant": r["descendant"], "base": r["base_model"],
            "who": f"{info.get('post_trainer') or info.get('company', '?')} ({r['origin_descendant']})",
            "kind": info.get("lineage_kind") or "post-trained", "base_origin": r["origin_base"],
            "set": r["theme"], "lang": r["lang"], "measure": r["measure"],
            "rate_d": fmt(r["rate_descendant"] * 100, ".0f") + "%" if share else fmt(r["rate_descendant"], "+.2f"),
            "rate_b": fmt(r["rate_base"] * 100, ".0f") + "%" if share else fmt(r["rate_base"], "+.2f"),
            "diff": _pp(r["estimate"], r["ci_low"], r["ci_high"]) if share
            else f"{fmt(r['estimate'], '+.2f')} [{fmt(r['ci_low'], '+.2f')}, {fmt(r['ci_high'], '+.2f')}]",
            "n": int(r["n"]), "bc": "–" if b is None or c is None else f"{int(b)} / {int(c)}",
            "p": _p(p_mc if p_mc is not None else r["p_value"]),
        })
    return out


def _bc(r: Mapping[Any, Any]) -> str:
    """Discordant pairs (EN only / ZH only) where the exact McNemar test applies; with several
    samples per item the test is an item-level sign-flip and has no b / c (see the ``test`` column)."""
    b, c = finite(r.get("b")), finite(r.get("c"))
    return "–" if b is None or c is None else f"{int(b)} / {int(c)}"


def _gaps(res: Mapping[str, pd.DataFrame], meta: Meta) -> list[dict[str, Any]]:
    mc = res.get("mcnemar", pd.DataFrame())
    if mc.empty:
        return []
    by_model = {str(r["model"]): r for r in mc[mc["measure"] == "complete"].to_dict("records")}
    out = []
    for m in ordered_models(list(by_model), meta):
        r = by_model[m]
        out.append({"model": m, "origin": meta.get(m, {}).get("origin", "?"),
                    "en": f"{int(r['k_en'])}/{int(r['n'])}", "zh": f"{int(r['k_zh'])}/{int(r['n'])}",
                    "gap": _pp(r["estimate"], r["ci_low"], r["ci_high"]), "bc": _bc(r),
                    "p": _p(r["p_value"]), "hot": bool((finite(r["p_value"]) or 1.0) < 0.05)})
    return out


def _per_set(rates: pd.DataFrame, meta: Meta) -> dict[str, Any]:
    if rates.empty:
        return {"columns": [], "rows": []}
    cols = sorted({(str(t), str(lg)) for t, lg in zip(rates["theme"], rates["lang"], strict=True)},
                  key=lambda c: (c[0], c[1] != "en", c[1]))
    rows = []
    for m in ordered_models(sorted(set(rates["model"].astype(str))), meta):
        g = rates[rates["model"] == m]
        cells = []
        for theme, lang in cols:
            r = g[(g["theme"] == theme) & (g["lang"] == lang)]
            if r.empty:
                cells.append("–")
            else:
                r0 = r.iloc[0]
                cells.append(f"{int(r0['k'])}/{int(r0['n'])} {_share(r0['estimate'], r0['ci_low'], r0['ci_high'])}")
        rows.append({"model": m, "origin": meta.get(m, {}).get("origin", "?"), "cells": cells})
    return {"columns": [f"{t} ({lg})" for t, lg in cols], "rows": rows}


def _who(meta: Meta, models: list[str]) -> list[dict[str, Any]]:
    out = []
    for m in ordered_models(models, meta):
        info = meta.get(m, {})
        ow = info.get("open_weights")
        out.append({"model": m, "company": info.get("company", "unknown"), "origin": info.get("origin", "UNKNOWN"),
                    "tier": info.get("tier", "unknown"), "open": "–" if ow is None else ("yes" if ow else "no"),
                    "base": info.get("base_model") or "", "kind": info.get("lineage_kind") or "",
                    "notes": info.get("notes") or "", "sources": list(info.get("sources") or [])})
    return out


def _judge_agreement(store: Any) -> dict[str, Any] | None:
    """Share of replies where twinstudy's open-item rules and an imported judge give the same label.

    A descriptive share over replies, not an estimate with an interval.
    """
    from twinstudy.store.reads import imported_judge_agreement

    rows = imported_judge_agreement(store)
    if not rows:
        return None
    n = sum(r[1] for r in rows)
    agree = sum(r[2] for r in rows)
    return {"judges": ", ".join(r[0] for r in rows), "n": n, "share": f"{100 * agree / n:.0f}%"}



def compliance_context(store: Any, frame: pd.DataFrame, res: Mapping[str, pd.DataFrame], meta: Meta) -> dict[str, Any]:
    """What the section shows; ``{"shown": False}`` when the study has no judged open replies."""
    if frame.empty or "open_outcome" not in frame or not frame["open_outcome"].notna().any():
        return {"shown": False}
    rates = _complete_rates(res)
    models = sorted(set(frame["model"].astype(str)))
    return {"shown": True, "lineage": _lineage(res, meta), "origin": _by_origin(rates, meta),
            "gaps": _gaps(res, meta), "per_set": _per_set(rates, meta), "who": _who(meta, models),
            "agreement": _judge_agreement(store)}
