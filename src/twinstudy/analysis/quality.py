"""Data-quality checks that come before any estimate: is there a signal to decompose at all?

A model that gives the same answer to every statement (straight-lining), or agrees with a statement
and with its reverse-keyed opposite alike (acquiescence), produces theme scores that are artefacts
of the response style, and a variance split that attributes them to "the item". A model whose
trials are mostly unscored, or that answers in the other language, is measured on a small or
different sample. These are shown first, before the numbers they would undermine.

One row per model × language (``lang == "all"`` pools languages) × check, in the analysis layer's
row shape (``estimate``, ``ci_low``, ``ci_high``, ``n``); the intervals are empty on purpose: these
are descriptions of the data at hand, not estimates of anything beyond it.

================  ==========================================================================
check             estimate (n)
================  ==========================================================================
scored            share of trials with a parsed answer (trials with a final outcome)
straight_lining   share of answered Likert trials giving the model's most frequent answer,
                  which ``detail`` names (answered Likert trials); 1.0 = one answer always
acquiescence      mean agreement with the statement as worded, before reverse-keying, in
                  [-1, 1], forward- and reverse-keyed items weighted equally: a model with
                  positions scores near 0 (it agrees with one keying and disagrees with the
                  other); +1 agrees with everything, -1 rejects everything (answered Likert)
wrong_language    share of replies written in the other language (replies with a known script)
================  ==========================================================================

``flagged`` says whether the check failed and ``message`` says how, in a short phrase.

The thresholds are conventions, not tests: straight-lining at ``share_modal >= 0.9`` over at least
8 answered Likert trials; response style at ``|acquiescence| >= 0.5`` when both keyings were
answered; low coverage under 50 % scored; wrong language over 20 %.
"""

from __future__ import annotations

import pandas as pd

from twinstudy.vocab import LIKERT_TYPES

STRAIGHT_LINE_SHARE = 0.9
STRAIGHT_LINE_MIN = 8
STYLE_LIMIT = 0.5
LOW_SCORED = 0.5
WRONG_LANG = 0.2

COLUMNS = ("model", "lang", "check", "estimate", "ci_low", "ci_high", "n", "ci_kind", "detail", "flagged",
           "message")
CI_KIND = "none: a description of the data at hand"
NAN = float("nan")


def _rows(model: str, lang: str, df: pd.DataFrame) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []

    def add(check: str, estimate: float, n: int, flagged: bool, message: str, detail: str | None = None) -> None:
        out.append({"model": model, "lang": lang, "check": check, "estimate": estimate, "ci_low": NAN,
                    "ci_high": NAN, "n": n, "ci_kind": CI_KIND, "detail": detail, "flagged": bool(flagged),
                    "message": message if flagged else ""})

    n = len(df)
    scored = float((df["outcome"] == "answered").mean()) if n else NAN
    add("scored", scored, n, bool(n) and scored < LOW_SCORED, f"low coverage: {scored:.0%} of trials scored")
    lk = df[df["item_type"].isin(LIKERT_TYPES) & (df["outcome"] == "answered") & df["answer"].notna()]
    if len(lk):
        counts = lk["answer"].astype(str).value_counts()
        modal, share_modal = str(counts.index[0]), float(counts.iloc[0] / len(lk))
        add("straight_lining", share_modal, len(lk),
            len(lk) >= STRAIGHT_LINE_MIN and share_modal >= STRAIGHT_LINE_SHARE,
            f"straight-lining: answers {modal} to {share_modal:.0%} of statements", modal)
    agreed = lk[lk["agreement"].notna()]
    by_key = agreed.groupby(agreed["reverse"].astype(bool))["agreement"].mean() if len(agreed) else pd.Series()
    if len(by_key) == 2:
        acq = float(by_key.mean())
        add("acquiescence", acq, len(agreed), abs(acq) >= STYLE_LIMIT,
            "acquiescence: agrees with statements and their opposites" if acq > 0
            else "nay-saying: disagrees with statements and their opposites")
    if "reply_lang" in df.columns:
        known = df[df["reply_lang"].notna()]
        if len(known):
            wrong = float((known["reply_lang"].astype(str) != known["lang"].astype(str)).mean())
            add("wrong_language", wrong, len(known), wrong > WRONG_LANG, f"wrong language in {wrong:.0%} of replies")
    return out


def data_quality(df: pd.DataFrame) -> pd.DataFrame:
    """The quality table (see the module docstring); models in frame order, pooled rows first."""
    rows: list[dict[str, object]] = []
    for model in pd.unique(df["model"]):
        sub = df[df["model"] == model]
        rows += _rows(str(model), "all", sub)
        for lang in pd.unique(sub["lang"]):
            rows += _rows(str(model), str(lang), sub[sub["lang"] == lang])
    return pd.DataFrame(rows, columns=list(COLUMNS))


def quality_verdicts(table: pd.DataFrame) -> list[str]:
    """One plain sentence per model whose pooled rows failed a check (for the report and summary)."""
    if table.empty:
        return []
    bad = table[(table["lang"] == "all") & table["flagged"].astype(bool)]
    return [f"{model}: {'; '.join(group['message'])}." for model, group in bad.groupby("model", sort=False)]
