"""`plan --batch`, `twinstudy batches [--cancel]`, and the batch price rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from batch_fakes import FakeBatchAPI, FakeProvider
from click.testing import CliRunner

from twinstudy.batch import orchestrate
from twinstudy.batch.api import BatchLine
from twinstudy.cli.main import main
from twinstudy.models.base import GenerateParams, Message, ModelInfo
from twinstudy.run.costs import estimate_plan
from twinstudy.run.prices import batch_price_of, price_of
from twinstudy.store import Store
from twinstudy.store import batches as sb
from twinstudy.study.spec import load_study

STUDY = """\
name: plan-batch
models:
  - {{id: openai/gpt-4.1, batch: {batch}}}
  - deepseek/deepseek-v4-flash
instruments:
  - {{id: ai-futures, limit: 3}}
languages: [en]
framings: [neutral]
"""


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "240")  # rich tables on one line each


def test_batch_price_is_the_list_price_times_the_documented_discount() -> None:
    gpt = ModelInfo(id="openai/gpt-4.1", provider="openai", model="gpt-4.1")
    assert batch_price_of(gpt) == {k: v * 0.5 for k, v in (price_of(gpt) or {}).items()}
    # no documented discount: unknown, never guessed from the list price
    assert batch_price_of(ModelInfo(id="deepseek/deepseek-v4-flash", provider="deepseek",
                                    model="deepseek-v4-flash")) is None


def test_plan_batch_shows_both_costs(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(STUDY.format(batch="false"), encoding="utf-8")
    rows = {r.model: r for r in estimate_plan(load_study(p)).rows}
    gpt = rows["openai/gpt-4.1"]
    assert gpt.cost and gpt.batch_cost == pytest.approx(gpt.cost / 2)
    # DeepSeek has no batch API: under --batch it runs live, at the list price, and says so
    deepseek = rows["deepseek/deepseek-v4-flash"]
    assert not deepseek.batch_api and deepseek.batch_cost == deepseek.cost
    out = CliRunner().invoke(main, ["plan", "--batch", str(p)], terminal_width=200)
    assert out.exit_code == 0, out.output
    assert "batch cost (USD)" in out.output and "(live)" in out.output
    assert "with --batch: estimated cost $" in out.output
    plain = CliRunner().invoke(main, ["plan", str(p)])
    assert "batch cost" not in plain.output
    p.write_text(STUDY.format(batch="true"), encoding="utf-8")  # a study with batch models shows it unasked
    assert "batch cost (USD)" in CliRunner().invoke(main, ["plan", str(p)]).output


def _open_batch(db: Path, service: FakeProvider) -> int:
    store = Store(db)
    try:
        info = ModelInfo(id="openai/gpt-4.1", provider="openai", model="gpt-4.1")
        store.upsert_models([info])
        row = sb.create(store.conn, "openai", info.id, ["k1", "k2"], None)
        sub = service.create([BatchLine(k, [Message("user", "hi")], GenerateParams()) for k in ("k1", "k2")], row.tag)
        sb.submitted(store.conn, row.id, sub.batch_id, sub.input_file_id, sub.state)
        return row.id
    finally:
        store.close()


def test_batches_lists_open_batches_and_cancels_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    service = FakeProvider()
    db = tmp_path / "r.db"
    bid = _open_batch(db, service)
    out = CliRunner().invoke(main, ["batches", "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert "open batches (0 collected)" in out.output and "batch_1" in out.output and "0/2" in out.output

    monkeypatch.setattr(orchestrate, "api_factory", lambda info, model: FakeBatchAPI(service))
    bad = CliRunner().invoke(main, ["batches", "--db", str(db), "--cancel", "99"])
    assert bad.exit_code == 2 and "no open batch 99" in bad.output
    out = CliRunner().invoke(main, ["batches", "--db", str(db), "--cancel"])
    assert out.exit_code == 0, out.output
    assert service.cancelled == ["batch_1"] and f"batch {bid} (openai/gpt-4.1): cancelled" in out.output
    store = Store(db, create=False)
    try:
        row = sb.get(store.conn, bid)
        assert row.state == "cancelled" and row.open  # the next run collects it
    finally:
        store.close()


def test_batches_without_a_database_says_what_to_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(main, ["batches"])
    assert out.exit_code == 2 and "pass --db" in out.output


def test_run_batch_runs_a_model_without_a_batch_api_live_and_says_so(tmp_path: Path, fault_server: Any) -> None:
    study = tmp_path / "s.yaml"
    study.write_text(f"""\
name: nobatch
models:
  - {{id: endpoint, base_url: {fault_server.url("nb")}, model: m, origin: US}}
instruments:
  - {{id: ai-futures, limit: 2}}
languages: [en]
""", encoding="utf-8")
    out = CliRunner().invoke(main, ["run", str(study), "--db", str(tmp_path / "r.db"), "--no-report", "-q", "--batch"])
    assert out.exit_code == 0, out.output
    assert "endpoint: provider openai-compatible has no batch API in twinstudy; it runs live." in out.output
    assert fault_server.count("nb") == 2 and "2 run now with 2 requests" in out.output
