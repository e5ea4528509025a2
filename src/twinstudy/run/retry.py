"""When to send a failed request again, and how long to wait first: one rule for study runs and chat.

A request is retried when the backend called its failure retryable (timeouts, resets, 408/409/
429/5xx) and not fatal (no balance, bad key), until the attempt limit. The wait is the provider's
``Retry-After`` when it sent one, else exponential backoff from ``backoff_base`` up to
``backoff_cap``, stretched by up to ``jitter`` at random so that workers that failed together do
not all come back in the same instant.

Study runs and chat differ only in patience, set by their instances below: a study run has hours
and would rather wait than lose a trial; a person in a chat would rather see the error.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from twinstudy.models.base import ModelCallError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    jitter: float = 0.25
    # Longest Retry-After obeyed; a longer one is cut to this (None: obey whatever the provider says).
    retry_after_cap: float | None = None

    def should_retry(self, err: ModelCallError, attempt: int) -> bool:
        """Whether to try again after ``attempt`` (0-based) failed with ``err``."""
        return err.retryable and not err.fatal and attempt + 1 < self.max_attempts

    def delay(self, err: ModelCallError, attempt: int) -> float:
        """Seconds to wait after ``attempt`` (0-based) failed with ``err``."""
        if err.retry_after is not None:
            wait = err.retry_after if self.retry_after_cap is None else min(err.retry_after, self.retry_after_cap)
        else:
            wait = min(self.backoff_cap, self.backoff_base * 2**attempt)
        return wait * (1 + self.jitter * random.random())

    async def wait(self, err: ModelCallError, attempt: int) -> None:
        await asyncio.sleep(self.delay(err, attempt))

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()``, again after each retryable failure, by this policy; the last failure is raised."""
        attempt = 0
        while True:
            try:
                return await fn()
            except ModelCallError as exc:
                if not self.should_retry(exc, attempt):
                    raise
                await self.wait(exc, attempt)
                attempt += 1


# Study runs: six attempts, backoff 1, 2, 4, ... up to 60 s, Retry-After always obeyed.
RUN_RETRY = RetryPolicy()
# Chat: three attempts (2 s, 4 s), never more than 30 s of waiting at a time.
CHAT_RETRY = RetryPolicy(max_attempts=3, backoff_base=2.0, backoff_cap=30.0, retry_after_cap=30.0)
