"""A model that answers every call with one scripted reply and keeps what it was sent: the judge
and coder tests' stand-in for a real backend."""

from __future__ import annotations

from twinstudy.models.base import Completion, GenerateParams, Message, ModelInfo


class ScriptedModel:
    def __init__(self, reply: str) -> None:
        self.info = ModelInfo(id="fake", provider="fake", model="fake")
        self.reply = reply
        self.seen: list[tuple[list[Message], GenerateParams]] = []

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion:
        self.seen.append((messages, params))
        return Completion(text=self.reply)

    async def aclose(self) -> None:
        return None
