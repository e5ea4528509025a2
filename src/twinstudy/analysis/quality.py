"""Data-quality checks that come before any estimate: is there a signal to decompose at all?

A model that gives the same answer to every statement (straight-lining), or agrees with a statement
and with its reverse-keyed opposite alike (acquiescence), produces theme scores that are artefacts
of the response style, and a variance split that attributes them to "the item". A model whose
trials are mostly unscored, or that answers in the other language, is measured on a small or
different sample. These are shown first, before the numbers they would undermine.

One row per model (languages pooled, ``lang == "all"``) and per model × language:

==================  ==========================================================================
column              meaning
==================  ==========================================================================
n_trials            trials with a final outcome
share_scored        share of those with a parsed answer (outcome ``answered``)
likert_answered     answered Likert trials (what the style checks use)
modal_answer        the model's most frequent Likert answer
share_modal         share of answered Likert trials giving that answer (1.0 = one answer always)
acquiescence        mean agreement with the statement as worded, before reverse-keying, in
                    [-1, 1], averaged over forward- and reverse-keyed items with equal weight:
                    a model with positions scores near 0 (it agrees with one keying and
                    disagrees with the other); +1 agrees with everything, -1 rejects everything
share_wrong_lang    share of replies written in the other language (NaN when not recorded)
flags               the checks that failed, as short phrases (empty when none)
==================  ==========================================================================

The thresholds are conventions, not tests: straight-lining at ``share_modal >= 0.9`` over at least
8 answered Likert trials; response style at ``|acquiescence| >= 0.5`` when both keyings were
answered; low coverage under 50 % scored; wrong language over 20 %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twinstudy.vocab import LIKERT_TYPES

STRAIGHT_LINE_SHARE = 0.9
STRAIGHT_LINE_MIN = 8
STYLE_LIMIT = 0.5
LOW_SCORED = 0.5
WRONG_LANG = 0.2

COLUMNS = ("model", "lang", "n_trials", "share_scored", "likert_answered", "modal_answer", "share_modal",
           "acquiescence", "share_wrong_lang", "flags")


def _row(model: str, lang: str, df: pd.DataFrame) -> dict[str, object]:
    n = len(df)
    scored = float((df["outcome"] == "answered").mean()) if n else float("nan")
    lk = df[df["item_type"].isin(LIKERT_TYPES) & (df["outcome"] == "answered") & df["answer"].notna()]
    modal: str | None = None
    share_modal = float("nan")
    if len(lk):
        counts = lk["answer"].astype(str).value_counts()
        modal = str(counts.index[0])
        share_modal = float(counts.iloc[0] / len(lk))
    acq = float("nan")
    agreed = lk[lk["agreement"].notna()]
    if len(agreed):
        by_key = agreed.groupby(agreed["reverse"].astype(bool))["agreement"].mean()
        if len(by_key) == 2:
            acq = float(by_key.mean())
    wrong = float("nan")
    if "reply_lang" in df.columns:
        known = df[df["reply_lang"].notna()]
        if len(known):
            wrong = float((known["reply_lang"].astype(str) != known["lang"].astype(str)).mean())
    flags: list[str] = []
    if len(lk) >= STRAIGHT_LINE_MIN and share_modal >= STRAIGHT_LINE_SHARE:
        flags.append(f"straight-lining: answers {modal} to {share_modal:.0%} of statements")
    if np.isfinite(acq) and abs(acq) >= STYLE_LIMIT:
        flags.append("acquiescence: agrees with statements and their opposites" if acq > 0
                     else "nay-saying: disagrees with statements and their opposites")
    if n and scored < LOW_SCORED:
        flags.append(f"low coverage: {scored:.0%} of trials scored")
    if np.isfinite(wrong) and wrong > WRONG_LANG:
        flags.append(f"wrong language in {wrong:.0%} of replies")
    return {"model": model, "lang": lang, "n_trials": n, "share_scored": scored, "likert_answered": len(lk),
            "modal_answer": modal, "share_modal": share_modal, "acquiescence": acq,
            "share_wrong_lang": wrong, "flags": "; ".join(flags)}


def data_quality(df: pd.DataFrame) -> pd.DataFrame:
    """The quality table (see the module docstring); models in frame order, pooled row first."""
    rows: list[dict[str, object]] = []
    for model in pd.unique(df["model"]):
        sub = df[df["model"] == model]
        rows.append(_row(str(model), "all", sub))
        for lang in pd.unique(sub["lang"]):
            rows.append(_row(str(model), str(lang), sub[sub["lang"] == lang]))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def quality_verdicts(table: pd.DataFrame) -> list[str]:
    """One plain sentence per model whose pooled row failed a check (for the report and summary)."""
    out: list[str] = []
    pooled = table[table["lang"] == "all"] if len(table) else table
    for model, flags in zip(pooled["model"], pooled["flags"], strict=True):
        if flags:
            out.append(f"{model}: {flags}.")
    return out
