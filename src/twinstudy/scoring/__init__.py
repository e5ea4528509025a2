"""Scoring: answer parsing (EN/ZH), refusal/evasion detection and an optional LLM judge."""

from twinstudy.scoring.parse import SCORER_NAME, SCORER_VERSION, ParsedAnswer, parse_answer
from twinstudy.scoring.refusal import (
    RULES_VERSION,
    OpenVerdict,
    classify_open,
    classify_open_rules,
    is_refusal_hedge,
)

__all__ = [
    "RULES_VERSION",
    "SCORER_NAME",
    "SCORER_VERSION",
    "OpenVerdict",
    "ParsedAnswer",
    "classify_open",
    "classify_open_rules",
    "is_refusal_hedge",
    "parse_answer",
]
