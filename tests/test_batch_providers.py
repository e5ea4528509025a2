"""Batch adapters against the loopback batch server (tests/batchserver.py), request shapes offline,
and the seam: a reply read live and the same body read from a batch result line give the same
Completion (or the same kind of error)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import fault_server as fs
import pytest
from batchserver import REFUSAL_TEXT, BatchServer
from fault_server import FaultServer, Reply

from twinstudy.batch.api import ENDED, BatchAPI, BatchLine, BatchStatus, LineResult
from twinstudy.batch.providers import (
    AnthropicBatch,
    OpenAIFilesBatch,
    batch_api_for,
    from_custom_id,
    has_batch,
    to_custom_id,
)
from twinstudy.models.base import Completion, GenerateParams, Message, ModelCallError, ModelInfo
from twinstudy.models.factory import create_model

KEY = "sk-batch-test-key-0123456789"
TAG_KEY = "twinstudy_batch"  # the orchestrator's metadata key (batch/api.py on the orchestration branch)
PARAMS = GenerateParams(max_tokens=32, temperature=0.7, seed=7)
KEY_ENVS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ZHIPUAI_API_KEY", "DASHSCOPE_CN_API_KEY",
            "DASHSCOPE_INTL_API_KEY", "DASHSCOPE_US_API_KEY", "MINIMAX_API_KEY", "MOONSHOT_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY", "ZAI_API_KEY")

# prompt -> what the server does with it (see tests/batchserver.py)
PROMPTS = {
    "k-answer": "Which do you prefer? (B) tea or (C) coffee",
    "k-block": "[[block]] something the filter stops",
    "k-filter": "[[filter]] an answer the filter stops",
    "k-refuse": "[[refuse]] please",
    "k-truncate": "[[truncate]] tell me at length",
    "k-429": "[[429]]",
    "k-500": "[[500]]",
    "k-400": "[[400]]",
    "k-expire": "[[expire]]",
    "k-echo": "[[echo-key]] what key did I send?",
    "k-long": "[[long]] write a lot",
}


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for env in KEY_ENVS:
        monkeypatch.setenv(env, KEY)


def lines_for(prompts: dict[str, str]) -> list[BatchLine]:
    return [BatchLine(k, [Message("system", "Answer briefly."), Message("user", p)], PARAMS)
            for k, p in prompts.items()]


def adapter(provider: str, base_url: str, model: str = "m-1", **opts: Any) -> BatchAPI:
    info = ModelInfo(id=f"{provider}/{model}", provider=provider, model=model, base_url=base_url)
    api = batch_api_for(info, create_model(info), **opts)
    assert api is not None
    return api


async def run_batch(api: BatchAPI, lines: list[BatchLine], *, max_polls: int = 20) -> tuple[list[BatchStatus],
                                                                                           dict[str, LineResult]]:
    sub = await api.submit(lines)
    seen = [await api.poll(sub.batch_id)]
    while seen[-1].state not in ENDED and len(seen) < max_polls:
        seen.append(await api.poll(sub.batch_id))
    got: dict[str, LineResult] = {}
    async for r in api.results(sub.batch_id, seen[-1], lines={ln.custom_id: ln for ln in lines}):  # type: ignore[call-arg]
        assert r.custom_id not in got
        got[r.custom_id] = r
    await api.aclose()
    return seen, got


def done(r: LineResult) -> Completion:
    assert r.completion is not None and r.error is None, r.error
    return r.completion


def failed(r: LineResult) -> ModelCallError:
    assert r.error is not None and r.completion is None
    return r.error


# -- round trips ---------------------------------------------------------------------------------

def test_openai_round_trip_mixed_results() -> None:
    lines = lines_for(PROMPTS)
    with BatchServer(polls=2, key=KEY) as srv:
        api = adapter("openai", srv.base + "/v1")
        states, got = asyncio.run(run_batch(api, lines))
        assert [s.state for s in states] == ["in_progress", "in_progress", "expired"]
        assert srv.counts["files.create"] == srv.counts["batches.create"] == 1
        assert set(srv.lines.values()) == {1} and set(srv.lines) == set(PROMPTS)
    assert states[-1].total == len(PROMPTS) and states[-1].output_file_id and states[-1].error_file_id
    assert set(got) == set(PROMPTS)
    ans = done(got["k-answer"])
    assert (ans.text, ans.finish_reason, ans.block, ans.http_status) == ("B", "stop", None, 200)
    assert ans.tokens_in and ans.tokens_out == 2
    assert ans.request["model"] == "m-1" and ans.request["messages"][1]["content"] == PROMPTS["k-answer"]
    block = done(got["k-block"]).block
    assert block is not None and (block.provider_code, block.where) == ("openai:invalid_prompt", "input")
    assert done(got["k-block"]).http_status == 400
    filt = done(got["k-filter"]).block
    assert filt is not None and filt.provider_code == "finish_reason:content_filter"
    assert done(got["k-refuse"]).text == REFUSAL_TEXT and done(got["k-refuse"]).block is None
    assert done(got["k-truncate"]).finish_reason == "length"
    for k, retry in (("k-429", True), ("k-500", True), ("k-400", False)):
        err = failed(got[k])
        assert (err.http_status, err.retryable, err.fatal) == (int(k[2:]), retry, False)
        assert not got[k].expired
    exp = got["k-expire"]
    assert exp.expired and failed(exp).retryable and failed(exp).provider_code == "batch_expired"
    echo = done(got["k-echo"])
    assert KEY not in echo.text and KEY not in echo.raw and "[REDACTED]" in echo.text
    assert done(got["k-long"]).text == "A" * 200_000  # one line longer than any read chunk


def test_anthropic_round_trip_mixed_results_and_custom_id_mapping() -> None:
    prompts = {**PROMPTS, "trial/odd key:1": "Pick (D) please"}
    lines = lines_for(prompts)
    with BatchServer(polls=1, key=KEY) as srv:
        api = adapter("anthropic", srv.base, model="claude-x")
        assert isinstance(api, AnthropicBatch)
        states, got = asyncio.run(run_batch(api, lines))
        assert [s.state for s in states] == ["in_progress", "completed"]
        assert srv.counts["anthropic.create"] == 1 and srv.counts["anthropic.results"] == 1
        assert to_custom_id("trial/odd key:1") in srv.lines  # sent encoded, read back as the trial key
    assert set(got) == set(prompts)
    assert done(got["trial/odd key:1"]).text == "D"
    ans = done(got["k-answer"])
    assert (ans.text, ans.finish_reason, ans.block) == ("B", "end_turn", None)
    assert ans.request["system"] == "Answer briefly." and ans.omitted_params == ["seed"]
    for k in ("k-block", "k-filter"):
        b = done(got[k]).block
        assert b is not None and b.provider_code == "anthropic:refusal:cyber"
    assert done(got["k-refuse"]).text == REFUSAL_TEXT
    assert done(got["k-truncate"]).finish_reason == "max_tokens"
    for k, retry in (("k-429", True), ("k-500", True), ("k-400", False)):
        err = failed(got[k])
        assert (err.http_status, err.retryable) == (int(k[2:]), retry)
    assert got["k-expire"].expired and failed(got["k-expire"]).retryable
    assert KEY not in done(got["k-echo"]).raw and KEY not in done(got["k-echo"]).text


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_cancel_answers_half_and_returns_the_rest_as_retryable(provider: str) -> None:
    lines = lines_for({f"c{i}": f"Say {i + 1}" for i in range(4)})

    async def go(api: BatchAPI) -> tuple[BatchStatus, BatchStatus, dict[str, LineResult]]:
        sub = await api.submit(lines)
        first = await api.cancel(sub.batch_id)
        end = await api.poll(sub.batch_id)
        got = {r.custom_id: r async for r in api.results(sub.batch_id, end)}
        await api.aclose()
        return first, end, got

    with BatchServer(polls=100) as srv:
        api = adapter(provider, srv.base + ("/v1" if provider == "openai" else ""))
        first, end, got = asyncio.run(go(api))
    assert first.state == "cancelling" and end.state == "cancelled"
    assert [done(got[f"c{i}"]).text for i in (0, 1)] == ["1", "2"]
    assert all(got[f"c{i}"].expired and failed(got[f"c{i}"]).retryable for i in (2, 3))


def test_openai_finds_a_batch_created_before_a_crash_by_its_metadata_tag() -> None:
    with BatchServer(polls=5) as srv:
        api = adapter("openai", srv.base + "/v1")
        assert isinstance(api, OpenAIFilesBatch)

        async def go() -> tuple[str, str | None, str | None]:
            sub = await api.submit(lines_for({"a": "x"}), metadata={TAG_KEY: "sub-1"})
            found = await api.find_submitted(TAG_KEY, "sub-1")
            missing = await api.find_submitted(TAG_KEY, "sub-2")
            await api.aclose()
            return sub.batch_id, found.batch_id if found else None, missing.batch_id if missing else None

        sub_id, found_id, missing_id = asyncio.run(go())
    assert found_id == sub_id and missing_id is None


def test_anthropic_finds_the_one_batch_created_since_a_time_with_that_many_requests() -> None:
    with BatchServer(polls=5) as srv:
        api = adapter("anthropic", srv.base)
        assert isinstance(api, AnthropicBatch) and not hasattr(api, "find_submitted")  # not FindsOwnBatches

        async def go() -> tuple[str, str | None, str | None, str | None]:
            since = time.time() - 1
            sub = await api.submit(lines_for({"a": "x", "b": "y"}))
            found = await api.find_created_since(since, 2)
            other_size = await api.find_created_since(since, 3)
            await api.submit(lines_for({"c": "x", "d": "y"}))
            ambiguous = await api.find_created_since(since, 2)
            await api.aclose()
            return (sub.batch_id, found.batch_id if found else None, other_size.batch_id if other_size else None,
                    ambiguous.batch_id if ambiguous else None)

        sub_id, found_id, other_id, ambiguous_id = asyncio.run(go())
    assert found_id == sub_id and other_id is None and ambiguous_id is None


def test_a_refused_key_is_fatal_and_never_quoted() -> None:
    with BatchServer(key="the-right-key-000000") as srv:
        api = adapter("openai", srv.base + "/v1")
        with pytest.raises(ModelCallError) as caught:
            asyncio.run(api.submit(lines_for({"a": "x"})))
        asyncio.run(api.aclose())
    err = caught.value
    assert err.fatal and not err.retryable and err.http_status == 401
    assert KEY not in str(err) and KEY not in err.raw


def test_server_runs_as_a_subprocess_and_reports_counters() -> None:
    script = Path(__file__).with_name("batchserver.py")
    proc = subprocess.Popen([sys.executable, str(script), "--port", "0", "--print-port", "--max-runtime", "60"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=10) as resp:
            stats = json.loads(resp.read())
        assert stats == {"counts": {}, "lines": {}, "bytes_received": 0, "bytes_sent": 0, "busy_s": 0.0, "waits": [],
                         "expired": []}
    finally:
        proc.terminate()
        proc.wait(10)


# -- capability and request shapes (offline) -------------------------------------------------------

@pytest.mark.parametrize(("provider", "kind", "url", "max_lines"), [
    ("openai", OpenAIFilesBatch, "/v1/chat/completions", 50_000),
    ("zhipu", OpenAIFilesBatch, "/v4/chat/completions", 50_000),
    ("dashscope", OpenAIFilesBatch, "/v1/chat/completions", 50_000),
    ("dashscope-intl", OpenAIFilesBatch, "/v1/chat/completions", 50_000),
    ("moonshot", OpenAIFilesBatch, "/v1/chat/completions", 50_000),
    ("gemini", OpenAIFilesBatch, "/v1/chat/completions", 50_000),
    ("anthropic", AnthropicBatch, None, 100_000),
])
def test_batch_capability_per_preset(provider: str, kind: type, url: str | None, max_lines: int) -> None:
    info = ModelInfo(id=f"{provider}/m", provider=provider, model="m")
    api = batch_api_for(info, create_model(info))
    assert isinstance(api, kind) and api.max_lines == max_lines and has_batch(info)
    if url is not None:
        assert isinstance(api, OpenAIFilesBatch) and api.url == url
    smaller = batch_api_for(info, create_model(info), max_lines=10)
    assert smaller is not None and smaller.max_lines == 10


@pytest.mark.parametrize("provider", ["deepseek", "zai", "dashscope-us", "minimax", "openai-compatible"])
def test_providers_without_a_batch_api_get_none(provider: str) -> None:
    info = ModelInfo(id=f"{provider}/m", provider=provider, model="m", base_url="http://127.0.0.1:9/v1")
    assert batch_api_for(info, create_model(info)) is None and not has_batch(info)


def test_zhipu_line_matches_the_documented_shape_and_the_live_body() -> None:
    # docs.bigmodel.cn create-batch: {"custom_id": "request-1", "method": "POST", "url": "/v4/chat/completions",
    # "body": {"model": "glm-4", "messages": [...], ...}}
    info = ModelInfo(id="zhipu/glm-4", provider="zhipu", model="glm-4")
    backend = create_model(info)
    api = batch_api_for(info, backend)
    assert isinstance(api, OpenAIFilesBatch)
    line = lines_for({"request-1": "Hello"})[0]
    got = json.loads(api.jsonl([line]).decode())
    assert set(got) == {"custom_id", "method", "url", "body"}
    assert (got["custom_id"], got["method"], got["url"]) == ("request-1", "POST", "/v4/chat/completions")
    assert got["body"] == backend.build_request(line.messages, line.params)[0]  # type: ignore[attr-defined]
    assert got["body"]["model"] == "glm-4" and got["body"]["max_tokens"] == 32


def test_dashscope_line_keeps_the_live_parameters_and_omissions() -> None:
    # help.aliyun.com batch-inference: OpenAI-compatible lines to /v1/chat/completions
    info = ModelInfo(id="dashscope/qwen-plus", provider="dashscope", model="qwen-plus")
    backend = create_model(info)
    api = batch_api_for(info, backend)
    assert isinstance(api, OpenAIFilesBatch)
    line = lines_for({"r1": "Hello"})[0]
    body = api.line_body(line)["body"]
    live, omitted = backend.build_request(line.messages, line.params)  # type: ignore[attr-defined]
    assert body == live and "max_completion_tokens" in live and "max_tokens" not in live
    assert api.request_of(line) == (live, omitted)


def test_gemini_goes_through_its_openai_compatible_batch_endpoints() -> None:
    info = ModelInfo(id="gemini/gemini-3.8-flash", provider="gemini", model="gemini-3.8-flash")
    api = batch_api_for(info, create_model(info))
    assert isinstance(api, OpenAIFilesBatch)
    assert api.model.base_url == "https://generativelanguage.googleapis.com/v1beta/openai"
    line = api.line_body(lines_for({"k": "Hi"})[0])
    assert line["url"] == "/v1/chat/completions" and line["body"]["model"] == "gemini-3.8-flash"  # type: ignore[index]


def test_anthropic_create_body_matches_the_documented_shape() -> None:
    # POST /v1/messages/batches {"requests": [{"custom_id": "my-first-request", "params": {"model", "max_tokens",
    # "messages"}}]}
    info = ModelInfo(id="anthropic/claude-x", provider="anthropic", model="claude-x")
    api = batch_api_for(info, create_model(info))
    assert isinstance(api, AnthropicBatch)
    body = api.create_body(lines_for({"my-first-request": "Hello, world"}))
    (req,) = body["requests"]
    assert set(req) == {"custom_id", "params"} and req["custom_id"] == "my-first-request"
    assert req["params"]["messages"] == [{"role": "user", "content": "Hello, world"}]
    assert req["params"]["system"] == "Answer briefly." and req["params"]["max_tokens"] == 32


def test_limits_and_unique_ids_are_checked_before_sending() -> None:
    info = ModelInfo(id="openai/m", provider="openai", model="m")
    api = batch_api_for(info, create_model(info), max_lines=2)
    assert isinstance(api, OpenAIFilesBatch)
    with pytest.raises(ValueError, match="limit of 2"):
        api.jsonl(lines_for({"a": "1", "b": "2", "c": "3"}))
    dup = lines_for({"a": "1"}) * 2
    with pytest.raises(ValueError, match="unique"):
        api.jsonl(dup)


@pytest.mark.parametrize("key", ["0123456789abcdef0123456789abcdef", "a/b:c", "x-starts-like-ours", "ключ", "é" * 20])
def test_anthropic_custom_ids_map_reversibly(key: str) -> None:
    cid = to_custom_id(key)
    assert from_custom_id(cid) == key and len(cid) <= 64
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in cid)
    if key.isascii() and key.isalnum():
        assert cid == key  # trial keys (hex) are sent unchanged


def test_anthropic_refuses_an_id_too_long_to_encode() -> None:
    with pytest.raises(ValueError, match="64"):
        to_custom_id("/" * 60)


# -- the seam: live and batch read the same body the same way ---------------------------------------

SEAM_OPENAI = [
    ("answer", Reply(200, fs.completion_body("Agree", reasoning="because"))),
    ("truncated", Reply(200, fs.completion_body("Agr", finish_reason="length"))),
    ("finish-filter", fs.FINISH_CONTENT_FILTER),
    ("invalid-prompt", fs.OPENAI_INVALID_PROMPT_POLICY),
    ("zhipu-1301", fs.ZHIPU_1301),
    ("rate-limited", Reply(429, {"error": {"message": "slow down", "type": "rate_limit_exceeded"}})),
    ("bad-request", Reply(400, {"error": {"message": "bad", "type": "invalid_request_error", "code": "x"}})),
]
SEAM_ANTHROPIC = [
    ("answer", Reply(200, fs.anthropic_body("Agree", thinking="hmm"))),
    ("refusal", fs.ANTHROPIC_REFUSAL),
    ("max-tokens", Reply(200, fs.anthropic_body("Agr", stop_reason="max_tokens"))),
    ("overloaded", Reply(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
    ("invalid", Reply(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}})),
]


def _fields(c: Completion) -> tuple[Any, ...]:
    block = (c.block.provider_code, c.block.where) if c.block else None
    return (c.text, c.reasoning, c.finish_reason, c.http_status, c.provider_code, c.tokens_in, c.tokens_out, block,
            json.loads(c.raw), c.request, c.omitted_params, c.top_logprobs)


def _err_fields(e: ModelCallError) -> tuple[Any, ...]:
    return (str(e), e.retryable, e.fatal, e.http_status, e.provider_code, json.loads(e.raw))


async def _live(info: ModelInfo, line: BatchLine) -> Completion | ModelCallError:
    backend = create_model(info)
    try:
        return await backend.generate(line.messages, line.params)
    except ModelCallError as exc:
        return exc
    finally:
        await backend.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("provider", "case", "reply"),
                         [("zhipu", c, r) for c, r in SEAM_OPENAI] + [("anthropic", c, r) for c, r in SEAM_ANTHROPIC],
                         ids=[f"openai-{c}" for c, _ in SEAM_OPENAI] + [f"anthropic-{c}" for c, _ in SEAM_ANTHROPIC])
def test_a_live_reply_and_the_same_body_as_a_batch_line_read_the_same(provider: str, case: str, reply: Reply) -> None:
    line = lines_for({"t1": "Do you agree?"})[0]
    with FaultServer() as server:
        base = server.script(case, reply)
        info = ModelInfo(id=f"{provider}/m", provider=provider, model="m", base_url=base)
        live = asyncio.run(_live(info, line))
    api = batch_api_for(info, create_model(info))
    assert api is not None
    if provider == "anthropic":
        result: dict[str, Any] = (
            {"type": "succeeded", "message": reply.body} if reply.status == 200
            else {"type": "errored", "error": reply.body})
        text = json.dumps({"custom_id": "t1", "result": result})
    else:
        text = json.dumps({"id": "r", "custom_id": "t1", "error": None,
                           "response": {"status_code": reply.status, "request_id": "q", "body": reply.body}})
    got = api.read_line(text, {"t1": line})  # type: ignore[attr-defined]
    assert got is not None and got.custom_id == "t1"
    if isinstance(live, ModelCallError):
        assert got.error is not None and _err_fields(got.error)[1:] == _err_fields(live)[1:]
        assert str(got.error) == str(live)
    else:
        assert got.completion is not None and _fields(got.completion) == _fields(live)


def test_an_error_line_carrying_a_filter_code_is_a_block_not_a_retry() -> None:
    info = ModelInfo(id="dashscope/qwen-plus", provider="dashscope", model="qwen-plus")
    api = batch_api_for(info, create_model(info))
    assert isinstance(api, OpenAIFilesBatch)
    text = json.dumps({"id": "r", "custom_id": "t", "response": None, "error": {
        "code": "data_inspection_failed", "message": "Input data may contain inappropriate content."}})
    got = api.read_line(text)
    assert got is not None and got.completion is not None and got.completion.block is not None
    assert got.completion.block.provider_code == "dashscope:data_inspection_failed" and not got.expired
    other = api.read_line(json.dumps({"custom_id": "u", "response": None, "error": {"code": "x", "message": "m"}}))
    assert other is not None and other.error is not None and other.error.retryable


def test_a_failed_download_is_an_error_that_names_the_step() -> None:
    with BatchServer() as srv:
        api = adapter("openai", srv.base + "/v1")

        async def go() -> None:
            try:
                async for _ in api.results("batch_x", BatchStatus("completed", output_file_id="file-missing")):
                    pass
            finally:
                await api.aclose()

        with pytest.raises(ModelCallError, match="result download refused: HTTP 404") as caught:
            asyncio.run(go())
    assert not caught.value.retryable and caught.value.http_status == 404
