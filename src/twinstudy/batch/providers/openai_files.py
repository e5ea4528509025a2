"""The OpenAI files-and-batches protocol, which several providers copy.

1. ``POST {base}/files`` (multipart, ``purpose=batch``) with a JSONL file, one request a line:
   ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {...}}``.
2. ``POST {base}/batches {input_file_id, endpoint, completion_window: "24h", metadata}``.
3. ``GET {base}/batches/{id}``: ``status`` validating / in_progress / finalizing / completed / failed /
   expired / cancelling / cancelled, ``request_counts {total, completed, failed}``,
   ``output_file_id``, ``error_file_id``, ``errors.data[]`` for a batch that failed validation.
4. ``GET {base}/files/{id}/content``: JSONL lines ``{id, custom_id, response: {status_code,
   request_id, body}, error}``. A line the provider ran carries ``response`` (any HTTP status, so a
   400 block is there with its body); a line it never ran carries ``error {code, message}`` with
   ``batch_expired`` or ``batch_cancelled``.
5. ``POST {base}/batches/{id}/cancel``.

Where each shape comes from:

- OpenAI: its own guide and API reference (https://developers.openai.com/api/docs/guides/batch;
  "Create batch": endpoint, completion_window "24h", up to 50,000 requests / 200 MB per file,
  metadata up to 16 pairs). The ``batch_expired`` / ``batch_cancelled`` line codes are from the
  same guide's section on expired batches as we remember it; not re-read in a stored copy.
- Zhipu BigModel: its own pages (https://docs.bigmodel.cn/cn/faq/batch-api-issues: 50,000 requests /
  100 MB, 50% price; create-batch reference: endpoint ``/v4/chat/completions``, base
  ``/api/paas/v4``). Output-line shape: the same as OpenAI per the reviewer's reading; not verified.
- DashScope: its own page (https://www.alibabacloud.com/help/doc-detail/2864784.html, "OpenAI
  compatible", result file plus error file). Moonshot: its own API reference
  (https://platform.kimi.ai/docs/api/batch-create). Gemini: Google's own announcement that the
  OpenAI SDK drives Gemini batches through the OpenAI-compatible layer (see presets.yaml).

Lines are built by the live backend's own ``build_request`` and read by its ``read_response``, so a
batch line and a live call of the same trial send the same body and classify the same reply the
same way (blocks, business codes, truncation, provider errors, key redaction).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from twinstudy.batch.api import BatchLine, BatchState, BatchStatus, LineResult, Submitted
from twinstudy.batch.providers._http import (
    BatchHttp,
    as_dict,
    dumps,
    each_once,
    expired_error,
    multipart,
    result_object,
)
from twinstudy.models.base import Completion, ModelCallError
from twinstudy.models.blocks import http_error_block
from twinstudy.models.http import RAW_ERROR_CHARS
from twinstudy.models.openai_compat import OpenAICompatModel

_STATES: dict[str, BatchState] = {
    "validating": "validating", "in_progress": "in_progress", "finalizing": "finalizing",
    "completed": "completed", "failed": "failed", "expired": "expired", "cancelling": "cancelling",
    "cancelled": "cancelled",
}
#: Line error codes meaning "never run": send the line again.
NOT_RUN = {"batch_expired": "the batch expired first", "batch_cancelled": "the batch was cancelled"}


class OpenAIFilesBatch:
    """:class:`~twinstudy.batch.api.BatchAPI` for OpenAI and every provider that copies its protocol."""

    def __init__(self, model: OpenAICompatModel, *, provider: str, url: str = "/v1/chat/completions",
                 max_lines: int = 50_000, completion_window: str = "24h") -> None:
        self.model = model
        self.provider = provider
        self.max_lines = max_lines
        self.url = url  # the `url` of each line and the batch's `endpoint`
        self.completion_window = completion_window
        pool, secret = model.transport()
        self.http = BatchHttp(model.info.id, pool, secret)
        self._base = model.base_url

    def __repr__(self) -> str:
        return f"OpenAIFilesBatch(model={self.model.info.id!r}, provider={self.provider!r}, base={self._base!r})"

    def request_of(self, line: BatchLine) -> tuple[dict[str, Any], list[str]]:
        """The live body of this line and the parameters left out by policy."""
        return self.model.build_request(line.messages, line.params)

    def line_body(self, line: BatchLine) -> dict[str, object]:
        body, _ = self.request_of(line)
        return {"custom_id": line.custom_id, "method": "POST", "url": self.url, "body": body}

    def jsonl(self, lines: list[BatchLine]) -> bytes:
        """The input file: one compact JSON object a line."""
        if len(lines) > self.max_lines:
            raise ValueError(f"{len(lines)} lines exceed {self.provider}'s batch limit of {self.max_lines}; "
                             "split them into several batches")
        ids = [ln.custom_id for ln in lines]
        if len(set(ids)) != len(ids):
            raise ValueError("custom_id values must be unique within a batch")
        return "".join(dumps(self.line_body(ln)) + "\n" for ln in lines).encode("utf-8")

    async def submit(self, lines: list[BatchLine], *, metadata: Mapping[str, str] | None = None) -> Submitted:
        """Upload the file, then create the batch. ``metadata`` (at most 16 short pairs; the
        orchestrator's tag, written to the store before sending) is kept with the batch by the
        provider, so :meth:`find_submitted` recognises a batch created just before a crash instead
        of it being sent twice (:class:`~twinstudy.batch.api.FindsOwnBatches`)."""
        content, ctype = multipart({"purpose": "batch"}, "file", "twinstudy-batch.jsonl", self.jsonl(lines))
        uploaded = await self.http.call_json("POST", f"{self._base}/files", "file upload", content=content,
                                             content_type=ctype)
        file_id = str(uploaded.get("id") or "")
        if not file_id:
            raise ModelCallError(f"{self.model.info.id}: batch file upload returned no file id", retryable=True)
        create: dict[str, Any] = {"input_file_id": file_id, "endpoint": self.url,
                                  "completion_window": self.completion_window}
        if metadata:
            create["metadata"] = dict(metadata)
        created = await self.http.call_json("POST", f"{self._base}/batches", "create", json_body=create)
        batch_id = str(created.get("id") or "")
        if not batch_id:
            raise ModelCallError(f"{self.model.info.id}: batch create returned no batch id", retryable=True)
        return Submitted(batch_id=batch_id, input_file_id=file_id, state=self._status(created).state)

    async def find_submitted(self, metadata_key: str, value: str) -> Submitted | None:
        """The batch (among the provider's last 100) created with ``metadata[metadata_key] == value``,
        or None."""
        listed = await self.http.call_json("GET", f"{self._base}/batches?limit=100", "list")
        for b in listed.get("data") or ():
            meta = as_dict(b).get("metadata")
            if isinstance(meta, dict) and meta.get(metadata_key) == value and b.get("id"):
                return Submitted(batch_id=str(b["id"]), input_file_id=b.get("input_file_id"),
                                 state=self._status(b).state)
        return None

    async def poll(self, batch_id: str) -> BatchStatus:
        return self._status(await self.http.call_json("GET", f"{self._base}/batches/{_q(batch_id)}", "poll"))

    async def cancel(self, batch_id: str) -> BatchStatus:
        return self._status(await self.http.call_json("POST", f"{self._base}/batches/{_q(batch_id)}/cancel", "cancel"))

    def _status(self, b: dict[str, Any]) -> BatchStatus:
        raw_state = str(b.get("status") or "")
        state = _STATES.get(raw_state)
        if state is None:
            raise ModelCallError(self.http.redact(f"{self.model.info.id}: batch state '{raw_state[:40]}' is not "
                                                  "one twinstudy knows"), retryable=True)
        counts = as_dict(b.get("request_counts"))
        total, completed, failed = (_int(counts.get(k)) for k in ("total", "completed", "failed"))
        done = None if completed is None and failed is None else (completed or 0) + (failed or 0)
        errors = b.get("errors")
        data = errors.get("data") if isinstance(errors, dict) else None
        message = "; ".join(
            f"{e.get('code') or ''}: {e.get('message') or ''}".strip(": ")
            + (f" (line {e['line']})" if e.get("line") is not None else "")
            for e in (data or ())[:3] if isinstance(e, dict))
        return BatchStatus(state=state, total=total, done=done, failed=failed,
                           output_file_id=_str(b.get("output_file_id")), error_file_id=_str(b.get("error_file_id")),
                           message=self.http.redact(message[:RAW_ERROR_CHARS]))

    async def results(self, batch_id: str, status: BatchStatus, *,
                      lines: Mapping[str, BatchLine] | None = None) -> AsyncIterator[LineResult]:
        """Every line of the output file, then of the error file (each custom_id once).

        The provider's files do not echo the request, so ``Completion.request`` and
        ``omitted_params`` are filled only when ``lines`` (custom_id -> the line as sent) is given;
        lines the provider never answered are not yielded (the caller sends them again)."""
        async def texts() -> AsyncIterator[str]:
            for file_id in (status.output_file_id, status.error_file_id):
                if file_id:
                    async for text in self.http.lines(f"{self._base}/files/{_q(file_id)}/content", "result download"):
                        yield text

        async for got in each_once(texts(), lambda text: self.read_line(text, lines)):
            yield got

    def read_line(self, text: str, lines: Mapping[str, BatchLine] | None = None) -> LineResult | None:
        """One output or error file line as a :class:`LineResult` (None when it has no custom_id)."""
        obj = result_object(text)
        if obj is None:
            return None
        cid: str = obj["custom_id"]
        request, omitted = self.request_of(lines[cid]) if lines and cid in lines else ({}, [])
        response = obj.get("response")
        if isinstance(response, dict) and response.get("body") is not None:
            status = _int(response.get("status_code")) or 200
            parsed, raw, clear = self.http.read_line_body(response["body"])
            try:
                done: Completion = self.model.read_response(status, parsed, raw, request, list(omitted), clear=clear)
            except ModelCallError as exc:
                return LineResult(cid, error=exc)
            return LineResult(cid, completion=done)
        err = as_dict(obj.get("error"))
        code = str(err.get("code") or "")
        if code in NOT_RUN:
            return LineResult(cid, error=expired_error(self.model.info.id, cid, NOT_RUN[code], code), expired=True)
        if err and http_error_block(400, {"error": err}) is not None:
            # A filter's code with no response body (seen in no documentation, but a block must
            # never be sent again): read as the live backend reads the same error body on a 400.
            parsed, raw, clear = self.http.read_line_body({"error": err})
            try:
                return LineResult(cid, completion=self.model.read_response(400, parsed, raw, request, list(omitted),
                                                                           clear=clear))
            except ModelCallError as exc:
                return LineResult(cid, error=exc)
        msg = self.http.redact(str(err.get("message") or "no response and no error message"))
        return LineResult(cid, error=ModelCallError(
            f"{self.model.info.id}: batch line {cid} failed" + (f" ({code}: {msg[:RAW_ERROR_CHARS]})"),
            retryable=True, provider_code=code or None, request=request))

    async def aclose(self) -> None:
        """Release the HTTP session shared with the backend (closing both is harmless)."""
        await self.model.aclose()


def _q(provider_id: str) -> str:
    """An id from the provider or the store, as one path segment (never a path of its own)."""
    return quote(provider_id, safe="")


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _str(v: Any) -> str | None:
    return str(v) if isinstance(v, str) and v else None
