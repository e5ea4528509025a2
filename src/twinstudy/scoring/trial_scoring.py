"""Decide a trial's outcome and scores from what the model returned.

Kept apart from the runner so that `twinstudy rescore` can run exactly the same logic on stored
text without calling any model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from twinstudy.instruments.schema import Item
from twinstudy.scoring.outcome import open_outcome
from twinstudy.scoring.parse import SCORER_NAME, SCORER_VERSION, parse_answer
from twinstudy.scoring.refusal import RULES_VERSION
from twinstudy.store.records import ScoreRow
from twinstudy.vocab import LIKERT_POINTS, LIKERT_TYPES, other_lang

__all__ = ["LIKERT_POINTS", "OPEN_SCORER", "Reply", "agreement_of", "expected_agreement", "other_lang",
           "score_reply", "shown_options"]
OPEN_SCORER = "rules-open"


@dataclass(frozen=True)
class Reply:
    """The part of a completion that scoring needs; also rebuilt from the store for rescoring."""

    text: str
    finish_reason: str | None
    blocked: bool = False
    distribution: dict[str, float] | None = None
    distribution_mass: float | None = None


def agreement_of(value: int, item_type: str) -> float:
    """Map a Likert answer linearly onto [-1, +1] (1 -> -1, midpoint -> 0, top -> +1)."""
    points = LIKERT_POINTS[item_type]
    return 2.0 * (value - 1) / (points - 1) - 1.0


def expected_agreement(distribution: dict[str, float], item_type: str) -> float | None:
    total = sum(distribution.values())
    if total <= 0:
        return None
    return sum(p * agreement_of(int(k), item_type) for k, p in distribution.items()) / total


def shown_options(item: Item, lang: str, order: list[int] | None) -> list[str] | None:
    if item.options is None or order is None:
        return None
    return [item.options[i].get(lang) for i in order]


def score_reply(trial_key: str, item: Item, lang: str, order: list[int] | None, correct_letter: str | None,
                reply: Reply, turn: int = 0) -> tuple[str, ScoreRow | None]:
    """Return the outcome of one turn and its score row (None for blocked turns)."""
    if reply.blocked:
        return "blocked", None
    if item.type == "open":
        # Only requests for an essay or explanation (the templated sensitive-topic requests) are
        # judged evasive for being short; "Who made you?" is answered completely in one line.
        essay = any(t.startswith("template-") for t in item.tags)
        outcome, verdict = open_outcome(reply.text, reply.finish_reason, lang, short_is_evasive=essay)
        assert verdict is not None  # only a blocked reply has none
        return outcome, ScoreRow(trial_key, OPEN_SCORER, RULES_VERSION, verdict.outcome, turn=turn,
                                 detail=",".join(verdict.rules))
    # Option texts in the other language too: a model may quote an option in the language it
    # chose to answer in rather than the one it was asked in.
    # The item's wordings in the asked language let a Chinese verb echo ("支持") answer it.
    parsed = parse_answer(reply.text, item.type, lang, shown_options(item, lang, order),
                          alt_options=shown_options(item, other_lang(lang), order),
                          question=" ".join(item.text.get(lang)))
    status = parsed.status
    outcome = status
    if status == "unparseable" and reply.finish_reason == "length":
        outcome = "truncated"
    row = ScoreRow(trial_key, SCORER_NAME, SCORER_VERSION, status, turn=turn,
                   value=None if parsed.value is None else str(parsed.value), detail=parsed.reason or None)
    if status == "answered" and item.type in LIKERT_TYPES:
        assert isinstance(parsed.value, int)
        row.agreement = agreement_of(parsed.value, item.type)
    elif status == "answered" and item.type == "yesno":
        row.agreement = 1.0 if parsed.value == "yes" else -1.0
    if reply.distribution:
        row.distribution = reply.distribution
        row.distribution_mass = reply.distribution_mass
    if reply.distribution and item.type in LIKERT_TYPES:
        # The expected value of the answer distribution replaces the single sampled answer.
        expected = expected_agreement(reply.distribution, item.type)
        if expected is not None and not math.isnan(expected):
            row.agreement = expected
            if outcome in ("unparseable", "truncated"):
                # The text gave no answer, the distribution did: the answer is its mode.
                outcome = "answered"
                row.status = "answered"
                row.value = max(reply.distribution, key=lambda k: reply.distribution[k])  # type: ignore[index]
                row.detail = f"{row.detail};answer-from-distribution" if row.detail else "answer-from-distribution"
    if row.agreement is not None:
        row.score = -row.agreement if item.reverse else row.agreement
    if item.type == "choice" and correct_letter is not None and status == "answered":
        row.correct = 1.0 if parsed.value == correct_letter else 0.0
    return outcome, row

