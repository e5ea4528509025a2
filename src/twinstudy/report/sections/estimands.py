"""What each table estimates and what its interval is, in one sentence each: a view over
:mod:`twinstudy.analysis.methods`, which owns the words (beside the estimators they describe).

A statistic is labelled "95 % CI" only when ``bench/stats_validation.py`` (or the benchmark the
sentence names) measured its interval's coverage at 0.93-0.97 on every row
(:data:`~twinstudy.analysis.methods.MEASURED_95`); every other interval is named for what it is.
When an estimator reports its own interval kind (a ``ci_kind`` column), that text is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from twinstudy.analysis import Results
from twinstudy.analysis.methods import MEASURED_95, MEASURED_COVERAGE, METHODS, NAMES

CI95 = "95 % CI"


@dataclass(frozen=True)
class Estimand:
    table: str
    name: str
    estimand: str
    interval: str
    label: str  # column header / axis label for its interval: "95 % CI" only when coverage was measured


def _label(table: str) -> str:
    if table in MEASURED_95:
        return CI95
    if table in ("quality", "missing_cells"):
        return "no interval"
    return "interval over items (approximate, not a 95 % CI)"


def _entry(table: str) -> Estimand:
    measured = MEASURED_COVERAGE.get(table)
    interval = f"measured coverage {measured}." if measured else "coverage: see the sentence."
    return Estimand(table, NAMES.get(table, table), METHODS[table], interval, _label(table))


KNOWN = {t: _entry(t) for t in NAMES if t in METHODS}


def _ci_kind(table: pd.DataFrame) -> str | None:
    if "ci_kind" not in table.columns or table.empty:
        return None
    kinds = sorted({str(k) for k in table["ci_kind"].dropna()})
    return ", ".join(kinds) if kinds else None


def estimands(results: Results) -> list[Estimand]:
    """One entry per table that has rows, in reading order; an estimator's own ``ci_kind`` is added."""
    out: list[Estimand] = []
    for e in KNOWN.values():
        table = results.table(e.table)
        if table.empty:
            continue
        kind = _ci_kind(table)
        out.append(e if kind is None else Estimand(e.table, e.name, e.estimand, f"{kind}; {e.interval}", e.label))
    return out


def label(table: str) -> str:
    """The header for a table's interval column."""
    e = KNOWN.get(table)
    return e.label if e else "interval"
