"""End to end on the real embedded model: a 4-item study is run, stored, scored and reported;
running it again makes zero model calls."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from twinstudy.cli.commands import run_study
from twinstudy.models import local
from twinstudy.store import FINAL_OUTCOMES

pytestmark = pytest.mark.slow

STUDY = """\
name: e2e
models:
  - id: smol-cn
    extends: local/smollm2-135m
    origin: CN
    system: {en: "You are an AI assistant built in China.", zh: "你是一个在中国开发的人工智能助手。"}
  - id: smol-us
    extends: local/smollm2-135m
    origin: US
    system: {en: "You are an AI assistant built in the United States.", zh: "你是一个在美国开发的人工智能助手。"}
instruments:
  - {id: ai-futures, limit: 2}
  - {id: us-china, limit: 2}
languages: [en, zh]
framings: [neutral, user-agrees, user-disagrees]
samples: 1
params: {temperature: 0.7, max_tokens: 8, seed: 3}
"""


def _count_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    original = local.LocalModel._generate_sync

    def counting(self: local.LocalModel, *a: object, **k: object) -> object:
        calls[0] += 1
        return original(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(local.LocalModel, "_generate_sync", counting)
    return calls


def test_run_store_report_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_calls(monkeypatch)
    study = tmp_path / "e2e.yaml"
    study.write_text(STUDY, encoding="utf-8")
    db = tmp_path / "run" / "results.db"
    report = tmp_path / "run" / "report.html"
    first = run_study(study, db=db, report_path=report, quiet=True)
    n = 2 * 4 * 2 * 3
    assert first.planned == n and first.done == n and calls[0] == n
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from trials").fetchone()[0] == n
    outcomes = {r[0] for r in con.execute("select distinct outcome from trials")}
    assert outcomes <= set(FINAL_OUTCOMES)
    assert con.execute("select count(*) from attempts").fetchone()[0] == n
    assert con.execute("select count(distinct trial_key) from scores").fetchone()[0] == n
    assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
    con.close()
    html = report.read_text(encoding="utf-8")
    assert "one small model under" in html and "Profiles" in html
    assert (tmp_path / "run" / "figures" / "profiles.svg").exists()

    second = run_study(study, db=db, report_path=report, quiet=True)
    assert calls[0] == n, "a second run must not call the model again"
    assert second.skipped == n and second.done == 0 and second.requests == 0
