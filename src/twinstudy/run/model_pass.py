"""Ask a model one question per stored reply: concurrently, each call retried by the run's policy.

The LLM judge of open replies (:mod:`twinstudy.scoring.judge_pass`) and the codebook judge
(:mod:`twinstudy.coding.run`) are the same loop over different questions; this is that loop, once.
A call that still fails after its retries costs that item only: it is counted, the first error is
kept for the message, and the item is asked again the next time the pass runs. With ``save``,
answers are handed over in chunks as they arrive, so a pass stopped by Ctrl-C or a crash keeps
what it had paid for except the last unsaved chunk, and the next pass asks only the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from twinstudy.models.base import ModelCallError
from twinstudy.run.retry import RUN_RETRY, RetryPolicy

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Asked(Generic[T, R]):
    answers: list[tuple[T, R]] = field(default_factory=list)  # in the order the calls ended
    failed: int = 0
    first_error: str | None = None


#: Answers per ``save`` call: a write per this many answers, and at most this many lost to a crash.
SAVE_EVERY = 50


async def ask_each(items: Sequence[T], ask: Callable[[T], Awaitable[R]], *, concurrency: int,
                   progress: Callable[[int, int], None] | None = None,
                   policy: RetryPolicy = RUN_RETRY,
                   save: Callable[[list[tuple[T, R]]], None] | None = None,
                   save_every: int | None = None) -> Asked[T, R]:
    """``ask(item)`` for every item, ``concurrency`` at a time; ``progress(done, total)`` after each;
    ``save(chunk)`` with every ``save_every`` answers and with the rest at the end."""
    sem = asyncio.Semaphore(concurrency)
    out: Asked[T, R] = Asked()
    finished = 0
    pending: list[tuple[T, R]] = []
    every = save_every or SAVE_EVERY  # read at call time

    async def one(item: T) -> None:
        nonlocal finished
        async with sem:
            try:
                answer = await policy.call(lambda: ask(item))
            except ModelCallError as exc:
                out.failed += 1
                out.first_error = out.first_error or str(exc)
                return
            finally:
                finished += 1
                if progress:
                    progress(finished, len(items))
        out.answers.append((item, answer))
        if save is not None:
            pending.append((item, answer))
            if len(pending) >= every:
                chunk = pending[:]
                pending.clear()
                save(chunk)

    await asyncio.gather(*(one(i) for i in items))
    if save is not None and pending:
        save(pending[:])
    return out
