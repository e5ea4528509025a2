"""One backend for every OpenAI Chat Completions endpoint, shaped by a provider preset.

Hot path: build a dict, ``json.dumps`` it, POST over one pooled keep-alive ``aiohttp`` session,
``json.loads`` the answer and pick fields by hand (no pydantic per response). The backend never
retries: it returns a :class:`Completion` (with ``block`` set when a provider filter stopped the
request, whatever the HTTP status) or raises :class:`ModelCallError` saying whether a retry can
help (``retryable``) or the model must stop (``fatal``). The API key lives only in the client's
headers: it is never put in ``Completion.request``, raw text, messages or reprs.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from twinstudy.errors import UserError
from twinstudy.models.base import Completion, GenerateParams, Message, ModelCallError, ModelInfo
from twinstudy.models.blocks import completion_block, http_error_block
from twinstudy.models.presets import Preset, get_preset

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_MAX_CONNECTIONS = 512
RAW_ERROR_CHARS = 300  # how much of a provider's error message goes into an exception message

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
_QUOTA_CODES = frozenset({"insufficient_quota", "exceeded_current_quota_error", "billing_hard_limit_reached"})

# Zhipu BigModel / Z.ai business codes (https://docs.bigmodel.cn/cn/api/api-code,
# https://docs.z.ai/api-reference/api-code).
_ZHIPU_RETRYABLE = frozenset({"1302", "1303", "1305", "1312", "1120", "1230", "1234"})
_ZHIPU_FATAL = {
    "1000": "authentication failed", "1001": "authentication failed", "1002": "authentication failed",
    "1003": "authentication token expired", "1004": "authentication failed",
    "1110": "account inactive", "1111": "account does not exist", "1112": "account locked",
    "1113": "account balance is empty: top up your balance, then run again",
    "1121": "account locked for a policy violation",
    "1304": "daily call limit for this API reached", "1308": "usage limit reached until the next reset",
    "1309": "coding plan expired", "1310": "weekly/monthly usage limit reached",
}
# MiniMax base_resp codes (https://platform.minimax.io/docs/api-reference/errorcode.md).
_MINIMAX_RETRYABLE = frozenset({1000, 1001, 1002, 1024, 1033})
_MINIMAX_FATAL = {1004: "authentication failed", 1008: "account balance is insufficient: top up your balance"}

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


def read_api_key(env: str | None, model_id: str) -> str | None:
    """The key from ``env`` (``None`` if the endpoint needs none); missing -> a UserError naming it."""
    if not env:
        return None
    key = os.environ.get(env, "").strip()
    if not key:
        raise UserError(f"model '{model_id}' needs an API key: set the environment variable {env} "
                        f"(e.g. `export {env}=...`), or leave the model out of the study "
                        "(--skip-unavailable runs the rest).")
    return key


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def split_reasoning(content: Any, message: dict[str, Any], fields: tuple[str, ...]) -> tuple[str, str | None]:
    """Answer text without reasoning, and the reasoning (from message fields or <think> tags)."""
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    text = content if isinstance(content, str) else ""
    parts: list[str] = []
    for name in fields:
        value = message.get(name)
        if isinstance(value, str) and value:
            parts.append(value)
            break
    if "</think>" in text or text.lstrip().startswith("<think>"):
        inline, text = _split_think_tags(text)
        if inline:
            parts.append(inline)
    reasoning = "\n".join(parts) if parts else None
    return text, reasoning


def _split_think_tags(text: str) -> tuple[str, str]:
    stripped = text.lstrip()
    if "</think>" in stripped:
        head, _, tail = stripped.rpartition("</think>")
        thought = head.removeprefix("<think>").replace("<think>", "").strip()
        return thought, tail.lstrip()
    # <think> opened and never closed: the budget ran out while thinking.
    return stripped.removeprefix("<think>").strip(), ""


def parse_top_logprobs(logprobs: Any) -> list[dict[str, float]] | None:
    """One dict per generated position: alternative token -> log probability."""
    if not isinstance(logprobs, dict):
        return None
    content = logprobs.get("content")
    if isinstance(content, list):
        out: list[dict[str, float]] = []
        for pos in content:
            if not isinstance(pos, dict):
                continue
            alts = {str(a["token"]): float(a["logprob"]) for a in pos.get("top_logprobs") or ()
                    if isinstance(a, dict) and "token" in a and a.get("logprob") is not None}
            if not alts and "token" in pos and pos.get("logprob") is not None:
                alts = {str(pos["token"]): float(pos["logprob"])}
            out.append(alts)
        return out
    legacy = logprobs.get("top_logprobs")  # text-completion style
    if isinstance(legacy, list):
        return [{str(k): float(v) for k, v in d.items() if v is not None}
                for d in legacy if isinstance(d, dict)]
    return None


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOOPBACK_HOSTS


def transport_error(model_id: str, base_url: str, failed: tuple[str, str], body: dict[str, Any],
                    latency: float) -> ModelCallError:
    """A retryable error for a timeout or a failed connection, naming only the exception's type."""
    kind, name = failed
    what = ("no answer within the timeout" if kind == "timeout"
            else f"connection to {base_url} failed")
    return ModelCallError(f"{model_id}: {what} ({name})", retryable=True, request=body, latency_ms=latency)


def says_no_credit(code: str, msg: str) -> bool:
    low = f"{code} {msg}".lower()
    return any(w in low for w in ("insufficient balance", "insufficient_balance", "overdue",
                                  "out of credits", "insufficient credits")) or "欠费" in msg or "余额不足" in msg


def _error_fields(parsed: Any) -> tuple[str, str]:
    if not isinstance(parsed, dict):
        return "", ""
    err = parsed.get("error")
    if isinstance(err, dict):
        return str(err.get("code") or err.get("type") or ""), str(err.get("message") or "")
    if isinstance(err, str):
        return "", err
    return str(parsed.get("code") or ""), str(parsed.get("message") or parsed.get("detail") or "")


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every session: building one loads the CA bundle (~0.1 s each)."""
    return ssl.create_default_context()


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "[REDACTED]") if secret and secret in text else text


@dataclass(frozen=True, slots=True)
class Exchange:
    status: int
    parsed: Any
    raw: str
    headers: Mapping[str, str]
    latency_ms: float


class HttpClient:
    """One keep-alive ``aiohttp.ClientSession`` per backend, opened lazily in the running loop.

    A session belongs to the event loop it was made in, so it is made on the first request (and
    made again if a later ``asyncio.run`` uses the backend from a new loop). Transport failures
    become :class:`ModelCallError` with messages built here: aiohttp's own exceptions carry the
    request (headers included), so they are never chained or quoted.
    """

    def __init__(self, *, base_url: str, headers: dict[str, str], timeout: float,
                 max_connections: int) -> None:
        self._headers = headers
        self._base_url = base_url
        # As with httpx before: 15 s to open a connection, not counting a wait for a pooled one.
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 15.0))
        self._max_connections = max_connections
        self._https = base_url.startswith("https:")
        self._trust_env = not _is_loopback(base_url)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"HttpClient(max_connections={self._max_connections})"

    def _open(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and self._loop is loop and not session.closed:
            return session
        connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0,
                                         keepalive_timeout=60.0, ttl_dns_cache=300,
                                         ssl=_ssl_context() if self._https else True)
        self._session = session = aiohttp.ClientSession(
            connector=connector, headers=self._headers, timeout=self._timeout,
            trust_env=self._trust_env)
        self._loop = loop
        return session

    async def post(self, url: str, content: bytes) -> tuple[int, bytes, Mapping[str, str]]:
        """Status, body bytes and headers; raises aiohttp / timeout errors (see :meth:`failure`)."""
        async with self._open().post(url, data=content, allow_redirects=False) as resp:
            return resp.status, await resp.read(), resp.headers

    async def exchange(self, url: str, body: dict[str, Any], model_id: str, secret: str) -> Exchange:
        """POST a JSON body and read the reply: status, parsed JSON (or None), raw text with the
        key redacted, headers, latency. Transport failures raise a retryable ModelCallError."""
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        start = time.perf_counter()
        failed: tuple[str, str] | None = None
        try:
            status, data, headers = await self.post(url, payload)
        except Exception as exc:
            kind = self.failure(exc)
            if kind is None:
                raise
            failed = (kind, type(exc).__name__)
        latency = (time.perf_counter() - start) * 1000
        if failed is not None:  # raised outside the except block: aiohttp's exception is not chained
            raise transport_error(model_id, self._base_url, failed, body, latency)
        raw = redact(data.decode("utf-8", "replace"), secret)
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return Exchange(status, parsed, raw, headers, latency)

    @staticmethod
    def failure(exc: BaseException) -> str | None:
        """``"timeout"``, ``"connection"`` (retryable kinds), or ``None`` if not a transport error."""
        if isinstance(exc, TimeoutError):  # aiohttp's timeouts subclass it
            return "timeout"
        if isinstance(exc, aiohttp.ClientError):  # connection, disconnect, payload, bad response
            return "connection"
        return None

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()


class OpenAICompatModel:
    """A :class:`~twinstudy.models.base.Model` for any OpenAI-compatible chat endpoint."""

    def __init__(
        self,
        info: ModelInfo,
        preset: Preset | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.info = info
        self._preset = preset or get_preset(info.provider)
        base_url = info.base_url or self._preset.base_url
        if not base_url:
            raise UserError(f"model '{info.id}' has no base_url; give one in the study "
                            "(e.g. base_url: http://127.0.0.1:8000/v1).")
        self._base_url = base_url.rstrip("/")
        self._url = self._base_url + "/chat/completions"
        self._key_env = info.api_key_env or self._preset.api_key_env
        key = read_api_key(self._key_env, info.id)
        self._secret = key or ""
        headers = {"content-type": "application/json", "accept": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        self._pool = HttpClient(base_url=self._base_url, headers=headers, timeout=timeout,
                                max_connections=max_connections)
        self._refused = frozenset(self._preset.refuses) | frozenset(info.omit_params)
        self._max_tokens_param = info.max_tokens_param or self._preset.max_tokens_param
        self._reasoning_fields = tuple(dict.fromkeys(
            (*self._preset.reasoning_fields, "reasoning_content", "reasoning")))

    def __repr__(self) -> str:
        return (f"OpenAICompatModel(id={self.info.id!r}, provider={self._preset.name!r}, "
                f"base_url={self._base_url!r})")

    async def aclose(self) -> None:
        await self._pool.aclose()

    # -- request ---------------------------------------------------------------------------------

    def build_request(self, messages: list[Message], params: GenerateParams) -> tuple[dict[str, Any], list[str]]:
        """The JSON body (never holding a secret) and the parameters left out by policy."""
        body: dict[str, Any] = {
            "model": self.info.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            self._max_tokens_param: params.max_tokens,
        }
        omitted: list[str] = []
        for name, value in (("temperature", params.temperature), ("top_p", params.top_p),
                            ("seed", params.seed)):
            if value is None:
                continue
            if name in self._refused:
                omitted.append(name)
            else:
                body[name] = value
        if params.logprobs is not None:
            if self._preset.logprobs and "logprobs" not in self._refused:
                body["logprobs"] = True
                if params.logprobs > 0:
                    body["top_logprobs"] = params.logprobs
            else:
                omitted.append("logprobs")
        if self.info.thinking is not None and not self._apply_thinking(body, self.info.thinking):
            omitted.append("thinking")
        if params.answer_schema is not None:  # structured closed answer (recorded in the request)
            if "response_format" in self._refused:
                omitted.append("response_format")
            elif params.schema_style == "json_object" or (
                    params.schema_style == "auto" and self._preset.name == "llamacpp"):
                # llama-cpp-python's server (which answers json_schema with HTTP 500) and llama-server
                body["response_format"] = {"type": "json_object", "schema": params.answer_schema}
            else:  # OpenAI, vLLM, llama.cpp's llama-server
                body["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": "closed_answer", "strict": True, "schema": params.answer_schema}}
        return body, omitted

    def _apply_thinking(self, body: dict[str, Any], on: bool) -> bool:
        ctl = self._preset.thinking
        if ctl.style == "thinking_type":
            body["thinking"] = {"type": (ctl.on or "enabled") if on else (ctl.off or "disabled")}
        elif ctl.style == "enable_thinking":
            body["enable_thinking"] = on
        elif ctl.style == "reasoning_effort":
            value = ctl.on if on else ctl.off
            if value is None:
                return False
            body["reasoning_effort"] = value
        elif ctl.style == "openrouter":
            body["reasoning"] = {"enabled": on}
        elif ctl.style == "chat_template":
            body["chat_template_kwargs"] = {"enable_thinking": on}
        else:
            return False
        return True

    # -- call ------------------------------------------------------------------------------------

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion:
        body, omitted = self.build_request(messages, params)
        ex = await self._pool.exchange(self._url, body, self.info.id, self._secret)
        status, parsed, raw, headers, latency = ex.status, ex.parsed, ex.raw, ex.headers, ex.latency_ms
        if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
            parsed = parsed[0]  # Gemini's compatibility layer wraps errors in a list
        if status >= 400:
            return self._from_error(status, parsed, raw, headers, body, omitted, latency)
        if not isinstance(parsed, dict):
            raise ModelCallError(f"{self.info.id}: HTTP {status} with a body that is not JSON",
                                 retryable=True, http_status=status, raw=raw, request=body,
                                 latency_ms=latency)
        return self._from_body(status, parsed, raw, headers, body, omitted, latency)

    def _from_body(self, status: int, parsed: dict[str, Any], raw: str, headers: Mapping[str, str],
                   body: dict[str, Any], omitted: list[str], latency: float) -> Completion:
        choices = parsed.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        finish = choice.get("finish_reason")
        finish_reason = str(finish) if finish is not None else None
        block = completion_block(parsed, finish_reason)
        if not choice and block is None:
            self._raise_in_body_error(status, parsed, raw, headers, body, latency)
        message = choice.get("message") or {}
        text, reasoning = split_reasoning(message.get("content"), message, self._reasoning_fields)
        usage: dict[str, Any] = parsed["usage"] if isinstance(parsed.get("usage"), dict) else {}
        return Completion(
            text=text, reasoning=reasoning, finish_reason=finish_reason, http_status=status,
            provider_code=block.provider_code if block else None,
            tokens_in=usage.get("prompt_tokens"), tokens_out=usage.get("completion_tokens"),
            latency_ms=latency, raw=raw, request=body, omitted_params=omitted, block=block,
            top_logprobs=parse_top_logprobs(choice.get("logprobs")),
        )

    def _raise_in_body_error(self, status: int, parsed: dict[str, Any], raw: str,
                             headers: Mapping[str, str], body: dict[str, Any], latency: float) -> None:
        """A 2xx answer without choices: MiniMax base_resp codes, or an ``error`` object."""
        base = parsed.get("base_resp")
        if isinstance(base, dict) and base.get("status_code") not in (None, 0, "0"):
            try:
                num = int(base["status_code"])
            except (TypeError, ValueError):
                num = -1
            text = self._redact(str(base.get("status_msg") or ""))
            if num in _MINIMAX_FATAL:
                raise self._fatal(f"{_MINIMAX_FATAL[num]} ({num}: {text})", status, str(num), raw, body, latency)
            raise ModelCallError(f"{self.info.id}: provider code {num}: {text[:RAW_ERROR_CHARS]}",
                                 retryable=num in _MINIMAX_RETRYABLE, http_status=status,
                                 provider_code=str(num), raw=raw, request=body, latency_ms=latency,
                                 retry_after=parse_retry_after(headers))
        code, msg = _error_fields(parsed)
        err = parsed.get("error")
        inner = err.get("code") if isinstance(err, dict) else None
        retryable = isinstance(inner, int) and inner in _RETRYABLE_STATUS
        raise ModelCallError(f"{self.info.id}: HTTP {status} without choices"
                             + (f" ({code}: {msg[:RAW_ERROR_CHARS]})" if code or msg else ""),
                             retryable=retryable, http_status=status, provider_code=code or None,
                             raw=raw, request=body, latency_ms=latency)

    def _from_error(self, status: int, parsed: Any, raw: str, headers: Mapping[str, str],
                    body: dict[str, Any], omitted: list[str], latency: float) -> Completion:
        block = http_error_block(status, parsed)
        if block is not None:
            return Completion(text="", http_status=status, provider_code=block.provider_code,
                              latency_ms=latency, raw=raw, request=body, omitted_params=omitted,
                              block=block)
        code, msg = _error_fields(parsed)
        detail = f"HTTP {status}" + (f" {code}" if code else "") + (f": {msg[:RAW_ERROR_CHARS]}" if msg else "")
        retry_after = parse_retry_after(headers)
        if self._preset.business_codes == "zhipu" and code:
            if code in _ZHIPU_FATAL:
                raise self._fatal(f"{_ZHIPU_FATAL[code]} ({detail})", status, code, raw, body, latency)
            if code in _ZHIPU_RETRYABLE:
                raise ModelCallError(f"{self.info.id}: {detail}", retryable=True, http_status=status,
                                     provider_code=code, retry_after=retry_after, raw=raw,
                                     request=body, latency_ms=latency)
        if status == 402 or code in _QUOTA_CODES or (status in (400, 403, 429) and says_no_credit(code, msg)):
            raise self._fatal(f"out of credit or quota: top up the account, then run again ({detail})",
                              status, code, raw, body, latency)
        if status in (401, 403):
            hint = (f"check that {self._key_env} holds a valid key for this endpoint"
                    if self._key_env else "the endpoint asks for credentials; set api_key_env in the study")
            raise self._fatal(f"{hint} ({detail})", status, code, raw, body, latency)
        raise ModelCallError(f"{self.info.id}: {detail}", retryable=status in _RETRYABLE_STATUS or status >= 500,
                             http_status=status, provider_code=code or None, retry_after=retry_after,
                             raw=raw, request=body, latency_ms=latency)

    def _fatal(self, what: str, status: int, code: str, raw: str, body: dict[str, Any],
               latency: float) -> ModelCallError:
        return ModelCallError(f"{self.info.id}: {what}", retryable=False, fatal=True, http_status=status,
                              provider_code=code or None, raw=raw, request=body, latency_ms=latency)

    def _redact(self, text: str) -> str:
        return redact(text, self._secret)
