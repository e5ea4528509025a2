"""An API key never leaves the HTTP header: not in Completion.request or raw, not in an exception's
text, repr or fields, not in any log record, not in a backend's repr, not on stdout/stderr - even
when a server echoes the key back in its error body."""

from __future__ import annotations

import asyncio
import json
import logging

import fault_server as fs
import pytest
from fault_server import FaultServer, Reply

from twinstudy.models.anthropic import AnthropicModel
from twinstudy.models.base import Completion, GenerateParams, Message, ModelCallError, ModelInfo
from twinstudy.models.factory import create_model
from twinstudy.models.openai_compat import OpenAICompatModel
from twinstudy.models.registry import resolve

CANARY = "sk-TWINSTUDY-LEAK-CANARY-123"
ASK = [Message("system", "Be brief."), Message("user", "Agree or disagree?")]

REPLIES: list[Reply] = [
    Reply(200, fs.completion_body("Agree", reasoning="thinking")),
    fs.echo_auth_reply(),
    fs.RATE_LIMITED,
    fs.SERVER_ERROR,
    fs.DEEPSEEK_CONTENT_RISK,
    fs.ZAI_1113,
    fs.OPENROUTER_MODERATION,
    fs.FINISH_CONTENT_FILTER,
    fs.MINIMAX_1008,
    fs.RESET,
]
ANTHROPIC_REPLIES: list[Reply] = [
    Reply(200, fs.anthropic_body("Agree", thinking="hmm")),
    fs.echo_auth_reply(),
    fs.OVERLOADED_529,
    fs.ANTHROPIC_REFUSAL,
    fs.RESET,
]


def _outcomes(backend: OpenAICompatModel | AnthropicModel, n: int) -> list[Completion | ModelCallError]:
    async def go() -> list[Completion | ModelCallError]:
        out: list[Completion | ModelCallError] = []
        try:
            for _ in range(n):
                try:
                    out.append(await backend.generate(ASK, GenerateParams(max_tokens=8, temperature=0.0,
                                                                          logprobs=2)))
                except ModelCallError as exc:
                    out.append(exc)
        finally:
            await backend.aclose()
        return out

    return asyncio.run(go())


def _assert_clean(outcomes: list[Completion | ModelCallError]) -> None:
    for o in outcomes:
        if isinstance(o, Completion):
            texts = [json.dumps(o.request), o.raw, o.text, o.reasoning or "", repr(o)]
        else:
            texts = [str(o), repr(o), o.raw, json.dumps(o.request), repr(o.args)]
        for t in texts:
            assert CANARY not in t
            assert "LEAK-CANARY" not in t


@pytest.mark.parametrize("provider", ["openai", "zai", "openrouter", "openai-compatible"])
def test_openai_compatible_backend_never_leaks_the_key(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str], provider: str,
) -> None:
    env = {"openai": "OPENAI_API_KEY", "zai": "ZAI_API_KEY", "openrouter": "OPENROUTER_API_KEY",
           "openai-compatible": "MY_SERVER_KEY"}[provider]
    monkeypatch.setenv(env, CANARY)
    caplog.set_level(logging.DEBUG)
    base_url = fault_server.script(f"leak-{provider}", *REPLIES)
    info = resolve({"id": f"leak/{provider}", "provider": provider, "model": "m", "base_url": base_url,
                    "api_key_env": env})
    backend = create_model(info)
    assert isinstance(backend, OpenAICompatModel)
    assert CANARY not in repr(backend) and CANARY not in str(backend)
    outcomes = _outcomes(backend, len(REPLIES))

    kinds = [type(o).__name__ for o in outcomes]
    assert kinds.count("Completion") >= 3 and kinds.count("ModelCallError") >= 5
    sent = fault_server.requests[0]["headers"]["authorization"]
    assert sent == f"Bearer {CANARY}", "the key does go where it belongs: the header"
    echoed = outcomes[1]
    assert isinstance(echoed, ModelCallError) and "[REDACTED]" in echoed.raw
    _assert_clean(outcomes)
    assert CANARY not in caplog.text
    captured = capsys.readouterr()
    assert CANARY not in captured.out and CANARY not in captured.err


def test_anthropic_backend_never_leaks_the_key(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
    caplog.set_level(logging.DEBUG)
    base_url = fault_server.script("leak-anthropic", *ANTHROPIC_REPLIES)
    backend = create_model(ModelInfo(id="anthropic/x", provider="anthropic", model="claude-x", base_url=base_url))
    assert isinstance(backend, AnthropicModel)
    assert CANARY not in repr(backend)
    outcomes = _outcomes(backend, len(ANTHROPIC_REPLIES))
    assert fault_server.requests[0]["headers"]["x-api-key"] == CANARY
    assert isinstance(outcomes[3], Completion) and outcomes[3].block is not None
    _assert_clean(outcomes)
    assert CANARY not in caplog.text
    captured = capsys.readouterr()
    assert CANARY not in captured.out and CANARY not in captured.err


def test_missing_key_message_names_the_variable_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(Exception) as caught:
        create_model(resolve("openai/gpt-5.6-sol"))
    assert "OPENAI_API_KEY" in str(caught.value)
