"""The HTTP plumbing every hosted backend shares: one pooled aiohttp session, keys from the
environment, Retry-After, transport failures as retryable errors, and redaction.

The API key lives only in the client's headers: it is never put in a request body, raw text,
messages, exceptions or reprs. aiohttp's own exceptions carry the request (headers included), so
they are never chained or quoted.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import ssl
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from twinstudy.errors import UserError
from twinstudy.models.base import ModelCallError, ModelInfo
from twinstudy.models.presets import Preset

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_MAX_CONNECTIONS = 512
RAW_ERROR_CHARS = 300  # how much of a provider's error message goes into an exception message

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
            if len(key) < MIN_KEY_CHARS:
                raise UserError(f"the API key in {name} for model '{model_id}' is only {len(key)} characters; a "
                                f"key under {MIN_KEY_CHARS} characters cannot be told apart from ordinary text, so "
                                "it could not be kept out of stored replies. Use the real key, or for a local "
                                f"server that ignores keys any longer placeholder (e.g. `export {name}=local-no-key`).")
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


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every session: building one loads the CA bundle (~0.1 s each)."""
    return ssl.create_default_context()


MIN_KEY_CHARS = 8  # shorter values cannot be told apart from ordinary text in a reply


def redact(text: str, secret: str) -> str:
    """Replace whole occurrences of ``secret`` only: not where it is part of a longer token, so
    stored model output is never altered ("Content Exists Risk" stays whole). A JSON escape such
    as ``\\n`` just before the key counts as a boundary, so an echoed key in a raw body goes too."""
    if not secret or secret not in text:
        return text
    return _redaction_pattern(secret).sub("[REDACTED]", text)


@functools.lru_cache(maxsize=16)
def _redaction_pattern(secret: str) -> re.Pattern[str]:
    return re.compile(r"(?:(?<![A-Za-z0-9_\-])|(?<=\\[nrtbf]))" + re.escape(secret) + r"(?![A-Za-z0-9_\-])")


def read_body(text: str, secret: str) -> tuple[Any, str, Any]:
    """A reply body as the backends read it: (parsed JSON of the redacted text or None, the text
    with the key redacted, the JSON parsed before redaction -- for block detection only, never
    stored). Live responses and batch result lines go through this one function."""
    try:
        clear: Any = json.loads(text) if text else None
    except ValueError:
        clear = None
    raw = redact(text, secret)
    if raw == text:
        return clear, raw, clear
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return parsed, raw, clear


@dataclass(frozen=True, slots=True)
class Exchange:
    status: int
    parsed: Any
    raw: str
    headers: Mapping[str, str]
    latency_ms: float
    clear: Any = None  # the body parsed before redaction: for block detection only, never stored


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
        parsed, raw, clear = read_body(data.decode("utf-8", "replace"), secret)
        return Exchange(status, parsed, raw, headers, latency, clear)

    async def request(self, method: str, url: str, content: bytes | None = None,
                      headers: Mapping[str, str] | None = None) -> tuple[int, bytes, Mapping[str, str]]:
        """Any method (the batch adapters' GET and multipart POST): status, body bytes, headers.
        Raises aiohttp / timeout errors like :meth:`post` (see :meth:`failure`)."""
        async with self._open().request(method, url, data=content, headers=headers,
                                        allow_redirects=False) as resp:
            return resp.status, await resp.read(), resp.headers

    async def get_lines(self, url: str) -> AsyncGenerator[tuple[int, bytes], None]:
        """GET a JSONL body line by line without holding it whole: ``(status, b"")`` first, then
        ``(status, line)`` per line (no size limit per line). On a status >= 400 the second item
        is the whole (short) error body. Raises aiohttp / timeout errors like :meth:`post`."""
        async with self._open().get(url, allow_redirects=False) as resp:
            status = resp.status
            yield status, b""
            if status >= 400:
                yield status, await resp.read()
                return
            rest = b""
            async for chunk in resp.content.iter_chunked(1 << 16):
                rest += chunk
                if b"\n" not in chunk:
                    continue
                *whole, rest = rest.split(b"\n")
                for line in whole:
                    yield status, line
            if rest:
                yield status, rest

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
