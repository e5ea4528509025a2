"""Adaptive per-model concurrency: slow start, then additive increase, multiplicative decrease.

Until the first cut the limit grows by one slot per success (doubling each round trip, as in TCP
slow start); a cut halves it, remembers half as the threshold, and pauses new requests until
Retry-After has passed; above the threshold each success adds 1/limit, about one slot per round
trip, so recovery is slow. A 5xx freezes growth for a while: the server is struggling but has not
asked us to slow down.

What counts as "too many": the share of 429s among recent responses (a moving average over about
``SHARE_WINDOW`` responses), not each single 429. Cutting on every 429 makes AIMD collapse under
any steady rate p of 429s that does not depend on our load (a provider shedding a little at
random, a quota shared with others): the window settles near 1.2/sqrt(p) whatever the provider
could take - about 4 slots at p = 10% - and pausing everyone for each Retry-After all but stops the
run (measured: 400 trials at 10% random 429s took 78 s with the limit at 1 of 64). Going over a
real limit is different: most answers become 429s and the share passes ``RATE_LIMITED_SHARE``
within a few responses. Below that share a 429 changes nothing here; the rejected request
still waits its own Retry-After before it is retried. At most one cut per round trip: 429s for
requests sent before the last cut answer the old rate, not the new one.

Cost per request matters at hundreds of requests in flight: a free slot is taken without
suspending, and waiters are woken one turn of the event loop after a release, only for the slots
still free by then. A worker that has just released a slot usually takes it back for its next
request in the same turn, so nobody is woken for nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time

GROWTH_FREEZE_S = 10.0
MIN_LIMIT = 1.0
RATE_LIMITED_SHARE = 0.25  # share of recent responses that are 429s above which the limit is cut
SHARE_WINDOW = 32  # responses the moving average of that share spans (weight 1/SHARE_WINDOW)


class AdaptiveLimit:
    def __init__(self, initial: int, maximum: int) -> None:
        self.maximum = float(max(1, maximum))
        self.limit = float(min(max(1, initial), self.maximum))
        self.threshold = self.maximum
        self.in_flight = 0
        self.rate_limited = 0
        self.cuts = 0
        self.share_429 = 0.0
        self._cut_at = float("-inf")
        self._resume_at = 0.0
        self._frozen_until = 0.0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._grant_scheduled = False
        self._timer: asyncio.TimerHandle | None = None

    async def acquire(self) -> float:
        """Wait for a slot; returns the time it was granted (pass it to :meth:`release` as sent_at)."""
        now = time.monotonic()
        if self.in_flight < int(self.limit) and now >= self._resume_at:
            self.in_flight += 1
            return now
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._schedule_grant()  # e.g. a pause that has already ended
        try:
            await fut  # the slot is counted for us before the future is resolved
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.in_flight -= 1  # granted, never used: pass it on
                self._schedule_grant()
            raise  # a cancelled future left in the queue is skipped by _grant
        return time.monotonic()

    async def release(self, *, success: bool = False, rate_limited: bool = False,
                      retry_after: float | None = None, server_error: bool = False,
                      sent_at: float | None = None) -> None:
        self.in_flight -= 1
        now = time.monotonic()
        self.share_429 += ((1.0 if rate_limited else 0.0) - self.share_429) / SHARE_WINDOW
        if rate_limited:
            self.rate_limited += 1
            if self.share_429 >= RATE_LIMITED_SHARE and (sent_at is None or sent_at >= self._cut_at):
                self.cuts += 1
                self._cut_at = now
                self.limit = max(MIN_LIMIT, self.limit / 2)
                self.threshold = self.limit
                if retry_after:
                    self._resume_at = max(self._resume_at, now + retry_after)
        elif server_error:
            self._frozen_until = now + GROWTH_FREEZE_S
        elif success and now >= self._frozen_until:
            step = 1.0 if self.limit < self.threshold else 1.0 / self.limit
            self.limit = min(self.maximum, self.limit + step)
        self._schedule_grant()

    def _schedule_grant(self) -> None:
        if self._waiters and not self._grant_scheduled and self._timer is None:
            self._grant_scheduled = True
            asyncio.get_running_loop().call_soon(self._grant)

    def _grant(self) -> None:
        self._grant_scheduled = False
        wait = self._resume_at - time.monotonic()
        if wait > 0:  # paused by Retry-After: try again when the pause ends
            self._timer = asyncio.get_running_loop().call_later(wait, self._after_pause)
            return
        waiters = self._waiters
        while waiters and self.in_flight < int(self.limit):
            fut = waiters.popleft()
            if fut.done():  # cancelled while waiting
                continue
            self.in_flight += 1
            fut.set_result(None)

    def _after_pause(self) -> None:
        self._timer = None
        self._grant()


class AccountLimits:
    """A fixed cap on requests in flight shared by every model on one provider account.

    Rate limits are often per account, not per model: two models on the same key, endpoint and
    provider compete for the same allowance, so a study can cap them together with
    ``account_max_concurrency`` (the lowest value given for the account wins). Models without a
    cap get no shared limit; each still has its own adaptive limit.
    """

    def __init__(self, caps: dict[tuple[str, str, str], int]) -> None:
        self._sems = {acct: asyncio.Semaphore(cap) for acct, cap in caps.items()}
        self.caps = dict(caps)
        self._by_model: dict[str, tuple[str, str, str]] = {}

    @classmethod
    def for_models(cls, accounts: dict[str, tuple[str, str, str]], caps: dict[str, int | None]) -> AccountLimits:
        """``accounts``: model id -> account key; ``caps``: model id -> its cap (or None)."""
        out: dict[tuple[str, str, str], int] = {}
        for mid, acct in accounts.items():
            cap = caps.get(mid)
            if cap:
                out[acct] = min(cap, out.get(acct, cap))
        limits = cls(out)
        limits._by_model = {mid: acct for mid, acct in accounts.items() if acct in out}
        return limits

    def slot(self, model_id: str) -> contextlib.AbstractAsyncContextManager[object]:
        """Hold one of the account's slots for a request (a no-op for an uncapped account)."""
        acct = self._by_model.get(model_id)
        sem = self._sems.get(acct) if acct is not None else None
        return sem if sem is not None else contextlib.nullcontext()
