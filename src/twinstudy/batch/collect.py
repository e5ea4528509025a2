"""Collecting an ended batch: each result line classified as a live reply would be, and stored.

Why this is the one place result lines are read: a batch reply must end exactly like a live one (an
answer, a block, a truncation, or an error for good) and a trial must get one final outcome. So each
line becomes the live runner's ``_Done``, is settled against the budget at the batch price, and is
written with the batch line it finishes, :data:`~twinstudy.run.runner.WRITE_BATCH` lines per
transaction; lines already recorded (a crash mid-collection) are passed over. Lines the batch holds
no reply for are routed here too: a new batch, the live workers, or an error once their rounds are
used up.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from typing import Any, cast

from twinstudy.batch.api import BatchStatus, LineResult
from twinstudy.batch.model_state import ModelBatchState
from twinstudy.models.base import Completion, ModelCallError
from twinstudy.run.prices import cost_at
from twinstudy.run.runner import WRITE_BATCH, _Done
from twinstudy.store import AttemptRow
from twinstudy.store import batches as sb
from twinstudy.study.design import Trial


class Collecting(ModelBatchState):
    """Read an ended batch's result lines, finish their trials, and route the lines left over."""

    async def _collect(self, row: sb.BatchRow, status: BatchStatus) -> list[Trial]:
        """Record an ended batch's result lines with their trials; return the trials to send again."""
        assert row.remote_id is not None
        states = sb.line_states(self.conn, row.id)
        retry: list[Trial] = []
        dones: list[_Done] = []
        loose: list[AttemptRow] = []
        updates: list[tuple[str, str]] = []
        cost = 0.0
        try:
            results = self._results(row.remote_id, status, states) if status.state != "failed" or \
                status.output_file_id else None
            if results is not None:
                async for res in results:
                    if states.get(res.custom_id) not in ("pending", "sent"):
                        continue  # recorded before a crash, or not a line of this batch
                    states[res.custom_id] = "seen"
                    outcome, line_cost = self._line(row, res, dones, loose, retry)
                    updates.append((res.custom_id, outcome))
                    cost += line_cost
                    if len(updates) >= WRITE_BATCH:
                        self._write(row.id, dones, loose, updates, cost)
                        dones, loose, updates, cost = [], [], [], 0.0
        except ModelCallError as err:
            if err.fatal or not err.retryable:
                raise
            self._write(row.id, dones, loose, updates, cost)
            self.r.say(f"{self.info.id}: reading the results of batch {row.id} failed ({err}); trying again.")
            await asyncio.sleep(self.opt.poll_interval)
            return self._route(retry)  # the batch stays open: the rest is read at the next turn
        self._write(row.id, dones, loose, updates, cost)
        for key, state in states.items():  # lines the ended batch holds no result for
            if state in ("pending", "sent") and key in self.trials:
                retry.append(self.trials[key])
        sb.mark_collected(self.conn, row.id)
        self.r.batches_collected += 1
        if status.state == "cancelled" and retry:
            # someone cancelled it (`twinstudy batches --cancel`): this run does not undo that
            self.r.say(f"{self.info.id}: batch {row.id} was cancelled; {len(retry):,} trials without a reply are "
                       "left for the next run of the study.")
            return []
        self.r.say(f"{self.info.id}: batch {row.id} {status.state}, collected"
                   + (f"; {len(retry):,} lines go again" if retry else "") + ".")
        return self._route(retry)

    def _results(self, remote_id: str, status: BatchStatus, keys: dict[str, str]) -> AsyncIterator[LineResult]:
        """The batch's result lines; adapters that take the lines as sent (``lines=``, to fill
        ``Completion.request`` as a live call does) get them."""
        if "lines" not in inspect.signature(self.api.results).parameters:
            return self.api.results(remote_id, status)
        sent = {line.custom_id: line for line in self._lines([self.trials[k] for k in keys if k in self.trials])}
        results: AsyncIterator[LineResult] = cast(Any, self.api).results(remote_id, status, lines=sent)
        return results

    def _line(self, row: sb.BatchRow, res: LineResult, dones: list[_Done], loose: list[AttemptRow],
              retry: list[Trial]) -> tuple[str, float]:
        """One result line: a finished trial (answer, block, truncation, or an error for good), or
        one to send again. Returns the line's new state and its cost."""
        trial = self.trials.get(res.custom_id)
        if trial is None or res.custom_id in self.final:
            return "done", 0.0  # its trial ended elsewhere (or left the study): one final outcome only
        n = self.rounds.get(trial.key, 1) - 1
        reservation = self.reserved.pop(trial.key, 0.0)
        comp, err = res.completion, res.error
        if comp is None:
            err = err or ModelCallError("the batch returned neither a reply nor an error", retryable=True)
            self.r.budget.reserved -= reservation
            self.r.first_errors.setdefault(self.info.id, str(err))
            attempt = AttemptRow(trial.key, 0, n, row.created_at, err.latency_ms, err.request or None, err.http_status,
                                 err.provider_code, None, err.raw or None, error=str(err))
            if self.r.progress:
                self.r.progress.error(self.info.id)
            if err.fatal:
                self.r.stopped[self.info.id] = str(err)
            if res.expired or (err.retryable and not err.fatal):
                loose.append(attempt)
                retry.append(trial)
                return "expired", 0.0
            dones.append(_Done(trial, None, None, list(trial.messages), [attempt], 0.0))
            return "done", 0.0
        cost = self._settle(reservation, comp)
        attempt = AttemptRow(trial.key, 0, n, row.created_at, comp.latency_ms, comp.request, comp.http_status,
                             comp.provider_code, comp.finish_reason, comp.raw, comp.text, comp.reasoning,
                             comp.tokens_in, comp.tokens_out, blocked=comp.block.where if comp.block else None)
        dones.append(_Done(trial, comp, None, list(trial.messages), [attempt], cost))
        return "done", cost or 0.0

    def _settle(self, reservation: float, comp: Completion) -> float | None:
        """The line's cost at the batch price (None: unknown), counted against the budget."""
        budget = self.r.budget
        budget.reserved -= reservation
        cost = cost_at(self.price, comp.tokens_in or 0, comp.tokens_out or 0)
        if cost is None:
            budget.unpriced.add(self.info.id)
            return None
        budget.spent += cost
        if self.r.progress and cost:
            self.r.progress.add_cost(self.info.id, cost)
        return cost

    def _route(self, retry: list[Trial]) -> list[Trial]:
        """Where lines without a reply go: live now, a new batch, or (rounds used up) an error."""
        if not retry:
            return []
        if self.opt.fallback == "live":
            self._ask_live(retry)
            return []
        again = [t for t in retry if self.rounds.get(t.key, 0) < self.opt.max_rounds]
        spent = [t for t in retry if self.rounds.get(t.key, 0) >= self.opt.max_rounds]
        if spent:
            self._write(None, [_Done(t, None, None, list(t.messages), [], 0.0) for t in spent], [], [], 0.0)
        return again
