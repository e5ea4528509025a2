"""API keys never reach the database, and keeping them out never alters what the model said.

Issue 19: with a short key (``x``) every ``x`` in stored payloads became ``[REDACTED]``: "Content
Exists Risk" became "Content E[REDACTED]ists Risk" and 22 blocks became errors.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from fault_server import DEEPSEEK_CONTENT_RISK, FaultServer, Reply, completion_body

from twinstudy.cli import main
from twinstudy.models.openai_compat import redact

STUDY = """\
name: keys
models:
  - {{id: ok, provider: openai-compatible, base_url: "{ok}", model: m, api_key_env: TWINSTUDY_KEY_T, origin: US}}
  - {{id: filtered, provider: openai-compatible, base_url: "{filt}", model: m, api_key_env: TWINSTUDY_KEY_T, origin: CN}}
  - {{id: risk, provider: deepseek, base_url: "{risk}", model: m, api_key_env: TWINSTUDY_KEY_T, origin: CN}}
instruments:
  - {{id: us-china, items: [usc-race-01, usc-race-02]}}
languages: [en]
framings: [neutral]
params: {{max_tokens: 16}}
"""


def test_redaction_replaces_whole_key_values_only() -> None:
    key = "Exists12"
    for untouched in ("Content Exists Risk", "x Exists12x", "aExists12", "Exists123"):
        assert redact(untouched, key) == untouched
    assert redact("Authorization: Bearer Exists12", key) == "Authorization: Bearer [REDACTED]"
    assert redact('{"echo": "Exists12."}', key) == '{"echo": "[REDACTED]."}'
    assert redact('"a\\nExists12"', key) == '"a\\n[REDACTED]"'  # after a JSON escape in a raw body


def test_a_key_under_8_characters_is_refused_up_front(tmp_path: Path, fault_server: FaultServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINSTUDY_KEY_T", "x")
    url = fault_server.url("short")
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(ok=url, filt=url, risk=url), encoding="utf-8")
    res = CliRunner().invoke(main, ["run", str(study), "--db", str(tmp_path / "r.db"), "-q"])
    assert res.exit_code == 2, res.output
    assert "TWINSTUDY_KEY_T" in res.output and "only 1 characters" in res.output
    assert "under 8 characters" in res.output
    assert fault_server.count("short") == 0 and not (tmp_path / "r.db").exists()


def test_blocks_are_detected_before_redaction_and_no_key_is_stored(tmp_path: Path, fault_server: FaultServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A key that is also a word of a payload: the word that marks a DashScope (Qwen) input filter.
    key = "DataInspectionFailed"
    monkeypatch.setenv("TWINSTUDY_KEY_T", key)
    ok = fault_server.script("ok", Reply(200, completion_body(f"4\nYou sent the key {key}; Bearer {key}.")))
    filt = fault_server.script("filt", Reply(400, {"error": {
        "code": "", "type": "invalid_request_error",
        "message": "<400> InternalError.Algo.DataInspectionFailed: Input data may contain inappropriate content."}}))
    risk = fault_server.script("risk", DEEPSEEK_CONTENT_RISK)
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(ok=ok, filt=filt, risk=risk), encoding="utf-8")
    db = tmp_path / "r.db"
    res = CliRunner().invoke(main, ["run", str(study), "--db", str(db), "-q", "--no-report"])
    assert res.exit_code == 0, res.output
    con = sqlite3.connect(db)
    outcomes = dict(con.execute("SELECT model, group_concat(DISTINCT outcome) FROM trials GROUP BY model"))
    assert outcomes == {"ok": "answered", "filtered": "blocked", "risk": "blocked"}
    texts = [r[0] for r in con.execute("SELECT answer_text FROM trials WHERE model = 'ok'")]
    assert texts and all(t == "4\nYou sent the key [REDACTED]; Bearer [REDACTED]." for t in texts)
    raw = [r[0] for r in con.execute("SELECT raw FROM attempts WHERE raw LIKE '%Content Exists Risk%'")]
    assert raw, "the DeepSeek block message is stored whole"
    con.close()
    for f in tmp_path.rglob("r.db*"):
        assert key.encode() not in f.read_bytes(), f"key stored in {f}"
