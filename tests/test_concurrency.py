"""The adaptive limit: sporadic 429s change nothing, a run of them halves the limit once per round
trip and pauses new requests for Retry-After; waiting requests get freed slots, cancelled ones
leak none."""

from __future__ import annotations

import asyncio
import time

from twinstudy.run.concurrency import RATE_LIMITED_SHARE, AdaptiveLimit


def test_sporadic_429s_neither_cut_nor_pause() -> None:
    async def go() -> AdaptiveLimit:
        limit = AdaptiveLimit(initial=64, maximum=64)
        for i in range(1000):  # one response in ten is a 429, whatever the load
            sent = await limit.acquire()
            if i % 10 == 0:
                await limit.release(rate_limited=True, retry_after=5.0, sent_at=sent)
            else:
                await limit.release(success=True, sent_at=sent)
        return limit

    limit = asyncio.run(go())
    assert limit.limit == 64 and limit.cuts == 0 and limit.rate_limited == 100
    assert limit.share_429 < RATE_LIMITED_SHARE


def test_a_run_of_429s_halves_once_per_round_trip_and_pauses() -> None:
    async def go() -> tuple[AdaptiveLimit, float]:
        limit = AdaptiveLimit(initial=64, maximum=64)
        sent = [await limit.acquire() for _ in range(64)]  # a full window, sent before any cut
        for s in sent:
            await limit.release(rate_limited=True, retry_after=0.3, sent_at=s)
        after_window = limit.limit
        t0 = time.monotonic()
        await limit.acquire()  # paused by Retry-After
        return limit, time.monotonic() - t0 if after_window == 32 else -1.0

    limit, waited = asyncio.run(go())
    assert limit.cuts == 1, "every 429 of one window is one event"
    assert waited >= 0.25


def test_later_429s_cut_again() -> None:
    async def go() -> AdaptiveLimit:
        limit = AdaptiveLimit(initial=64, maximum=64)
        for _ in range(2):
            sent = [await limit.acquire() for _ in range(int(limit.limit))]
            for s in sent:
                await limit.release(rate_limited=True, sent_at=s)
        return limit

    limit = asyncio.run(go())
    assert limit.cuts == 2 and limit.limit == 16


def test_slow_start_grows_by_one_per_success() -> None:
    async def go() -> AdaptiveLimit:
        limit = AdaptiveLimit(initial=4, maximum=100)
        for _ in range(10):
            await limit.acquire()
            await limit.release(success=True)
        return limit

    assert asyncio.run(go()).limit == 14


def test_freed_slots_go_to_waiters_and_cancelled_waiters_leak_none() -> None:
    async def go() -> AdaptiveLimit:
        limit = AdaptiveLimit(initial=1, maximum=1)
        await limit.acquire()
        first = asyncio.create_task(limit.acquire())
        second = asyncio.create_task(limit.acquire())
        await asyncio.sleep(0)
        first.cancel()
        await limit.release(success=True)
        await asyncio.wait_for(second, 1.0)
        assert first.cancelled() and limit.in_flight == 1
        await limit.release(success=True)
        return limit

    limit = asyncio.run(go())
    assert limit.in_flight == 0
