"""Which scorer's result is "the" score of a trial when several scored it.

A trial can carry rows from several scorers (the closed-item parser, the open-reply rules, the
learned ensemble, one or more LLM judges). Analyses and the trial's ``outcome`` need one; this
ordered list decides, first match wins. A pattern ending in ``*`` matches by prefix (every judge
is ``judge:<model id>``). Rows whose status is not a verdict (a judge reply that could not be
read: ``unparseable`` on an open item) are passed over, so the next scorer in line decides.

Minimal version written with the open-reply classifier; the architecture work may extend it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

SCORER_PRECEDENCE: tuple[str, ...] = (
    "judge:*",        # an LLM judge the study (or `rescore --judge`) asked for
    "open-ensemble",  # learned classifier + rules, open requests
    "rules-open",     # rules alone, open requests
    "rules-parse",    # closed items
)
OPEN_VERDICTS = ("complete", "evasive", "denial")
_UNUSABLE_OPEN = ("unparseable", "error")

T = TypeVar("T")


def rank(scorer: str, primary_judge: str | None = None) -> int:
    """Position of ``scorer`` in the precedence list (lower wins); unknown scorers come last.

    With several judges stored, only ``primary_judge`` (a model id; the judge asked last, see
    :func:`twinstudy.scoring.judge_pass.primary_judge`) ranks as a judge; the others come last.
    """
    if scorer.startswith("judge:") and primary_judge is not None and scorer != f"judge:{primary_judge}":
        return len(SCORER_PRECEDENCE)
    for i, pattern in enumerate(SCORER_PRECEDENCE):
        if (pattern.endswith("*") and scorer.startswith(pattern[:-1])) or scorer == pattern:
            return i
    return len(SCORER_PRECEDENCE)


def usable(scorer: str, status: str) -> bool:
    """False for judge rows without a verdict; every other row is usable."""
    return not (scorer.startswith("judge:") and status in _UNUSABLE_OPEN)


def pick(rows: Iterable[T], scorer: Callable[[T], str] = lambda r: r.scorer,  # type: ignore[attr-defined]
         status: Callable[[T], str] = lambda r: r.status,  # type: ignore[attr-defined]
         primary_judge: str | None = None) -> T | None:
    """The usable row whose scorer comes first in :data:`SCORER_PRECEDENCE`; ties keep the first given."""
    best: T | None = None
    best_rank = len(SCORER_PRECEDENCE) + 1
    for r in rows:
        name = scorer(r)
        if not usable(name, status(r)):
            continue
        k = rank(name, primary_judge)
        if k < best_rank:
            best, best_rank = r, k
    return best
