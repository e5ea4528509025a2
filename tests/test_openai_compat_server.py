"""The OpenAI-compatible backend against a real server: ``python -m llama_cpp.server`` serving the
embedded SmolLM2 file on loopback (fixture ``llama_server`` in conftest.py)."""

from __future__ import annotations

import asyncio
import math

import pytest

from twinstudy.models.base import Completion, GenerateParams, Message
from twinstudy.models.factory import create_model
from twinstudy.models.openai_compat import OpenAICompatModel
from twinstudy.models.registry import resolve

pytestmark = pytest.mark.slow

ASK = [Message("system", "You are a helpful assistant."),
       Message("user", "Is the sky blue? Answer with one word: Yes or No.")]


def _backend(base_url: str) -> OpenAICompatModel:
    info = resolve({"id": "llamacpp/smollm2", "provider": "llamacpp", "base_url": base_url,
                    "model": "smollm2", "origin": "US", "company": "Hugging Face"})
    backend = create_model(info)
    assert isinstance(backend, OpenAICompatModel)
    return backend


def _run(base_url: str, params: GenerateParams, n: int = 1) -> list[Completion]:
    async def go() -> list[Completion]:
        backend = _backend(base_url)
        try:
            return list(await asyncio.gather(*(backend.generate(ASK, params) for _ in range(n))))
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_chat_completion_returns_text_tokens_and_finish_reason(llama_server: str) -> None:
    (done,) = _run(llama_server, GenerateParams(max_tokens=8, temperature=0.0, seed=1))
    assert done.block is None
    assert done.text.strip(), "the model answered"
    assert done.finish_reason in ("stop", "length")
    assert done.tokens_in and done.tokens_in > 5 and done.tokens_out and 0 < done.tokens_out <= 8
    assert done.http_status == 200 and done.latency_ms > 0
    assert done.request["max_tokens"] == 8 and done.request["temperature"] == 0.0
    assert '"choices"' in done.raw


def test_logprobs_come_back_when_asked(llama_server: str) -> None:
    (done,) = _run(llama_server, GenerateParams(max_tokens=3, temperature=0.0, logprobs=5))
    assert done.request["logprobs"] is True and done.request["top_logprobs"] == 5
    assert done.top_logprobs, "one dict of alternatives per generated token"
    first = done.top_logprobs[0]
    assert 1 <= len(first) <= 5
    assert all(lp <= 0.0 and math.isfinite(lp) for lp in first.values())


def test_concurrent_requests_share_one_client(llama_server: str) -> None:
    results = _run(llama_server, GenerateParams(max_tokens=4, temperature=0.0), n=4)
    assert len(results) == 4 and all(r.text.strip() for r in results)
    assert len({r.text for r in results}) == 1, "temperature 0 gives the same answer every time"
