"""A stand-in OpenAI files+batches adapter for tests and bench/batch.py, used only while the
provider adapters (``twinstudy.batch.providers``, another branch) are absent from this tree.

It speaks the shapes of tests/batch_fake_server.py over HTTP (upload, create with metadata, list,
poll, download, cancel) and reads each output line's body into a Completion with the same fields
a live chat completion fills. ``install()`` makes the orchestrator use it.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from twinstudy.batch import orchestrate
from twinstudy.batch.api import BatchAPI, BatchLine, BatchStatus, LineResult, Submitted
from twinstudy.models.base import Completion, Model, ModelCallError, ModelInfo


class HttpOpenAIBatch:
    provider = "openai"
    max_lines = 50_000

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self.base = (info.base_url or "").rstrip("/")
        self.headers = {"Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', '')}"}
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self.headers)
        return self._session

    def line_body(self, line: BatchLine) -> dict[str, object]:
        return {"model": self.info.model, "messages": [{"role": m.role, "content": m.content} for m in line.messages],
                "max_tokens": line.params.max_tokens, "temperature": line.params.temperature,
                "seed": line.params.seed}

    async def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            async with self.session.request(method, self.base + path, **kw) as resp:
                data: dict[str, Any] = await resp.json()
                if resp.status >= 400:
                    raise ModelCallError(f"HTTP {resp.status}: {data}", retryable=resp.status >= 500,
                                         http_status=resp.status)
                return data
        except aiohttp.ClientError as exc:
            raise ModelCallError(f"batch request failed: {exc}", retryable=True) from None

    async def submit(self, lines: list[BatchLine], *, metadata: Mapping[str, str] | None = None) -> Submitted:
        jsonl = "".join(json.dumps({"custom_id": ln.custom_id, "method": "POST", "url": "/v1/chat/completions",
                                    "body": self.line_body(ln)}) + "\n" for ln in lines)
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", jsonl.encode("utf-8"), filename="batch.jsonl", content_type="application/jsonl")
        uploaded = await self._json("POST", "/files", data=form)
        created = await self._json("POST", "/batches", json={
            "input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h",
            "metadata": dict(metadata or {})})
        return Submitted(str(created["id"]), str(uploaded["id"]), created["status"])

    async def find_submitted(self, metadata_key: str, value: str) -> Submitted | None:
        listed = await self._json("GET", "/batches?limit=100")
        for b in listed.get("data") or ():
            if (b.get("metadata") or {}).get(metadata_key) == value:
                return Submitted(str(b["id"]), b.get("input_file_id"), b["status"])
        return None

    async def poll(self, batch_id: str) -> BatchStatus:
        b = await self._json("GET", f"/batches/{batch_id}")
        counts = b.get("request_counts") or {}
        return BatchStatus(b["status"], total=counts.get("total"), done=counts.get("completed"),
                           failed=counts.get("failed"), output_file_id=b.get("output_file_id"),
                           error_file_id=b.get("error_file_id"))

    async def results(self, batch_id: str, status: BatchStatus) -> AsyncIterator[LineResult]:
        for file_id in (status.output_file_id, status.error_file_id):
            if file_id:
                async for res in self._file(file_id):
                    yield res

    async def _file(self, file_id: str) -> AsyncIterator[LineResult]:
        try:
            async with self.session.get(f"{self.base}/files/{file_id}/content") as resp:
                data = await resp.read()
        except aiohttp.ClientError as exc:
            raise ModelCallError(f"result download failed: {exc}", retryable=True) from None
        for raw in data.decode("utf-8").splitlines():
            if not raw.strip():
                continue
            obj = json.loads(raw)
            if obj.get("response") is None:  # batch_expired / batch_cancelled: never run
                err = obj.get("error") or {}
                yield LineResult(obj["custom_id"], error=ModelCallError(
                    f"batch line not run ({err.get('code')})", retryable=True), expired=True)
                continue
            body = obj["response"]["body"]
            choice = body["choices"][0]
            usage = body.get("usage") or {}
            yield LineResult(obj["custom_id"], Completion(
                choice["message"]["content"], finish_reason=choice.get("finish_reason"),
                http_status=obj["response"]["status_code"], tokens_in=usage.get("prompt_tokens"),
                tokens_out=usage.get("completion_tokens"), raw=json.dumps(body)))

    async def cancel(self, batch_id: str) -> BatchStatus:
        await self._json("POST", f"/batches/{batch_id}/cancel")
        return await self.poll(batch_id)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def factory(info: ModelInfo, model: Model) -> BatchAPI | None:
    return HttpOpenAIBatch(info) if info.provider == "openai" else None


def install() -> None:
    """Use this adapter for every ``openai`` model (when the real adapters are absent)."""
    orchestrate.api_factory = factory
