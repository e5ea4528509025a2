"""Run a study's trials through provider batch APIs, with the live run's crash safety.

:class:`BatchRunner` is the live :class:`~twinstudy.run.runner.Runner` with one change: a model
that goes out in batches gets :class:`ModelBatches` instead of live workers. Everything after a
reply is the runner's own code: a result line becomes the same ``_Done`` a live request produces,
``Runner._finish`` scores it (``score_turn``, ``trial_record``) and ``Store.write_batch`` stores
it, in the same transaction as the batch line it finishes. So a batch reply and a live reply are
classified and stored alike, and a trial gets one final outcome.

Crash safety (the tables: :mod:`twinstudy.store.batches`):

* a batch row and its lines are committed *before* the submit call (``submitting``); the
  provider's id is committed when it answers. A restart finds a ``submitting`` row and asks the
  provider for a batch carrying the row's tag (adapters with ``find``,
  :class:`~twinstudy.batch.api.FindsOwnBatches`); only when it has none are the lines sent again.
  Adapters without ``find`` send them again and a note says the provider may hold an unconfirmed
  copy: the one window left, between the provider creating the batch and the id reaching disk;
* trials with a line in an open batch are never submitted again: the same command polls the
  open batches, collects those that ended, and submits only trials never sent;
* result lines are written chunk by chunk, each with its trials; a crash mid-collection collects
  the same batch again and passes over the lines already recorded.

Choices:

* **follow-up turns run live.** A trial with a follow-up (pushback) turn needs its first reply
  before its second request exists; sending turn two as a second batch would keep first replies
  waiting for a day across crashes. Those trials go to the live workers of the same model.
* **expired or failed lines** (the batch ended without them, or a retryable error) are sent again
  in a new batch, at most ``max_rounds`` times per trial per run, then stored as errors (a re-run
  tries again); with ``fallback="live"`` they are asked live at once. A block is a reply, never
  retried.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, cast

from twinstudy.batch.api import (
    ENDED,
    TAG_KEY,
    BatchAPI,
    BatchLine,
    BatchStatus,
    FindsOwnBatches,
    LineResult,
    Submitted,
)
from twinstudy.errors import BudgetExhausted
from twinstudy.models.base import Completion, Model, ModelCallError, ModelInfo
from twinstudy.run.prices import Price, batch_price_of, cost_at
from twinstudy.run.runner import WRITE_BATCH, Runner, RunOptions, _Done, _params_for
from twinstudy.store import AttemptRow, Store
from twinstudy.store import batches as sb
from twinstudy.study.design import Trial
from twinstudy.study.spec import ResolvedStudy

Fallback = Literal["batch", "live"]
#: How far before a batch row was written a provider's clock may put the batch's creation, when a
#: batch is looked for by creation time (Anthropic): a wider window only admits more candidates,
#: and the adapter answers None unless exactly one batch matches.
CLOCK_SKEW_S = 300.0
#: Builds a model's batch adapter, or None when its provider has none.
ApiFactory = Callable[[ModelInfo, Model], "BatchAPI | None"]


@dataclass
class BatchOptions:
    every: bool = False  # --batch: every model whose provider has a batch API (else `batch: true` ones)
    fallback: Fallback = "batch"  # where expired/failed lines go next
    poll_interval: float = 30.0  # first wait between polls; grows by `backoff` up to poll_max
    poll_max: float = 600.0
    backoff: float = 1.5
    max_rounds: int = 3  # batch submissions per trial per run before it is stored as an error
    max_lines: int | None = None  # split below the adapter's own limit (memory, file size)


def default_api_factory(info: ModelInfo, model: Model) -> BatchAPI | None:
    """The provider adapters' :func:`twinstudy.batch.providers.batch_api_for`; None for every model
    while that package is absent."""
    try:
        mod = importlib.import_module("twinstudy.batch.providers")
    except ModuleNotFoundError:
        return None
    build: Callable[..., BatchAPI | None] = mod.batch_api_for
    return build(info, model)


#: Tests and benchmarks swap this for their own adapters.
api_factory: ApiFactory = default_api_factory


def choose_batch_models(rs: ResolvedStudy, models: dict[str, Model], store: Store, opts: BatchOptions,
                        factory: ApiFactory | None = None) -> tuple[dict[str, BatchAPI], list[str]]:
    """Adapters of the models that go out in batches, and one line for each model that wanted
    batches and runs live instead. A model with batches still open in the database is collected
    in batch mode even without ``--batch``, so a re-run never asks those trials live as well."""
    build = factory or api_factory
    apis: dict[str, BatchAPI] = {}
    notes: list[str] = []
    for info in rs.models:
        has_open = bool(sb.open_batches(store.conn, info.id))
        if not (opts.every or info.batch or has_open):
            continue
        api = build(info, models[info.id])
        if api is None:
            if has_open:
                notes.append(f"{info.id} has open batches but no batch adapter here; they stay open "
                             "(`twinstudy batches` lists them) and its other trials run live.")
            else:
                notes.append(f"{info.id}: provider {info.provider} has no batch API in twinstudy; it runs live.")
            continue
        if has_open and not (opts.every or info.batch):
            notes.append(f"{info.id} has open batches from an earlier run: collecting them (batch mode).")
        apis[info.id] = api
    return apis, notes


class BatchRunner(Runner):
    """The live runner, with batch models handed to :class:`ModelBatches`."""

    def __init__(self, rs: ResolvedStudy, store: Store, models: dict[str, Model], options: RunOptions | None = None,
                 design: ResolvedStudy | None = None, *, apis: dict[str, BatchAPI],
                 batch: BatchOptions | None = None) -> None:
        super().__init__(rs, store, models, options, design=design)
        self.apis = apis
        self.batch = batch or BatchOptions()
        self.batches_submitted = 0
        self.batches_collected = 0
        self.poll_wait_s = 0.0  # time spent asleep between polls (summed over models)

    async def _model_loop(self, info: ModelInfo, trials: Iterator[Trial], skip: set[str]) -> None:
        api = self.apis.get(info.id)
        if api is None:
            await super()._model_loop(info, trials, skip)
            return
        try:
            await ModelBatches(self, info, api).run(trials, skip)
        finally:
            await api.aclose()

    async def live(self, info: ModelInfo, trials: list[Trial]) -> None:
        """Ask ``trials`` live, by the runner's own workers (follow-ups, ``--batch-fallback live``)."""
        if trials:
            await Runner._model_loop(self, info, iter(trials), set())

    def say(self, text: str) -> None:
        """One line on stderr about a batch (not on a terminal's live display, not when quiet)."""
        if not self.opt.quiet:
            print(text, file=sys.stderr, flush=True)


class ModelBatches:
    """One model's trials through its provider's batch API: submit, poll, collect, retry."""

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

    # -- the whole life ------------------------------------------------------------------------
    async def run(self, trials: Iterator[Trial], skip: set[str]) -> None:
        self.final = skip
        flying = sb.in_flight(self.conn, self.info.id)
        live: list[Trial] = []
        todo: list[Trial] = []
        for t in trials:
            if t.key in skip:
                if self.r.progress:
                    self.r.progress.skip(self.info.id)
                continue
            if t.followup:
                live.append(t)
                continue
            self.trials[t.key] = t
            if t.key not in flying:
                todo.append(t)
        if live:
            self.r.say(f"{self.info.id}: {len(live):,} trials with a follow-up turn run live (their second "
                       "request needs the first reply).")
            self.live_tasks.append(asyncio.create_task(self.r.live(self.info, live)))
        try:
            await self._recover()
            to_send = todo
            while True:
                if to_send and not self._stopped():
                    await self._submit(to_send)
                to_send = []
                open_rows = [b for b in sb.open_batches(self.conn, self.info.id) if b.remote_id is not None]
                if not open_rows or self.info.id in self.r.stopped:
                    break
                for row, status in await self._wait(open_rows):
                    to_send += await self._collect(row, status)
            await asyncio.gather(*self.live_tasks)
        finally:
            for task in self.live_tasks:
                task.cancel()

    def _stopped(self) -> bool:
        return self.info.id in self.r.stopped or self.r.stop_reason is not None

    # -- submitting ------------------------------------------------------------------------------
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

    def _lines(self, trials: list[Trial]) -> list[BatchLine]:
        return [BatchLine(t.key, list(t.messages), _params_for(t)) for t in trials]

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
        created since the row was written with exactly its number of lines."""
        return isinstance(self.api, FindsOwnBatches) or hasattr(self.api, "find_created_since")

    async def _find(self, row: sb.BatchRow) -> Submitted | None:
        try:
            if isinstance(self.api, FindsOwnBatches):
                return await self.api.find_submitted(TAG_KEY, row.tag)
            by_time = getattr(self.api, "find_created_since", None)
            if by_time is not None:
                found: Submitted | None = await by_time(row.created_at - CLOCK_SKEW_S,
                                                        len(sb.line_states(self.conn, row.id)))
                return found
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
            self.live_tasks.append(asyncio.create_task(self.r.live(self.info, trials)))
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

    # -- waiting -----------------------------------------------------------------------------------
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

    # -- collecting -------------------------------------------------------------------------------
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
        sent = {k: BatchLine(k, list(t.messages), _params_for(t)) for k in keys if (t := self.trials.get(k))}
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
            self.live_tasks.append(asyncio.create_task(self.r.live(self.info, retry)))
            return []
        again = [t for t in retry if self.rounds.get(t.key, 0) < self.opt.max_rounds]
        spent = [t for t in retry if self.rounds.get(t.key, 0) >= self.opt.max_rounds]
        if spent:
            self._write(None, [_Done(t, None, None, list(t.messages), [], 0.0) for t in spent], [], [], 0.0)
        return again

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
