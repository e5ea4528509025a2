"""Which scorer's verdict is "the" score of a trial, when several scored the same turn.

One ordered list decides, everywhere (the scored frame, the report's transcripts): the first
scorer in :data:`SCORER_PRECEDENCE` that scored a turn wins. A scorer not in the list (a name from
a newer or a custom version) ranks after every listed one, and among such scorers the name decides,
only so that the choice is repeatable. Versions never compete: the store keeps one row per
(trial, scorer, turn), the latest written.

An imported label (a score whose version starts with ``imported``, written by ``twinstudy import``
under the source judge's name) is the score of record of its trial, ahead of every list entry:
twinstudy's own scorers may rescore the same replies beside it, for comparison, without replacing
the labels the data came with.

To add a scorer, put its name here, at the place its verdict should take over from the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import pandas as pd

# First wins. The closed-item parser and the open-reply rules never score the same item type, so
# their relative order matters only to a mixed custom scorer; an LLM judge of open replies, when
# one has scored, is preferred to the wording rules it was built to check.
SCORER_PRECEDENCE: tuple[str, ...] = (
    "llm-judge-open",  # twinstudy.scoring.judge.JUDGE_NAME
    "rules-parse",  # twinstudy.scoring.parse.SCORER_NAME
    "rules-open",  # twinstudy.scoring.trial_scoring.OPEN_SCORER
)

#: Version prefix of labels brought in by ``twinstudy import`` (twinstudy.store.importer).
IMPORTED = "imported"

assert all(name.replace("-", "").isalnum() for name in SCORER_PRECEDENCE), "names go into SQL as literals"

T = TypeVar("T")


def rank(scorer: str) -> tuple[int, str]:
    """Sort key: lower wins. Listed scorers by their place, unlisted ones after them by name."""
    try:
        return (SCORER_PRECEDENCE.index(scorer), "")
    except ValueError:
        return (len(SCORER_PRECEDENCE), scorer)


def pick(candidates: Iterable[T], scorer_of: Callable[[T], str]) -> T | None:
    """The winning candidate among one turn's scores (None when there are none)."""
    return min(candidates, key=lambda c: rank(scorer_of(c)), default=None)


def pick_per_trial(scores: pd.DataFrame, key: str = "trial_key") -> pd.DataFrame:
    """Keep one row per ``key``: the one whose ``scorer`` ranks first. Rows for one turn only."""
    if scores.empty:
        return scores
    order = {name: i for i, name in enumerate(sorted(scores["scorer"].unique(), key=rank))}
    ranks = scores["scorer"].map(order)
    if "version" in scores.columns:  # imported labels first (see the module docstring)
        ranks = ranks.where(~scores["version"].astype(str).str.startswith(IMPORTED), -1)
    ordered = scores.assign(_rank=ranks).sort_values([key, "_rank"], kind="stable")
    return ordered.drop_duplicates(key, keep="first").drop(columns=["_rank"])


def sql_rank(column: str = "scorer") -> str:
    """A SQL expression ranking ``column`` like :func:`rank` (lower wins; then order by the name),
    for queries that pick one score per trial inside SQLite."""
    whens = " ".join(f"WHEN '{name}' THEN {i}" for i, name in enumerate(SCORER_PRECEDENCE))
    return f"(CASE {column} {whens} ELSE {len(SCORER_PRECEDENCE)} END)"
