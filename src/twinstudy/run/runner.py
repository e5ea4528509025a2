"""Run a study's trials against its models: concurrent, resumable, writing each result as it ends.

Trials stream from the design; each model gets its own adaptive concurrency limit; one writer
task batches finished results into single transactions. Re-running skips every trial whose key
already has a final outcome, so an interrupted run resumes with nothing lost and nothing paid twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from twinstudy import __version__
from twinstudy.run.budget import Budget
from twinstudy.run.concurrency import AdaptiveLimit
from twinstudy.study.design import Trial, count_trials, expand
from twinstudy.errors import UserError
from twinstudy.models.base import Completion, GenerateParams, Message, Model, ModelCallError, ModelInfo
from twinstudy.run.progress import Progress
from twinstudy.study.prompts import LETTERS
from twinstudy.scoring.logprobs import option_distribution
from twinstudy.scoring.trial_scoring import LIKERT_POINTS, Reply, score_turn
from twinstudy.study.spec import ResolvedStudy
from twinstudy.store import AttemptRow, ScoreRow, Store

MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 60.0
REQUEST_TIMEOUT_S = 300.0
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 256
WRITE_BATCH = 512
QUEUE_LIMIT = 8 * WRITE_BATCH  # finished trials waiting for the writer; more makes workers wait
# Young-generation collections during a run: every 10,000 net allocations instead of 700. A
# collection pauses the event loop, and each pause bunches requests into lockstep rounds.
GC_THRESHOLDS = (10_000, 20, 20)
LOGPROB_ALTERNATIVES = 20


@dataclass
class RunOptions:
    max_requests: int | None = None
    max_cost: float | None = None
    quiet: bool = False
    skip_unavailable: bool = False
    max_attempts: int = MAX_ATTEMPTS
    request_timeout: float = REQUEST_TIMEOUT_S
    backoff_base: float = BACKOFF_BASE_S


@dataclass
class RunResult:
    run_id: int
    planned: int
    skipped: int
    done: int = 0
    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    stopped_models: dict[str, str] = field(default_factory=dict)
    stop_reason: str | None = None
    wall_s: float = 0.0
    cost: float = 0.0


@dataclass
class _Done:
    """A trial whose requests are over; the writer task scores it and stores it."""

    trial: Trial
    comp: Completion | None
    follow: Completion | None
    messages: list[Message]
    attempts: list[AttemptRow]
    cost: float = 0.0


class _Stop(Exception):
    pass


def _params_for(trial: Trial) -> GenerateParams:
    p = trial.params
    options: tuple[str, ...] | None = None
    if p.logprobs:
        if trial.item.type in LIKERT_POINTS:
            options = tuple(str(k) for k in range(1, LIKERT_POINTS[trial.item.type] + 1))
        elif trial.option_order is not None:
            options = tuple(LETTERS[: len(trial.option_order)])
    return GenerateParams(max_tokens=p.max_tokens, temperature=p.temperature, top_p=p.top_p,
                          seed=trial.seed, logprobs=LOGPROB_ALTERNATIVES if p.logprobs else None,
                          options=options)


class Runner:
    def __init__(self, rs: ResolvedStudy, store: Store, models: dict[str, Model],
                 options: RunOptions | None = None) -> None:
        self.rs = rs
        self.store = store
        self.models = models
        self.opt = options or RunOptions()
        self.queue: asyncio.Queue[_Done | None] = asyncio.Queue(QUEUE_LIMIT)
        self._writer_task: asyncio.Task[None] | None = None
        self.requests = 0
        self.budget = Budget(max_cost=self.opt.max_cost, max_requests=self.opt.max_requests)
        self.stop_reason: str | None = None
        self.stopped: dict[str, str] = {}
        self.outcomes: dict[str, int] = {}
        self.progress: Progress | None = None

    # -- one request, with retries ---------------------------------------------------------
    async def _call(self, trial: Trial, limit: AdaptiveLimit, messages: list[Message], turn: int,
                    attempts: list[AttemptRow], costs: list[float]) -> Completion | None:
        model = self.models[trial.model.id]
        params = _params_for(trial)
        for n in range(self.opt.max_attempts):
            if trial.model.id in self.stopped:
                return None
            reservation = self.budget.reserve(trial.model, messages, params.max_tokens)
            if isinstance(reservation, str):
                self.stop_reason = self.stop_reason or reservation
                raise _Stop()
            try:
                sent_at = await limit.acquire()
            except BaseException:
                self.budget.settle(trial.model, reservation, 0, 0)
                raise
            self.requests += 1
            started = time.time()
            try:
                async with asyncio.timeout(self.opt.request_timeout):  # no extra task, unlike wait_for
                    comp = await model.generate(messages, params)
            except (ModelCallError, TimeoutError) as exc:
                err = exc if isinstance(exc, ModelCallError) else ModelCallError(
                    f"no reply within {self.opt.request_timeout:.0f} s", retryable=True)
                self.budget.settle(trial.model, reservation, 0, 0)  # failed requests are not billed
                rate = err.http_status == 429
                await limit.release(rate_limited=rate, retry_after=err.retry_after,
                                    server_error=(err.http_status or 0) >= 500, sent_at=sent_at)
                attempts.append(AttemptRow(trial.key, turn, n, started, err.latency_ms, err.request or None,
                                           err.http_status, err.provider_code, None, err.raw or None,
                                           error=str(err)))
                if self.progress:
                    self.progress.error(trial.model.id)
                if err.fatal:
                    self.stopped[trial.model.id] = str(err)
                    return None
                if not err.retryable or n + 1 >= self.opt.max_attempts:
                    return None
                delay = err.retry_after if err.retry_after is not None else min(
                    BACKOFF_CAP_S, self.opt.backoff_base * 2 ** n)
                await asyncio.sleep(delay * (1 + 0.25 * random.random()))
                continue
            except BaseException:
                self.budget.settle(trial.model, reservation, None, None)  # may have been billed
                await limit.release()
                raise
            await limit.release(success=True)
            cost = self.budget.settle(trial.model, reservation, comp.tokens_in, comp.tokens_out)
            costs.append(cost)
            if self.progress and cost:
                self.progress.add_cost(trial.model.id, cost)
            attempts.append(AttemptRow(
                trial.key, turn, n, started, comp.latency_ms, comp.request, comp.http_status,
                comp.provider_code, comp.finish_reason, comp.raw, comp.text, comp.reasoning,
                comp.tokens_in, comp.tokens_out, blocked=comp.block.where if comp.block else None))
            return comp
        return None

    # -- one trial ----------------------------------------------------------------------------
    async def _trial(self, trial: Trial, limit: AdaptiveLimit) -> None:
        """Send the trial's requests; scoring and storing wait for the writer task, so the worker
        can put its next request on the wire first."""
        attempts: list[AttemptRow] = []
        costs: list[float] = []
        messages = list(trial.messages)
        comp = await self._call(trial, limit, messages, 0, attempts, costs)
        follow: Completion | None = None
        # A blocked turn is never followed up (score_reply calls exactly those turns "blocked").
        if comp is not None and trial.followup and comp.block is None:
            messages += [Message("assistant", comp.text), Message("user", trial.followup)]
            follow = await self._call(trial, limit, messages, 1, attempts, costs)
        if comp is None and not attempts and trial.model.id in self.stopped:
            return  # never attempted: leave it for the next run
        if self._writer_task is not None and self._writer_task.done():
            self._writer_task.result()  # the writer failed: stop the run with its error
        await self.queue.put(_Done(trial, comp, follow, messages, attempts, sum(costs)))

    def _finish(self, d: _Done) -> tuple[dict[str, Any], list[ScoreRow]]:
        """Score a finished trial: its trial row and score rows."""
        trial, comp = d.trial, d.comp
        order = list(trial.option_order) if trial.option_order else None
        scores: list[ScoreRow] = []
        if comp is None:
            outcome = "error"
        else:
            reply = Reply(comp.text, comp.finish_reason, comp.block is not None,
                          _distribution(comp, trial.item.type), comp.option_mass)
            outcome, rows = score_turn(trial.key, trial.item, trial.lang, order, trial.correct_letter, reply)
            scores.extend(rows)
            if trial.followup and outcome not in ("blocked",):
                if d.follow is None:
                    outcome = "error"
                else:
                    r2 = Reply(d.follow.text, d.follow.finish_reason, d.follow.block is not None)
                    _o2, rows2 = score_turn(trial.key, trial.item, trial.lang, order, trial.correct_letter,
                                            r2, turn=1)
                    scores.extend(rows2)
        row_t = _trial_row(self.rs.study.name, trial, outcome, comp, d.follow, d.messages, d.attempts)
        row_t["cost"] = d.cost
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if self.progress:
            self.progress.advance(trial.model.id, outcome)
        return row_t, scores

    # -- writer -------------------------------------------------------------------------------
    async def _writer(self) -> None:
        done = False
        while not done:
            item = await self.queue.get()
            # Yield once: requests that workers started in this loop turn go out before the
            # batch is scored and written (otherwise they would wait behind the whole batch).
            await asyncio.sleep(0)
            batch = [item]
            while not self.queue.empty() and len(batch) < WRITE_BATCH:
                batch.append(self.queue.get_nowait())
            if None in batch:
                done = True
            real = [b for b in batch if b is not None]
            if real:
                finished = [self._finish(b) for b in real]
                self.store.write_batch([a for b in real for a in b.attempts], [f[0] for f in finished],
                                       [s for f in finished for s in f[1]])

    # -- scheduling ---------------------------------------------------------------------------
    def _todo(self, info: ModelInfo, trials: Iterator[Trial], skip: set[str]) -> Iterator[Trial]:
        for trial in trials:
            if trial.key in skip:
                if self.progress:
                    self.progress.skip(info.id)
                continue
            if info.id in self.stopped or self.stop_reason:
                return
            yield trial

    async def _worker(self, todo: Iterator[Trial], limit: AdaptiveLimit) -> None:
        for trial in todo:  # shared by all workers; next() never suspends, so that is safe
            await self._trial(trial, limit)

    async def _model_loop(self, info: ModelInfo, trials: Iterator[Trial], skip: set[str]) -> None:
        """Workers pull trials from one stream: a worker whose request ended sends its next one in
        the same loop turn, so requests stay spread out instead of moving in lockstep rounds.
        Twice the maximum limit of workers leaves room for those sleeping before a retry."""
        model = self.models[info.id]
        limit = limit_for(info, model)
        todo = self._todo(info, trials, skip)
        pending = {asyncio.create_task(self._worker(todo, limit))
                   for _ in range(max(2, 2 * int(limit.maximum)))}
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
                for t in done:
                    exc = t.exception()
                    if exc is not None and not isinstance(exc, _Stop):
                        raise exc
        finally:
            for t in pending:
                t.cancel()

    async def run(self) -> RunResult:
        planned = count_trials(self.rs)
        skip = self.store.final_keys()
        self.store.upsert_models(self.rs.models)
        run_id = self.store.start_run(self.rs.study.name, self.rs.text, self.rs.source, __version__, planned)
        result = RunResult(run_id, planned, 0)
        t0 = time.monotonic()
        self.progress = Progress(self.rs, quiet=self.opt.quiet)
        writer = self._writer_task = asyncio.create_task(self._writer())
        status = "finished"
        try:
            with self.progress, _collector_tuned_for_the_run():
                await asyncio.gather(*(self._model_loop(m, expand(self.rs, m), skip) for m in self.rs.models))
        except (asyncio.CancelledError, KeyboardInterrupt):
            status = "interrupted"
            raise
        except Exception:
            status = "failed"
            raise
        finally:
            try:
                if not writer.done():
                    await self.queue.put(None)
                await asyncio.shield(writer)
                if status == "finished" and (self.stop_reason or self.stopped):
                    status = "stopped"
                self.store.finish_run(run_id, status, self.stop_reason or "; ".join(
                    f"{k}: {v}" for k, v in self.stopped.items()) or None)
            finally:  # connections are closed even when the writer failed
                for m in self.models.values():
                    await m.aclose()
        result.skipped = self.progress.skipped_total
        result.done = sum(self.outcomes.values())
        result.requests = self.requests
        result.cost = self.budget.spent
        result.outcomes = dict(self.outcomes)
        result.stopped_models = dict(self.stopped)
        result.stop_reason = self.stop_reason
        result.wall_s = time.monotonic() - t0
        return result


@contextlib.contextmanager
def _collector_tuned_for_the_run() -> Iterator[None]:
    """Freeze what exists before the run (the study, its items, modules) out of the collector's
    scans and collect young objects less often; both restored afterwards."""
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def limit_for(info: ModelInfo, model: Model) -> AdaptiveLimit:
    """A limit set in the study is the user's word and starts at full width; otherwise start
    small and let slow start find the provider's capacity."""
    if info.max_concurrency:
        return AdaptiveLimit(initial=info.max_concurrency, maximum=info.max_concurrency)
    cap = int(getattr(model, "max_concurrency", None) or MAX_CONCURRENCY)
    return AdaptiveLimit(initial=min(cap, DEFAULT_CONCURRENCY), maximum=min(cap, MAX_CONCURRENCY))


def _distribution(comp: Completion, item_type: str) -> dict[str, float] | None:
    """Answer distribution read from logits (embedded model) or from returned top logprobs."""
    if comp.option_probs:
        return comp.option_probs
    if not comp.top_logprobs:
        return None
    return option_distribution(comp.top_logprobs, item_type)


def _trial_row(study: str, t: Trial, outcome: str, comp: Completion | None, follow: Completion | None,
               messages: list[Message], attempts: list[AttemptRow]) -> dict[str, Any]:
    comps = [c for c in (comp, follow) if c is not None]
    return {
        "key": t.key, "study": study, "model": t.model.id, "instrument": t.instrument, "item": t.item.id,
        "theme": t.item.theme, "item_type": t.item.type, "reverse": int(t.item.reverse), "lang": t.lang,
        "framing": t.framing.id, "paraphrase": t.paraphrase, "sample": t.sample, "seed": t.seed,
        "params_json": t.params.model_dump_json(),
        "option_order": json.dumps(list(t.option_order)) if t.option_order else None,
        "correct_letter": t.correct_letter,
        "messages_json": json.dumps([[m.role, m.content] for m in messages], ensure_ascii=False),
        "outcome": outcome,
        "answer_text": comp.text if comp else None,
        "reasoning": comp.reasoning if comp else None,
        "followup_text": follow.text if follow else None,
        "provider_code": comp.block.provider_code if comp and comp.block else (comp.provider_code if comp else None),
        "omitted_params": json.dumps(comp.omitted_params) if comp and comp.omitted_params else None,
        "n_attempts": len(attempts),
        "tokens_in": sum(c.tokens_in or 0 for c in comps) if comps else None,
        "tokens_out": sum(c.tokens_out or 0 for c in comps) if comps else None,
        "cost": None,
        "finished_at": time.time(),
    }


def check_models_ready(infos: list[ModelInfo], skip_unavailable: bool,
                       factory: Callable[[ModelInfo], Model]) -> tuple[dict[str, Model], dict[str, str]]:
    """Build every backend before any call; a missing key stops the run unless told to skip."""
    models: dict[str, Model] = {}
    unavailable: dict[str, str] = {}
    for info in infos:
        try:
            models[info.id] = factory(info)
        except UserError as exc:
            if not skip_unavailable:
                raise UserError(f"{exc} (or pass --skip-unavailable to run the other models).") from None
            unavailable[info.id] = str(exc)
    return models, unavailable
