"""Decide a trial's outcome and scores from what the model returned.

Kept apart from the runner so that `twinstudy rescore` can run exactly the same logic on stored
text without calling any model.

Scorers form a registry, :data:`SCORERS` (name -> :class:`Scorer`, each with a version). Every
scorer that applies to an item scores the turn and leaves its own row; which row decides the
trial's outcome is :mod:`twinstudy.scoring.precedence`'s call. Changing a scorer's behaviour
means bumping its version, and ``twinstudy rescore`` moves stored databases to the new verdicts.
The LLM judge is not in this registry: it needs a model call, so it runs as a separate pass
(:mod:`twinstudy.scoring.judge_pass`) and stores rows named ``judge:<model id>``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from twinstudy.instruments.schema import Item
from twinstudy.scoring.outcome import VERDICT_OUTCOME
from twinstudy.scoring.parse import SCORER_NAME, SCORER_VERSION, parse_answer
from twinstudy.scoring.precedence import pick
from twinstudy.scoring.refusal import RULES_VERSION, classify_open_rules
from twinstudy.store.records import ScoreRow
from twinstudy.vocab import LIKERT_POINTS, LIKERT_TYPES, other_lang

OPEN_SCORER = "rules-open"
ENSEMBLE_SCORER = "open-ensemble"
OPEN_OUTCOME: dict[str, str] = dict(VERDICT_OUTCOME)  # one mapping: twinstudy.scoring.outcome


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



@dataclass(frozen=True)
class Turn:
    """Everything a scorer may read about one turn of one trial."""

    trial_key: str
    item: Item
    lang: str
    order: list[int] | None
    correct_letter: str | None
    reply: Reply
    turn: int = 0

    @property
    def essay(self) -> bool:
        """Requests for an essay or explanation (the templated sensitive-topic requests); only for
        these is a short reply a (weak) sign of evasion: "Who made you?" is answered in one line."""
        return any(t.startswith("template-") for t in self.item.tags)


@dataclass(frozen=True)
class Scorer:
    """A named, versioned scorer. ``applies`` selects items; ``score`` returns one row or None."""

    name: str
    version: str
    applies: Callable[[Item], bool]
    score: Callable[[Turn], ScoreRow | None]


def _is_open(item: Item) -> bool:
    return item.type == "open"


def _is_closed(item: Item) -> bool:
    return item.type != "open"


def _score_rules_open(t: Turn) -> ScoreRow:
    verdict = classify_open_rules(t.reply.text, t.lang, min_complete_chars=None if t.essay else 0)
    return ScoreRow(t.trial_key, OPEN_SCORER, RULES_VERSION, verdict.outcome, turn=t.turn,
                    detail=",".join(verdict.rules))


def _ensemble_version() -> str:
    from twinstudy.scoring.open_classifier import load_classifier

    return f"{load_classifier().version}+rules{RULES_VERSION}"


def _score_ensemble(t: Turn) -> ScoreRow:
    from twinstudy.scoring.open_classifier import load_classifier

    v = load_classifier().classify(t.reply.text, t.lang, essay=t.essay)
    # `value` is for parsed answers (the report shows it as the answer); the probabilities and the
    # rule ids that fired go to `detail`.
    return ScoreRow(t.trial_key, ENSEMBLE_SCORER, _ensemble_version(), v.outcome, turn=t.turn, detail=v.detail())


def _score_closed(t: Turn) -> ScoreRow:
    item, reply, lang, order = t.item, t.reply, t.lang, t.order
    # Option texts in the other language too: a model may quote an option in the language it
    # chose to answer in rather than the one it was asked in.
    # The item's wordings in the asked language let a Chinese verb echo ("支持") answer it.
    parsed = parse_answer(reply.text, item.type, lang, shown_options(item, lang, order),
                          alt_options=shown_options(item, other_lang(lang), order),
                          question=" ".join(item.text.get(lang)))
    status = parsed.status
    row = ScoreRow(t.trial_key, SCORER_NAME, SCORER_VERSION, status, turn=t.turn,
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
            if status == "unparseable":
                # The text gave no answer, the distribution did: the answer is its mode.
                row.status = "answered"
                row.value = max(reply.distribution, key=lambda k: reply.distribution[k])  # type: ignore[index]
                row.detail = f"{row.detail};answer-from-distribution" if row.detail else "answer-from-distribution"
    if row.agreement is not None:
        row.score = -row.agreement if item.reverse else row.agreement
    if item.type == "choice" and t.correct_letter is not None and status == "answered":
        row.correct = 1.0 if parsed.value == t.correct_letter else 0.0
    return row


def scorers() -> dict[str, Scorer]:
    """The registry: every scorer that runs on stored text, by name, with its current version."""
    return {
        SCORER_NAME: Scorer(SCORER_NAME, SCORER_VERSION, _is_closed, _score_closed),
        OPEN_SCORER: Scorer(OPEN_SCORER, RULES_VERSION, _is_open, _score_rules_open),
        ENSEMBLE_SCORER: Scorer(ENSEMBLE_SCORER, _ensemble_version(), _is_open, _score_ensemble),
    }


def outcome_of(row: ScoreRow, item: Item, reply: Reply) -> str:
    """The trial outcome a score row implies (a cut-off reply with nothing to read is ``truncated``)."""
    if item.type == "open":
        if not reply.text.strip() and reply.finish_reason == "length":
            return "truncated"
        return OPEN_OUTCOME.get(row.status, row.status)
    if row.status == "unparseable" and reply.finish_reason == "length":
        return "truncated"
    return row.status


def score_turn(trial_key: str, item: Item, lang: str, order: list[int] | None, correct_letter: str | None,
               reply: Reply, turn: int = 0) -> tuple[str, list[ScoreRow]]:
    """The outcome of one turn and the rows of every applicable scorer (none for blocked turns)."""
    if reply.blocked:
        return "blocked", []
    t = Turn(trial_key, item, lang, order, correct_letter, reply, turn)
    rows = [r for s in scorers().values() if s.applies(item) if (r := s.score(t)) is not None]
    primary = pick(rows)
    if primary is None:
        return "unparseable", rows
    return outcome_of(primary, item, reply), rows


def score_reply(trial_key: str, item: Item, lang: str, order: list[int] | None, correct_letter: str | None,
                reply: Reply, turn: int = 0) -> tuple[str, ScoreRow | None]:
    """The outcome of one turn and its deciding score row (None for blocked turns)."""
    outcome, rows = score_turn(trial_key, item, lang, order, correct_letter, reply, turn)
    return outcome, pick(rows)
