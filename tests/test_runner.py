"""Runner behaviour against a scripted loopback server: retries, Retry-After, budgets, blocks,
fatal errors, and one attempt row per request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import db_rows
from fault_server import RATE_LIMITED, SERVER_ERROR, FaultServer, Reply, completion_body

from twinstudy.models.factory import create_model
from twinstudy.run.runner import Runner, RunOptions, RunResult, check_models_ready
from twinstudy.store import Store
from twinstudy.study.spec import load_study

STUDY = """\
name: runner
models:
  - id: fake
    provider: openai-compatible
    base_url: {url}
    model: fake-model
    origin: US
    max_concurrency: 4
instruments:
  - {{id: ai-futures, limit: {n_items}}}
languages: [en]
framings: [neutral]
samples: 1
params: {{temperature: 0.0, max_tokens: 8}}
"""


def _run(tmp_path: Path, url: str, n_items: int = 2, **opts: object) -> tuple[RunResult, Path]:
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(url=url, n_items=n_items), encoding="utf-8")
    rs = load_study(study)
    models, _ = check_models_ready(rs.models, False, create_model)
    db = tmp_path / "r.db"
    store = Store(db)
    options = RunOptions(quiet=True, backoff_base=0.01, **opts)  # type: ignore[arg-type]
    result = asyncio.run(Runner(rs, store, models, options).run())
    store.close()
    return result, db


def test_retries_server_errors_and_records_every_attempt(tmp_path: Path, fault_server: FaultServer) -> None:
    url = fault_server.script("p", SERVER_ERROR, SERVER_ERROR, Reply(200, completion_body("4")))
    result, db = _run(tmp_path, url, n_items=1)
    assert result.outcomes == {"answered": 1}
    assert fault_server.count("p") == 3
    attempts = db_rows(db, "select attempt, http_status, error is not null from attempts order by id")
    assert [(a[0], a[1]) for a in attempts] == [(0, 500), (1, 500), (2, 200)]
    assert db_rows(db, "select n_attempts, outcome from trials") == [(3, "answered")]


def test_retry_after_is_honoured(tmp_path: Path, fault_server: FaultServer) -> None:
    limited = Reply(429, RATE_LIMITED.body, {"Retry-After": "1"})
    url = fault_server.script("ra", limited, Reply(200, completion_body("2")))
    result, db = _run(tmp_path, url, n_items=1)
    assert result.outcomes == {"answered": 1}
    starts = [r[0] for r in db_rows(db, "select started_at from attempts order by id")]
    assert len(starts) == 2 and starts[1] - starts[0] >= 1.0


def test_request_budget_stops_cleanly_and_resume_finishes(tmp_path: Path, fault_server: FaultServer) -> None:
    url = fault_server.url("budget")
    result, db = _run(tmp_path, url, n_items=6, max_requests=3)
    assert result.stop_reason and "3" in result.stop_reason
    assert fault_server.count("budget") == 3
    assert db_rows(db, "select count(*) from trials")[0][0] == 3
    assert db_rows(db, "select status from runs")[0][0] == "stopped"
    again, _ = _run(tmp_path, url, n_items=6)
    assert again.skipped == 3 and again.done == 3 and fault_server.count("budget") == 6


def test_block_is_not_retried(tmp_path: Path, fault_server: FaultServer) -> None:
    from fault_server import DEEPSEEK_CONTENT_RISK

    url = fault_server.script("blk", DEEPSEEK_CONTENT_RISK)
    result, db = _run(tmp_path, url, n_items=1)
    assert result.outcomes == {"blocked": 1}
    assert fault_server.count("blk") == 1
    assert db_rows(db, "select blocked is not null, http_status from attempts") == [(1, 400)]


def test_non_retryable_error_is_one_attempt(tmp_path: Path, fault_server: FaultServer) -> None:
    from fault_server import NOT_FOUND

    url = fault_server.script("nf", NOT_FOUND)
    result, db = _run(tmp_path, url, n_items=1)
    assert result.outcomes == {"error": 1}
    assert fault_server.count("nf") == 1
    # an errored trial is not final: the next run tries it again
    fault_server.script("nf", Reply(200, completion_body("5")))
    again, _ = _run(tmp_path, url, n_items=1)
    assert again.outcomes == {"answered": 1}
    assert db_rows(db, "select outcome from trials") == [("answered",)]


def test_attempt_cap(tmp_path: Path, fault_server: FaultServer) -> None:
    url = fault_server.script("cap", SERVER_ERROR)
    result, _ = _run(tmp_path, url, n_items=1, max_attempts=3)
    assert result.outcomes == {"error": 1} and fault_server.count("cap") == 3


@pytest.mark.parametrize("n_items", [5])
def test_concurrency_is_bounded_by_model_limit(tmp_path: Path, n_items: int) -> None:
    with FaultServer(latency_s=0.2) as srv:
        result, _ = _run(tmp_path, srv.url("c"), n_items=n_items)
    assert result.done == n_items


PRICED = """\
name: priced
models:
  - id: fake
    provider: openai-compatible
    base_url: {url}
    model: fake-model
    origin: US
    max_concurrency: 2
    price: {{input: 1000.0, output: 1000.0}}
instruments:
  - {{id: ai-futures, limit: 10}}
languages: [en]
framings: [neutral]
params: {{temperature: 0.0, max_tokens: 8}}
"""


def test_cost_budget_stops_before_it_is_passed_and_records_costs(tmp_path: Path,
                                                                fault_server: FaultServer) -> None:
    # the fault server bills 12 prompt + 3 completion tokens per call: $0.015 at $1000/M tokens
    study = tmp_path / "s.yaml"
    study.write_text(PRICED.format(url=fault_server.url("cost")), encoding="utf-8")
    rs = load_study(study)
    models, _ = check_models_ready(rs.models, False, create_model)
    store = Store(tmp_path / "r.db")
    result = asyncio.run(Runner(rs, store, models, RunOptions(quiet=True, max_cost=0.2)).run())
    store.close()
    assert result.stop_reason and "cost budget of $0.20" in result.stop_reason
    assert result.cost <= 0.2
    assert 0 < fault_server.count("cost") < 10
    costs = [r[0] for r in db_rows(tmp_path / "r.db", "select cost from trials")]
    assert len(costs) == fault_server.count("cost") and all(abs(c - 0.015) < 1e-9 for c in costs)


def test_max_cost_refuses_models_without_a_price(tmp_path: Path, fault_server: FaultServer) -> None:
    from click.testing import CliRunner

    from twinstudy.cli import main

    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(url=fault_server.url("np"), n_items=1), encoding="utf-8")
    res = CliRunner().invoke(main, ["run", str(study), "--db", str(tmp_path / "x.db"), "--max-cost", "1"])
    assert res.exit_code == 2 and "no price is known" in res.output and "fake" in res.output
    assert fault_server.count("np") == 0 and not (tmp_path / "x.db").exists()
