"""Sending a model's trials as provider batches, and finishing what a crash left half sent.

Why submitting and crash recovery share a module: a batch row and its lines are committed (state
``submitting``) *before* the submit call, and the provider's id when it answers. Between the two, a
crash, or a failed call the provider acted on anyway, can leave a batch at the provider that the
database does not know by id. Both a retry here and the next run's :meth:`Submitting._recover` first
look for it (by the row's tag, or for Anthropic by creation time and line count) and send the lines
again only when it is not found; that look-up is one piece of code for both.
"""

from __future__ import annotations

from collections.abc import Iterator

from twinstudy.batch.api import TAG_KEY, FindsByCreation, FindsOwnBatches, Submitted
from twinstudy.batch.model_state import ModelBatchState
from twinstudy.errors import BudgetExhausted
from twinstudy.models.base import ModelCallError
from twinstudy.run.runner import _Done
from twinstudy.store import AttemptRow
from twinstudy.store import batches as sb
from twinstudy.study.design import Trial

#: How far before a batch row was written a provider's clock may put the batch's creation, when a
#: batch is looked for by creation time (Anthropic): a wider window only admits more candidates,
#: and the adapter answers None unless exactly one batch matches.
CLOCK_SKEW_S = 300.0


class Submitting(ModelBatchState):
    """Split trials into batches within the budget, submit them, and recover unconfirmed ones."""

    def _chunks(self, trials: list[Trial]) -> Iterator[list[Trial]]:
        size = max(1, min(self.api.max_lines, self.opt.max_lines or self.api.max_lines))
        for i in range(0, len(trials), size):
            yield trials[i:i + size]

    async def _submit(self, trials: list[Trial]) -> None:
        for chunk in self._chunks(trials):
            if self._stopped():
                return
            chunk = self._reserve(chunk)
            if not chunk:
                return
            row = sb.create(self.conn, self.api.provider, self.info.id, [t.key for t in chunk], self.r.run_id)
            await self._send(row, chunk)

    def _reserve(self, chunk: list[Trial]) -> list[Trial]:
        """The lines the budget allows (worst case at the live price), each reserved."""
        for i, t in enumerate(chunk):
            try:
                self.reserved[t.key] = self.r.budget.reserve(self.info, list(t.messages), t.params.max_tokens)
            except BudgetExhausted as exc:
                self.r.stop_reason = self.r.stop_reason or str(exc)
                return chunk[:i]
        return chunk

    async def _send(self, row: sb.BatchRow, trials: list[Trial]) -> None:
        """Submit one batch row's lines, retrying retryable failures; before each retry, ask the
        provider whether the failed attempt created the batch after all."""
        lines = self._lines(trials)
        findable = self._can_find()
        sub: Submitted | None = None
        for n in range(self.r.opt.max_attempts):
            try:
                if isinstance(self.api, FindsOwnBatches):
                    sub = await self.api.submit(lines, metadata={TAG_KEY: row.tag})
                else:
                    sub = await self.api.submit(lines)
                break
            except ModelCallError as err:
                self.r.first_errors.setdefault(self.info.id, str(err))
                if err.fatal:
                    self.r.stopped[self.info.id] = str(err)
                if not self.r.retry.should_retry(err, n):
                    await self._refused(row, trials, err)
                    return
                await self.r.retry.wait(err, n)
                if findable:
                    sub = await self._find(row)
                    if sub is not None:
                        break
        if sub is None:
            await self._refused(row, trials, ModelCallError("the batch could not be submitted", retryable=True))
            return
        sb.submitted(self.conn, row.id, sub.batch_id, sub.input_file_id, sub.state)
        self.r.requests += len(trials)
        self.r.batches_submitted += 1
        for t in trials:
            self.rounds[t.key] = self.rounds.get(t.key, 0) + 1
        self._state(row.id, sub.state, None, len(trials))

    def _can_find(self) -> bool:
        """Whether the adapter can look for a batch a crash left unconfirmed: by the tag kept with
        it (FindsOwnBatches), or, for a provider without metadata (Anthropic), as the one batch
        created since the row was written with exactly its number of lines (FindsByCreation)."""
        return isinstance(self.api, FindsOwnBatches | FindsByCreation)

    async def _find(self, row: sb.BatchRow) -> Submitted | None:
        try:
            if isinstance(self.api, FindsOwnBatches):
                return await self.api.find_submitted(TAG_KEY, row.tag)
            if isinstance(self.api, FindsByCreation):
                return await self.api.find_created_since(row.created_at - CLOCK_SKEW_S,
                                                         len(sb.line_states(self.conn, row.id)))
        except ModelCallError:
            return None
        return None

    async def _refused(self, row: sb.BatchRow, trials: list[Trial], err: ModelCallError) -> None:
        """The provider never took the batch: its trials are stored as errors (like a live request
        that failed for good), or asked live with ``--batch-fallback live``."""
        sb.submit_failed(self.conn, row.id, str(err))
        self.r.say(f"{self.info.id}: batch {row.id} was not accepted: {err}")
        for t in trials:
            self.r.budget.reserved -= self.reserved.pop(t.key, 0.0)
        if err.fatal:
            return  # like a live run stopped by a fatal error: these trials wait for the next run
        if self.opt.fallback == "live":
            self._ask_live(trials)
            return
        self._write(None, [_Done(t, None, None, list(t.messages), [AttemptRow(
            t.key, 0, self.rounds.get(t.key, 0), row.created_at, None, None, err.http_status, err.provider_code,
            None, err.raw or None, error=str(err))], 0.0) for t in trials], [], [], 0.0)

    async def _recover(self) -> None:
        """Rows a crash left in ``submitting``: found at the provider, or sent again."""
        for row in sb.open_batches(self.conn, self.info.id):
            if row.remote_id is not None:
                self.states[row.id] = row.state
                continue
            found = await self._find(row) if self._can_find() else None
            if found is not None:
                sb.submitted(self.conn, row.id, found.batch_id, found.input_file_id, found.state)
                self.r.say(f"{self.info.id}: batch {row.id} was created before the last run stopped; polling it.")
                continue
            keys = sb.line_states(self.conn, row.id)
            trials = [self.trials[k] for k in keys if k in self.trials]
            if not trials:
                sb.submit_failed(self.conn, row.id, "its trials are no longer in the study")
                continue
            if not self._can_find():
                self.r.say(f"{self.info.id}: batch {row.id} was being submitted when the last run stopped; "
                           f"sending it again (the {self.api.provider} adapter cannot look for a copy the provider "
                           "may have created without confirming; check its batch list if in doubt).")
            allowed = self._reserve(trials)
            kept = {t.key for t in allowed}
            dropped = [k for k in keys if k not in kept]  # gone from the study, or over the budget
            if not allowed:
                sb.submit_failed(self.conn, row.id, "not sent again: " + (self.r.stop_reason or "no trial left"))
                continue
            if dropped:
                self._write(row.id, [], [], [(k, "failed") for k in dropped], 0.0)
            await self._send(row, allowed)
