"""Scoring end to end (issue 6): logprob answer distributions on the embedded model, truncation,
reasoning kept out of the answer, and `twinstudy rescore` changing scores without calling a model.

Tests marked slow load the embedded SmolLM2 model; the others run against the loopback fault server.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import db_rows
from fault_server import FaultServer, Reply, completion_body

from twinstudy.instruments.loader import load_framings, load_instrument
from twinstudy.instruments.schema import Item
from twinstudy.models.factory import create_model
from twinstudy.run.runner import Runner, RunOptions, RunResult, check_models_ready
from twinstudy.scoring.parse import SCORER_NAME, SCORER_VERSION, ParsedAnswer
from twinstudy.scoring.trial_scoring import Reply as ScoringReply
from twinstudy.scoring.trial_scoring import agreement_of, score_reply
from twinstudy.store import Store
from twinstudy.study.spec import load_study

LIKERT = tuple(str(k) for k in range(1, 6))

FAULT_STUDY = """\
name: scoring-e2e
models:
  - id: fake
    provider: openai-compatible
    base_url: {url}
    model: fake-model
    origin: US
    max_concurrency: 2
instruments:
  - {{id: ai-futures, items: [{items}]}}
languages: [{langs}]
framings: [neutral]
samples: 1
params: {{temperature: 0.0, max_tokens: {max_tokens}}}
"""


def _likert_item(item_id: str = "aif-takeoff-01") -> Item:
    item = {it.id: it for it in load_instrument("ai-futures").items}[item_id]
    assert item.type == "likert5"
    return item


def _run(tmp_path: Path, url: str, items: list[str], langs: tuple[str, ...] = ("en",),
         max_tokens: int = 8) -> tuple[RunResult, Path]:
    study = tmp_path / "s.yaml"
    study.write_text(FAULT_STUDY.format(url=url, items=", ".join(items), langs=", ".join(langs),
                                        max_tokens=max_tokens), encoding="utf-8")
    rs = load_study(study)
    models, _ = check_models_ready(rs.models, False, create_model)
    db = tmp_path / "r.db"
    store = Store(db)
    try:
        result = asyncio.run(Runner(rs, store, models, RunOptions(quiet=True, backoff_base=0.01)).run())
    finally:
        store.close()
    return result, db


def _sent_bodies(server: FaultServer, prefix: str) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in server.requests if r["path"].startswith(f"/{prefix}/")]


# ---------------------------------------------------------------------------------------------------
# Truncation: a reply cut off by max_tokens before any answer is `truncated`, never refused/unparseable.

@pytest.mark.parametrize("text", [
    "",
    "When thinking about how fast AI research could",
    "<think>The user asks how much I agree. Option 5 means strongly agree, option 2",
    "<think>",
])
def test_reply_cut_off_before_an_answer_is_truncated(text: str) -> None:
    item = _likert_item()
    outcome, row = score_reply("k", item, "en", None, None, ScoringReply(text, "length"))
    assert outcome == "truncated"
    assert row is not None and row.value is None and row.agreement is None and row.score is None
    assert row.scorer == SCORER_NAME and row.version == SCORER_VERSION


def test_zh_reply_cut_off_inside_think_is_truncated() -> None:
    item = _likert_item()
    outcome, row = score_reply("k", item, "zh", None, None,
                               ScoringReply("<think>用户问我是否同意。选项5表示非常同意，选项2", "length"))
    assert outcome == "truncated" and row is not None and row.value is None


def test_same_text_that_stopped_normally_is_not_truncated() -> None:
    item = _likert_item()
    outcome, _ = score_reply("k", item, "en", None, None,
                             ScoringReply("When thinking about how fast AI research could", "stop"))
    assert outcome == "unparseable"


def test_answer_before_the_cut_is_kept() -> None:
    item = _likert_item()
    outcome, row = score_reply("k", item, "en", None, None,
                               ScoringReply("<think>short</think>4 - I agree, because the feedback loop", "length"))
    assert outcome == "answered" and row is not None and row.value == "4"
    assert row.agreement == pytest.approx(agreement_of(4, "likert5"))


def test_study_with_max_tokens_1_stores_truncated(tmp_path: Path, fault_server: FaultServer) -> None:
    url = fault_server.script("trunc", Reply(200, completion_body("", finish_reason="length")))
    result, db = _run(tmp_path, url, ["aif-takeoff-01"], langs=("en", "zh"), max_tokens=1)
    assert result.outcomes == {"truncated": 2}
    assert all(b.get("max_tokens", b.get("max_completion_tokens")) == 1 for b in _sent_bodies(fault_server, "trunc"))
    assert db_rows(db, "select outcome, answer_text from trials") == [("truncated", ""), ("truncated", "")]
    assert db_rows(db, "select distinct finish_reason from attempts") == [("length",)]
    assert db_rows(db, "select status, value, agreement from scores") == [("unparseable", None, None)] * 2


def test_study_cut_off_inside_think_stores_truncated_with_reasoning(tmp_path: Path,
                                                                    fault_server: FaultServer) -> None:
    partial = "<think>The user wants a number. 5 would be strongly agree, but"
    url = fault_server.script("think", Reply(200, completion_body(partial, finish_reason="length")))
    result, db = _run(tmp_path, url, ["aif-takeoff-01"], max_tokens=1)
    assert result.outcomes == {"truncated": 1}
    [(outcome, answer, reasoning)] = db_rows(db, "select outcome, answer_text, reasoning from trials")
    assert outcome == "truncated" and answer == ""
    assert reasoning is not None and "5 would be strongly agree" in reasoning
    assert db_rows(db, "select value, agreement from scores") == [(None, None)]


# ---------------------------------------------------------------------------------------------------
# Reasoning: the answer is scored, the reasoning is stored but never parsed.

@pytest.mark.parametrize("how", ["reasoning_content", "think_tags"])
def test_reasoning_is_stored_and_not_scored(tmp_path: Path, fault_server: FaultServer, how: str) -> None:
    thought = "Option 5 is strongly agree and I lean to 5, though 4 is possible."
    if how == "reasoning_content":
        body = completion_body("2 - I disagree.", reasoning=thought)
    else:
        body = completion_body(f"<think>{thought}</think>\n\n2 - I disagree.")
    url = fault_server.script("rsn", Reply(200, body))
    result, db = _run(tmp_path, url, ["aif-takeoff-01"])
    assert result.outcomes == {"answered": 1}
    [(answer, reasoning)] = db_rows(db, "select answer_text, reasoning from trials")
    assert reasoning is not None and thought in reasoning
    assert "5" not in answer and "<think>" not in answer
    [(value, agreement, scorer, version)] = db_rows(db, "select value, agreement, scorer, version from scores")
    assert value == "2" and agreement == pytest.approx(-0.5)
    assert (scorer, version) == (SCORER_NAME, SCORER_VERSION)


# ---------------------------------------------------------------------------------------------------
# Rescore: recomputes from stored text, records the scorer, makes no model call.

def _rescore_cli(db: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    from twinstudy.cli import main

    def no_model(*_a: object, **_k: object) -> None:
        raise AssertionError("rescore must not create a model")

    monkeypatch.setattr("twinstudy.models.factory.create_model", no_model)
    res = CliRunner().invoke(main, ["rescore", "--db", str(db)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_rescore_from_edited_text_changes_scores_without_model_calls(
        tmp_path: Path, fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    items = ["aif-takeoff-01", "aif-takeoff-02", "aif-takeover-01"]
    url = fault_server.script("rs", Reply(200, completion_body("4 - Agree.")))
    result, db = _run(tmp_path, url, items)
    assert result.outcomes == {"answered": 3}
    calls = fault_server.count("rs")
    assert calls == 3
    before = dict(db_rows(db, "select t.item, s.value from scores s join trials t on t.key = s.trial_key"))
    assert before == dict.fromkeys(items, "4")

    con = sqlite3.connect(db)
    with con:
        con.execute("update trials set answer_text = ? where item = ?", ("**2 – Disagree**", items[0]))
        con.execute("update trials set answer_text = ? where item = ?",
                    ("As an AI, I don't have personal opinions on this.", items[1]))
        con.execute("update scores set version = 'stale', detail = 'stale'")
    con.close()

    out = _rescore_cli(db, monkeypatch)
    assert "rescored 3 trials" in out
    assert fault_server.count("rs") == calls, "rescore called the model"
    got = {r[0]: r[1:] for r in db_rows(
        db, "select t.item, t.outcome, s.status, s.value, s.agreement, s.scorer, s.version "
            "from scores s join trials t on t.key = s.trial_key")}
    item0 = _likert_item(items[0])
    sign0 = -1.0 if item0.reverse else 1.0
    assert got[items[0]][:3] == ("answered", "answered", "2")
    assert got[items[0]][3] == pytest.approx(-0.5)
    assert db_rows(db, "select score from scores s join trials t on t.key = s.trial_key where t.item = ?",
                 (items[0],))[0][0] == pytest.approx(-0.5 * sign0)
    assert got[items[1]][:3] == ("refused", "refused", None) and got[items[1]][3] is None
    assert got[items[2]][:3] == ("answered", "answered", "4")
    assert {g[4:] for g in got.values()} == {(SCORER_NAME, SCORER_VERSION)}  # the stale version is gone
    assert "stale" not in {r[0] for r in db_rows(db, "select detail from scores")}
    assert db_rows(db, "select count(*) from scores")[0][0] == 3  # replaced, not added


def test_rescore_with_a_changed_parser_changes_scores_without_model_calls(
        tmp_path: Path, fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    url = fault_server.script("rp", Reply(200, completion_body("3")))
    _result, db = _run(tmp_path, url, ["aif-takeoff-01", "aif-outcome-01"], langs=("en", "zh"))
    calls = fault_server.count("rp")
    assert calls == 4
    assert {r[0] for r in db_rows(db, "select value from scores")} == {"3"}
    assert {r[0] for r in db_rows(db, "select agreement from scores")} == {0.0}

    seen: list[str] = []

    def new_parser(text: str, item_type: str, lang: str, options: Any = None, **_k: Any) -> ParsedAnswer:
        seen.append(text)
        return ParsedAnswer(5, "answered", "patched")

    monkeypatch.setattr("twinstudy.scoring.trial_scoring.parse_answer", new_parser)
    out = _rescore_cli(db, monkeypatch)
    assert "rescored 4 trials" in out
    assert seen == ["3"] * 4, "rescore must parse the stored text"
    assert fault_server.count("rp") == calls
    rows = db_rows(db, "select value, agreement, detail, scorer, version from scores")
    assert rows == [("5", 1.0, "patched", SCORER_NAME, SCORER_VERSION)] * 4


# ---------------------------------------------------------------------------------------------------
# Logprob reading on the embedded model.

@pytest.fixture(scope="module")
def embedded() -> Iterator[Any]:
    """The embedded model, loaded once; one llama.cpp thread unless TWINSTUDY_THREADS says otherwise
    (all cores on a busy machine is many times slower)."""
    from conftest import smollm2_gguf

    from twinstudy.models import local
    from twinstudy.models.base import ModelInfo

    smollm2_gguf()  # skips when the model package is missing
    pytest.importorskip("llama_cpp")
    with pytest.MonkeyPatch.context() as mp:
        if not os.environ.get("TWINSTUDY_THREADS"):
            mp.setenv("TWINSTUDY_THREADS", "1")
        local._engine(local.embedded_model_path(), "local/smollm2-135m")
        yield local.LocalModel(ModelInfo(id="local/smollm2-135m", provider="local", model="SmolLM2-135M-Instruct"))


def _messages(item_id: str, lang: str) -> list[Any]:
    from twinstudy.study.prompts import render_messages

    return render_messages(None, load_framings()["neutral"], _likert_item(item_id), lang, 0, None)


def _check_distribution(probs: dict[str, float] | None, labels: tuple[str, ...]) -> None:
    assert probs is not None
    assert tuple(sorted(probs)) == tuple(sorted(labels))
    assert all(0.0 <= p <= 1.0 and math.isfinite(p) for p in probs.values())
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_embedded_logprob_reading_is_a_distribution_and_deterministic(embedded: Any, lang: str) -> None:
    from twinstudy.models.base import GenerateParams

    params = GenerateParams(max_tokens=1, temperature=0.0, options=LIKERT)
    msgs = _messages("aif-takeoff-01", lang)
    first = embedded._generate_sync(msgs, params)
    _check_distribution(first.option_probs, LIKERT)
    assert first.option_mass is not None and 0.0 < first.option_mass <= 1.0
    assert first.request["answer_labels"] == list(LIKERT)

    again = embedded._generate_sync(msgs, params)  # prompt fully cached: only the last token re-evaluated
    other = embedded._generate_sync(_messages("aif-outcome-01", lang), params)  # shares only a prefix
    third = embedded._generate_sync(msgs, params)  # most of the prompt re-evaluated after `other`
    # Re-evaluating part of the prompt in a batch of another size changes the logits by float rounding
    # only (seen: 5e-4 in a probability), far below any effect the study could report.
    for later in (again, third):
        assert later.option_probs is not None and first.option_probs is not None
        for lab in LIKERT:
            assert later.option_probs[lab] == pytest.approx(first.option_probs[lab], abs=2e-3)
        # the label mass before renormalising moves more (seen: 6% relative); it is a diagnostic only
        assert later.option_mass == pytest.approx(first.option_mass, rel=0.15)
    _check_distribution(other.option_probs, LIKERT)
    assert other.option_probs != first.option_probs  # a different question reads a different distribution


@pytest.mark.slow
def test_embedded_logprob_reading_other_label_sets(embedded: Any) -> None:
    from twinstudy.models.base import GenerateParams

    seven = tuple(str(k) for k in range(1, 8))
    comp = embedded._generate_sync(_messages("aif-takeoff-02", "en"),
                                   GenerateParams(max_tokens=1, temperature=0.0, options=seven))
    _check_distribution(comp.option_probs, seven)
    letters = ("A", "B", "C", "D")
    comp = embedded._generate_sync(_messages("aif-takeoff-02", "en"),
                                   GenerateParams(max_tokens=1, temperature=0.0, options=letters))
    _check_distribution(comp.option_probs, letters)
    assert comp.option_mass is not None and 0.0 < comp.option_mass <= 1.0
    plain = embedded._generate_sync(_messages("aif-takeoff-02", "en"), GenerateParams(max_tokens=1, temperature=0.0))
    assert plain.option_probs is None and plain.option_mass is None


LOGPROB_STUDY = """\
name: logprob-e2e
models:
  - {id: smol, extends: local/smollm2-135m}
instruments:
  - {id: ai-futures, items: [aif-takeoff-01, aif-takeover-02]}
languages: [en, zh]
framings: [neutral]
samples: 1
params: {temperature: 0.0, max_tokens: 4, logprobs: true}
"""


@pytest.fixture(scope="module")
def logprob_study_db(embedded: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from twinstudy.cli.commands import run_study

    tmp = tmp_path_factory.mktemp("logprob_study")
    study = tmp / "study.yaml"
    study.write_text(LOGPROB_STUDY, encoding="utf-8")
    db = tmp / "results.db"
    result = run_study(study, db=db, write_report=False, quiet=True)
    assert result.done == 4
    return db


def _expected_agreement(dist: dict[str, float]) -> float:
    return sum(p * (2.0 * (int(k) - 1) / 4 - 1.0) for k, p in dist.items()) / sum(dist.values())


@pytest.mark.slow
def test_logprob_study_stores_distribution_and_expected_agreement(logprob_study_db: Path) -> None:
    rows = db_rows(logprob_study_db,
                 "select t.item, t.outcome, t.reverse, s.distribution, s.agreement, s.score, s.distribution_mass, "
                 "s.scorer, s.version from scores s join trials t on t.key = s.trial_key")
    assert len(rows) == 4
    for _item, outcome, reverse, dist_json, agreement, score, mass, scorer, version in rows:
        assert dist_json is not None
        dist = json.loads(dist_json)
        _check_distribution(dist, LIKERT)
        assert agreement == pytest.approx(_expected_agreement(dist), abs=1e-12)
        assert score == pytest.approx(-agreement if reverse else agreement, abs=1e-12)
        assert outcome == "answered"  # the distribution is the answer, whatever the text said
        assert mass is not None and 0.0 < mass <= 1.0  # its own column since results schema 2
        assert (scorer, version) == (SCORER_NAME, SCORER_VERSION)
    labels = [json.loads(r[0]).get("answer_labels") for r in
              db_rows(logprob_study_db, "select request_json from attempts")]
    assert labels == [list(LIKERT)] * 4


@pytest.mark.slow
def test_rescore_keeps_logprob_distribution(logprob_study_db: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "copy.db"
    shutil.copy(logprob_study_db, db)
    sql = "select trial_key, distribution, agreement from scores order by trial_key"
    outcomes = "select key, outcome from trials order by key"
    before, outcomes_before = db_rows(db, sql), db_rows(db, outcomes)
    _rescore_cli(db, monkeypatch)
    after = db_rows(db, sql)
    assert db_rows(db, outcomes) == outcomes_before  # today: every 'answered' becomes 'truncated'
    assert [(k, d) for k, d, _a in after] == [(k, d) for k, d, _a in before]
    for (_k, _d, a0), (_k2, _d2, a1) in zip(before, after, strict=True):
        assert a1 == pytest.approx(a0)
