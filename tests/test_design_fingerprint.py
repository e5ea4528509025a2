"""Changing a study between runs never pools two designs as replicates.

Issue 19: after ``max_tokens`` 24 → 32 and a re-run, old and new trials were analysed together as
two samples of one cell. The analysis now reads the trials of the study as now defined; the run
says what changed; the earlier trials stay and can be analysed on request.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from fault_server import FaultServer

from twinstudy.cli import main
from twinstudy.store import Store

STUDY = """\
name: changed
models:
  - id: remote
    provider: openai-compatible
    base_url: {url}
    model: m
    origin: US
instruments:
  - {{id: us-china, items: [usc-race-01, usc-race-02, usc-race-03, usc-race-04]}}
languages: [en]
framings: [neutral]
params: {{max_tokens: 24}}
"""

CELL = ["model", "item", "lang", "framing", "paraphrase", "sample"]


def _run(study: Path, db: Path) -> str:
    result = CliRunner().invoke(main, ["run", str(study), "--db", str(db), "-q", "--no-report"],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def test_changed_parameters_are_a_new_design_not_more_replicates(tmp_path: Path) -> None:
    with FaultServer() as srv:
        study = tmp_path / "m.yaml"
        study.write_text(STUDY.format(url=srv.url("m")), encoding="utf-8")
        db = tmp_path / "r.db"
        first = _run(study, db)
        assert "the study changed" not in first
        assert "the study changed" not in _run(study, db)  # same design again: nothing to say
        study.write_text(study.read_text(encoding="utf-8").replace("max_tokens: 24", "max_tokens: 32"),
                         encoding="utf-8")
        out = " ".join(_run(study, db).split())
    assert "the study changed since the last run" in out
    assert "params.max_tokens 24 → 32" in out
    assert "4 trials of the earlier design stay in the database" in out

    store = Store(db, create=False)
    try:
        assert store.conn.execute("select count(*) from trials").fetchone()[0] == 8
        frame = store.scored_frame()
        assert len(frame) == 4 and not frame.duplicated(CELL).any()
        earlier = store.scored_frame(design="previous")
        assert len(earlier) == 4 and set(earlier["trial_key"]).isdisjoint(frame["trial_key"])
        assert len(store.scored_frame(design="all")) == 8
    finally:
        store.close()

    result = CliRunner().invoke(main, ["analyze", "--db", str(db), "--json", "--boot", "100",
                                       "--design", "previous"])
    assert result.exit_code == 0, result.output
    assert "Other designs in this database" in result.stderr
    payload = json.loads(result.stdout)
    assert {r["n"] for r in payload["tables"]["rates"]} == {4}


def test_describe_changes_names_each_kind_of_change() -> None:
    from twinstudy.study.fingerprint import describe_changes

    old = {"languages": ["en"], "params.max_tokens": 24, "model.a": "1", "model.b": "2",
           "item.x/q1": "h1", "item.x/q2": "h2"}
    new = {"languages": ["en", "zh"], "params.max_tokens": 32, "model.a": "1", "model.c": "3",
           "item.x/q1": "h1-edited", "item.x/q2": "h2"}
    assert describe_changes(old, new) == [
        "languages [en] → [en, zh]", "params.max_tokens 24 → 32", "items changed (wording or settings): x/q1",
        "models added: c", "models removed: b"]
