"""A replay changes only what it is told to change, and says what differs.

Issue 19: ``replay --framing identity-cn`` dropped the source conversation's per-participant
system prompts and its ``max_tokens`` (60 became the CLI default 1024), so it changed three factors
while the user asked for one.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console
from test_chat import FakeModel, participant, run

from twinstudy.chat.db import ChatDB
from twinstudy.chat.session import ChatSession
from twinstudy.cli import main
from twinstudy.models.base import GenerateParams, ModelInfo

CN = "You are an AI assistant built in China."
US = "You are an AI assistant built in the United States."


def _source(tmp_path: Path) -> Path:
    db = ChatDB(tmp_path / "chat.db")
    ps = [participant("cn", FakeModel("CN"), system=CN), participant("us", FakeModel("US"), system=US)]
    session = ChatSession(ps, db, lang="en", params=GenerateParams(max_tokens=60, temperature=0.3), system=None,
                          console=Console(file=io.StringIO(), width=100))
    run(session.send("Which country leads in AI?"))
    session.save("ai-race-chat")
    db.close()
    return tmp_path / "chat.db"


def test_replay_keeps_system_prompts_and_params_and_prints_what_differs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[FakeModel] = []
    seen_params: list[GenerateParams] = []

    class Recording(FakeModel):
        async def generate(self, messages: Any, params: GenerateParams) -> Any:
            seen_params.append(params)
            return await super().generate(messages, params)

    def create(info: ModelInfo, **_: Any) -> FakeModel:
        made.append(Recording(info.id, info=info))
        return made[-1]

    monkeypatch.setattr("twinstudy.models.factory.create_model", create)
    db = _source(tmp_path)
    res = CliRunner().invoke(main, ["replay", "ai-race-chat", "--models",
                                    "local/smollm2-135m@cn,local/smollm2-135m@us", "--framing", "identity-cn",
                                    "--db", str(db)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    systems = {m.seen[0][0].content for m in made if m.seen and m.seen[0][0].role == "system"}
    assert systems == {CN, US}
    assert {(p.max_tokens, p.temperature) for p in seen_params} == {(60, 0.3)}
    out = " ".join(res.output.split())
    assert "inherited from the source: max_tokens 60, temperature 0.3, cn's system prompt, us's system prompt" in out
    assert "differs from the source: framing none → identity-cn" in out
    chat = ChatDB(db, create=False)
    replay = chat.find("2")
    assert {m["label"]: m["system"] for m in replay.models} == {"cn": CN, "us": US}
    chat.close()

    # Told to change a parameter and one system prompt, it changes exactly those and says so.
    made.clear()
    seen_params.clear()
    res = CliRunner().invoke(main, ["replay", "ai-race-chat", "--models",
                                    "local/smollm2-135m@cn,local/smollm2-135m@us", "--max-tokens", "100",
                                    "--system-for", "us=Be brief.", "--db", str(db)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert {p.max_tokens for p in seen_params} == {100}
    out = " ".join(res.output.split())
    assert "max_tokens 60 → 100" in out and "us's system prompt" in out.split("differs from the source:")[1]
