"""What every batch adapter shares: calls to the provider's batch endpoints and reading result lines.

The adapters reuse the live backend's pooled session (whose headers carry the key) and its key,
only to redact replies. A management call (upload, create, poll, fetch, cancel) that fails raises
:class:`ModelCallError` like a live call: transport failures and 408/409/429/5xx are retryable,
401/403 and "out of credit" are fatal, other 4xx are not retryable. Messages quote at most
``RAW_ERROR_CHARS`` of the provider's text, with the key redacted; aiohttp's own exceptions (which
carry the request headers) are never chained or quoted.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from twinstudy.batch.api import LineResult
from twinstudy.models.base import ModelCallError
from twinstudy.models.http import (
    RAW_ERROR_CHARS,
    HttpClient,
    parse_retry_after,
    read_body,
    redact,
    says_no_credit,
)

_RETRYABLE = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (provider replies are untrusted)."""
    return value if isinstance(value, dict) else {}


def result_object(text: str) -> dict[str, Any] | None:
    """One result-file line as a JSON object with a string ``custom_id``; None for anything else
    (a blank or broken line, which the provider's format does not promise never to send)."""
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("custom_id"), str):
        return None
    return obj


async def each_once(texts: AsyncIterator[str],
                    read: Callable[[str], LineResult | None]) -> AsyncIterator[LineResult]:
    """The lines ``read`` understands, each custom_id once: a provider may repeat a line (a retried
    download, the same id in the output and the error file) and a trial must get one result."""
    seen: set[str] = set()
    async for text in texts:
        got = read(text)
        if got is None or got.custom_id in seen:
            continue
        seen.add(got.custom_id)
        yield got


def dumps(obj: Any) -> str:
    """One compact JSON line (non-ASCII kept: prompts in Chinese stay readable and shorter)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def multipart(fields: Mapping[str, str], file_field: str, filename: str, content: bytes,
              content_type: str = "application/jsonl") -> tuple[bytes, str]:
    """A multipart/form-data body and its content type, built by hand: the session's default
    ``content-type: application/json`` would otherwise win over aiohttp's form encoding."""
    boundary = f"twinstudy-{uuid.uuid4().hex}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\ncontent-disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                     .encode())
    parts.append(f'--{boundary}\r\ncontent-disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
                 f"content-type: {content_type}\r\n\r\n".encode())
    parts.append(content)
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class BatchHttp:
    """Calls to one provider's batch endpoints with the backend's session and key."""

    def __init__(self, model_id: str, pool: HttpClient, secret: str) -> None:
        self.model_id = model_id
        self._pool = pool
        self._secret = secret
        self.requests = 0  # calls made (for the benchmark)
        self.bytes_sent = 0

    def redact(self, text: str) -> str:
        return redact(text, self._secret)

    def read_line_body(self, body: Any) -> tuple[Any, str, Any]:
        """A result line's response body read as a live reply would be: (parsed with the key
        redacted, raw text with the key redacted, parsed before redaction for block detection)."""
        return read_body(dumps(body), self._secret)

    async def call(self, method: str, url: str, what: str, *, json_body: Any = None, content: bytes | None = None,
                   content_type: str | None = None) -> bytes:
        """The reply body of one management call; raises ModelCallError on failure (see module doc)."""
        headers: dict[str, str] = {}
        if json_body is not None:
            content = dumps(json_body).encode("utf-8")
        if content is not None:
            headers["content-type"] = content_type or "application/json"
            self.bytes_sent += len(content)
        self.requests += 1
        start = time.perf_counter()
        failed: str | None = None
        try:
            status, data, resp_headers = await self._pool.request(method, url, content, headers or None)
        except Exception as exc:
            if HttpClient.failure(exc) is None:
                raise
            failed = f"{HttpClient.failure(exc)} ({type(exc).__name__})"
        if failed is not None:  # raised outside the except block: aiohttp's exception is not chained
            raise ModelCallError(f"{self.model_id}: batch {what} failed: {failed}", retryable=True,
                                 latency_ms=(time.perf_counter() - start) * 1000)
        if status >= 400:
            raise self._error(status, data, resp_headers, what)
        return data

    async def lines(self, url: str, what: str) -> AsyncIterator[str]:
        """The non-empty lines of a JSONL download, streamed (a result file is never held whole);
        failures raise ModelCallError as :meth:`call` does."""
        self.requests += 1
        start = time.perf_counter()
        stream = self._pool.get_lines(url)
        failed: str | None = None
        status = 0
        try:
            async for status, raw in stream:
                if status >= 400:
                    if raw:
                        raise self._error(status, raw, {}, what)
                    continue
                if raw.strip():
                    yield raw.decode("utf-8", "replace")
        except Exception as exc:
            kind = HttpClient.failure(exc)
            if kind is None:
                raise
            failed = f"{kind} ({type(exc).__name__})"
        finally:
            await stream.aclose()
        if failed is not None:  # raised outside the except block: aiohttp's exception is not chained
            raise ModelCallError(f"{self.model_id}: batch {what} failed: {failed}", retryable=True,
                                 latency_ms=(time.perf_counter() - start) * 1000)

    async def call_json(self, method: str, url: str, what: str, **kw: Any) -> dict[str, Any]:
        data = await self.call(method, url, what, **kw)
        try:
            parsed = json.loads(data.decode("utf-8", "replace"))
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ModelCallError(f"{self.model_id}: batch {what}: the provider's reply is not a JSON object",
                                 retryable=True, raw=self.redact(data[:RAW_ERROR_CHARS].decode("utf-8", "replace")))
        return parsed

    def _error(self, status: int, data: bytes, headers: Mapping[str, str], what: str) -> ModelCallError:
        parsed, raw, _ = read_body(data.decode("utf-8", "replace"), self._secret)
        err = parsed.get("error") if isinstance(parsed, dict) else None
        code = msg = ""
        if isinstance(err, dict):
            code = str(err.get("code") or err.get("type") or "")
            msg = str(err.get("message") or "")
        elif isinstance(parsed, dict):
            code, msg = str(parsed.get("code") or ""), str(parsed.get("message") or "")
        detail = f"HTTP {status}" + (f" {code}" if code else "") + (f": {msg[:RAW_ERROR_CHARS]}" if msg else "")
        fatal = status in (401, 402, 403) or says_no_credit(code, msg)
        hint = ""
        if status in (401, 403):
            hint = " (check the API key and that the account may use the batch API)"
        elif fatal:
            hint = " (out of credit: top up the account, then run again)"
        return ModelCallError(self.redact(f"{self.model_id}: batch {what} refused: {detail}{hint}"),
                              retryable=not fatal and (status in _RETRYABLE or status >= 500), fatal=fatal,
                              http_status=status, provider_code=code or None,
                              retry_after=parse_retry_after(headers), raw=raw)


def expired_error(model_id: str, custom_id: str, why: str, code: str) -> ModelCallError:
    """A line the provider never ran (the batch expired or was cancelled): retryable, send again."""
    return ModelCallError(f"{model_id}: batch line {custom_id} was not run ({why})", retryable=True,
                          provider_code=code)
