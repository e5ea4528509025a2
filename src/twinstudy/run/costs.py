"""Prices, token estimates and the plan's cost estimate, from a price table kept as data.

Every cost in twinstudy comes from :func:`price_of`: the study's own ``price`` for a model, else
the bundled table (``data/prices.yaml``, USD per million tokens) under the model's registry id or
the registry model it ``extends``, else 0 for a local model, else None: unknown. An unknown price
is never counted as $0.00; the plan, the budget and the stored trial cost all say "unknown".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from twinstudy.models.base import ModelInfo
    from twinstudy.study.spec import ResolvedStudy

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


def cost_at(price: Price | None, tokens_in: int, tokens_out: int) -> float | None:
    """Cost in USD of that many tokens at ``price`` (None stays None: unknown)."""
    if price is None:
        return None
    return (tokens_in * price["input"] + tokens_out * price["output"]) / 1_000_000


def cost_of(model_id: str, api_model: str | None, tokens_in: int, tokens_out: int) -> float | None:
    """Cost from the bundled table alone (no study price, no local rule); None when unpriced."""
    return cost_at(price_for(model_id, api_model), tokens_in, tokens_out)


def estimate_tokens(text: str) -> int:
    """Rough count: one token per CJK character, about four characters per token otherwise."""
    cjk = sum(1 for ch in text if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")
    return cjk + (len(text) - cjk + 3) // 4 + 4


@dataclass
class PlanRow:
    model: str
    provider: str
    trials: int = 0
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float | None = 0.0


@dataclass
class Plan:
    rows: list[PlanRow] = field(default_factory=list)

    @property
    def trials(self) -> int:
        return sum(r.trials for r in self.rows)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.rows)

    @property
    def total_cost(self) -> float | None:
        costs = [r.cost for r in self.rows]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)


def estimate_plan(rs: ResolvedStudy) -> Plan:
    from twinstudy.study.design import expand  # the study layer imports prices, not the reverse

    plan = Plan()
    max_out = rs.study.params.max_tokens
    for m in rs.models:
        row = PlanRow(m.id, m.provider)
        for t in expand(rs, m):
            turns = 2 if t.followup else 1
            prompt = sum(estimate_tokens(msg.content) for msg in t.messages)
            row.trials += 1
            row.requests += turns
            row.tokens_in += prompt if turns == 1 else 2 * prompt + max_out + estimate_tokens(t.followup or "")
            row.tokens_out += max_out * turns
        row.cost = cost_at(price_of(m), row.tokens_in, row.tokens_out)
        plan.rows.append(row)
    return plan
