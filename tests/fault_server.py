"""A scriptable HTTP/1.1 server on 127.0.0.1 that speaks like the providers do, including when they fail.

Not a test: a helper for tests and benchmarks. It runs an asyncio server on its own thread, so a
test's event loop (or a benchmark in another process, via ``python tests/fault_server.py``) can call
it. Keep-alive HTTP/1.1, ``Content-Length`` bodies, no dependencies.

- ``script(prefix, *responses)``: requests whose path starts with ``/<prefix>/`` get these responses in
  order (the last one repeats). Canned provider payloads are below, each citing where its shape
  comes from.
- Unscripted requests get a normal completion (OpenAI or Anthropic shape by path) after ``latency_s``,
  unless the seeded ``FaultMix`` draws a fault: 429 with Retry-After, 500, connection reset, or hang.
- ``counts[path]`` and ``requests`` record what arrived; ``max_runtime_s`` bounds the server's life.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One canned HTTP response; ``action`` 'reset' drops the connection, 'hang' never answers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    action: str = "respond"  # respond | reset | hang
    delay_s: float = 0.0


@dataclass(frozen=True)
class FaultMix:
    """Fractions of unscripted requests that fail; the rest succeed. Drawn from a seeded RNG."""

    rate_limit: float = 0.0  # 429 with Retry-After
    server_error: float = 0.0  # 500
    reset: float = 0.0  # TCP reset mid-request
    hang: float = 0.0  # accept, never answer (until hang_s)
    retry_after_s: float = 1.0
    hang_s: float = 60.0


# --------------------------------------------------------------------------------------------------
# Canned payloads, as documented (see also src/twinstudy/models/blocks.py).

def completion_body(text: str = "Agree", *, finish_reason: str = "stop", model: str = "fault",
                    reasoning: str | None = None, logprobs: int | None = None,
                    extra: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish_reason}
    if logprobs is not None:
        alts = [{"token": t, "logprob": -0.1 * (i + 1), "bytes": None} for i, t in
                enumerate(["Agree", "Disagree", "Neutral", "Strongly", "Somewhat"][:max(1, logprobs)])]
        choice["logprobs"] = {"content": [{"token": "Agree", "logprob": -0.1, "bytes": None,
                                           "top_logprobs": alts}]}
    body = {"id": "chatcmpl-fault", "object": "chat.completion", "created": 0, "model": model,
            "choices": [choice], "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}
    if extra:
        body.update(extra)
    return body


def anthropic_body(text: str = "Agree", *, stop_reason: str = "end_turn", thinking: str | None = None,
                   stop_details: dict[str, Any] | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if thinking is not None:
        content.append({"type": "thinking", "thinking": thinking, "signature": "sig"})
    content.append({"type": "text", "text": text})
    body: dict[str, Any] = {"id": "msg_fault", "type": "message", "role": "assistant", "model": "fault",
                            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
                            "usage": {"input_tokens": 12, "output_tokens": 3}}
    if stop_details is not None:
        body["stop_details"] = stop_details
    return body


# DeepSeek: https://github.com/666ghj/BettaFish/issues/108 (HTTP 400 body as returned by api.deepseek.com)
DEEPSEEK_CONTENT_RISK = Reply(400, {"error": {"message": "Content Exists Risk", "type": "invalid_request_error",
                                              "param": None, "code": "invalid_request_error"}})
# Zhipu/Z.ai 1301: https://docs.bigmodel.cn/cn/api/api-code , https://github.com/langchain4j/langchain4j/issues/1079
ZHIPU_1301 = Reply(400, {"error": {"code": "1301", "message": "系统检测到输入或生成内容可能包含不安全或敏感内容，"
                                   "请您避免输入易产生敏感内容的提示语，感谢您的配合。"},
                         "contentFilter": [{"level": 1, "role": "user"}]})
# Qwen/DashScope: https://github.com/camel-ai/owl/issues/432 ; error-code page
# https://help.aliyun.com/zh/model-studio/error-code#inappropriate-content
QWEN_INPUT_INSPECTION = Reply(400, {"error": {"code": "data_inspection_failed", "param": None,
                                              "message": "Input data may contain inappropriate content.",
                                              "type": "data_inspection_failed"},
                                    "id": "chatcmpl-x", "request_id": "x"})
QWEN_OUTPUT_INSPECTION = Reply(400, {"error": {"code": "data_inspection_failed", "param": None,
                                               "message": "Output data may contain inappropriate content.",
                                               "type": "data_inspection_failed"},
                                     "id": "chatcmpl-y", "request_id": "y"})
# Moonshot/Kimi: https://platform.kimi.ai/docs/api/errors
MOONSHOT_CONTENT_FILTER = Reply(400, {"error": {"type": "content_filter", "message":
                                                "The request was rejected because it was considered high risk"}})
# DashScope native wording "Input or output data ...", via the compatible endpoint's `<400>` prefix:
# https://github.com/anomalyco/opencode/issues/46561 (prefix and code) and the DashScope status-code
# table (bestwisewords mirror, "Input or output data may contain inappropriate content."). Where: unknown.
QWEN_INPUT_OR_OUTPUT = Reply(400, {"error": {"code": "data_inspection_failed", "param": None, "type":
                                             "data_inspection_failed", "message": "<400> InternalError.Algo."
                                             "DataInspectionFailed: Input or output data may contain "
                                             "inappropriate content."}})
# Volcengine Ark error table: https://www.volcengine.com/docs/82379/1299023 ; envelope
# {code, message, param, type: BadRequest}: https://github.com/deer-flow/llm-space/issues/160
ARK_SEVERE_VIOLATION = Reply(400, {"error": {"code": "SensitiveContentDetected.SevereViolation", "param": "",
                                             "type": "BadRequest", "message": "The request failed because the "
                                             "input text may contain severe violation content. Request id: x"}})
ARK_VIOLENCE = Reply(400, {"error": {"code": "SensitiveContentDetected.Violence", "param": "", "type": "BadRequest",
                                     "message": "The request failed because the input text may contain violent "
                                     "content. Request id: x"}})
ARK_SENSITIVE = Reply(400, {"error": {"code": "SensitiveContentDetected", "param": "", "type": "BadRequest",
                                      "message": "The request failed because the input text may contain sensitive "
                                      "information. Request id: x"}})
# "ContentSecurityDetectionError" (风险识别产品请求失败): the checker failed, not a block. The HTTP
# status is not in the table; 400 follows the envelope above (an assumption).
ARK_CHECKER_FAILED = Reply(400, {"error": {"code": "ContentSecurityDetectionError", "param": "", "type": "BadRequest",
                                           "message": "风险识别产品请求失败 Request id: x"}})
# Volcengine Ark (older page): https://www.volcengine.com/docs/82379/1099476
ARK_INPUT_SENSITIVE = Reply(400, {"error": {"code": "InputTextSensitiveContentDetected", "param": "",
                                            "type": "BadRequest", "message": "The request failed because the input "
                                            "text may contain sensitive information. Request id: x"}})
ARK_OUTPUT_RISK = Reply(400, {"error": {"code": "OutputTextRiskDetection", "param": "", "type": "BadRequest",
                                        "message": "The request could not be processed because the output text "
                                        "includes sensitive content that violates ContentSecurityDetection."}})
# OpenAI's most common invalid_prompt wording ("usage policy"): https://github.com/alan-turing-institute/t0-1/issues/69 ,
# https://github.com/MDX-Tom/gpt-instruct/issues/56 (2026-08-20)
OPENAI_INVALID_PROMPT_POLICY = Reply(400, {"error": {
    "type": "invalid_request_error", "code": "invalid_prompt", "param": None,
    "message": "Invalid prompt: your prompt was flagged as potentially violating our usage policy. Please try "
               "again with a different prompt: https://platform.openai.com/docs/guides/reasoning#advice-on-prompting"}})
# OpenAI safety block: https://github.com/microsoft/PyRIT/pull/1463
OPENAI_INVALID_PROMPT = Reply(400, {"error": {"message": "Invalid prompt: we've limited access to this content "
                                              "for safety reasons. This type of information may be used to benefit "
                                              "or to harm people.", "type": "invalid_request_error", "param": None,
                                              "code": "invalid_prompt"}})
# OpenRouter moderation: https://openrouter.ai/docs/api/reference/errors-and-debugging
OPENROUTER_MODERATION = Reply(403, {"error": {"code": 403, "message": "openai/gpt-4o requires moderation on OpenAI. "
                                              "Your input was flagged for \"harassment\".",
                                              "metadata": {"reasons": ["harassment"], "flagged_input": "...",
                                                           "provider_name": "OpenAI", "model_slug": "openai/gpt-4o"}}})
# 200 with a filtered finish (OpenAI/Azure/Gemini compat: content_filter; Zhipu/Hunyuan: sensitive)
FINISH_CONTENT_FILTER = Reply(200, completion_body("", finish_reason="content_filter"))
FINISH_SENSITIVE = Reply(200, completion_body("", finish_reason="sensitive"))
# MiniMax: https://platform.minimax.io/docs/api-reference/text-chat-openai ; codes:
# https://platform.minimaxi.com/docs/api-reference/errorcode.md (1026 input, 1027 output sensitive)
MINIMAX_INPUT_SENSITIVE = Reply(200, {"id": "mm", "choices": None, "created": 0, "model": "MiniMax-M2",
                                      "object": "chat.completion", "input_sensitive": True,
                                      "input_sensitive_type": 1, "output_sensitive": False,
                                      "output_sensitive_type": 0,
                                      "base_resp": {"status_code": 1026, "status_msg": "input new_sensitive"}})
MINIMAX_OUTPUT_SENSITIVE = Reply(200, completion_body("", extra={
    "input_sensitive": False, "output_sensitive": True, "input_sensitive_type": 0, "output_sensitive_type": 2,
    "base_resp": {"status_code": 0, "status_msg": ""}}))
MINIMAX_1027 = Reply(200, {"id": "mm", "created": 0, "model": "MiniMax-M2", "object": "chat.completion",
                           "base_resp": {"status_code": 1027, "status_msg": "output new_sensitive"}})
# MiniMax sensitivity on a non-2xx status: "API Error: 500 input new_sensitive ... (1026)" was seen
# through another route (https://github.com/MiniMax-AI/MiniMax-M3/issues/11); the body shape here is
# base_resp as on 2xx (an assumption), and the OpenAI error envelope with that message.
MINIMAX_500_1026 = Reply(500, {"id": "mm", "base_resp": {"status_code": 1026, "status_msg": "input new_sensitive"}})
MINIMAX_500_NEW_SENSITIVE = Reply(500, {"error": {"type": "api_error",
                                                  "message": "input new_sensitive (1026)"}})
MINIMAX_1008 = Reply(200, {"id": "mm", "base_resp": {"status_code": 1008, "status_msg": "insufficient balance"}})
MINIMAX_1002 = Reply(200, {"id": "mm", "base_resp": {"status_code": 1002, "status_msg": "rate limit"}})
# Baidu Qianfan V2: `flag` (and `ban_round`) inside each choice, per the V2 text-generation reference
# https://cloud.baidu.com/doc/qianfan-api/s/3m7of64lb (copy of 2025-12-23 in DevYangJC/intelli_hub)
BAIDU_FLAG = Reply(200, {**completion_body(""), "choices": [
    {"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop", "flag": 1,
     "ban_round": 0}]})
# The older top-level form, still read.
BAIDU_FLAG_TOP_LEVEL = Reply(200, completion_body("", extra={"flag": 1}))
# Anthropic: https://platform.claude.com/docs/en/test-and-evaluate/strengthen-guardrails/handle-streaming-refusals
ANTHROPIC_REFUSAL = Reply(200, anthropic_body("Hello..", stop_reason="refusal", stop_details={
    "type": "refusal", "category": "cyber", "explanation": "This request was declined."}))
# Z.ai business codes on HTTP 429: https://docs.z.ai/api-reference/api-code
ZAI_1113 = Reply(429, {"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}})
ZAI_1302 = Reply(429, {"error": {"code": "1302", "message": "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。"}},
                 {"Retry-After": "2"})
ZAI_1303 = Reply(429, {"error": {"code": "1303", "message": "您当前使用该API的频率过高，请降低频率，或联系客服增加限额。"}})
# -- 400s naming one unsupported parameter or value (self-healing, src/twinstudy/models/healing.py) --
# OpenAI unsupported_parameter: https://github.com/appatalks/eva-agent/issues/83
OPENAI_UNSUPPORTED_TEMPERATURE = Reply(400, {"error": {
    "message": "Unsupported parameter: 'temperature' is not supported with this model.",
    "type": "invalid_request_error", "param": "temperature", "code": "unsupported_parameter"}})
# OpenAI unsupported_value, default only: https://github.com/nashsu/llm_wiki/issues/670
OPENAI_TEMPERATURE_DEFAULT_ONLY = Reply(400, {"error": {
    "message": "Unsupported value: 'temperature' does not support 0.7 with this model. Only the default (1) "
               "value is supported.", "type": "invalid_request_error", "param": "temperature",
    "code": "unsupported_value"}})
# OpenAI reasoning_effort "minimal" on gpt-5.1+: message from https://github.com/openai/openai-agents-python/issues/2089 ;
# the param/code fields follow the envelope above (assumed).
OPENAI_EFFORT_MINIMAL = Reply(400, {"error": {
    "message": "Unsupported value: 'minimal' is not supported with the 'gpt-5.1' model. Supported values are: "
               "'none', 'low', 'medium', and 'high'.", "type": "invalid_request_error",
    "param": "reasoning_effort", "code": "unsupported_value"}})
# OpenAI max_tokens on reasoning models ("Use 'max_completion_tokens' instead"):
# https://github.com/explodinggradients/ragas/pull/2418 (message), envelope as above
OPENAI_MAX_TOKENS_RENAME = Reply(400, {"error": {
    "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
               "'max_completion_tokens' instead.", "type": "invalid_request_error", "param": "max_tokens",
    "code": "unsupported_parameter"}})
# Anthropic Opus 4.7+: https://github.com/rocketride-org/rocketride-server/issues/1194
ANTHROPIC_TEMPERATURE_DEPRECATED = Reply(400, {"type": "error", "error": {
    "type": "invalid_request_error", "message": "'temperature' is deprecated for this model."}})
# Anthropic Opus 4.7+: https://github.com/zhukunpenglinyutong/jetbrains-cc-gui/issues/1003
ANTHROPIC_THINKING_ENABLED = Reply(400, {"type": "error", "error": {
    "type": "invalid_request_error", "message": "\"thinking.type.enabled\" is not supported for this model. Use "
    "\"thinking.type.adaptive\" and \"output_config.effort\" to control thinking behavior."}})
# DashScope non-streaming thinking: https://github.com/OpenBMB/UltraRAG/issues/287
DASHSCOPE_THINKING_NONSTREAM = Reply(400, {"error": {
    "message": "parameter.enable_thinking must be set to false for non-streaming calls",
    "type": "invalid_request_error", "param": None, "code": "invalid_parameter_error"}})
# Moonshot K2.5+: "invalid temperature: only 1 is allowed for this model"
# (https://github.com/anomalyco/opencode/issues/27796); envelope as Kimi's other errors (assumed)
KIMI_TEMPERATURE_ONLY_1 = Reply(400, {"error": {
    "message": "invalid temperature: only 1 is allowed for this model", "type": "invalid_request_error"}})


def model_list(*ids: str, prefix: str = "") -> Reply:
    """GET /models in the OpenAI shape ({"object": "list", "data": [{"id", "object", ...}]}), also
    Anthropic's (data[].id); Gemini's compatibility layer prefixes ids with "models/"."""
    return Reply(200, {"object": "list", "data": [{"id": prefix + i, "object": "model", "owned_by": "x"}
                                                  for i in ids]})


# Generic HTTP failures
RATE_LIMITED = Reply(429, {"error": {"message": "Rate limit reached", "type": "rate_limit_error",
                                     "code": "rate_limit_exceeded"}}, {"Retry-After": "7"})
SERVER_ERROR = Reply(500, {"error": {"message": "internal error", "type": "server_error"}})
OVERLOADED_529 = Reply(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                       {"retry-after": "3"})
UNAUTHORIZED = Reply(401, {"error": {"message": "Invalid Authentication", "type": "invalid_authentication_error"}})
DEEPSEEK_402 = Reply(402, {"error": {"message": "Insufficient Balance", "type": "unknown_error", "code": "invalid_request_error"}})
NOT_FOUND = Reply(404, {"error": {"message": "model not found", "type": "invalid_request_error"}})
RESET = Reply(action="reset")
HANG = Reply(action="hang")


def echo_auth_reply() -> Reply:
    """401 whose body echoes the Authorization header back (some servers do): tests redaction."""
    return Reply(401, "__ECHO_AUTH__")


# --------------------------------------------------------------------------------------------------

class FaultServer:
    """Start with ``start()`` (or ``with FaultServer() as srv``); ``srv.base`` is ``http://127.0.0.1:PORT``."""

    def __init__(self, *, latency_s: float = 0.0, faults: FaultMix | None = None, seed: int = 0,
                 max_runtime_s: float = 600.0, host: str = "127.0.0.1", port: int = 0,
                 answer: str = "Agree", keep_requests: int = 10_000) -> None:
        self.latency_s = latency_s
        self.faults = faults or FaultMix()
        self.max_runtime_s = max_runtime_s
        self.answer = answer
        self.counts: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self._keep = keep_requests
        self._rng = random.Random(seed)
        self._scripts: dict[str, list[Reply]] = {}
        self._host, self._port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._server: asyncio.AbstractServer | None = None
        self._lock = threading.Lock()
        self.port = 0

    # -- control -----------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://{self._host}:{self.port}"

    def url(self, prefix: str) -> str:
        """Base URL for a backend whose requests should hit the script for ``prefix``."""
        return f"{self.base}/{prefix.strip('/')}/v1"

    def script(self, prefix: str, *replies: Reply) -> str:
        with self._lock:
            self._scripts[prefix.strip("/")] = list(replies)
        return self.url(prefix)

    def count(self, prefix: str) -> int:
        return sum(n for path, n in self.counts.items() if path.startswith(f"/{prefix.strip('/')}/"))

    def start(self) -> FaultServer:
        self._thread = threading.Thread(target=self._run, name="fault-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- server ------------------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_quiet_on_cancel)
        self._server = loop.run_until_complete(
            asyncio.start_server(self._handle, self._host, self._port, backlog=1024))
        self.port = self._server.sockets[0].getsockname()[1]
        loop.call_later(self.max_runtime_s, loop.stop)
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    def _pick(self, path: str) -> Reply | None:
        prefix = path.strip("/").split("/", 1)[0]
        with self._lock:
            replies = self._scripts.get(prefix)
            if replies:
                return replies.pop(0) if len(replies) > 1 else replies[0]
            f = self.faults
            x = self._rng.random()
        if x < f.rate_limit:
            return Reply(429, {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}},
                         {"Retry-After": f"{f.retry_after_s:g}"})
        x -= f.rate_limit
        if x < f.server_error:
            return SERVER_ERROR
        x -= f.server_error
        if x < f.reset:
            return RESET
        x -= f.reset
        if x < f.hang:
            return Reply(action="hang", delay_s=f.hang_s)
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (ln.partition(":") for ln in lines[1:] if ln)}
                length = int(headers.get("content-length", "0"))
                raw = await reader.readexactly(length) if length else b""
                keep_alive = headers.get("connection", "").lower() != "close"
                with self._lock:
                    self.counts[path] += 1
                    if len(self.requests) < self._keep:
                        self.requests.append({"method": method, "path": path, "headers": headers,
                                              "body": raw.decode("utf-8", "replace")})
                reply = self._pick(path)
                if reply is not None and reply.action == "reset":
                    sock = writer.get_extra_info("socket")
                    if sock is not None:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if reply is not None and reply.action == "hang":
                    await asyncio.sleep(reply.delay_s or self.faults.hang_s)
                    writer.transport.abort()
                    return
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
                if reply is None:
                    reply = self._normal(path, raw)
                elif reply.delay_s:
                    await asyncio.sleep(reply.delay_s)
                body = reply.body
                if body == "__ECHO_AUTH__":
                    body = {"error": {"message": f"Incorrect API key provided: {headers.get('authorization', '')}"
                                      f" {headers.get('x-api-key', '')}", "type": "invalid_request_error"}}
                data = body.encode() if isinstance(body, str) else json.dumps(body, ensure_ascii=False).encode()
                hdrs = {"Content-Type": "application/json", "Content-Length": str(len(data)), **reply.headers}
                if not keep_alive:
                    hdrs["Connection"] = "close"
                status_line = f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}\r\n"
                writer.write((status_line + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n")
                             .encode("latin-1") + data)
                await writer.drain()
                if not keep_alive:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            if not writer.transport.is_closing():
                writer.close()

    def _normal(self, path: str, raw: bytes) -> Reply:
        try:
            req = json.loads(raw) if raw else {}
        except ValueError:
            return Reply(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
        if path.endswith("/messages"):
            return Reply(200, anthropic_body(self.answer))
        k = req.get("top_logprobs") if req.get("logprobs") else None
        return Reply(200, completion_body(self.answer, model=str(req.get("model", "fault")), logprobs=k))


def _quiet_on_cancel(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Connections still open at shutdown are cancelled; that is not worth a traceback."""
    if isinstance(context.get("exception"), asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
            404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 529: "Overloaded"}


def main() -> None:  # pragma: no cover - for benchmarks in another process
    ap = argparse.ArgumentParser(description="Run the fault server until killed or --max-runtime.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    ap.add_argument("--rate-limit", type=float, default=0.0)
    ap.add_argument("--server-error", type=float, default=0.0)
    ap.add_argument("--reset", type=float, default=0.0)
    ap.add_argument("--hang", type=float, default=0.0)
    ap.add_argument("--retry-after", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-runtime", type=float, default=600.0)
    a = ap.parse_args()
    srv = FaultServer(latency_s=a.latency, seed=a.seed, max_runtime_s=a.max_runtime, port=a.port,
                      faults=FaultMix(a.rate_limit, a.server_error, a.reset, a.hang, a.retry_after))
    srv.start()
    print(srv.base, flush=True)
    deadline = time.monotonic() + a.max_runtime
    try:
        while time.monotonic() < deadline and srv._thread is not None and srv._thread.is_alive():
            time.sleep(0.5)
    finally:
        srv.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
