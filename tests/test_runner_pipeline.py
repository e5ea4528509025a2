"""How the runner moves trials: a fixed pool of workers pulls from one stream, a writer task scores
and stores them; a writer that fails stops the run instead of letting results pile up."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from fault_server import FaultServer

from twinstudy.models.factory import create_model
from twinstudy.run.runner import Runner, RunOptions, check_models_ready
from twinstudy.store import Store
from twinstudy.study.spec import load_study

STUDY = """\
name: pipeline
models:
  - {{id: fake, provider: openai-compatible, base_url: "{url}", model: m, origin: US, max_concurrency: 8}}
instruments:
  - {{id: ai-futures, limit: 10}}
languages: [en, zh]
framings: [neutral]
samples: 10
params: {{temperature: 0.0, max_tokens: 8}}
"""


def _runner(tmp_path: Path, url: str) -> tuple[Runner, Store]:
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(url=url), encoding="utf-8")
    rs = load_study(study)
    models, _ = check_models_ready(rs.models, False, create_model)
    store = Store(tmp_path / "r.db")
    return Runner(rs, store, models, RunOptions(quiet=True)), store


def test_every_trial_is_written_once(tmp_path: Path, fault_server: FaultServer) -> None:
    runner, store = _runner(tmp_path, fault_server.url("all"))
    result = asyncio.run(runner.run())
    assert result.done == 200 == store.counts()["answered"] == store.n_attempts()
    assert fault_server.count("all") == 200
    store.close()


def test_a_failing_writer_stops_the_run(tmp_path: Path, fault_server: FaultServer,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    runner, store = _runner(tmp_path, fault_server.url("disk"))

    def full(*_args: object) -> None:
        raise OSError("database or disk is full")

    monkeypatch.setattr(store, "write_batch", full)
    t0 = time.monotonic()
    with pytest.raises(OSError, match="disk is full"):
        asyncio.run(runner.run())
    assert time.monotonic() - t0 < 10
    assert fault_server.count("disk") < 200, "the run stopped instead of sending every request"
    store.close()
