"""Prices: one rule for what a model costs, from a table kept as data (USD per million tokens).

Every cost in twinstudy comes from :func:`price_of`: the study's own ``price`` for a model (a
variant that ``extends`` a registry model gets that model's table price when the study is
loaded), else the bundled table (``data/prices.yaml``) under the model's registry id, else 0 for a
local model, else None: unknown. An unknown price is never counted as $0.00; the plan, the budget
and the stored trial cost all say "unknown".
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from twinstudy.models.base import ModelInfo

Price = dict[str, float]  # {"input": USD per million input tokens, "output": ... output tokens}
FREE: Price = {"input": 0.0, "output": 0.0}


@lru_cache(maxsize=1)
def price_table() -> dict[str, Price]:
    text = (resources.files("twinstudy") / "data" / "prices.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text) or {}
    return {str(k): {"input": float(v["input"]), "output": float(v["output"])}
            for k, v in (data.get("prices") or {}).items()}


def price_for(model_id: str, api_model: str | None = None) -> Price | None:
    """The bundled table's entry for a registry id (or an API model name), if any."""
    table = price_table()
    return table.get(model_id) or (table.get(api_model) if api_model else None)


def price_of(info: ModelInfo | Mapping[str, Any], override: Mapping[str, float] | None = None) -> Price | None:
    """USD per million tokens for a model, or None when no price is known.

    ``info`` is a :class:`ModelInfo` or its stored JSON (``Store.models()``); ``override`` (e.g. a
    price given on the command line) wins over everything. A local model costs nothing.
    """
    get = info.get if isinstance(info, Mapping) else (lambda k, d=None: getattr(info, k, d))
    if override is not None:
        return {"input": float(override["input"]), "output": float(override["output"])}
    own = get("price")
    if own:
        return {"input": float(own["input"]), "output": float(own["output"])}
    if get("provider") == "local":
        return dict(FREE)
    return price_for(str(get("id")), get("model"))


@lru_cache(maxsize=1)
def batch_discount_table() -> tuple[dict[str, float], dict[str, float]]:
    """(per registry id, per provider): the fraction of the list price a batch API charges."""
    text = (resources.files("twinstudy") / "data" / "prices.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text) or {}
    per_model = {str(k): float(v["batch_discount"]) for k, v in (data.get("prices") or {}).items()
                 if isinstance(v, dict) and v.get("batch_discount") is not None}
    per_provider = {str(k): float(v) for k, v in (data.get("batch_discounts") or {}).items()}
    return per_model, per_provider


def batch_price_of(info: ModelInfo | Mapping[str, Any], override: Mapping[str, float] | None = None) -> Price | None:
    """USD per million tokens through the provider's batch API, or None when unknown.

    The list price (:func:`price_of`, so a study's own price or ``override`` counts) times the
    batch fraction the price table documents for the model, else for its provider. No documented
    fraction, or no list price, means None: a batch price is never guessed, and never shown as
    the list price."""
    get = info.get if isinstance(info, Mapping) else (lambda k, d=None: getattr(info, k, d))
    per_model, per_provider = batch_discount_table()
    fraction = per_model.get(str(get("id")))
    if fraction is None:
        fraction = per_provider.get(str(get("provider")))
    if fraction is None:
        return None
    base = price_of(info, override)
    if base is None:
        return None
    return {"input": base["input"] * fraction, "output": base["output"] * fraction}


def cost_at(price: Price | None, tokens_in: int, tokens_out: int) -> float | None:
    """Cost in USD of that many tokens at ``price`` (None stays None: unknown)."""
    if price is None:
        return None
    return (tokens_in * price["input"] + tokens_out * price["output"]) / 1_000_000


def cost_of(model_id: str, api_model: str | None, tokens_in: int, tokens_out: int) -> float | None:
    """Cost from the bundled table alone (no study price, no local rule); None when unpriced."""
    return cost_at(price_for(model_id, api_model), tokens_in, tokens_out)
