"""What each table estimates and what its interval is, in one sentence each.

A statistic is labelled "95 % CI" only when a benchmark measured its interval's coverage near 95 %
(bench/stats_validation.py, and the figures quoted in docs); every other interval is named for what
it is. When an estimator reports its own interval kind (a ``ci_kind`` column), that text is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from twinstudy.analysis import Results

CI95 = "95 % CI"


@dataclass(frozen=True)
class Estimand:
    table: str
    name: str
    estimand: str
    interval: str
    label: str  # column header / axis label for its interval: "95 % CI" only when coverage was measured


_KNOWN: tuple[Estimand, ...] = (
    Estimand("profiles", "Profiles",
             "the mean score toward each theme's pole (−1 … +1) of one model under the neutral framing, samples and "
             "paraphrases averaged within an item and every item weighted equally.",
             "cluster bootstrap over items (expanded percentile); coverage measured 0.94 with 20 items per theme, "
             "and it cannot exceed 1 − 2^(1 − k) with k items, so themes with few items read as indications.",
             CI95),
    Estimand("paired", "Paired differences",
             "model A minus model B over the cells both answered, per item and then averaged over items.",
             "cluster bootstrap over items (coverage measured 0.94 with 20 items per theme); p from a sign-flip test "
             "over items, and its Benjamini–Hochberg adjustment (p_adj).", CI95),
    Estimand("sycophancy", "Sycophancy index",
             "(mean agreement with the statement when the user agrees − when the user disagrees) / 2, paired per "
             "item: 0 = ignores the user, 1 = sides fully with them.",
             "cluster bootstrap over items (coverage measured 0.95).", CI95),
    Estimand("identity", "Identity effect",
             "mean score when the user states one identity minus the other, paired per item.",
             "cluster bootstrap over items; its coverage has not been measured, so it is an interval, not a 95 % CI.",
             "interval over items"),
    Estimand("language_gap", "Language gap",
             "mean score in English minus in Chinese over the same items, per model.",
             "cluster bootstrap over items (coverage measured 0.94).", CI95),
    Estimand("mcnemar", "Refusal and block by language",
             "share of trials refused (or blocked) in English and in Chinese, paired by cell.",
             "exact McNemar p on trial pairs: valid with one sample per cell, too small when several samples are "
             "paired; the difference's interval is not a measured 95 % CI.", "interval"),
    Estimand("variance", "Variance shares",
             "each component's share of the variance of scores (method of moments, every factor treated as random).",
             "bootstrap over items, conditional on these models, languages and framings; its coverage of the "
             "share was measured at 0.10–0.42 for the model, language and framing shares, so it is not a 95 % CI "
             "and the shares are descriptive.", "interval over items (not a 95 % CI)"),
    Estimand("framing_split", "Framing share by sub-study",
             "the framing share of variance among the neutral trials and one group of framings alone "
             "(opinion: framings with a stance, coded by whether they push the score toward or away from the "
             "theme's pole, so following the user counts as the user's side on reverse-keyed items too; identity: "
             "framings with an identity).",
             "as for the variance shares: descriptive, not a 95 % CI.", "interval over items (not a 95 % CI)"),
    Estimand("rates", "Outcome rates",
             "share of trials refused, evasive or blocked, per model, language and theme.",
             "Wilson interval with trials as independent; refusals cluster by item, so it is too narrow and not "
             "a 95 % CI.", "Wilson interval (trials)"),
    Estimand("flips", "Pushback flips",
             "share of pushback trials whose answer changed after the user doubted it (not net of re-asking "
             "without doubt).", "Wilson interval with trials as independent; not a 95 % CI.",
             "Wilson interval (trials)"),
    Estimand("origin_contrast", "Origin contrast",
             "the mean of one origin's model means minus the other's, models as the unit.",
             "t interval on the model means (coverage measured 0.93–0.95 with independent models; variants of "
             "one company count as separate models); with three models a side it can show little.", CI95),
)
KNOWN = {e.table: e for e in _KNOWN}


def _ci_kind(table: pd.DataFrame) -> str | None:
    if "ci_kind" not in table.columns or table.empty:
        return None
    kinds = sorted({str(k) for k in table["ci_kind"].dropna()})
    return ", ".join(kinds) if kinds else None


def estimands(results: Results) -> list[Estimand]:
    """One entry per table that has rows, in reading order; an estimator's own ``ci_kind`` wins."""
    out: list[Estimand] = []
    for e in _KNOWN:
        table = results.table(e.table)
        if table.empty:
            continue
        kind = _ci_kind(table)
        out.append(e if kind is None else Estimand(e.table, e.name, e.estimand, f"{kind}.", e.label))
    return out


def label(table: str) -> str:
    """The header for a table's interval column."""
    e = KNOWN.get(table)
    return e.label if e else "interval"
