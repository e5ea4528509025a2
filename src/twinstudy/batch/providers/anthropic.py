"""Anthropic's Message Batches API.

- ``POST /v1/messages/batches {"requests": [{"custom_id", "params": <Messages body>}]}``; up to
  100,000 requests or 256 MB per batch.
- ``GET /v1/messages/batches/{id}``: ``processing_status`` in_progress / canceling / ended,
  ``request_counts {processing, succeeded, errored, canceled, expired}``, ``cancel_initiated_at``,
  ``results_url``.
- ``GET results_url``: JSONL ``{"custom_id", "result": {"type": "succeeded", "message": {...}}}``,
  ``{"type": "errored", "error": {"type": "error", "error": {"type", "message"}}}``,
  ``{"type": "canceled"}`` or ``{"type": "expired"}``.
- ``POST /v1/messages/batches/{id}/cancel``.

Sources: the batch object and its endpoints from Anthropic's own API reference
(https://platform.claude.com/docs/en/api/retrieving-message-batches, .../canceling-message-batches);
the result lines from its reference for retrieving results
(https://docs.anthropic.com/en/api/retrieving-message-batch-results: one JSON object per request,
in no guaranteed order, matched by custom_id; "a Message output if processing was successful, an
error response if processing failed, or the reason why processing was not attempted, such as
cancellation or expiration") with the type names from Anthropic's own SDK (``@anthropic-ai/sdk``
``resources/messages/batches.ts``: MessageBatchIndividualResponse, MessageBatchResult); the limits
(100,000 requests, 256 MB) from a secondary page (apidog, 2026-11-02). An ``errored`` line carries
no HTTP status; it is given the status Anthropic documents for its error type (invalid_request_error
400, authentication_error 401, ... overloaded_error 529) and read by the live backend's reader.

``custom_id`` must match ``^[a-zA-Z0-9_-]{1,64}$``. twinstudy's trial keys (32 hex digits) always
fit and are sent unchanged; any other id is sent as ``x-`` plus its unpadded base64url encoding
(reversible, so nothing needs recording), and ids that already start with ``x-`` are encoded too.
An id whose encoding would pass 64 characters is refused before anything is sent.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from twinstudy.batch.api import BatchLine, BatchState, BatchStatus, LineResult, Submitted
from twinstudy.batch.providers._http import BatchHttp, as_dict, each_once, expired_error, result_object
from twinstudy.models.anthropic import AnthropicModel
from twinstudy.models.base import ModelCallError

_ID_OK = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ENCODED = "x-"
#: The HTTP status Anthropic documents for each error type (https://docs.claude.com/en/api/errors).
ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
                "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
                "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529}


def _unix(stamp: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 time (``2024-08-20T18:37:24.100435Z``), or None."""
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def to_custom_id(key: str) -> str:
    """The id sent for a trial key: unchanged when it fits Anthropic's pattern, else encoded."""
    if _ID_OK.match(key) and not key.startswith(_ENCODED):
        return key
    encoded = _ENCODED + base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii").rstrip("=")
    if len(encoded) > 64:
        raise ValueError(f"custom_id {key[:40]!r}... cannot be sent to Anthropic: it does not match "
                         "^[a-zA-Z0-9_-]{1,64}$ and its encoding is longer than 64 characters")
    return encoded


def from_custom_id(cid: str) -> str:
    """The trial key a returned custom_id stands for (inverse of :func:`to_custom_id`)."""
    if not cid.startswith(_ENCODED):
        return cid
    body = cid[len(_ENCODED):]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return cid


class AnthropicBatch:
    """:class:`~twinstudy.batch.api.BatchAPI` over Anthropic's Message Batches."""

    def __init__(self, model: AnthropicModel, *, provider: str = "anthropic", max_lines: int = 100_000) -> None:
        self.model = model
        self.provider = provider
        self.max_lines = max_lines
        pool, secret = model.transport()
        self.http = BatchHttp(model.info.id, pool, secret)
        base = model.base_url
        self._root = base[: -len("/v1")] if base.endswith("/v1") else base
        self._batches = self._root + "/v1/messages/batches"

    def __repr__(self) -> str:
        return f"AnthropicBatch(model={self.model.info.id!r}, base={self._root!r})"

    def request_of(self, line: BatchLine) -> tuple[dict[str, Any], list[str]]:
        return self.model.build_request(line.messages, line.params)

    def line_body(self, line: BatchLine) -> dict[str, object]:
        params, _ = self.request_of(line)
        return {"custom_id": to_custom_id(line.custom_id), "params": params}

    def create_body(self, lines: list[BatchLine]) -> dict[str, Any]:
        if len(lines) > self.max_lines:
            raise ValueError(f"{len(lines)} lines exceed Anthropic's batch limit of {self.max_lines}; "
                             "split them into several batches")
        ids = [ln.custom_id for ln in lines]
        if len(set(ids)) != len(ids):
            raise ValueError("custom_id values must be unique within a batch")
        return {"requests": [self.line_body(ln) for ln in lines]}

    async def submit(self, lines: list[BatchLine]) -> Submitted:
        created = await self.http.call_json("POST", self._batches, "create", json_body=self.create_body(lines))
        batch_id = str(created.get("id") or "")
        if not batch_id:
            raise ModelCallError(f"{self.model.info.id}: batch create returned no batch id", retryable=True)
        return Submitted(batch_id=batch_id, state=self._status(created).state)

    async def find_created_since(self, since: float, n_lines: int) -> Submitted | None:
        """The batch a submission interrupted between create and record made, when it can be told
        apart. Anthropic's batches carry no metadata, so this adapter is not ``FindsOwnBatches`` but ``FindsByCreation``;
        instead: the one batch (of the last 100) created at or after ``since`` (Unix seconds,
        recorded before sending, minus whatever clock skew the caller allows) with exactly
        ``n_lines`` requests. None when there is no such batch or more than one (the caller
        decides; sending again may duplicate)."""
        listed = await self.http.call_json("GET", f"{self._batches}?limit=100", "list")
        found = []
        for b in listed.get("data") or ():
            b = as_dict(b)
            created = _unix(b.get("created_at"))
            counts = as_dict(b.get("request_counts"))
            total = sum(v for v in counts.values() if isinstance(v, int) and not isinstance(v, bool))
            if b.get("id") and created is not None and created >= since and total == n_lines:
                found.append(b)
        if len(found) != 1:
            return None
        return Submitted(batch_id=str(found[0]["id"]), state=self._status(found[0]).state)

    def _one(self, batch_id: str) -> str:
        """The address of one batch; its id (from the provider or the store) is one path segment."""
        return f"{self._batches}/{quote(batch_id, safe='')}"

    async def poll(self, batch_id: str) -> BatchStatus:
        return self._status(await self.http.call_json("GET", self._one(batch_id), "poll"))

    async def cancel(self, batch_id: str) -> BatchStatus:
        return self._status(await self.http.call_json("POST", self._one(batch_id) + "/cancel", "cancel"))

    def _status(self, b: dict[str, Any]) -> BatchStatus:
        ps = str(b.get("processing_status") or "")
        counts = as_dict(b.get("request_counts"))
        n = {k: v for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool)}
        state: BatchState
        if ps == "in_progress":
            state = "in_progress"
        elif ps == "canceling":
            state = "cancelling"
        elif ps == "ended":
            state = "cancelled" if b.get("cancel_initiated_at") else "completed"
        else:
            raise ModelCallError(self.http.redact(f"{self.model.info.id}: batch processing_status '{ps[:40]}' "
                                                  "is not one twinstudy knows"), retryable=True)
        finished = sum(n.get(k, 0) for k in ("succeeded", "errored", "canceled", "expired"))
        results_url = b.get("results_url")
        return BatchStatus(state=state, total=finished + n.get("processing", 0) if n else None,
                           done=finished if n else None,
                           failed=sum(n.get(k, 0) for k in ("errored", "canceled", "expired")) if n else None,
                           output_file_id=results_url if isinstance(results_url, str) and results_url else None)

    def _results_url(self, batch_id: str, status: BatchStatus) -> str:
        """The results address; one on another host than the API is not followed (the session
        would send the key there), the documented path is used instead."""
        own = self._one(batch_id) + "/results"
        given = status.output_file_id
        if not given:
            return own
        a, b = urlsplit(given), urlsplit(self._root)
        return given if (a.scheme, a.netloc) == (b.scheme, b.netloc) else own

    async def results(self, batch_id: str, status: BatchStatus, *,
                      lines: Mapping[str, BatchLine] | None = None) -> AsyncIterator[LineResult]:
        """Every result line (each custom_id once), keyed by the trial key. ``lines`` (trial key ->
        line as sent) fills ``Completion.request``/``omitted_params``; results do not echo them."""
        async for got in each_once(self.http.lines(self._results_url(batch_id, status), "result download"),
                                   lambda text: self.read_line(text, lines)):
            yield got

    def read_line(self, text: str, lines: Mapping[str, BatchLine] | None = None) -> LineResult | None:
        obj = result_object(text)
        if obj is None:
            return None
        key = from_custom_id(obj["custom_id"])
        request, omitted = self.request_of(lines[key]) if lines and key in lines else ({}, [])
        result = as_dict(obj.get("result"))
        kind = result.get("type")
        if kind in ("canceled", "expired"):
            why = "the batch was cancelled" if kind == "canceled" else "the batch expired first"
            return LineResult(key, error=expired_error(self.model.info.id, key, why, str(kind)), expired=True)
        if kind == "succeeded" and isinstance(result.get("message"), dict):
            status, body = 200, result["message"]
        elif kind == "errored":
            body = as_dict(result.get("error"))
            inner = as_dict(body.get("error"))
            status = ERROR_STATUS.get(str(inner.get("type") or ""), 500)
        else:
            return LineResult(key, error=ModelCallError(
                f"{self.model.info.id}: batch line {key} has a result of unknown type", retryable=True,
                raw=self.http.redact(text[:300]), request=request))
        parsed, raw, clear = self.http.read_line_body(body)
        try:
            return LineResult(key, completion=self.model.read_response(status, parsed, raw, request, list(omitted),
                                                                       clear=clear))
        except ModelCallError as exc:
            return LineResult(key, error=exc)

    async def aclose(self) -> None:
        await self.model.aclose()
