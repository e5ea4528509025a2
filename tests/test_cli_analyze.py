"""`twinstudy analyze --json` on a real (loopback) study: documented JSON, twins, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fault_server import FaultServer

from twinstudy.cli import main

STUDY = """\
name: an
models:
  - {{id: a, provider: openai-compatible, base_url: "{url}", model: m, origin: CN}}
  - {{id: b, provider: openai-compatible, base_url: "{url}", model: m, origin: US}}
instruments:
  - {{id: us-china, limit: 4}}
languages: [en, zh]
framings: [neutral, user-agrees, user-disagrees]
params: {{max_tokens: 8}}
"""


@pytest.fixture
def db(tmp_path: Path, fault_server: FaultServer) -> Path:
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(url=fault_server.url("an")), encoding="utf-8")
    out = tmp_path / "r.db"
    res = CliRunner().invoke(main, ["run", str(study), "--db", str(out), "-q", "--no-report"])
    assert res.exit_code == 0, res.output
    return out


def test_analyze_json_matches_schema(db: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    res = CliRunner().invoke(main, ["analyze", "--db", str(db), "--json", "--boot", "200", "--twins", "a:b"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    schema = json.loads((Path(__file__).parents[1] / "src/twinstudy/analysis/schema.json").read_text())
    jsonschema.validate(doc, schema)
    paired = doc["tables"]["paired"]
    assert paired and all({r["model_a"], r["model_b"]} == {"a", "b"} for r in paired)
    for table in doc["tables"].values():
        for row in table:
            assert {"estimate", "ci_low", "ci_high", "n"} <= set(row)


def test_analyze_rejects_unknown_twin(db: Path) -> None:
    res = CliRunner().invoke(main, ["analyze", "--db", str(db), "--twins", "a:zzz"])
    assert res.exit_code == 2 and "zzz" in res.output


def test_commands_on_missing_db_say_what_to_do(tmp_path: Path) -> None:
    for cmd in ("analyze", "summary", "report", "rescore"):
        res = CliRunner().invoke(main, [cmd, "--db", str(tmp_path / "nope.db")])
        assert res.exit_code == 2 and "twinstudy run" in res.output, cmd
        assert not (tmp_path / "nope.db").exists()


def test_run_analyses_once_for_summary_and_report(tmp_path: Path, fault_server: FaultServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import twinstudy.analysis

    calls: list[int] = []
    real = twinstudy.analysis.analyze

    def counting(*a: object, **k: object) -> object:
        calls.append(1)
        return real(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(twinstudy.analysis, "analyze", counting)
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(url=fault_server.url("once")), encoding="utf-8")
    res = CliRunner().invoke(main, ["run", str(study), "--db", str(tmp_path / "r.db"), "-q"])
    assert res.exit_code == 0, res.output
    assert len(calls) == 1, "the summary and the report must share one analysis"
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "analyze: " not in html  # no estimator fell back after an error


USER_INSTRUMENT = """\
id: my-bank
title: {en: Mine, zh: 我的}
themes:
  optimism: {pole: {en: optimistic, zh: 乐观}}
items:
  - id: mine-01
    theme: optimism
    type: likert5
    text: {en: [AI will go well.], zh: [人工智能会发展得很好。]}
  - id: mine-02
    theme: optimism
    type: likert5
    reverse: true
    text: {en: [AI will go badly.], zh: [人工智能会发展得很糟。]}
"""


def test_rescore_finds_user_instruments_without_the_study_file(tmp_path: Path,
                                                                fault_server: FaultServer) -> None:
    (tmp_path / "mine.yaml").write_text(USER_INSTRUMENT, encoding="utf-8")
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(url=fault_server.url("user")).replace("{id: us-china, limit: 4}", "mine.yaml"),
                     encoding="utf-8")
    db = tmp_path / "r.db"
    runner = CliRunner()
    assert runner.invoke(main, ["run", str(study), "--db", str(db), "-q", "--no-report"]).exit_code == 0
    calls = fault_server.count("user")
    res = runner.invoke(main, ["rescore", "--db", str(db)])
    assert res.exit_code == 0 and "rescored 24 trials" in res.output, res.output
    # The run kept its instruments in the database: moving the files away changes nothing.
    study.rename(tmp_path / "moved.yaml")
    (tmp_path / "mine.yaml").unlink()
    res = runner.invoke(main, ["rescore", "--db", str(db)])
    assert "rescored 24 trials" in res.output and "left" not in res.output, res.output
    assert fault_server.count("user") == calls
