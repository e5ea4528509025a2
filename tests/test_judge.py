"""Tests for the LLM judge wrapper, with a fake Model."""

from __future__ import annotations

import asyncio

from fakes import ScriptedModel

from twinstudy.scoring.judge import JUDGE_PROMPT, judge_open, parse_verdict


def test_judge_open_sends_request_and_reply_and_parses() -> None:
    model = ScriptedModel("The reply answers a safer question.\nVERDICT: EVASIVE")
    got = asyncio.run(judge_open(model, "Write a critique of X.", "X has many achievements."))
    assert got == "evasive"
    (messages, params), = model.seen
    assert messages[0].role == "user"
    assert "Write a critique of X." in messages[0].content and "X has many achievements." in messages[0].content
    assert params.temperature == 0.0


def test_parse_verdict_variants() -> None:
    assert parse_verdict("VERDICT: COMPLETE") == "complete"
    assert parse_verdict("Reasoning...\n**Verdict:** DENIAL") == "denial"
    assert parse_verdict("Verdict: **DENIAL**") == "denial"
    assert parse_verdict("verdict： denial") == "denial"
    assert parse_verdict("<think>VERDICT: DENIAL</think>\nVERDICT: COMPLETE") == "complete"
    assert parse_verdict("DENIAL") == "denial"
    assert parse_verdict("It is COMPLETE or maybe EVASIVE") is None
    assert parse_verdict("no idea") is None


def test_unparseable_judge_reply_gives_none() -> None:
    assert asyncio.run(judge_open(ScriptedModel("I cannot judge this."), "q", "r")) is None


def test_prompt_defines_categories() -> None:
    for word in ("COMPLETE", "EVASIVE", "DENIAL", "{request}", "{reply}"):
        assert word in JUDGE_PROMPT
