"""Budget guards: stop cleanly before a cost or request limit would be passed.

Each request reserves its worst-case cost (estimated prompt tokens plus max_tokens of output) before
it is sent and settles to its real cost from the reported usage when it returns, so requests in
flight can never carry the total past the limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twinstudy.errors import BudgetExhausted
from twinstudy.models.base import Message, ModelInfo
from twinstudy.run.costs import estimate_tokens
from twinstudy.run.prices import Price, cost_at, price_of


@dataclass
class Budget:
    max_cost: float | None = None
    max_requests: int | None = None
    spent: float = 0.0
    reserved: float = 0.0
    requests: int = 0
    unpriced: set[str] = field(default_factory=set)

    def _price(self, info: ModelInfo) -> Price | None:
        p = price_of(info)
        if p is None:
            self.unpriced.add(info.id)
        return p

    def check_priced(self, infos: list[ModelInfo]) -> list[str]:
        """Models a cost limit cannot be enforced for (no price in the table)."""
        return [m.id for m in infos if self._price(m) is None]

    def reserve(self, info: ModelInfo, messages: list[Message], max_tokens: int) -> float:
        """Reserve a request's worst-case cost and return it.

        Raises :class:`BudgetExhausted` (with the reason as its message) when the request may not
        be sent; the runner then stops starting requests and finishes the ones in flight."""
        if self.max_requests is not None and self.requests >= self.max_requests:
            raise BudgetExhausted(f"request budget of {self.max_requests} reached")
        worst = 0.0
        if self.max_cost is not None:
            p = self._price(info)
            if p is not None:
                tokens_in = sum(estimate_tokens(m.content) for m in messages)
                worst = (tokens_in * p["input"] + max_tokens * p["output"]) / 1_000_000
                if self.spent + self.reserved + worst > self.max_cost:
                    raise BudgetExhausted(f"cost budget of ${self.max_cost:.2f} reached (spent "
                                          f"${self.spent:.4f}; the next request could cost up to ${worst:.4f})")
        self.requests += 1
        self.reserved += worst
        return worst

    def settle(self, info: ModelInfo, reservation: float, tokens_in: int | None,
               tokens_out: int | None) -> float | None:
        """Replace a reservation by the real cost (or keep the worst case if usage is unknown).

        Returns the request's cost, or None when the model has no known price: an unpriced
        request is unknown, not free, and is stored so."""
        self.reserved -= reservation
        p = self._price(info)
        if p is None:
            return None
        if tokens_in is None and tokens_out is None:
            cost = reservation
        else:
            cost = cost_at(p, tokens_in or 0, tokens_out or 0) or 0.0
        self.spent += cost
        return cost
