"""Token estimates and the plan's cost estimate (prices come from :mod:`twinstudy.run.prices`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from twinstudy.run.prices import (
    FREE,
    Price,
    batch_price_of,
    cost_at,
    cost_of,
    price_for,
    price_of,
    price_table,
)
from twinstudy.study.design import expand
from twinstudy.study.spec import ResolvedStudy

__all__ = ["FREE", "Plan", "PlanRow", "Price", "cost_at", "cost_of", "estimate_plan", "estimate_tokens", "price_for",
           "price_of", "price_table"]


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
    # The cost with `run --batch`: single-turn trials at the batch price, follow-up trials live
    # (they run live); None when no batch price is known for the model. A model whose provider has
    # no batch API (``batch_api`` False) runs live, so its batch cost is its live cost.
    batch_cost: float | None = None
    batch_api: bool = True


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

    @property
    def total_batch_cost(self) -> float | None:
        costs = [r.batch_cost for r in self.rows]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)


def estimate_plan(rs: ResolvedStudy) -> Plan:
    from twinstudy.batch.providers import has_batch  # the one answer to "does it have a batch API"

    plan = Plan()
    max_out = rs.study.params.max_tokens
    for m in rs.models:
        row = PlanRow(m.id, m.provider)
        single_in = single_out = 0  # single-turn trials: the ones a batch run sends in batches
        for t in expand(rs, m):
            turns = 2 if t.followup else 1
            prompt = sum(estimate_tokens(msg.content) for msg in t.messages)
            row.trials += 1
            row.requests += turns
            row.tokens_in += prompt if turns == 1 else 2 * prompt + max_out + estimate_tokens(t.followup or "")
            row.tokens_out += max_out * turns
            if turns == 1:
                single_in += prompt
                single_out += max_out
        row.cost = cost_at(price_of(m), row.tokens_in, row.tokens_out)
        row.batch_api = m.provider != "local" and has_batch(m)
        if not row.batch_api:  # runs live under --batch too (the embedded model costs nothing either way)
            row.batch_cost = row.cost
            plan.rows.append(row)
            continue
        batched = cost_at(batch_price_of(m), single_in, single_out)
        live_rest = cost_at(price_of(m), row.tokens_in - single_in, row.tokens_out - single_out)
        row.batch_cost = None if batched is None or live_rest is None else batched + live_rest
        plan.rows.append(row)
    return plan
