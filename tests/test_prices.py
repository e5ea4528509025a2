"""The shipped price table (src/twinstudy/data/prices.yaml) is well-formed and keyed by registry ids."""

from __future__ import annotations

import math
from importlib import resources

import pytest
import yaml

from twinstudy.models.registry import all_models
from twinstudy.run.costs import cost_of, price_table


def _raw_prices() -> dict:
    text = (resources.files("twinstudy") / "data" / "prices.yaml").read_text(encoding="utf-8")
    return (yaml.safe_load(text) or {}).get("prices") or {}


def test_every_key_is_a_registry_id():
    ids = {m.id for m in all_models()}
    unknown = sorted(set(_raw_prices()) - ids)
    assert not unknown, f"prices.yaml keys not in the registry: {unknown}"


def test_local_models_are_not_priced():
    local = {m.id for m in all_models() if m.provider == "local"}
    assert not local & set(_raw_prices())


@pytest.mark.parametrize("model_id,entry", sorted(_raw_prices().items()))
def test_prices_are_positive_numbers_below_1000(model_id, entry):
    assert set(entry) >= {"input", "output"}, model_id
    for key in ("input", "output"):
        value = entry[key]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (model_id, key)
        assert 0 < value < 1000, (model_id, key, value)
    if "batch_discount" in entry:
        assert 0 < entry["batch_discount"] <= 1, model_id


def test_price_table_loads_every_entry():
    assert len(price_table()) == len(_raw_prices()) > 0


def test_cost_of_one_million_each_is_input_plus_output():
    model_id = "openai/gpt-4o"
    p = _raw_prices()[model_id]
    got = cost_of(model_id, None, 1_000_000, 1_000_000)
    assert got is not None
    assert math.isclose(got, p["input"] + p["output"])


def test_unpriced_model_costs_unknown():
    priced = set(_raw_prices())
    missing = [m.id for m in all_models() if m.id not in priced and m.provider != "local"]
    assert missing, "expected at least one registry model without a documented price"
    assert cost_of(missing[0], None, 1_000, 1_000) is None
