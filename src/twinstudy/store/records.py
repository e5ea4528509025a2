"""Typed rows of the results database: what the runner and rescoring write.

One dataclass per table, with the table's column names as field names, so the DDL in
:mod:`twinstudy.store.schema` and the code that fills it cannot drift apart silently
(``tests/test_store.py`` compares the two).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any


@dataclass
class TrialRecord:
    """One row of ``trials``: a trial's design cell, what was sent, and how it ended."""

    key: str
    study: str
    model: str
    instrument: str
    item: str
    theme: str
    item_type: str
    reverse: int
    lang: str
    framing: str
    paraphrase: int
    sample: int
    seed: int
    params_json: str
    option_order: str | None
    correct_letter: str | None
    messages_json: str
    outcome: str
    answer_text: str | None
    reasoning: str | None
    followup_text: str | None
    provider_code: str | None
    omitted_params: str | None
    n_attempts: int
    tokens_in: int | None
    tokens_out: int | None
    cost: float | None  # None: the model has no known price (never stored as $0.00)
    finished_at: float
    sent_params: str | None = None  # JSON: the request besides messages, as sent (turn 0)
    adjusted_params: str | None = None  # JSON list: self-healing changes {param, action, value, reason}


@dataclass
class AttemptRow:
    """One request to a model (``attempts``); the run it belongs to is given when written."""

    trial_key: str
    turn: int
    attempt: int
    started_at: float
    latency_ms: float | None = None
    request: dict[str, Any] | None = None
    http_status: int | None = None
    provider_code: str | None = None
    finish_reason: str | None = None
    raw: str | None = None
    text: str | None = None
    reasoning: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    error: str | None = None
    blocked: str | None = None


@dataclass
class ScoreRow:
    """One scorer's verdict on one turn of a trial (``scores``)."""

    trial_key: str
    scorer: str
    version: str
    status: str
    turn: int = 0
    value: str | None = None
    agreement: float | None = None
    score: float | None = None
    correct: float | None = None
    distribution: dict[str, float] | None = None
    detail: str | None = None
    distribution_mass: float | None = None


@dataclass(frozen=True)
class StoredReply:
    """What rescoring needs of a stored trial: its cell, its replies, and any stored distribution."""

    key: str
    instrument: str
    item: str
    lang: str
    option_order: list[int] | None
    correct_letter: str | None
    outcome: str
    answer_text: str | None
    followup_text: str | None
    finish_reason: str | None
    distribution: dict[str, float] | None
    distribution_mass: float | None


TRIAL_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(TrialRecord))


def first_user_message(messages_json: str) -> str:
    """The first user message of a stored conversation (``trials.messages_json``, a JSON list of
    [role, content] pairs): the request as the model saw it, framing included."""
    for role, content in json.loads(messages_json):
        if role == "user":
            return str(content)
    return ""
