"""Whole studies through the HTTP path: a real OpenAI-compatible server (llama_cpp.server serving
the embedded model), API keys that never leak, and clear errors for missing keys."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from fault_server import DEEPSEEK_CONTENT_RISK, FaultServer, Reply, completion_body, echo_auth_reply

from twinstudy.cli import main
from twinstudy.cli.commands import run_study

CANARY = "sk-TWINSTUDY-LEAK-CANARY-8c1f"

SERVER_STUDY = """\
name: via-server
models:
  - id: smol-over-http
    provider: openai-compatible
    base_url: {url}
    model: smollm2
    origin: US
    max_concurrency: 2
instruments:
  - {{id: ai-futures, limit: 2}}
languages: [en, zh]
framings: [neutral]
samples: 1
params: {{temperature: 0.7, max_tokens: 8, seed: 1}}
"""


@pytest.mark.slow
def test_study_through_real_openai_compatible_server(llama_server: str, tmp_path: Path) -> None:
    study = tmp_path / "s.yaml"
    study.write_text(SERVER_STUDY.format(url=llama_server), encoding="utf-8")
    db = tmp_path / "r.db"
    result = run_study(study, db=db, report_path=tmp_path / "report.html", quiet=True)
    assert result.done == result.planned == 4 and result.outcomes.get("error", 0) == 0
    con = sqlite3.connect(db)
    rows = con.execute("select outcome, answer_text, tokens_in, tokens_out from trials").fetchall()
    assert len(rows) == 4
    assert all(r[1] is not None and r[2] and r[3] for r in rows)
    req = con.execute("select request_json from attempts limit 1").fetchone()[0]
    assert '"max_tokens":8' in req.replace(" ", "") and "authorization" not in req.lower()
    assert (tmp_path / "report.html").exists()


LEAK_STUDY = """\
name: leak
models:
  - id: keyed
    provider: openai-compatible
    base_url: {ok}
    model: m
    api_key_env: TWINSTUDY_TEST_KEY
    origin: CN
  - id: keyed-blocked
    provider: openai-compatible
    base_url: {blk}
    model: m
    api_key_env: TWINSTUDY_TEST_KEY
    origin: CN
  - id: keyed-rejected
    provider: openai-compatible
    base_url: {bad}
    model: m
    api_key_env: TWINSTUDY_TEST_KEY
    origin: US
instruments:
  - {{id: us-china, limit: 2}}
languages: [en]
framings: [neutral]
samples: 1
params: {{temperature: 0.0, max_tokens: 8}}
"""


def test_api_key_appears_nowhere(tmp_path: Path, fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch,
                                 caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TWINSTUDY_TEST_KEY", CANARY)
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    ok = fault_server.script("ok", Reply(200, completion_body("4 - agree")))
    blk = fault_server.script("blk", DEEPSEEK_CONTENT_RISK)
    bad = fault_server.script("bad", echo_auth_reply())  # the server echoes the key back
    study = tmp_path / "leak.yaml"
    study.write_text(LEAK_STUDY.format(ok=ok, blk=blk, bad=bad), encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(main, ["run", str(study), "--db", str(tmp_path / "out" / "r.db"), "-q"])
    # keyed-rejected fails every trial (a bad key stops it), so the run exits 1 after saying why, redacted
    assert res.exit_code == 1 and "every trial of keyed-rejected failed" in res.output, res.output
    res2 = runner.invoke(main, ["summary", "--db", str(tmp_path / "out" / "r.db")])
    res3 = runner.invoke(main, ["analyze", "--db", str(tmp_path / "out" / "r.db"), "--json", "--boot", "200"])
    # the key was really sent, so the test would notice if it were dropped from requests
    auth = [r["headers"].get("authorization", "") for r in fault_server.requests]
    assert any(CANARY in a for a in auth)
    outputs = res.output + res2.output + res3.output + caplog.text + "".join(capsys.readouterr())
    assert CANARY not in outputs
    for f in (tmp_path / "out").rglob("*"):
        if f.is_file():
            assert CANARY.encode() not in f.read_bytes(), f"key leaked into {f}"


MISSING_STUDY = """\
name: missing
models:
  - deepseek/deepseek-v4-flash
  - id: loop
    provider: openai-compatible
    base_url: {url}
    model: m
instruments:
  - {{id: ai-futures, limit: 1}}
languages: [en]
framings: [neutral]
"""


def test_missing_key_names_the_variable_and_sends_nothing(tmp_path: Path, fault_server: FaultServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    study = tmp_path / "m.yaml"
    study.write_text(MISSING_STUDY.format(url=fault_server.url("loop")), encoding="utf-8")
    res = CliRunner().invoke(main, ["run", str(study), "-q"])
    assert res.exit_code == 2
    assert "DEEPSEEK_API_KEY" in res.output and "--skip-unavailable" in res.output
    assert fault_server.count("loop") == 0
    assert not (tmp_path / "twinstudy-runs").exists()
    res = CliRunner().invoke(main, ["run", str(study), "-q", "--skip-unavailable", "--no-report"])
    assert res.exit_code == 0, res.output
    assert "skipping deepseek/deepseek-v4-flash" in res.output and "DEEPSEEK_API_KEY" in res.output
    assert fault_server.count("loop") == 1
