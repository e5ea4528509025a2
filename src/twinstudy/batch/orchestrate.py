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
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from twinstudy.batch.api import BatchAPI
from twinstudy.batch.collect import Collecting
from twinstudy.batch.poll import Polling
from twinstudy.batch.submit import Submitting
from twinstudy.models.base import Model, ModelInfo
from twinstudy.run.runner import Runner, RunOptions
from twinstudy.store import Store
from twinstudy.store import batches as sb
from twinstudy.study.design import Trial
from twinstudy.study.spec import ResolvedStudy

Fallback = Literal["batch", "live"]
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


class ModelBatches(Submitting, Polling, Collecting):
    """One model's trials through its provider's batch API: submit, poll, collect, retry.

    The steps live in their own modules (:mod:`~twinstudy.batch.submit`, :mod:`~twinstudy.batch.poll`,
    :mod:`~twinstudy.batch.collect`) over one shared state (:mod:`~twinstudy.batch.model_state`);
    this class is the order they run in."""

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
            self._ask_live(live)
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
