"""Tests for the LLM judge wrapper, with a fake Model."""

from __future__ import annotations

import asyncio

from twinstudy.models.base import Completion, GenerateParams, Message, ModelInfo
from twinstudy.scoring.judge import JUDGE_PROMPT, judge_open, parse_verdict


class FakeModel:
    def __init__(self, reply: str) -> None:
        self.info = ModelInfo(id="fake", provider="fake", model="fake")
        self.reply = reply
        self.seen: list[tuple[list[Message], GenerateParams]] = []

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion:
        self.seen.append((messages, params))
        return Completion(text=self.reply)

    async def aclose(self) -> None:
        return None


def test_judge_open_sends_request_and_reply_and_parses() -> None:
    model = FakeModel("The reply answers a safer question.\nVERDICT: EVASIVE")
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
    assert asyncio.run(judge_open(FakeModel("I cannot judge this."), "q", "r")) is None


def test_prompt_defines_categories() -> None:
    for word in ("COMPLETE", "EVASIVE", "DENIAL", "{request}", "{reply}"):
        assert word in JUDGE_PROMPT
