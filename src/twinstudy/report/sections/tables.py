"""The report's tables, formatted from Results: one builder per table, plain records for the template."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from twinstudy.analysis import Results
from twinstudy.report import figures as figs
from twinstudy.report.numbers import MIN_UNITS_FOR_INTERVAL, ci, pct
from twinstudy.report.sections.estimands import label

Meta = dict[str, dict[str, Any]]
RATE_OUTCOMES = ("refused", "evasive", "blocked")
#: Below this many items a bootstrap interval over items covers less than 95 % (at most 1 - 2^(1-k)
#: with k items); such rows are marked, unless the estimator names its own interval (``ci_kind``).
FEW_ITEMS = 10
FEW_NOTE = ("† fewer than 10 items: a bootstrap interval over k items covers at most 1 − 2^(1 − k) "
            "(0.875 with 4), so read it as an indication.")


def few_items(table: pd.DataFrame) -> pd.Series:
    """Rows whose item-bootstrap interval rests on too few items to be a 95 % CI."""
    if table.empty or "n" not in table.columns or "ci_kind" in table.columns:
        return pd.Series(False, index=table.index)
    n = pd.to_numeric(table["n"], errors="coerce")
    return n.ge(MIN_UNITS_FOR_INTERVAL) & n.lt(FEW_ITEMS)  # below the minimum no interval is shown at all


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with NaN as None (the template prints None as a dash)."""
    if df.empty:
        return []
    out: list[dict[str, Any]] = json.loads(df.to_json(orient="records", force_ascii=False))
    return out


def empty_share(var: pd.DataFrame) -> float | None:
    """Share of the design's cells with no answered trial behind the variance figures."""
    for col in ("share_empty", "imputed_cells"):
        if col in var.columns and not var.empty:
            v = pd.to_numeric(var[col], errors="coerce").dropna()
            if not v.empty:
                return float(v.iloc[0])
    return None


def empty_by_model_lang(results: Results) -> list[dict[str, Any]]:
    """Share of empty cells per model x language, from whichever table reports it (``share_empty``)."""
    for name, table in results.items():
        if name != "variance" and {"model", "lang", "share_empty"} <= set(table.columns):
            return records(table[["model", "lang", "share_empty"]])
    return []


@dataclass
class VarianceView:
    rows: list[dict[str, Any]]
    empty_share: float | None
    residual_estimable: bool
    label: str
    empty_by_model_lang: list[dict[str, Any]] = field(default_factory=list)


def variance_view(results: Results, samples: int) -> VarianceView:
    """The variance table; without repeated samples the residual (sampling noise) is left out."""
    var = results.table("variance")
    residual_ok = samples > 1
    shown = var if residual_ok or var.empty else var[var["component"] != "residual"]
    return VarianceView(records(shown), empty_share(var), residual_ok, label("variance"),
                        empty_by_model_lang(results))


@dataclass
class ProfileTable:
    models: list[str] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)
    cells: dict[str, dict[str, str]] = field(default_factory=dict)
    langs: list[str] = field(default_factory=list)
    framing: str = ""


def profile_table(prof: pd.DataFrame, meta: Meta) -> ProfileTable:
    if prof.empty:
        return ProfileTable()
    p = prof[prof["lang"] == "all"]
    cells: dict[str, dict[str, str]] = {}
    few = few_items(prof).to_numpy()
    for (_, r), is_few in zip(prof.iterrows(), few, strict=True):
        mark = "†" if is_few else ""
        cells.setdefault(f"{r['theme']}|{r['model']}", {})[str(r["lang"])] = f"{ci(r)} n={int(r['n'])}{mark}"
    return ProfileTable(figs.ordered_models(sorted(p["model"].astype(str).unique()), meta),
                        sorted(p["theme"].astype(str).unique()), cells,
                        [x for x in ("all", "en", "zh") if x in set(prof["lang"])], str(prof["framing"].iloc[0]))


@dataclass
class RateCell:
    text: str
    hot: bool


@dataclass
class RateRow:
    instrument: str
    theme: str
    model: str
    origin: str
    vals: list[RateCell]


@dataclass
class RateTable:
    rows: list[RateRow] = field(default_factory=list)
    langs: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    quiet_topics: list[str] = field(default_factory=list)
    view: pd.DataFrame = field(default_factory=pd.DataFrame)  # the rows drawn in the rates figure


def rate_table(rates: pd.DataFrame, open_themes: set[str], meta: Meta) -> RateTable:
    """Refusal / evasion / block rates per topic; topics where nothing happened are only named."""
    if rates.empty:
        return RateTable()
    r = rates[(rates["theme"] != "all") & (rates["lang"] != "all") & (rates["outcome"] != "truncated")]
    topic_any = r.groupby("theme")["k"].sum()
    keep = {str(t) for t, k in topic_any.items() if k > 0} | open_themes
    quiet = sorted(set(r["theme"].astype(str)) - keep)
    rv = r[r["theme"].astype(str).isin(keep)]
    if rv.empty:
        return RateTable(quiet_topics=quiet)
    langs = sorted(rv["lang"].astype(str).unique())
    outcomes = [o for o in RATE_OUTCOMES if o in set(rv["outcome"])]
    rows: list[RateRow] = []
    for (inst, theme), g in rv.groupby(["instrument", "theme"], sort=True):
        for m in figs.ordered_models(sorted(g["model"].astype(str).unique()), meta):
            vals: list[RateCell] = []
            for o in outcomes:
                for lang in langs:
                    x = g[(g["model"] == m) & (g["outcome"] == o) & (g["lang"] == lang)]
                    if x.empty:
                        vals.append(RateCell("–", False))
                    else:
                        x0 = x.iloc[0]
                        vals.append(RateCell(f"{pct(x0)} {int(x0['k'])}/{int(x0['n'])}", int(x0["k"]) > 0))
            rows.append(RateRow(str(inst), str(theme), m, str(meta.get(m, {}).get("origin", "?")), vals))
    return RateTable(rows, langs, outcomes, quiet, rv)


@dataclass
class Tables:
    """Everything the tables of sections 1-6 show, as records, with each interval's header."""

    variance: VarianceView
    profiles: ProfileTable
    contrast: list[dict[str, Any]]
    paired: list[dict[str, Any]]
    sycophancy: list[dict[str, Any]]
    identity: list[dict[str, Any]]
    flips: list[dict[str, Any]]
    language_gap: list[dict[str, Any]]
    mcnemar: list[dict[str, Any]]
    rates: RateTable
    labels: dict[str, str]
    few_note: str = FEW_NOTE


def build_tables(results: Results, samples: int, open_themes: set[str], meta: Meta) -> Tables:
    paired = results.table("paired")
    if not paired.empty:
        paired = paired.sort_values(["model_a", "model_b", "theme"]).assign(few=few_items(paired))
    names = ("profiles", "origin_contrast", "paired", "sycophancy", "identity", "flips", "language_gap", "mcnemar",
             "rates", "variance")
    return Tables(
        variance_view(results, samples),
        profile_table(results.table("profiles"), meta),
        records(results.table("origin_contrast")), records(paired), records(results.table("sycophancy")),
        records(results.table("identity")), records(results.table("flips")), records(results.table("language_gap")),
        records(results.table("mcnemar")), rate_table(results.table("rates"), open_themes, meta),
        {n: label(n) for n in names})


CHOICE_ROWS = 300  # the report shows at most this many option rows; `analyze --json` has them all


def choice_view(results: Results) -> tuple[str, list[dict[str, Any]]]:
    """The choice-share rows the report shows: one framing (neutral when asked), each option's share
    per model and language with its Wilson interval, in item and option order."""
    table = results.table("choice_shares")
    if table.empty:
        return "", []
    framings = set(table["framing"].astype(str))
    framing = "neutral" if "neutral" in framings else sorted(framings)[0]
    rows = table[table["framing"].astype(str) == framing].sort_values(["instrument", "item", "option", "model", "lang"])
    return framing, [{str(k): v for k, v in r.items()} for r in rows.head(CHOICE_ROWS).to_dict("records")]
