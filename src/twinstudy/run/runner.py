"""Run a study's trials against its models: concurrent, resumable, writing each result as it ends.

Trials stream from the design; each model gets its own adaptive concurrency limit; one writer
task batches finished results into single transactions. Re-running skips every trial whose key
already has a final outcome, so an interrupted run resumes with nothing lost and nothing paid twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from twinstudy import __version__
from twinstudy.errors import BudgetExhausted
from twinstudy.models.base import Completion, GenerateParams, Message, Model, ModelCallError, ModelInfo
from twinstudy.run.budget import Budget
from twinstudy.run.concurrency import AccountLimits, AdaptiveLimit
from twinstudy.run.lock import DatabaseLock, mark_interrupted
from twinstudy.run.progress import Progress
from twinstudy.run.readiness import check_models_ready as check_models_ready  # re-exported for callers
from twinstudy.run.retry import RUN_RETRY, RetryPolicy
from twinstudy.run.trial_record import distribution, trial_record
from twinstudy.scoring.parse import answer_schema
from twinstudy.scoring.trial_scoring import Reply, score_turn
from twinstudy.store import AttemptRow, ScoreRow, Store, TrialRecord
from twinstudy.study.design import Trial, count_trials, expand
from twinstudy.study.spec import ResolvedStudy
from twinstudy.vocab import LETTERS, LIKERT_POINTS, likert_labels

MAX_ATTEMPTS = RUN_RETRY.max_attempts
BACKOFF_BASE_S = RUN_RETRY.backoff_base
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
    request_timeout: float = REQUEST_TIMEOUT_S  # a model's own `timeout` wins
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
    cost: float = 0.0  # of the priced models only; see unpriced
    unpriced: list[str] = field(default_factory=list)  # models whose cost is unknown (no price)
    #: outcome counts per model, and the first request error each model met (shown on screen)
    model_outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    first_errors: dict[str, str] = field(default_factory=dict)

    def all_failed(self) -> list[str]:
        """Models whose every trial run now ended in an error (nothing was learned from them)."""
        return [m for m, c in self.model_outcomes.items() if c and set(c) == {"error"}]
    design: str | None = None  # fingerprint of the design this run ran
    previous_design: str | None = None  # the design current before, when it differs
    previous_trials: int = 0
    design_changes: list[str] = field(default_factory=list)  # what differs from the previous design


@dataclass
class _Done:
    """A trial whose requests are over; the writer task scores it and stores it."""

    trial: Trial
    comp: Completion | None
    follow: Completion | None
    messages: list[Message]
    attempts: list[AttemptRow]
    cost: float | None = 0.0  # None: the model has no known price


def _params_for(trial: Trial) -> GenerateParams:
    p = trial.params
    options: tuple[str, ...] | None = None
    if p.logprobs:
        if trial.item.type in LIKERT_POINTS:
            options = likert_labels(trial.item.type)
        elif trial.option_order is not None:
            options = tuple(LETTERS[: len(trial.option_order)])
    schema = None
    if p.structured and trial.item.type != "open":
        n_opts = len(trial.option_order) if trial.option_order is not None else None
        schema = answer_schema(trial.item.type, n_opts)
    return GenerateParams(max_tokens=p.max_tokens, temperature=p.temperature, top_p=p.top_p,
                          seed=trial.seed, logprobs=LOGPROB_ALTERNATIVES if p.logprobs else None,
                          options=options, answer_schema=schema,
                          schema_style=p.structured if isinstance(p.structured, str) else "auto")


class Runner:
    def __init__(self, rs: ResolvedStudy, store: Store, models: dict[str, Model],
                 options: RunOptions | None = None, design: ResolvedStudy | None = None) -> None:
        """``design``: the study as written, when ``rs`` runs only some of its models (models
        skipped for a missing key are still part of the design the analysis reads)."""
        self.rs = rs
        self.design_rs = design or rs
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
        self.model_outcomes: dict[str, dict[str, int]] = {}
        self.first_errors: dict[str, str] = {}
        self.progress: Progress | None = None
        self.retry = RetryPolicy(max_attempts=self.opt.max_attempts, backoff_base=self.opt.backoff_base,
                                 backoff_cap=RUN_RETRY.backoff_cap)
        self.run_id: int | None = None
        self.accounts = AccountLimits.for_models({m.id: account_of(m) for m in rs.models},
                                                 {m.id: m.account_max_concurrency for m in rs.models})

    # -- one request, with retries ---------------------------------------------------------
    async def _call(self, trial: Trial, limit: AdaptiveLimit, messages: list[Message], turn: int,
                    attempts: list[AttemptRow], costs: list[float | None]) -> Completion | None:
        model = self.models[trial.model.id]
        params = _params_for(trial)
        for n in range(self.opt.max_attempts):
            if trial.model.id in self.stopped:
                return None
            try:
                reservation = self.budget.reserve(trial.model, messages, params.max_tokens)
            except BudgetExhausted as exc:
                self.stop_reason = self.stop_reason or str(exc)
                raise
            try:
                sent_at = await limit.acquire()
            except BaseException:
                self.budget.settle(trial.model, reservation, 0, 0)
                raise
            self.requests += 1
            started = time.time()
            timeout = trial.model.timeout or self.opt.request_timeout
            try:
                async with self.accounts.slot(trial.model.id):
                    async with asyncio.timeout(timeout):  # no extra task, unlike wait_for
                        comp = await model.generate(messages, params)
            except (ModelCallError, TimeoutError) as exc:
                err = exc if isinstance(exc, ModelCallError) else ModelCallError(
                    f"no reply within {timeout:.0f} s (set `timeout` on the model or --request-timeout "
                    "to wait longer)", retryable=True)
                self.budget.settle(trial.model, reservation, 0, 0)  # failed requests are not billed
                rate = err.http_status == 429
                await limit.release(rate_limited=rate, retry_after=err.retry_after,
                                    server_error=(err.http_status or 0) >= 500, sent_at=sent_at)
                attempts.append(AttemptRow(trial.key, turn, n, started, err.latency_ms, err.request or None,
                                           err.http_status, err.provider_code, None, err.raw or None,
                                           error=str(err)))
                self.first_errors.setdefault(trial.model.id, str(err))
                if self.progress:
                    self.progress.error(trial.model.id)
                if err.fatal:
                    self.stopped[trial.model.id] = str(err)
                    return None
                if not self.retry.should_retry(err, n):
                    return None
                await self.retry.wait(err, n)
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
        costs: list[float | None] = []
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
        cost = None if None in costs else sum(c for c in costs if c is not None)
        await self.queue.put(_Done(trial, comp, follow, messages, attempts, cost))

    def _finish(self, d: _Done) -> tuple[TrialRecord, list[ScoreRow]]:
        """Score a finished trial: its trial row and score rows."""
        trial, comp = d.trial, d.comp
        order = list(trial.option_order) if trial.option_order else None
        scores: list[ScoreRow] = []
        if comp is None:
            outcome = "error"
        else:
            dist, mass = distribution(comp, trial.item.type)
            reply = Reply(comp.text, comp.finish_reason, comp.block is not None, dist, mass)
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
        row_t = trial_record(self.rs.study.name, trial, outcome, comp, d.follow, d.messages, d.attempts, d.cost)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        per_model = self.model_outcomes.setdefault(trial.model.id, {})
        per_model[outcome] = per_model.get(outcome, 0) + 1
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
                                       [s for f in finished for s in f[1]], self.run_id)

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
        if model.capabilities.max_concurrency == 1:
            # One request at a time on one cache (the embedded model): ask the trials in the order of
            # their text, so that each prompt shares the longest prefix with the one before and only
            # its new tail is evaluated. Remote models take the design's order: order buys nothing there.
            trials = iter(sorted(trials, key=lambda t: [(m.role, m.content) for m in t.messages]))
        todo = self._todo(info, trials, skip)
        pending = {asyncio.create_task(self._worker(todo, limit))
                   for _ in range(max(2, 2 * int(limit.maximum)))}
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
                for t in done:
                    exc = t.exception()
                    if exc is not None and not isinstance(exc, BudgetExhausted):
                        raise exc
        finally:
            for t in pending:
                t.cancel()

    async def run(self) -> RunResult:
        # One writer per database: a second run stops here, before it could ask anything twice.
        lock = DatabaseLock(self.store.path).acquire()
        try:
            return await self._run_locked(lock)
        finally:
            lock.release()

    async def _run_locked(self, lock: DatabaseLock) -> RunResult:
        if mark_interrupted(self.store.conn) and lock.stale_pid is not None:
            print(f"note: an earlier run (pid {lock.stale_pid}) ended without finishing; it is marked "
                  "interrupted and this run takes over its database.", file=sys.stderr)
        planned = count_trials(self.rs)
        skip = self.store.final_keys()
        self.store.upsert_models(self.rs.models)
        self.store.put_definitions(self.rs.instruments, self.rs.framings)
        run_id = self.run_id = self.store.start_run(self.rs.study.name, self.rs.text, self.rs.source, __version__, planned)
        result = RunResult(run_id, planned, 0)
        self._record_design(run_id, result)
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
        result.unpriced = sorted(self.budget.unpriced)
        result.outcomes = dict(self.outcomes)
        result.stopped_models = dict(self.stopped)
        result.stop_reason = self.stop_reason
        result.model_outcomes = {k: dict(v) for k, v in self.model_outcomes.items()}
        result.first_errors = dict(self.first_errors)
        result.wall_s = time.monotonic() - t0
        return result


    def _record_design(self, run_id: int, result: RunResult) -> None:
        """Record the design this run runs; when it differs from the last one, say how."""
        from twinstudy.store import designs
        from twinstudy.study.fingerprint import describe_changes, design_keys, design_summary, fingerprint_of

        keys = design_keys(self.design_rs)
        summary = design_summary(self.design_rs)
        result.design = fingerprint_of(keys)
        previous = designs.record(self.store.conn, run_id, self.rs.study.name, result.design, keys, summary)
        if previous is not None:
            result.previous_design = previous.fingerprint
            result.previous_trials = int(self.store.conn.execute(
                "SELECT count(*) FROM design_trials d JOIN trials t ON t.key = d.trial_key "
                "WHERE d.design = ? AND d.trial_key NOT IN (SELECT trial_key FROM design_trials WHERE design = ?)",
                (previous.fingerprint, result.design)).fetchone()[0])
            result.design_changes = describe_changes(previous.summary, summary) or [
                "the text sent changed (e.g. a new twinstudy version's prompt wording)"]
        elif len(designs.designs(self.store.conn)) == 1:
            # The first recorded design of a database that already held trials: those asked under
            # an earlier study file (before designs were recorded) are left out of the analysis too.
            result.previous_trials = int(self.store.conn.execute(
                "SELECT count(*) FROM trials WHERE key NOT IN "
                "(SELECT trial_key FROM design_trials WHERE design = ?)", (result.design,)).fetchone()[0])


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


def account_of(info: ModelInfo) -> tuple[str, str, str]:
    """Models on the same provider, endpoint and key variable share one account."""
    from twinstudy.models.presets import get_preset
    from twinstudy.models.registry import key_env

    return (info.provider, info.base_url or str(get_preset(info.provider).base_url), key_env(info) or "")


def limit_for(info: ModelInfo, model: Model) -> AdaptiveLimit:
    """A limit set in the study is the user's word and starts at full width; otherwise start
    small and let slow start find the provider's capacity (at most what the backend declares)."""
    if info.max_concurrency:
        return AdaptiveLimit(initial=info.max_concurrency, maximum=info.max_concurrency)
    cap = int(model.capabilities.max_concurrency or MAX_CONCURRENCY)
    return AdaptiveLimit(initial=min(cap, DEFAULT_CONCURRENCY), maximum=min(cap, MAX_CONCURRENCY))
