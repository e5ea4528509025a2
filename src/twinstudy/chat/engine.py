"""One user turn to every participant at once; each participant keeps its own history.

A participant's history holds only what *it* was told and what *it* replied. A reply that never
arrived (provider block, transport error, Ctrl-C) leaves no trace in that history: the next turn is
sent as if the failed one had not been asked, and the database records that (``n_messages``).

Backends may offer streaming by adding ``async generate_stream(messages, params, on_delta) ->
Completion`` (``on_delta`` receives text as it arrives); without it, :meth:`Model.generate` is used and
the display shows "thinking…" until that participant's reply is complete.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from twinstudy.chat.participants import Participant
from twinstudy.models.base import Completion, GenerateParams, Message, ModelCallError

MAX_RETRIES = 2
MAX_BACKOFF_S = 30.0


@dataclass
class Reply:
    label: str
    model: str
    text: str
    outcome: str  # answered | refused | evasive | blocked | truncated | error
    reasoning: str | None = None
    rules: tuple[str, ...] = ()
    finish_reason: str | None = None
    provider_code: str | None = None
    error: str = ""
    block_message: str = ""
    latency_ms: float = 0.0
    tokens_in: int | None = None
    tokens_out: int | None = None
    messages: list[Message] = field(default_factory=list)

    @property
    def in_history(self) -> bool:
        """Whether this reply becomes part of the participant's history."""
        return self.outcome not in ("blocked", "error")

    def row(self) -> dict[str, Any]:
        return {
            "participant": self.label, "model": self.model, "content": self.text, "reasoning": self.reasoning,
            "outcome": self.outcome, "rules_json": json.dumps(list(self.rules)),
            "finish_reason": self.finish_reason, "provider_code": self.provider_code,
            "error": self.error or None, "latency_ms": round(self.latency_ms, 1), "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out, "n_messages": len(self.messages),
            "messages_json": json.dumps([{"role": m.role, "content": m.content} for m in self.messages],
                                        ensure_ascii=False),
        }


class TurnObserver(Protocol):
    def started(self, label: str) -> None: ...

    def delta(self, label: str, text: str) -> None: ...

    def finished(self, reply: Reply) -> None: ...


class NullObserver:
    def started(self, label: str) -> None:
        return None

    def delta(self, label: str, text: str) -> None:
        return None

    def finished(self, reply: Reply) -> None:
        return None


def classify(completion: Completion, lang: str) -> tuple[str, tuple[str, ...]]:
    """Outcome of a chat reply, in the study's vocabulary (blocked is not refused)."""
    if completion.block is not None:
        return "blocked", (completion.block.provider_code,)
    from twinstudy.scoring.refusal import classify_open

    if not completion.text.strip() and completion.finish_reason == "length":
        return "truncated", ()
    # A chat reply is not an essay: its length is no sign of evasion at all (min_complete_chars=0).
    verdict = classify_open(completion.text, lang, min_complete_chars=0)
    if verdict.outcome == "denial":
        return "refused", tuple(verdict.rules)
    if completion.finish_reason == "length":  # a cut-off reply is too short to call evasive
        return "truncated", tuple(verdict.rules)
    # The length-only rule ("short") targets open requests for long texts; a short chat reply is
    # not evasive for being short, so only the wording rules mark a chat reply evasive.
    if verdict.outcome == "evasive" and set(verdict.rules) - {"short"}:
        return "evasive", tuple(verdict.rules)
    return "answered", tuple(verdict.rules)


async def ask(participant: Participant, messages: list[Message], params: GenerateParams, lang: str,
              observer: TurnObserver) -> Reply:
    """One participant, one request (retried on retryable transport errors, never on a block)."""
    model = participant.backend()
    observer.started(participant.label)
    t0 = time.perf_counter()

    def made(**fields: Any) -> Reply:
        return Reply(label=participant.label, model=participant.info.id, messages=messages, **fields)

    stream: Any = getattr(model, "generate_stream", None)
    attempt = 0
    while True:
        try:
            if callable(stream):
                def on_delta(text: str) -> None:
                    observer.delta(participant.label, text)

                completion: Completion = await stream(messages, params, on_delta)
            else:
                completion = await model.generate(messages, params)
            break
        except ModelCallError as exc:
            if exc.retryable and not exc.fatal and attempt < MAX_RETRIES:
                attempt += 1
                await asyncio.sleep(min(exc.retry_after or 2.0 ** attempt, MAX_BACKOFF_S))
                continue
            return made(text="", outcome="error", error=str(exc), provider_code=exc.provider_code,
                         latency_ms=(time.perf_counter() - t0) * 1000)
        except Exception as exc:  # a backend bug or a local failure must not end the chat
            return made(text="", outcome="error", error=f"{type(exc).__name__}: {exc}",
                         latency_ms=(time.perf_counter() - t0) * 1000)
    outcome, rules = classify(completion, lang)
    return made(
        text=completion.text, outcome=outcome, reasoning=completion.reasoning or None, rules=rules,
        finish_reason=completion.finish_reason,
        provider_code=completion.provider_code or (completion.block.provider_code if completion.block else None),
        block_message=completion.block.message if completion.block else "",
        latency_ms=completion.latency_ms or (time.perf_counter() - t0) * 1000,
        tokens_in=completion.tokens_in, tokens_out=completion.tokens_out,
    )


class Histories:
    """Each participant's own conversation: system prompt, then its user/assistant pairs."""

    def __init__(self, participants: Sequence[Participant]) -> None:
        self.participants = list(participants)
        self._pairs: dict[str, list[Message]] = {p.label: [] for p in participants}

    def messages_for(self, participant: Participant, user_text: str) -> list[Message]:
        head = [Message("system", participant.system)] if participant.system else []
        return [*head, *self._pairs[participant.label], Message("user", user_text)]

    def record(self, reply: Reply, user_text: str) -> None:
        if reply.in_history:
            self._pairs[reply.label] += [Message("user", user_text), Message("assistant", reply.text)]

    def history(self, label: str) -> list[Message]:
        return list(self._pairs[label])


async def run_turn(participants: Sequence[Participant], histories: Histories, user_text: str, lang: str,
                   params: GenerateParams, observer: TurnObserver,
                   on_reply: Callable[[Reply], None] | None = None) -> list[Reply]:
    """Send ``user_text`` to every participant concurrently; each reply is recorded the moment it
    arrives (``on_reply``, e.g. a database write; the observer, e.g. the display). Returns the
    replies in participant order."""

    async def one(p: Participant) -> Reply:
        reply = await ask(p, histories.messages_for(p, user_text), params, lang, observer)
        histories.record(reply, user_text)
        if on_reply is not None:
            on_reply(reply)
        observer.finished(reply)
        return reply

    return list(await asyncio.gather(*(one(p) for p in participants)))
