"""What one model's batch run keeps between its steps, and the writes those steps share.

Submitting (:mod:`twinstudy.batch.submit`), polling (:mod:`twinstudy.batch.poll`) and collecting
(:mod:`twinstudy.batch.collect`) are separate steps of one model's batches, but they act on the same
trials, rounds and budget reservations, and they all finish trials the same way: through
:meth:`ModelBatchState._write`, which scores with the live runner's ``_finish`` and stores trials
together with the batch lines they finish, in one transaction. Keeping that state and that write in
one place is what lets each step live in its own module without a second way to store a trial.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from twinstudy.batch.api import BatchAPI, BatchLine
from twinstudy.models.base import ModelInfo
from twinstudy.run.prices import Price, batch_price_of
from twinstudy.run.runner import _Done, _params_for
from twinstudy.store import AttemptRow
from twinstudy.store import batches as sb
from twinstudy.study.design import Trial

if TYPE_CHECKING:
    from twinstudy.batch.orchestrate import BatchRunner


class ModelBatchState:
    """One model's trials on their way through its provider's batch API: the state every step reads."""

    def __init__(self, runner: BatchRunner, info: ModelInfo, api: BatchAPI) -> None:
        self.r = runner
        self.info = info
        self.api = api
        self.opt = runner.batch
        self.conn = runner.store.conn
        self.price: Price | None = batch_price_of(info)
        self.trials: dict[str, Trial] = {}  # trials of this model that may still need a reply
        self.final: set[str] = set()
        self.rounds: dict[str, int] = {}  # batch submissions per trial in this run
        self.reserved: dict[str, float] = {}  # budget reserved per submitted line, settled on its result
        self.live_tasks: list[asyncio.Task[None]] = []
        self.states: dict[int, str] = {}

    def _stopped(self) -> bool:
        return self.info.id in self.r.stopped or self.r.stop_reason is not None

    def _lines(self, trials: list[Trial]) -> list[BatchLine]:
        """The batch lines of ``trials``: what is submitted, and what result lines are matched with."""
        return [BatchLine(t.key, list(t.messages), _params_for(t)) for t in trials]

    def _ask_live(self, trials: list[Trial]) -> None:
        """Hand ``trials`` to the model's live workers (follow-ups, ``--batch-fallback live``)."""
        self.live_tasks.append(asyncio.create_task(self.r.live(self.info, trials)))

    def _state(self, batch_id: int, state: str, done: int | None, total: int) -> None:
        """Say a batch's state when it changes: a line in a log, the model's label on a terminal."""
        if self.states.get(batch_id) == state:
            return
        self.states[batch_id] = state
        text = f"batch {batch_id} {state}" + (f" {done}/{total}" if done is not None else f" ({total:,} lines)")
        progress = self.r.progress
        if progress is not None and not progress.quiet:
            progress.note(self.info.id, f"[{text}]")
        else:
            self.r.say(f"{self.info.id}: {text}")

    def _write(self, batch_id: int | None, dones: list[_Done], loose: list[AttemptRow],
               updates: list[tuple[str, str]], cost: float) -> None:
        """Score and store finished trials with the batch lines they finish, in one transaction."""
        if not (dones or loose or updates):
            return
        finished = [self.r._finish(d) for d in dones]
        for d in dones:
            self.trials.pop(d.trial.key, None)

        def lines(conn: Any) -> None:
            if batch_id is not None:
                sb.record_lines(conn, batch_id, updates, cost)

        self.r.store.write_batch(loose + [a for d in dones for a in d.attempts], [f[0] for f in finished],
                                 [s for f in finished for s in f[1]], self.r.run_id, also=lines)
