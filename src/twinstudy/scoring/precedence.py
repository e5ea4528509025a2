"""Which scorer's verdict is "the" score of a trial, when several scored the same turn.

One ordered list decides, everywhere (the scored frame, the report's transcripts, rescoring): the
first scorer in :data:`SCORER_PRECEDENCE` that scored a turn wins. A pattern ending in ``*``
matches by prefix (every LLM judge is ``judge:<model id>``); with several judges stored, only the
primary one (the judge asked last, :func:`twinstudy.scoring.judge_pass.primary_judge`) ranks as a
judge. A scorer not in the list (a custom one) ranks after every listed one, and among such scorers
the name decides, only so that the choice is repeatable. Versions never compete: the store keeps
one row per (trial, scorer, turn), the latest written.

Rows that are not a verdict (a judge reply that could not be read: ``unparseable`` or ``error``)
are passed over, so the next scorer in line decides.

An imported label (a score whose version starts with ``imported``, written by ``twinstudy import``
under the source judge's name) is the score of record of its trial, ahead of every list entry:
twinstudy's own scorers may rescore the same replies beside it, for comparison, without replacing
the labels the data came with.

To add a scorer, put its name here, at the place its verdict should take over from the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import pandas as pd

# First wins. The closed-item parser and the open-reply scorers never score the same item type,
# so their relative order matters only to a mixed custom scorer.
SCORER_PRECEDENCE: tuple[str, ...] = (
    "judge:*",        # an LLM judge the study (or `rescore --judge`) asked for: twinstudy.scoring.judge_pass
    "open-ensemble",  # learned classifier + rules, open requests: twinstudy.scoring.open_classifier
    "rules-open",     # rules alone, open requests: twinstudy.scoring.trial_scoring
    "rules-parse",    # closed items: twinstudy.scoring.parse
)

#: Version prefix of labels brought in by ``twinstudy import`` (twinstudy.store.importer).
IMPORTED = "imported"

_UNUSABLE = ("unparseable", "error")  # a judge row with one of these statuses gave no verdict

assert all(p.rstrip("*").replace("-", "").replace(":", "").isalnum() for p in SCORER_PRECEDENCE), \
    "names go into SQL as literals"

T = TypeVar("T")


def rank(scorer: str, primary_judge: str | None = None) -> tuple[int, str]:
    """Sort key: lower wins. Listed scorers by their place, unlisted ones after them by name."""
    unlisted = (len(SCORER_PRECEDENCE), scorer)
    if scorer.startswith("judge:") and primary_judge is not None and scorer != f"judge:{primary_judge}":
        return unlisted
    for i, pattern in enumerate(SCORER_PRECEDENCE):
        if scorer == pattern or (pattern.endswith("*") and scorer.startswith(pattern[:-1])):
            return (i, "")
    return unlisted


def usable(scorer: str, status: str) -> bool:
    """False for judge rows without a verdict; every other row is usable."""
    return not (scorer.startswith("judge:") and status in _UNUSABLE)


def _scorer(row: Any) -> str:
    return str(row.scorer)


def _status(row: Any) -> str:
    return str(row.status)


def pick(candidates: Iterable[T], scorer_of: Callable[[T], str] = _scorer,
         status_of: Callable[[T], str] | None = _status, primary_judge: str | None = None) -> T | None:
    """The winning candidate among one turn's scores (None when there are none usable). By default
    candidates are rows with ``scorer`` and ``status`` attributes (``ScoreRow``)."""
    usable_ones = [c for c in candidates if status_of is None or usable(scorer_of(c), status_of(c))]
    return min(usable_ones, key=lambda c: rank(scorer_of(c), primary_judge), default=None)


def pick_per_trial(scores: pd.DataFrame, key: str = "trial_key", primary_judge: str | None = None) -> pd.DataFrame:
    """Keep one row per ``key``: an imported label, else the usable row whose ``scorer`` ranks first.
    Rows for one turn only."""
    if scores.empty:
        return scores
    if "status" in scores.columns:
        keep = [usable(s, st) for s, st in zip(scores["scorer"].astype(str), scores["status"].astype(str),
                                               strict=True)]
        scores = scores[pd.Series(keep, index=scores.index, dtype=bool)]
    order = {name: i for i, name in enumerate(sorted(scores["scorer"].unique(),
                                                     key=lambda n: rank(str(n), primary_judge)))}
    ranks = scores["scorer"].map(order)
    if "version" in scores.columns:  # imported labels first (see the module docstring)
        ranks = ranks.where(~scores["version"].astype(str).str.startswith(IMPORTED), -1)
    ordered = scores.assign(_rank=ranks).sort_values([key, "_rank"], kind="stable")
    return ordered.drop_duplicates(key, keep="first").drop(columns=["_rank"])


def sql_rank(column: str = "scorer") -> str:
    """A SQL expression ranking ``column`` like :func:`rank` without a primary judge (lower wins;
    then order by the name), for queries that pick one score per trial inside SQLite."""
    whens = " ".join(
        f"WHEN {column} LIKE '{p[:-1]}%' THEN {i}" if p.endswith("*") else f"WHEN {column} = '{p}' THEN {i}"
        for i, p in enumerate(SCORER_PRECEDENCE))
    return f"(CASE {whens} ELSE {len(SCORER_PRECEDENCE)} END)"
