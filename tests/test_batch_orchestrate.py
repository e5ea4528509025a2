"""Batch orchestration against an in-memory provider (tests/batch_fakes.py): every trial final once,
blocks never sent again, expired lines sent again (or live), follow-ups live, resume without resubmitting."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from batch_fakes import (
    FakeBatchAPI,
    FakeProvider,
    TaggedFakeBatchAPI,
    TimedFakeBatchAPI,
    answer,
    bad_request,
    blocked,
    expired,
)
from conftest import db_rows
from fault_server import FaultServer

from twinstudy.batch.api import BatchAPI, BatchLine, LineResult
from twinstudy.batch.orchestrate import BatchOptions, BatchRunner, choose_batch_models
from twinstudy.models.base import ModelInfo
from twinstudy.models.factory import create_model
from twinstudy.run.prices import batch_price_of, price_of
from twinstudy.run.runner import RunOptions, RunResult, check_models_ready
from twinstudy.store import FINAL_OUTCOMES, Store
from twinstudy.store import batches as sb
from twinstudy.study.design import count_trials
from twinstudy.study.spec import ResolvedStudy, load_study

STUDY = """\
name: batchy
models:
  - {{id: openai/gpt-4.1, provider: openai, model: gpt-4.1, base_url: {url}, batch: true, max_concurrency: 4}}
instruments:
  - {{id: ai-futures, limit: {n_items}}}
languages: [en]
framings: [{framings}]
samples: 1
params: {{temperature: 0.0, max_tokens: 8}}
"""

FAST = BatchOptions(poll_interval=0.0, poll_max=0.0)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")


def _study(tmp_path: Path, url: str, n_items: int = 4, framings: str = "neutral") -> ResolvedStudy:
    p = tmp_path / "s.yaml"
    p.write_text(STUDY.format(url=url, n_items=n_items, framings=framings), encoding="utf-8")
    return load_study(p)


def _run(rs: ResolvedStudy, db: Path, api: BatchAPI, opts: BatchOptions = FAST, **run_opts: Any) -> RunResult:
    models, _ = check_models_ready(rs.models, False, create_model)
    store = Store(db)
    try:
        apis, _notes = choose_batch_models(rs, models, store, opts, factory=lambda info, model: api)
        runner = BatchRunner(rs, store, models, RunOptions(quiet=True, backoff_base=0.01, **run_opts),
                             apis=apis, batch=opts)
        return asyncio.run(runner.run())
    finally:
        store.close()


def test_every_trial_goes_out_in_batches_split_at_max_lines_and_ends_once(tmp_path: Path) -> None:
    rs = _study(tmp_path, "http://127.0.0.1:9/v1", n_items=5)
    service = FakeProvider()
    result = _run(rs, tmp_path / "r.db", FakeBatchAPI(service, max_lines=2))
    planned = count_trials(rs)
    assert result.done == planned == 5 and result.outcomes == {"answered": 5}
    assert service.submits == 3 and set(service.received.values()) == {1}  # 2 + 2 + 1 lines, each once
    assert db_rows(tmp_path / "r.db", "select count(*), count(distinct key) from trials") == [(5, 5)]
    # cost at the batch price: half the list price of gpt-4.1 (prices.yaml batch_discount)
    info = rs.models[0]
    batch, live = batch_price_of(info), price_of(info)
    assert batch is not None and live is not None and batch["input"] == live["input"] / 2
    per_line = (40 * batch["input"] + 2 * batch["output"]) / 1e6
    assert db_rows(tmp_path / "r.db", "select sum(cost) from trials")[0][0] == pytest.approx(5 * per_line)
    assert db_rows(tmp_path / "r.db", "select count(*), sum(collected_at is not null), sum(cost) from batches") == \
        [(3, 3, pytest.approx(5 * per_line))]
    assert set(db_rows(tmp_path / "r.db", "select state from batch_lines")) == {("done",)}


def test_blocks_are_final_and_never_sent_again(tmp_path: Path) -> None:
    rs = _study(tmp_path, "http://127.0.0.1:9/v1", n_items=3)
    service = FakeProvider(reply=blocked)
    result = _run(rs, tmp_path / "r.db", FakeBatchAPI(service))
    assert result.outcomes == {"blocked": 3}
    assert service.submits == 1 and set(service.received.values()) == {1}
    assert db_rows(tmp_path / "r.db", "select blocked from attempts") == [("output",)] * 3


def test_expired_lines_go_again_in_a_new_batch_then_end_as_errors(tmp_path: Path) -> None:
    rs = _study(tmp_path, "http://127.0.0.1:9/v1", n_items=2)
    first = rs.models[0]
    seen: dict[str, int] = {}

    def flaky(line: BatchLine) -> LineResult | None:
        seen[line.custom_id] = seen.get(line.custom_id, 0) + 1
        return answer(line) if seen[line.custom_id] > 1 else None  # no line at all the first time

    service = FakeProvider(reply=flaky)
    result = _run(rs, tmp_path / "r.db", FakeBatchAPI(service))
    assert result.outcomes == {"answered": 2} and service.submits == 2
    assert db_rows(tmp_path / "r.db", "select state, count(*) from batch_lines group by state order by state") == \
        [("done", 2), ("expired", 2)]
    assert first.batch is True

    # a line that expires every time uses up its rounds and is stored as an error (a re-run tries again)
    service2 = FakeProvider(reply=expired)
    result2 = _run(rs, tmp_path / "r2.db", FakeBatchAPI(service2), BatchOptions(poll_interval=0, poll_max=0,
                                                                                 max_rounds=2))
    assert result2.outcomes == {"error": 2} and service2.submits == 2
    assert db_rows(tmp_path / "r2.db", "select count(*) from attempts where error is not null") == [(4,)]


def test_a_line_error_for_good_is_an_error_outcome_not_a_retry(tmp_path: Path) -> None:
    rs = _study(tmp_path, "http://127.0.0.1:9/v1", n_items=2)
    service = FakeProvider(reply=bad_request)
    result = _run(rs, tmp_path / "r.db", FakeBatchAPI(service))
    assert result.outcomes == {"error": 2} and service.submits == 1
    assert "400" in result.first_errors["openai/gpt-4.1"]


def test_expired_lines_go_live_with_fallback_live(tmp_path: Path, fault_server: FaultServer) -> None:
    rs = _study(tmp_path, fault_server.url("live"), n_items=3)
    service = FakeProvider(reply=expired)
    result = _run(rs, tmp_path / "r.db", FakeBatchAPI(service),
                  BatchOptions(poll_interval=0, poll_max=0, fallback="live"))
    assert service.submits == 1 and fault_server.count("live") == 3
    assert sum(result.outcomes.values()) == 3 and "error" not in result.outcomes
    assert db_rows(tmp_path / "r.db", "select count(*) from trials") == [(3,)]


def test_follow_up_trials_run_live_and_the_rest_in_batches(tmp_path: Path, fault_server: FaultServer) -> None:
    rs = _study(tmp_path, fault_server.url("fu"), n_items=2, framings="neutral, pushback")
    service = FakeProvider()
    result = _run(rs, tmp_path / "r.db", FakeBatchAPI(service))
    assert result.done == 4
    assert sum(service.received.values()) == 2  # the neutral trials
    assert fault_server.count("fu") == 4  # two pushback trials, two turns each
    assert db_rows(tmp_path / "r.db", "select count(*) from trials where followup_text is not null") == [(2,)]


def test_a_killed_run_polls_its_open_batch_instead_of_sending_it_again(tmp_path: Path) -> None:
    rs = _study(tmp_path, "http://127.0.0.1:9/v1", n_items=4)
    db = tmp_path / "r.db"
    service = FakeProvider(polls_to_end=10**9)  # never ends while the first run waits
    models, _ = check_models_ready(rs.models, False, create_model)
    store = Store(db)
    opts = BatchOptions(poll_interval=0.01, poll_max=0.01)
    runner = BatchRunner(rs, store, models, RunOptions(quiet=True), apis={rs.models[0].id: FakeBatchAPI(service)},
                         batch=opts)

    async def stop_soon() -> None:
        await asyncio.wait_for(runner.run(), 0.5)

    with pytest.raises(TimeoutError):
        asyncio.run(stop_soon())
    store.close()
    assert service.submits == 1 and db_rows(db, "select count(*) from trials") == [(0,)]
    assert db_rows(db, "select state from batches") != [("submitting",)]
    service.polls_to_end = 1
    result = _run(rs, db, FakeBatchAPI(service), opts)  # the same command again
    assert service.submits == 1 and set(service.received.values()) == {1}
    assert result.done == 4 and db_rows(db, "select count(*) from trials") == [(4,)]
    assert {r[0] for r in db_rows(db, "select outcome from trials")} <= set(FINAL_OUTCOMES)


def _crash_while_submitting(db: Path, rs: ResolvedStudy, service: FakeProvider, tagged: bool) -> None:
    """What a kill between the provider creating a batch and its id reaching disk leaves."""
    from twinstudy.study.design import expand

    trials = list(expand(rs, rs.models[0]))
    store = Store(db)
    try:
        row = sb.create(store.conn, "fake", rs.models[0].id, [t.key for t in trials], None)
        from twinstudy.run.runner import _params_for

        service.create([BatchLine(t.key, list(t.messages), _params_for(t)) for t in trials], row.tag if tagged else None)
    finally:
        store.close()


def test_a_batch_created_just_before_a_crash_is_found_by_its_tag_not_sent_again(tmp_path: Path) -> None:
    rs = _study(tmp_path, "http://127.0.0.1:9/v1", n_items=3)
    db = tmp_path / "r.db"
    service = FakeProvider()
    _crash_while_submitting(db, rs, service, tagged=True)
    result = _run(rs, db, TaggedFakeBatchAPI(service))
    assert service.submits == 1 and set(service.received.values()) == {1}
    assert result.done == 3


def test_without_metadata_a_batch_is_found_by_creation_time_and_size(tmp_path: Path) -> None:
    """Anthropic keeps no metadata: the adapter's find_created_since closes the window instead."""
    rs = _study(tmp_path, "http://127.0.0.1:9/v1", n_items=3)
    db = tmp_path / "r.db"
    service = FakeProvider()
    _crash_while_submitting(db, rs, service, tagged=False)
    result = _run(rs, db, TimedFakeBatchAPI(service))
    assert service.submits == 1 and set(service.received.values()) == {1}
    assert result.done == 3


def test_without_find_a_submitting_batch_is_sent_again_and_collected_once(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    rs = _study(tmp_path, "http://127.0.0.1:9/v1", n_items=3)
    db = tmp_path / "r.db"
    service = FakeProvider()
    _crash_while_submitting(db, rs, service, tagged=False)
    models, _ = check_models_ready(rs.models, False, create_model)
    store = Store(db)
    runner = BatchRunner(rs, store, models, RunOptions(), apis={rs.models[0].id: FakeBatchAPI(service)}, batch=FAST)
    result = asyncio.run(runner.run())
    store.close()
    err = capsys.readouterr().err
    assert "cannot look for a copy" in err  # the documented window, said out loud
    # not on a terminal: one line per state change of each batch
    assert "batch 1 validating" in err and "batch 1 completed" in err and err.count("batch 1 in_progress") == 1
    assert service.submits == 2 and result.done == 3
    assert db_rows(db, "select count(*), count(distinct key) from trials") == [(3, 3)]


def test_models_without_a_batch_api_run_live_with_a_note(tmp_path: Path, fault_server: FaultServer) -> None:
    rs = _study(tmp_path, fault_server.url("nb"), n_items=2)
    models, _ = check_models_ready(rs.models, False, create_model)
    store = Store(tmp_path / "r.db")
    try:
        apis, notes = choose_batch_models(rs, models, store, BatchOptions(), factory=lambda i, m: None)
    finally:
        store.close()
    assert apis == {} and "no batch API" in notes[0] and "runs live" in notes[0]


def test_a_refused_batch_stores_errors_or_goes_live(tmp_path: Path) -> None:
    from twinstudy.models.base import ModelCallError

    rs = _study(tmp_path, "http://127.0.0.1:9/v1", n_items=2)
    service = FakeProvider(submit_errors=[ModelCallError("HTTP 400: the file is not valid JSONL", retryable=False,
                                                         http_status=400)])
    result = _run(rs, tmp_path / "r.db", FakeBatchAPI(service))
    assert result.outcomes == {"error": 2}
    assert db_rows(tmp_path / "r.db", "select state, error, collected_at is not null from batches") == \
        [("failed", "HTTP 400: the file is not valid JSONL", 1)]
    # the next run sends those trials again (an error is not final)
    result2 = _run(rs, tmp_path / "r.db", FakeBatchAPI(service))
    assert result2.outcomes == {"answered": 2}


def test_budget_limits_the_lines_submitted(tmp_path: Path) -> None:
    rs = _study(tmp_path, "http://127.0.0.1:9/v1", n_items=5)
    service = FakeProvider()
    result = _run(rs, tmp_path / "r.db", FakeBatchAPI(service), max_requests=3)
    assert sum(service.received.values()) == 3 and result.stop_reason and result.done == 3


def test_model_info_carries_the_batch_flag() -> None:
    assert ModelInfo(id="x", provider="openai", model="m", batch=True).batch is True


def test_a_cancelled_batch_leaves_its_unanswered_trials_to_the_next_run(tmp_path: Path) -> None:
    rs = _study(tmp_path, "http://127.0.0.1:9/v1", n_items=3)
    service = FakeProvider(reply=lambda line: None, end_state="cancelled")
    result = _run(rs, tmp_path / "r.db", FakeBatchAPI(service))
    assert service.submits == 1 and result.done == 0  # not sent again by this run
    assert db_rows(tmp_path / "r.db", "select state, collected_at is not null from batches") == [("cancelled", 1)]
    service.reply, service.end_state = answer, "completed"
    result = _run(rs, tmp_path / "r.db", FakeBatchAPI(service))
    assert service.submits == 2 and result.outcomes == {"answered": 3}
