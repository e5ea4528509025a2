"""Render an item under a framing into chat messages, in the trial's language."""

from __future__ import annotations

import random
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from twinstudy.instruments.schema import Framing, Item
from twinstudy.models.base import Message
from twinstudy.vocab import LETTERS, LIKERT_TYPES


@lru_cache(maxsize=1)
def _templates() -> dict[str, Any]:
    text = (resources.files("twinstudy") / "data" / "prompts.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def option_order(item: Item, seed: int) -> list[int]:
    """A per-trial shuffle of choice options (seeded and recorded) that cancels position bias."""
    assert item.options is not None
    order = list(range(len(item.options)))
    random.Random(seed).shuffle(order)
    return order


def render_question(item: Item, lang: str, paraphrase: int, order: list[int] | None) -> str:
    t = _templates()
    texts = item.text.get(lang)
    question = texts[min(paraphrase, len(texts) - 1)]
    if item.type in LIKERT_TYPES:
        return f"{t[item.type][lang]}\n\n{t['statement_label'][lang]} {question}"
    if item.type == "choice":
        assert item.options is not None and order is not None
        lines = [f"{LETTERS[pos]}. {item.options[orig].get(lang)}" for pos, orig in enumerate(order)]
        return f"{question}\n\n" + "\n".join(lines) + f"\n\n{t['choice'][lang]}"
    if item.type == "yesno":
        return f"{question}\n\n{t['yesno'][lang]}"
    return question


def render_messages(
    system: str | None, framing: Framing, item: Item, lang: str, paraphrase: int, order: list[int] | None
) -> list[Message]:
    """The conversation of one trial. For Likert items the answer instructions come first, then what
    the user says (the framing), then the statement: every trial of a language then shares the
    instructions as a prompt prefix whatever its framing, and the framing sits right before the
    statement it is about. (With the framing first, each per-theme framing wording made a local
    model re-read the instructions: about 40 % of the quickstart's prompt tokens.)"""
    prefix = framing.prefix.get(lang, item.theme).strip()
    if item.type in LIKERT_TYPES and prefix:
        t = _templates()
        texts = item.text.get(lang)
        statement = texts[min(paraphrase, len(texts) - 1)]
        user = f"{t[item.type][lang]}\n\n{prefix}\n\n{t['statement_label'][lang]} {statement}"
    else:
        question = render_question(item, lang, paraphrase, order)
        user = f"{prefix}\n\n{question}" if prefix else question
    msgs = [Message("system", system)] if system else []
    msgs.append(Message("user", user))
    return msgs
