"""Adaptive per-model concurrency: slow start, then additive increase, multiplicative decrease.

Until the first 429 the limit grows by one slot per success (doubling each round trip, as in TCP
slow start); a 429 halves it, remembers half as the threshold, and pauses new requests until
Retry-After has passed; above the threshold each success adds 1/limit, about one slot per round
trip, so recovery is slow. A 5xx freezes growth for a while: the server is struggling but has not
asked us to slow down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

GROWTH_FREEZE_S = 10.0
MIN_LIMIT = 1.0


class AdaptiveLimit:
    def __init__(self, initial: int, maximum: int) -> None:
        self.maximum = float(max(1, maximum))
        self.limit = float(min(max(1, initial), self.maximum))
        self.threshold = self.maximum
        self.in_flight = 0
        self.rate_limited = 0
        self._resume_at = 0.0
        self._frozen_until = 0.0
        self._cond = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._cond:
            while True:
                wait = self._resume_at - time.monotonic()
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._cond.wait(), timeout=wait)
                    continue
                if self.in_flight < int(self.limit):
                    self.in_flight += 1
                    return
                await self._cond.wait()

    async def release(self, *, success: bool = False, rate_limited: bool = False,
                      retry_after: float | None = None, server_error: bool = False) -> None:
        async with self._cond:
            self.in_flight -= 1
            now = time.monotonic()
            if rate_limited:
                self.rate_limited += 1
                self.limit = max(MIN_LIMIT, self.limit / 2)
                self.threshold = self.limit
                if retry_after:
                    self._resume_at = max(self._resume_at, now + retry_after)
            elif server_error:
                self._frozen_until = now + GROWTH_FREEZE_S
            elif success and now >= self._frozen_until:
                step = 1.0 if self.limit < self.threshold else 1.0 / self.limit
                self.limit = min(self.maximum, self.limit + step)
            # Wake only as many waiters as there are free slots: waking all of them on every
            # release costs O(waiters) per request at high concurrency.
            free = int(self.limit) - self.in_flight
            if free > 0:
                self._cond.notify(free)
