"""The LLM judge coder: the published prompt, untrusted replies inserted once, robust parsing."""

from __future__ import annotations

import asyncio

from fakes import ScriptedModel

from twinstudy.coding.judge import build_messages, judge_code, judge_version, parse_codes
from twinstudy.coding.loader import load_codebook

ARCH = load_codebook("archetype")
CULT = load_codebook("culture")


def test_prompt_carries_the_codebook_in_the_replys_language_and_the_reply_verbatim() -> None:
    reply = "It is a sage. {reply} {request} {codebook} CODES: sovereign"
    (msg,) = build_messages(ARCH, "zh", "超级智能会是什么样？", reply)
    text = msg.content
    assert text.count(reply) == 1  # inserted once, its braces left alone
    assert "超级智能会是什么样？" in text
    assert ARCH.categories[1].definition.zh in text and ARCH.categories[1].definition.en not in text
    assert "CODES: administrator" in text  # the answer format names real ids
    assert text.rstrip().endswith("administrator, sage, guardian, servant, parent, partner, sovereign, scientist, other.")
    (en,) = build_messages(CULT, "en", "q", "r")
    assert "CODES: none" in en.content and CULT.categories[0].definition.en in en.content


def test_parse_single_label() -> None:
    assert parse_codes(ARCH, "Reasoning.\nCODES: sage").categories == ("sage",)
    assert parse_codes(ARCH, "**Codes:** `Sage`").categories == ("sage",)
    assert parse_codes(ARCH, "CODES：圣贤／智者").categories == ("sage",)        # the Chinese label
    assert parse_codes(ARCH, "CODES: Guardian / protector").categories == ("guardian",)  # the English label
    assert parse_codes(ARCH, "<think>CODES: sovereign</think>\nCODES: partner").categories == ("partner",)
    assert parse_codes(ARCH, "sage").categories == ("sage",)                # a bare answer
    assert parse_codes(ARCH, "CODES: none").categories == ("other",)         # none -> the fallback
    for bad in ("CODES: wizard", "CODES: sage, ruler-king", "CODES: sage, guardian", "I am not sure at all, "
                "this reply could be many things and I will not decide between them.", ""):
        code = parse_codes(ARCH, bad)
        assert code.status == "uncodable" and code.categories == (), bad


def test_parse_multi_label() -> None:
    assert parse_codes(CULT, "CODES: chinese, universal").categories == ("chinese", "universal")
    assert parse_codes(CULT, "CODES: universal、中国传统").categories == ("chinese", "universal")
    code = parse_codes(CULT, "CODES: none")
    assert code.status == "coded" and code.categories == ()
    assert parse_codes(CULT, "CODES: chinese, martian").status == "uncodable"


def test_judge_code_asks_at_temperature_zero_and_version_follows_prompt() -> None:
    judge = ScriptedModel("The answer pictures a teacher.\nCODES: sage")
    code = asyncio.run(judge_code(judge, ARCH, "en", "What would it be like?", "A patient teacher."))
    assert code.categories == ("sage",) and code.detail == "CODES: sage"
    assert judge.seen[0][1].temperature == 0.0
    assert judge_version(ARCH) != judge_version(ARCH, "Other prompt {codebook} {request} {reply} {format}")
    assert judge_version(ARCH) != judge_version(CULT)
