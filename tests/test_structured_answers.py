"""Structured closed answers at the source (issue 14, part 5).

``params.structured`` asks the backend for ``{"answer": <value or "decline">}``: OpenAI's
``response_format`` json_schema, llama-cpp-python's ``json_object`` + schema, or a llama.cpp
grammar for the embedded model. The request records which mode was sent, and the parser reads
the JSON answer (text parsing stays the fallback). The slow tests run against a real
``python -m llama_cpp.server`` on loopback and against the embedded model.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from twinstudy.models.base import GenerateParams, Message
from twinstudy.models.factory import create_model
from twinstudy.models.openai_compat import OpenAICompatModel
from twinstudy.models.registry import resolve
from twinstudy.scoring import parse_answer
from twinstudy.scoring.parse import answer_schema
from twinstudy.study.spec import Params

ASK = [Message("user", "Should AI labs publish their safety evaluations? Answer yes or no.")]


def _backend(base_url: str, **extra: Any) -> OpenAICompatModel:
    info = resolve({"id": "llamacpp/smollm2", "provider": "llamacpp", "base_url": base_url,
                    "model": "smollm2", "origin": "US", "company": "Hugging Face", **extra})
    backend = create_model(info)
    assert isinstance(backend, OpenAICompatModel)
    return backend


def test_answer_schema_allows_declining() -> None:
    s = answer_schema("likert5")
    assert s["properties"]["answer"]["enum"] == [1, 2, 3, 4, 5, "decline"]
    assert answer_schema("choice", 3)["properties"]["answer"]["enum"] == ["A", "B", "C", "decline"]
    with pytest.raises(ValueError):
        answer_schema("open")


def test_request_shapes_for_each_style() -> None:
    schema = answer_schema("yesno")
    backend = _backend("http://127.0.0.1:9/v1")
    body, omitted = backend.build_request(ASK, GenerateParams(answer_schema=schema, schema_style="json_schema"))
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "closed_answer", "strict": True, "schema": schema}} and not omitted
    body, _ = backend.build_request(ASK, GenerateParams(answer_schema=schema, schema_style="json_object"))
    assert body["response_format"] == {"type": "json_object", "schema": schema}
    # "auto": llama.cpp servers get json_object (llama-cpp-python rejects json_schema), others json_schema
    body, _ = backend.build_request(ASK, GenerateParams(answer_schema=schema))
    assert body["response_format"]["type"] == "json_object"
    other = create_model(resolve({"id": "x", "provider": "openai-compatible", "base_url": "http://127.0.0.1:9/v1",
                                  "model": "m", "origin": "US"}))
    assert isinstance(other, OpenAICompatModel)
    body, _ = other.build_request(ASK, GenerateParams(answer_schema=schema))
    assert body["response_format"]["type"] == "json_schema"
    body, _ = backend.build_request(ASK, GenerateParams())
    assert "response_format" not in body
    refusing = _backend("http://127.0.0.1:9/v1", omit_params=["response_format"])
    body, omitted = refusing.build_request(ASK, GenerateParams(answer_schema=schema))
    assert "response_format" not in body and omitted == ["response_format"]


def test_structured_off_keeps_trial_keys() -> None:
    """Studies written before the option existed keep their trial keys (resume still works)."""
    assert "structured" not in Params().key_fields()
    assert Params(structured=True).key_fields()["structured"] is True
    assert Params(structured="json_object").key_fields()["structured"] == "json_object"


def _structured_ok(text: str, item_type: str) -> None:
    got = parse_answer(text, item_type, "en")
    assert got.reason in ("structured", "structured-decline"), f"{text!r} -> {got}"


@pytest.mark.slow
def test_llama_cpp_server_returns_constrained_json(llama_server: str) -> None:
    async def go() -> list[Any]:
        backend = _backend(llama_server)
        try:
            out = []
            for item_type in ("yesno", "likert5"):
                p = GenerateParams(max_tokens=24, temperature=0.0, answer_schema=answer_schema(item_type))
                out.append((item_type, await backend.generate(ASK, p)))
            return out
        finally:
            await backend.aclose()

    for item_type, done in asyncio.run(go()):
        assert done.request["response_format"]["type"] == "json_object"
        json.loads(done.text)  # the server constrained the reply to the schema
        _structured_ok(done.text, item_type)


@pytest.mark.slow
def test_embedded_model_uses_a_grammar() -> None:
    from twinstudy.models.local import LocalModel

    info = resolve("local/smollm2-135m")
    model = LocalModel(info)
    params = GenerateParams(max_tokens=24, temperature=0.0, seed=1, answer_schema=answer_schema("choice", 3))
    done = asyncio.run(model.generate(ASK, params))
    assert done.request["response_format"]["type"] == "grammar"
    _structured_ok(done.text, "choice")


STUDY = """\
name: structured
models:
  - {id: smol, extends: local/smollm2-135m}
instruments:
  - {id: ai-futures, limit: 2}
languages: [en]
framings: [neutral]
samples: 1
params: {temperature: 0.0, max_tokens: 24, seed: 3, structured: true}
"""


@pytest.mark.slow
def test_study_with_structured_answers_records_the_mode(tmp_path: Path) -> None:
    from twinstudy.cli.commands import run_study

    study = tmp_path / "s.yaml"
    study.write_text(STUDY, encoding="utf-8")
    db = tmp_path / "results.db"
    run_study(study, db=db, write_report=False, quiet=True)
    con = sqlite3.connect(db)
    rows = con.execute("select t.params_json, a.request_json, s.detail from trials t "
                       "join attempts a on a.trial_key = t.key join scores s on s.trial_key = t.key").fetchall()
    con.close()
    assert rows
    for params_json, request_json, detail in rows:
        assert json.loads(params_json)["structured"] is True
        assert json.loads(request_json)["response_format"]["type"] == "grammar"
        assert detail.split(";")[0] in ("structured", "structured-decline")


def test_scoring_reads_the_structured_answer_and_says_so() -> None:
    from twinstudy.instruments.schema import Item
    from twinstudy.scoring.trial_scoring import Reply, score_reply

    item = Item.model_validate({"id": "q1", "theme": "t", "type": "likert5",
                                "text": {"en": ["AI helps."], "zh": ["AI有帮助。"]}})
    outcome, row = score_reply("k", item, "en", None, None, Reply('{"answer": 4}', "stop"))
    assert outcome == "answered" and row is not None and row.value == "4" and row.detail == "structured"
    outcome, row = score_reply("k", item, "en", None, None, Reply('{"answer": "decline"}', "stop"))
    assert outcome == "refused" and row is not None and row.detail == "structured-decline"
