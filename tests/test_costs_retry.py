"""One price rule (unknown is None, never $0.00), one retry rule, one outcome rule for open replies."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from fault_server import FaultServer

from twinstudy.errors import BudgetExhausted
from twinstudy.models.base import Completion, Message, ModelCallError, ModelInfo
from twinstudy.models.factory import create_model
from twinstudy.models.registry import all_models
from twinstudy.run.budget import Budget
from twinstudy.run.costs import price_of, price_table
from twinstudy.run.retry import CHAT_RETRY, RUN_RETRY
from twinstudy.run.runner import Runner, RunOptions, check_models_ready
from twinstudy.scoring.outcome import open_outcome
from twinstudy.store import Store
from twinstudy.study.spec import load_study

HOSTED = ModelInfo(id="nowhere/unpriced", provider="openai-compatible", model="m")


def _priced_registry_model() -> ModelInfo:
    return next(m for m in all_models() if m.id in price_table())


def test_price_of_says_unknown_instead_of_free() -> None:
    assert price_of(HOSTED) is None
    assert price_of(ModelInfo(id="x", provider="local", model="m")) == {"input": 0.0, "output": 0.0}
    own = {"input": 1.0, "output": 2.0}
    assert price_of(HOSTED.model_copy(update={"price": own})) == own
    assert price_of(HOSTED, override={"input": 3, "output": 4}) == {"input": 3.0, "output": 4.0}
    m = _priced_registry_model()
    assert price_of(m) == price_table()[m.id]
    assert price_of(m.model_dump()) == price_table()[m.id]  # stored model JSON works too


def test_a_variant_that_extends_a_registry_model_costs_what_it_costs(tmp_path: Path) -> None:
    base = _priced_registry_model()
    study = tmp_path / "s.yaml"
    study.write_text(f"name: v\nmodels:\n  - {{id: my-variant, extends: {base.id}, thinking: false}}\n"
                     "instruments: [ai-futures]\nlanguages: [en]\n", encoding="utf-8")
    (variant,) = load_study(study).models
    assert variant.id == "my-variant" and price_of(variant) == price_table()[base.id]


def test_budget_settles_an_unpriced_request_as_unknown_and_raises_when_exhausted() -> None:
    b = Budget(max_requests=1)
    r = b.reserve(HOSTED, [Message("user", "hi")], 10)
    assert b.settle(HOSTED, r, 100, 10) is None and b.spent == 0.0
    with pytest.raises(BudgetExhausted, match="request budget of 1"):
        b.reserve(HOSTED, [Message("user", "hi")], 10)


def test_an_unpriced_hosted_model_stores_cost_null(tmp_path: Path, fault_server: FaultServer) -> None:
    study = tmp_path / "s.yaml"
    study.write_text(f"name: c\nmodels:\n  - {{id: fake, provider: openai-compatible, base_url: {fault_server.url('p')}, "
                     "model: f}\ninstruments: [{id: ai-futures, limit: 1}]\nlanguages: [en]\nframings: [neutral]\n",
                     encoding="utf-8")
    rs = load_study(study)
    models, _ = check_models_ready(rs.models, False, create_model)
    store = Store(tmp_path / "r.db")
    asyncio.run(Runner(rs, store, models, RunOptions(quiet=True)).run())
    store.close()
    con = sqlite3.connect(tmp_path / "r.db")
    rows = con.execute("SELECT outcome, cost FROM trials").fetchall()
    con.close()
    assert rows and all(cost is None for _o, cost in rows)


def test_one_retry_rule_with_two_patiences() -> None:
    busy = ModelCallError("429", retryable=True, http_status=429)
    fatal = ModelCallError("no balance", retryable=False, fatal=True)
    assert RUN_RETRY.should_retry(busy, 0) and not RUN_RETRY.should_retry(busy, RUN_RETRY.max_attempts - 1)
    assert not RUN_RETRY.should_retry(fatal, 0) and not CHAT_RETRY.should_retry(fatal, 0)
    assert CHAT_RETRY.max_attempts < RUN_RETRY.max_attempts
    assert 1.0 <= RUN_RETRY.delay(busy, 0) <= 1.25 and RUN_RETRY.delay(busy, 20) <= 60 * 1.25
    later = ModelCallError("429", retryable=True, http_status=429, retry_after=120.0)
    assert RUN_RETRY.delay(later, 0) >= 120.0 and CHAT_RETRY.delay(later, 0) <= 30 * 1.25


def test_trials_and_chat_share_the_open_reply_outcome_rule() -> None:
    from twinstudy.chat.engine import classify

    cut = "Here is the start of a long and careful answer about the history of"
    assert open_outcome(cut, "length", "en")[0] == "answered"  # a trial keeps the verdict on the text
    assert open_outcome(cut, "length", "en", cut_off_is_truncated=True)[0] == "truncated"
    assert classify(Completion(text=cut, finish_reason="length"), "en")[0] == "truncated"
    assert open_outcome("", "length", "en")[0] == "truncated"
    # rules v2: length is a weak signal, never a verdict on its own (issue 14)
    assert open_outcome("OK.", "stop", "en", short_is_evasive=True)[0] == "answered"
    assert open_outcome("OK.", "stop", "en")[0] == "answered"
    assert open_outcome("x", None, "en", blocked=True) == ("blocked", None)


def test_ask_each_retries_retryable_failures_and_counts_the_rest() -> None:
    """The judge passes' one loop: a 429 is asked again, a fatal error costs its item only."""
    import asyncio

    from twinstudy.models.base import ModelCallError
    from twinstudy.run.model_pass import ask_each
    from twinstudy.run.retry import RetryPolicy

    calls: dict[str, int] = {}

    async def ask(item: str) -> str:
        calls[item] = calls.get(item, 0) + 1
        if item == "busy" and calls[item] < 3:
            raise ModelCallError("HTTP 429", retryable=True, http_status=429)
        if item == "bad":
            raise ModelCallError("HTTP 401: bad key", retryable=False, http_status=401)
        return item.upper()

    seen: list[tuple[int, int]] = []
    asked = asyncio.run(ask_each(["ok", "busy", "bad"], ask, concurrency=2, progress=lambda d, n: seen.append((d, n)),
                                 policy=RetryPolicy(backoff_base=0.001, jitter=0.0)))
    assert sorted(asked.answers) == [("busy", "BUSY"), ("ok", "OK")]
    assert asked.failed == 1 and asked.first_error == "HTTP 401: bad key"
    assert calls == {"ok": 1, "busy": 3, "bad": 1} and seen[-1] == (3, 3)
    # answers handed over in chunks as they come (a stopped pass keeps all but the last chunk)
    chunks: list[list[tuple[int, int]]] = []

    async def double(i: int) -> int:
        return 2 * i

    asyncio.run(ask_each(list(range(5)), double, concurrency=1, save=chunks.append, save_every=2))
    assert chunks == [[(0, 0), (1, 2)], [(2, 4), (3, 6)], [(4, 8)]]
