"""Batch prices: the list price times the fraction the price table documents (per model, else per
provider); unknown stays unknown."""

from __future__ import annotations

import math

import pytest

from twinstudy.models.base import ModelInfo
from twinstudy.models.presets import all_presets
from twinstudy.models.registry import all_models
from twinstudy.run.prices import batch_discount_table, batch_price_of, price_of


def _info(model_id: str) -> ModelInfo:
    return next(m for m in all_models() if m.id == model_id)


@pytest.mark.parametrize("model_id", ["openai/gpt-4.1", "anthropic/claude-sonnet-4-5", "gemini/gemini-3.8-flash",
                                      "dashscope/qwen-plus"])
def test_documented_batch_price_is_half_the_list_price(model_id: str) -> None:
    info = _info(model_id)
    full, half = price_of(info), batch_price_of(info)
    assert full is not None and half is not None
    assert math.isclose(half["input"], full["input"] / 2) and math.isclose(half["output"], full["output"] / 2)


def test_provider_fraction_applies_to_models_priced_without_their_own() -> None:
    info = _info("openai/gpt-5.6-luna")  # priced, no per-model batch_discount
    half, full = batch_price_of(info), price_of(info)
    assert half is not None and full is not None and math.isclose(half["input"], full["input"] * 0.5)


def test_unknown_stays_unknown() -> None:
    moonshot = _info("moonshot/kimi-k2.5")  # list price known, batch discount not documented
    assert price_of(moonshot) is not None and batch_price_of(moonshot) is None
    unpriced = ModelInfo(id="zhipu/glm-9", provider="zhipu", model="glm-9")  # fraction known, no list price
    assert batch_price_of(unpriced) is None
    assert batch_price_of(ModelInfo(id="local/x", provider="local", model="x")) is None


def test_a_study_price_is_discounted_too() -> None:
    info = ModelInfo(id="openai/custom", provider="openai", model="c", price={"input": 2.0, "output": 4.0})
    assert batch_price_of(info) == {"input": 1.0, "output": 2.0}
    assert batch_price_of({"id": "openai/custom", "provider": "openai", "model": "c"},
                          override={"input": 1.0, "output": 1.0}) == {"input": 0.5, "output": 0.5}


def test_provider_fractions_name_presets_with_a_batch_api() -> None:
    per_model, per_provider = batch_discount_table()
    presets = all_presets()
    for provider, fraction in per_provider.items():
        assert presets[provider].batch != "none", provider
        assert 0 < fraction <= 1
    assert all(0 < f <= 1 for f in per_model.values())
