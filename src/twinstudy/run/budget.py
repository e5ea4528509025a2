"""Budget guards: stop cleanly before a cost or request limit would be passed.

Each request reserves its worst-case cost (estimated prompt tokens plus max_tokens of output) before
it is sent and settles to its real cost from the reported usage when it returns, so requests in
flight can never carry the total past the limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twinstudy.models.base import Message, ModelInfo
from twinstudy.run.costs import estimate_tokens, price_for


@dataclass
class Budget:
    max_cost: float | None = None
    max_requests: int | None = None
    spent: float = 0.0
    reserved: float = 0.0
    requests: int = 0
    unpriced: set[str] = field(default_factory=set)

    def _price(self, info: ModelInfo) -> dict[str, float] | None:
        if info.provider == "local":
            return {"input": 0.0, "output": 0.0}
        p = info.price or price_for(info.id, info.model)
        if p is None:
            self.unpriced.add(info.id)
        return p

    def check_priced(self, infos: list[ModelInfo]) -> list[str]:
        """Models a cost limit cannot be enforced for (no price in the table)."""
        return [m.id for m in infos if self._price(m) is None]

    def reserve(self, info: ModelInfo, messages: list[Message], max_tokens: int) -> float | str:
        """Reserve a request's worst-case cost; return the reservation, or why it may not be sent."""
        if self.max_requests is not None and self.requests >= self.max_requests:
            return f"request budget of {self.max_requests} reached"
        worst = 0.0
        if self.max_cost is not None:
            p = self._price(info)
            if p is not None:
                tokens_in = sum(estimate_tokens(m.content) for m in messages)
                worst = (tokens_in * p["input"] + max_tokens * p["output"]) / 1_000_000
                if self.spent + self.reserved + worst > self.max_cost:
                    return (f"cost budget of ${self.max_cost:.2f} reached (spent ${self.spent:.4f}; "
                            f"the next request could cost up to ${worst:.4f})")
        self.requests += 1
        self.reserved += worst
        return worst

    def settle(self, info: ModelInfo, reservation: float, tokens_in: int | None, tokens_out: int | None) -> float:
        """Replace a reservation by the real cost (or keep the worst case if usage is unknown)."""
        self.reserved -= reservation
        p = self._price(info)
        if p is None:
            return 0.0
        if tokens_in is None and tokens_out is None:
            cost = reservation
        else:
            cost = ((tokens_in or 0) * p["input"] + (tokens_out or 0) * p["output"]) / 1_000_000
        self.spent += cost
        return cost
