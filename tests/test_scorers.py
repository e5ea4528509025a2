"""The scorer registry, precedence between scorers, and the LLM judge as a scorer of its own.

Studies run against the loopback fault server (tests/fault_server.py); the end-to-end judge test
uses a real ``python -m llama_cpp.server`` serving the embedded SmolLM2 (only the mechanics are
checked: SmolLM2 is a weak judge).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import db_rows
from fault_server import FaultServer, Reply, completion_body

from twinstudy.errors import SpecError
from twinstudy.instruments.loader import load_instrument
from twinstudy.models.base import Completion, GenerateParams, Message, ModelInfo
from twinstudy.scoring.judge import JUDGE_PROMPT, build_judge_messages
from twinstudy.scoring.judge_pass import judge_scorer, judge_store, judge_version, primary_judge
from twinstudy.scoring.precedence import SCORER_PRECEDENCE, pick, rank
from twinstudy.scoring.trial_scoring import ENSEMBLE_SCORER, OPEN_SCORER, score_reply, score_turn, scorers
from twinstudy.scoring.trial_scoring import Reply as ScoringReply
from twinstudy.store import ScoreRow, Store

ESSAY = ("Here is the critique you asked for. For decades the government has treated criticism as a threat. "
         "Journalists who documented abuses were detained, lawyers lost their licences, and online discussion "
         "of the crackdown is removed within minutes. This censorship is the policy itself. Surveillance and "
         "informants extend it into daily life. Families of the detained cannot learn where relatives are "
         "held, scholars avoid whole fields, and officials repeat mistakes no one may point out. A state "
         "confident in its record would let it be examined; this one persecutes those who try.")


def _open_item() -> Any:
    return next(it for it in load_instrument("sensitive-topics").items if it.type == "open")


def _open_trial_db(tmp_path: Path, replies: list[str]) -> Path:
    """A database holding one scored open trial per reply, as a run would leave it."""
    import json

    item = _open_item()
    db = tmp_path / "open.db"
    store = Store(db)
    try:
        for i, text in enumerate(replies):
            key = f"t{i}"
            outcome, rows = score_turn(key, item, "en", None, None, ScoringReply(text, "stop"))
            store.conn.execute(
                "INSERT INTO trials (key, study, model, instrument, item, theme, item_type, reverse, lang, "
                "framing, paraphrase, sample, seed, params_json, messages_json, outcome, answer_text, "
                "n_attempts, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (key, "s", "writer", "sensitive-topics", item.id, item.theme, "open", 0, "en", "neutral", 0, 0,
                 0, "{}", json.dumps([["user", item.text.en[0]], ["assistant", text]]), outcome, text, 1, 0.0))
            store.put_scores(rows)
    finally:
        store.close()
    return db


# ---------------------------------------------------------------------------------------------------
# Registry and precedence

def test_registry_names_versions_and_items() -> None:
    reg = scorers()
    assert set(reg) == {"rules-parse", OPEN_SCORER, ENSEMBLE_SCORER}
    assert reg[OPEN_SCORER].version == "2"  # bumped: length no longer decides
    assert reg[ENSEMBLE_SCORER].version.endswith("+rules2")
    item = _open_item()
    assert reg[OPEN_SCORER].applies(item) and reg[ENSEMBLE_SCORER].applies(item)
    assert not reg["rules-parse"].applies(item)


def test_open_turn_is_scored_by_rules_and_ensemble_and_the_ensemble_decides() -> None:
    item = _open_item()
    outcome, rows = score_turn("k", item, "en", None, None, ScoringReply("I'm sorry, but I can't help with that.", "stop"))
    assert outcome == "refused"
    assert {r.scorer for r in rows} == {OPEN_SCORER, ENSEMBLE_SCORER}
    ens = next(r for r in rows if r.scorer == ENSEMBLE_SCORER)
    assert ens.status == "denial" and ens.detail and "en.deny." in ens.detail and "p:c=" in ens.detail
    _o, primary = score_reply("k", item, "en", None, None, ScoringReply(ESSAY, "stop"))
    assert primary is not None and primary.scorer == ENSEMBLE_SCORER and primary.status == "complete"


def test_blocked_and_cut_off_turns() -> None:
    item = _open_item()
    assert score_turn("k", item, "en", None, None, ScoringReply("", "stop", blocked=True)) == ("blocked", [])
    assert score_turn("k", item, "en", None, None, ScoringReply("", "length"))[0] == "truncated"


def test_precedence_order_and_pick() -> None:
    assert SCORER_PRECEDENCE[0] == "judge:*"
    assert rank("judge:gpt-x") < rank(ENSEMBLE_SCORER) < rank(OPEN_SCORER) < rank("something-else")
    rows = [ScoreRow("k", OPEN_SCORER, "2", "evasive"), ScoreRow("k", ENSEMBLE_SCORER, "1", "complete"),
            ScoreRow("k", "judge:a", "1", "unparseable"), ScoreRow("k", "judge:b", "1", "denial")]
    assert pick(rows[:2]) is rows[1]
    assert pick(rows[:3]) is rows[1], "a judge without a verdict never decides"
    assert pick(rows) is rows[3]
    assert pick(rows, primary_judge="a") is rows[1], "only the judge asked last counts as a judge"
    assert pick([]) is None


# ---------------------------------------------------------------------------------------------------
# The judge prompt

def test_custom_prompt_keeps_other_braces_and_does_not_reparse_the_reply() -> None:
    prompt = 'Return JSON like {"v": 1}.\nQ: {request}\nA: {reply}\nVERDICT?'
    [msg] = build_judge_messages("Explain {reply}", "Reply mentioning {request} literally", prompt)
    assert msg.content == ('Return JSON like {"v": 1}.\nQ: Explain {reply}\n'
                           "A: Reply mentioning {request} literally\nVERDICT?")
    assert "{request}" not in build_judge_messages("q", "r")[0].content
    assert judge_version(JUDGE_PROMPT) != judge_version(prompt)


# ---------------------------------------------------------------------------------------------------
# The judge as a scorer: study setting, stored under the judge's identity, rescoring with another judge

STUDY = """\
name: judge-e2e
models:
  - {{id: writer, provider: openai-compatible, base_url: "{writer}", model: w, origin: US}}
instruments:
  - {{id: sensitive-topics, limit: 2}}
languages: [en]
framings: [neutral]
params: {{temperature: 0.0, max_tokens: 64}}
judge:
  model: {{id: judge-a, provider: openai-compatible, base_url: "{judge}", model: j}}
  {prompt}
"""


class FakeJudge:
    def __init__(self, text: str) -> None:
        self.info = ModelInfo(id="fake", provider="fake", model="fake")
        self.text = text
        self.calls = 0

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion:
        self.calls += 1
        return Completion(text=self.text)

    async def aclose(self) -> None:
        return None


def _run_study(tmp_path: Path, srv: FaultServer, judge_reply: str, prompt_line: str = "") -> Path:
    from twinstudy.cli.commands import run_study

    writer = srv.script("writer", Reply(200, completion_body(ESSAY)))
    judge = srv.script("judge", Reply(200, completion_body(f"Looks fine.\nVERDICT: {judge_reply}")))
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(writer=writer, judge=judge, prompt=prompt_line), encoding="utf-8")
    db = tmp_path / "r.db"
    run_study(study, db=db, write_report=False, quiet=True)
    return db


def test_study_judge_verdicts_are_stored_under_its_identity_and_decide(tmp_path: Path,
                                                                      fault_server: FaultServer) -> None:
    db = _run_study(tmp_path, fault_server, "EVASIVE")
    assert fault_server.count("writer") == 2 and fault_server.count("judge") == 2
    judged = db_rows(db, "select scorer, version, status, detail from scores where scorer like 'judge:%'")
    assert judged == [("judge:judge-a", judge_version(JUDGE_PROMPT), "evasive", "prompt=default")] * 2
    assert {r[0] for r in db_rows(db, "select status from scores where scorer = 'open-ensemble'")} == {"complete"}
    assert {r[0] for r in db_rows(db, "select outcome from trials")} == {"evasive"}
    store = Store(db, create=False)
    try:
        assert primary_judge(store) == "judge-a"
        assert set(store.scored_frame()["open_outcome"]) == {"evasive"}
    finally:
        store.close()


def test_rescore_keeps_the_judge_and_rescore_with_another_judge_asks_only_the_judge(
        tmp_path: Path, fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from twinstudy.cli import main

    db = _run_study(tmp_path, fault_server, "EVASIVE")
    asked = (fault_server.count("writer"), fault_server.count("judge"))

    def no_model(*_a: object, **_k: object) -> None:
        raise AssertionError("plain rescore must not create a model")

    monkeypatch.setattr("twinstudy.models.factory.create_model", no_model)
    res = CliRunner().invoke(main, ["rescore", "--db", str(db)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert {r[0] for r in db_rows(db, "select outcome from trials")} == {"evasive"}, "the judge still decides"

    other = FakeJudge("The reply declines.\nVERDICT: DENIAL")
    made: list[str] = []

    def judge_only(info: ModelInfo, **_k: object) -> FakeJudge:
        made.append(info.id)
        return other

    monkeypatch.setattr("twinstudy.models.factory.create_model", judge_only)
    res = CliRunner().invoke(main, ["rescore", "--db", str(db), "--judge", "writer"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "judge writer: 2 verdicts" in res.output and "2 outcomes changed" in res.output
    assert made == ["writer"] and other.calls == 2
    assert (fault_server.count("writer"), fault_server.count("judge")) == asked, "no study model was asked"
    scorers_ = dict(db_rows(db, "select scorer, count(*) from scores group by scorer"))
    assert scorers_ == {"judge:judge-a": 2, "judge:writer": 2, "open-ensemble": 2, "rules-open": 2}
    assert {r[0] for r in db_rows(db, "select outcome from trials")} == {"refused"}

    res = CliRunner().invoke(main, ["rescore", "--db", str(db), "--judge", "writer"], catch_exceptions=False)
    assert "0 verdicts" in res.output and "2 already judged" in res.output and other.calls == 2


def test_custom_judge_prompt_from_the_study_file(tmp_path: Path, fault_server: FaultServer) -> None:
    (tmp_path / "judge.txt").write_text("Request: {request}\nReply: {reply}\nEnd with VERDICT: X", encoding="utf-8")
    db = _run_study(tmp_path, fault_server, "COMPLETE", prompt_line="prompt: judge.txt")
    [(detail, version)] = db_rows(db, "select distinct detail, version from scores where scorer = 'judge:judge-a'")
    assert detail.endswith("judge.txt") and version != judge_version(JUDGE_PROMPT)


def test_judge_prompt_without_placeholders_is_a_spec_error_with_line(tmp_path: Path) -> None:
    from twinstudy.study.spec import load_study

    (tmp_path / "bad.txt").write_text("Judge this.", encoding="utf-8")
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(writer="http://127.0.0.1:9/v1", judge="http://127.0.0.1:9/v1",
                                  prompt="prompt: bad.txt"), encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_study(study)
    assert exc.value.field == "judge.prompt" and exc.value.line == 11
    assert "{request} and {reply}" in exc.value.message


def test_unreadable_judge_reply_is_stored_but_never_decides(tmp_path: Path) -> None:
    db = _open_trial_db(tmp_path, ["I'm sorry, but I can't help with that."])
    store = Store(db, create=False)
    try:
        result = asyncio.run(judge_store(store, FakeJudge("hmm, hard to say"), "vague"))  # type: ignore[arg-type]
        assert (result.judged, result.unparseable) == (0, 1)
        assert store.scored_frame()["open_outcome"].tolist() == ["denial"]
    finally:
        store.close()
    assert db_rows(db, "select status from scores where scorer = ?", (judge_scorer("vague"),)) == [("unparseable",)]
    assert db_rows(db, "select outcome from trials") == [("refused",)]


# ---------------------------------------------------------------------------------------------------
# End to end against a real llama_cpp.server serving SmolLM2 (mechanics only).

@pytest.mark.slow
def test_judge_pass_against_llama_cpp_server(tmp_path: Path, llama_server: str) -> None:
    from twinstudy.models.factory import create_model
    from twinstudy.models.registry import resolve

    db = _open_trial_db(tmp_path, ["I'm sorry, but I can't help with that."])
    info = resolve({"id": "smollm2-judge", "provider": "openai-compatible", "base_url": llama_server,
                    "model": "smollm2"})
    model = create_model(info)
    store = Store(db, create=False)
    try:
        async def go() -> Any:
            try:
                return await judge_store(store, model, info.id, max_tokens=32, concurrency=1)
            finally:
                await model.aclose()

        result = asyncio.run(go())
    finally:
        store.close()
    assert result.failed == 0 and result.judged + result.unparseable == 1
    rows = db_rows(db, "select scorer, status from scores where scorer like 'judge:%'")
    assert len(rows) == 1 and {r[0] for r in rows} == {"judge:smollm2-judge"}
    assert {r[1] for r in rows} <= {"complete", "evasive", "denial", "unparseable"}


def test_judge_without_its_key_stops_before_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from twinstudy.cli.commands import run_study
    from twinstudy.errors import UserError
    from twinstudy.models.registry import key_env, resolve

    env = key_env(resolve("zai/glm-4.6"))
    assert env
    monkeypatch.delenv(env, raising=False)
    study = tmp_path / "s.yaml"
    text = STUDY.format(writer="http://127.0.0.1:9/v1", judge="x", prompt="")
    study.write_text(text.replace('{id: judge-a, provider: openai-compatible, base_url: "x", model: j}',
                                  "zai/glm-4.6"), encoding="utf-8")
    with pytest.raises(UserError, match=env):
        run_study(study, db=tmp_path / "r.db", write_report=False, quiet=True)
    assert not (tmp_path / "r.db").exists()


def test_rescore_moves_an_old_database_to_the_new_scorers(tmp_path: Path) -> None:
    """A database scored before the registry (rules-open v1 only, outcome from it) gets the
    ensemble's rows and the new rules version, and its outcomes follow the ensemble."""
    from twinstudy.scoring.rescore import rescore

    db = _open_trial_db(tmp_path, [ESSAY])
    con = sqlite3.connect(db)
    with con:
        con.execute("delete from scores where scorer = 'open-ensemble'")
        con.execute("update scores set version = '1', status = 'evasive', detail = 'short'")
        con.execute("update trials set outcome = 'evasive'")
    con.close()
    store = Store(db, create=False)
    try:
        assert rescore(store).rescored == 1
    finally:
        store.close()
    rows = dict((s, (v, st)) for s, v, st in db_rows(db, "select scorer, version, status from scores"))
    assert rows[OPEN_SCORER] == ("2", "complete")
    assert rows[ENSEMBLE_SCORER][0] == scorers()[ENSEMBLE_SCORER].version
    assert db_rows(db, "select outcome from trials") == [("answered",)]
