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
from twinstudy.models.base import (
    Capabilities,
    Completion,
    GenerateParams,
    Message,
    ModelCallError,
    ModelInfo,
    ThinkingControl,
)
from twinstudy.models.blocks import completion_block, http_error_block
from twinstudy.models.healing import ParamFix, diagnose
from twinstudy.models.presets import Preset, get_preset
from twinstudy.models.provider_codes import CodeVerdict, code_table

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_MAX_CONNECTIONS = 512
RAW_ERROR_CHARS = 300  # how much of a provider's error message goes into an exception message

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
_QUOTA_CODES = frozenset({"insufficient_quota", "exceeded_current_quota_error", "billing_hard_limit_reached"})

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


def key_envs(info: ModelInfo, preset: Preset) -> tuple[str, ...]:
    """Variables that may hold this model's key, in the order read: the model's own, else the
    preset's, then the preset's older names (accepted while the run uses them unambiguously)."""
    if info.api_key_env:
        return (info.api_key_env,)
    if not preset.api_key_env:
        return ()
    return (preset.api_key_env, *preset.legacy_key_envs)


def read_api_key(env: str | tuple[str, ...] | None, model_id: str) -> str | None:
    """The key from the first set variable (``None`` if the endpoint needs none); none set -> a
    UserError naming the variable to set."""
    names = (env,) if isinstance(env, str) else tuple(env or ())
    if not names:
        return None
    for name in names:
        key = os.environ.get(name, "").strip()
        if key:
            return key
    first = names[0]
    older = f" (the older name {', '.join(names[1:])} is also read)" if len(names) > 1 else ""
    raise UserError(f"model '{model_id}' needs an API key: set the environment variable {first}{older} "
                    f"(e.g. `export {first}=...`), or leave the model out of the study "
                    "(--skip-unavailable runs the rest).")


def used_key_env(names: tuple[str, ...]) -> str | None:
    """Which of ``names`` a backend reads now (the first one set), or None."""
    return next((n for n in names if os.environ.get(n, "").strip()), None)


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


def split_reasoning(content: Any, message: dict[str, Any], fields: tuple[str, ...],
                    think_tags: bool = True) -> tuple[str, str | None]:
    """Answer text without reasoning, and the reasoning (from message fields, and from inline
    <think> tags where the preset says reasoning may come that way)."""
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    text = content if isinstance(content, str) else ""
    parts: list[str] = []
    for name in fields:
        value = message.get(name)
        if isinstance(value, str) and value:
            parts.append(value)
            break
    if think_tags and ("</think>" in text or text.lstrip().startswith("<think>")):
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


def effective_thinking(info: ModelInfo) -> bool:
    """Whether the model thinks on this request: the study's word, else the model's default."""
    if info.reasoning_model:
        return True
    if info.thinking is not None:
        return info.thinking
    return info.thinks_by_default and info.reasoning_effort != "none"


class ParamMemory:
    """Self-healing changes learned during a run, applied to every later request of one backend."""

    def __init__(self) -> None:
        self.fixes: dict[str, ParamFix] = {}

    def apply(self, body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        records = []
        for fix in self.fixes.values():
            if fix.param in body or fix.action == "set":
                body = fix.apply(body)
                records.append(fix.record())
        return body, records

    def learn(self, status: int, parsed: Any, body: dict[str, Any]) -> ParamFix | None:
        """A new fix for this 400 (None if it names nothing fixable or a parameter fixed before)."""
        fix = diagnose(status, parsed, body)
        if fix is None or fix.param in self.fixes:
            return None
        self.fixes[fix.param] = fix
        return fix


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
        names = key_envs(info, self._preset)
        key = read_api_key(names, info.id)
        self._key_env = used_key_env(names) or (names[0] if names else None)
        self._secret = key or ""
        headers = {"content-type": "application/json", "accept": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        self.timeout = info.timeout or timeout
        self._pool = HttpClient(base_url=self._base_url, headers=headers, timeout=self.timeout,
                                max_connections=max_connections)
        self._refused = frozenset(self._preset.refuses) | frozenset(info.omit_params)
        self._max_tokens_param = info.max_tokens_param or self._preset.max_tokens_param
        self._reasoning_fields = tuple(dict.fromkeys(
            (*self._preset.reasoning_fields, "reasoning_content", "reasoning")))
        self._logprobs = self._preset.logprobs if info.logprobs is None else info.logprobs
        self._codes = code_table(self._preset.business_codes)
        self.memory = ParamMemory()
        self.capabilities = Capabilities(streaming=False, logprobs=self._logprobs)

    def __repr__(self) -> str:
        return (f"OpenAICompatModel(id={self.info.id!r}, provider={self._preset.name!r}, "
                f"base_url={self._base_url!r})")

    async def aclose(self) -> None:
        await self._pool.aclose()

    # -- request ---------------------------------------------------------------------------------

    def build_request(self, messages: list[Message], params: GenerateParams) -> tuple[dict[str, Any], list[str]]:
        """The JSON body (never holding a secret) and the parameters left out by policy.

        Thinking and sampling follow the model first, then the preset: the model's own thinking
        switch, effort and the parameters it rejects while thinking.
        """
        body: dict[str, Any] = {
            "model": self.info.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            self._max_tokens_param: params.max_tokens,
        }
        omitted: list[str] = []
        thinks = effective_thinking(self.info)
        refused = self._refused | (frozenset(self.info.omit_when_thinking) if thinks else frozenset())
        for name, value in (("temperature", params.temperature), ("top_p", params.top_p),
                            ("seed", params.seed)):
            if value is None:
                continue
            if name in refused:
                omitted.append(name)
            else:
                body[name] = value
        if params.logprobs is not None:
            if self._logprobs and "logprobs" not in refused:
                body["logprobs"] = True
                if params.logprobs > 0:
                    body["top_logprobs"] = params.logprobs
            else:
                omitted.append("logprobs")
        self._thinking_fields(body, omitted)
        return body, omitted

    def _thinking_fields(self, body: dict[str, Any], omitted: list[str]) -> None:
        ctl = self.info.thinking_control or self._preset.thinking
        wanted = self.info.thinking
        if wanted is None and self._preset.thinking_needs_streaming and ctl.style != "none":
            wanted = False  # thinking needs a stream here and twinstudy never streams
        elif wanted and self._preset.thinking_needs_streaming:
            omitted.append("thinking")  # would be a 400 on a non-streamed call
            wanted = None
        if wanted is False and self.info.reasoning_model:
            omitted.append("thinking")  # always thinks: an off switch would be ignored or a 400
            wanted = None
        if wanted is not None and not _apply_thinking(ctl, body, wanted):
            omitted.append("thinking")
        effort = self.info.reasoning_effort
        if effort is None:
            return
        if wanted is False:
            omitted.append("reasoning_effort")  # thinking off wins over an effort
        elif ctl.style == "openrouter":
            body["reasoning"] = {**body.get("reasoning", {}), "effort": effort}
        else:
            body["reasoning_effort"] = effort

    # -- call ------------------------------------------------------------------------------------

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion:
        built, omitted = self.build_request(messages, params)
        body, adjusted = self.memory.apply(built)
        ex = await self._pool.exchange(self._url, body, self.info.id, self._secret)
        parsed = _unwrap(ex.parsed)
        if ex.status in (400, 422) and http_error_block(ex.status, parsed) is None:
            fix = self.memory.learn(ex.status, parsed, body)
            if fix is not None:  # retry once with exactly that parameter changed
                body = fix.apply(body)
                adjusted = [*adjusted, fix.record()]
                ex = await self._pool.exchange(self._url, body, self.info.id, self._secret)
                parsed = _unwrap(ex.parsed)
        status, raw, headers, latency = ex.status, ex.raw, ex.headers, ex.latency_ms
        if status >= 400:
            done = self._from_error(status, parsed, raw, headers, body, omitted, latency)
        elif not isinstance(parsed, dict):
            raise ModelCallError(f"{self.info.id}: HTTP {status} with a body that is not JSON",
                                 retryable=True, http_status=status, raw=raw, request=body,
                                 latency_ms=latency)
        else:
            done = self._from_body(status, parsed, raw, headers, body, omitted, latency)
        done.adjusted_params = adjusted
        return done

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
        text, reasoning = split_reasoning(message.get("content"), message, self._reasoning_fields,
                                          think_tags=self._preset.think_tags)
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
        """A 2xx answer without choices: a business code from the preset's table, or an ``error``."""
        code, msg = _error_fields(parsed)
        verdict = self._codes(status, parsed, code, msg)
        if verdict is not None:
            raise self._verdict(verdict, status, raw, body, latency, parse_retry_after(headers))
        err = parsed.get("error")
        inner = err.get("code") if isinstance(err, dict) else None
        retryable = isinstance(inner, int) and inner in _RETRYABLE_STATUS
        raise ModelCallError(f"{self.info.id}: HTTP {status} without choices"
                             + (f" ({code}: {msg[:RAW_ERROR_CHARS]})" if code or msg else ""),
                             retryable=retryable, http_status=status, provider_code=code or None,
                             raw=raw, request=body, latency_ms=latency)

    def _verdict(self, v: CodeVerdict, status: int, raw: str, body: dict[str, Any], latency: float,
                 retry_after: float | None, detail: str = "") -> ModelCallError:
        what = self._redact(" ".join(x for x in (v.what, f"({detail})" if detail else "") if x))
        if v.kind == "fatal":
            return self._fatal(what, status, v.code, raw, body, latency)
        return ModelCallError(f"{self.info.id}: {what[:RAW_ERROR_CHARS]}", retryable=v.kind == "retryable",
                              http_status=status, provider_code=v.code, retry_after=retry_after, raw=raw,
                              request=body, latency_ms=latency)

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
        verdict = self._codes(status, parsed, code, msg)
        if verdict is not None:
            raise self._verdict(verdict, status, raw, body, latency, retry_after, detail)
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


def _unwrap(parsed: Any) -> Any:
    """Gemini's compatibility layer wraps errors in a list."""
    if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
        return parsed[0]
    return parsed


def _apply_thinking(ctl: ThinkingControl, body: dict[str, Any], on: bool) -> bool:
    """Put the switch in the body; False when this control cannot express the request."""
    if ctl.style == "thinking_type":
        value = (ctl.on or "enabled") if on else ctl.off
        if value is None:
            return False
        body["thinking"] = {"type": value}
    elif ctl.style == "enable_thinking":
        body["enable_thinking"] = on
    elif ctl.style == "reasoning_effort":
        effort = ctl.on if on else ctl.off
        if effort is None:
            return False
        body["reasoning_effort"] = effort
    elif ctl.style == "openrouter":
        body["reasoning"] = {"enabled": on}
    elif ctl.style == "chat_template":
        body["chat_template_kwargs"] = {ctl.key: on}
    else:
        return False
    return True
