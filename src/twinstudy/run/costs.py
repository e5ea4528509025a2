"""Token and cost estimates from a price table kept as data (USD per million tokens)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from twinstudy.study.design import expand
from twinstudy.study.spec import ResolvedStudy


@lru_cache(maxsize=1)
def price_table() -> dict[str, dict[str, float]]:
    text = (resources.files("twinstudy") / "data" / "prices.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text) or {}
    return {str(k): {"input": float(v["input"]), "output": float(v["output"])}
            for k, v in (data.get("prices") or {}).items()}


def price_for(model_id: str, api_model: str | None = None) -> dict[str, float] | None:
    table = price_table()
    return table.get(model_id) or (table.get(api_model) if api_model else None)


def cost_of(model_id: str, api_model: str | None, tokens_in: int, tokens_out: int) -> float | None:
    p = price_for(model_id, api_model)
    if p is None:
        return None
    return (tokens_in * p["input"] + tokens_out * p["output"]) / 1_000_000


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
        if m.provider == "local":
            row.cost = 0.0
        elif m.price:
            row.cost = (row.tokens_in * m.price["input"] + row.tokens_out * m.price["output"]) / 1_000_000
        else:
            row.cost = cost_of(m.id, m.model, row.tokens_in, row.tokens_out)
        plan.rows.append(row)
    return plan
