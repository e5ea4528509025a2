"""The embedded model and a prompt longer than its context: a request error the run records and
goes past (one trial's error), not an exception that stops a run or a judge pass."""

from __future__ import annotations

import asyncio

import pytest

from twinstudy.models.base import GenerateParams, Message, ModelCallError
from twinstudy.models.factory import create_model
from twinstudy.models.registry import resolve

pytestmark = pytest.mark.slow  # loads SmolLM2 in-process


def test_a_prompt_past_the_context_is_a_non_retryable_request_error() -> None:
    model = create_model(resolve("local/smollm2-135m"))
    with pytest.raises(ModelCallError) as err:
        asyncio.run(model.generate([Message("user", "word " * 2100)], GenerateParams(max_tokens=4)))
    assert not err.value.retryable and "context" in str(err.value) and "max_tokens" in str(err.value)
    ok = asyncio.run(model.generate([Message("user", "Say hi.")], GenerateParams(max_tokens=4)))
    assert ok.text  # the engine is still usable afterwards
