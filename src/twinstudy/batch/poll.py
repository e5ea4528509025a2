"""Waiting for a model's open batches to end: polls with growing waits, each state change recorded.

A batch takes minutes to a day, so waiting is its own step: it writes each state it sees to the
``batches`` table as it is seen (what ``twinstudy batches`` shows, and what a restart starts from)
and hands the batches that ended to collecting (:mod:`twinstudy.batch.collect`).
"""

from __future__ import annotations

import asyncio
import time

from twinstudy.batch.api import ENDED, BatchStatus
from twinstudy.batch.model_state import ModelBatchState
from twinstudy.models.base import ModelCallError
from twinstudy.store import batches as sb


class Polling(ModelBatchState):
    """Poll open batches until some have ended."""

    async def _wait(self, rows: list[sb.BatchRow]) -> list[tuple[sb.BatchRow, BatchStatus]]:
        """Poll the open batches, with growing waits, until at least one has ended."""
        delay = self.opt.poll_interval
        while True:
            ended: list[tuple[sb.BatchRow, BatchStatus]] = []
            for row in rows:
                assert row.remote_id is not None
                try:
                    status = await self.api.poll(row.remote_id)
                except ModelCallError as err:
                    if err.fatal:
                        self.r.stopped[self.info.id] = str(err)
                        return []
                    if err.retryable:
                        continue
                    # the provider does not know the batch (deleted, another account): its lines go again
                    status = BatchStatus("failed", message=str(err))
                sb.update_state(self.conn, row.id, status.state, status.done, status.failed, status.message or None)
                self._state(row.id, status.state, status.done, status.total or row.n_lines)
                if status.state in ENDED:
                    ended.append((row, status))
            if ended:
                return ended
            slept = time.monotonic()
            await asyncio.sleep(delay)
            self.r.poll_wait_s += time.monotonic() - slept
            delay = min(delay * self.opt.backoff, self.opt.poll_max)
