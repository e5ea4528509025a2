"""A small loopback server with OpenAI's files+batches shapes, for the batch kill tests and bench/batch.py.

Not a test. ``POST /v1/files`` (multipart, purpose=batch), ``POST /v1/batches`` (input_file_id,
endpoint, completion_window, metadata), ``GET /v1/batches`` (list, newest first), ``GET
/v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``, ``GET /v1/files/{id}/content``. A batch is
``validating``, then ``in_progress``, ``finalizing`` and ``completed`` once ``delay_s`` has passed
since it was created (the simulated wait a benchmark subtracts); its output file has one line per
request, ``{id, custom_id, response: {status_code, request_id, body}, error}``, the body a chat
completion answering "3"; with ``expire_mod``, some lines expire once instead (error file, code
``batch_expired``). Cancelling ends a batch ``cancelled`` with no output.

Counters: ``lines[custom_id]`` (times a custom_id reached the server, over every batch created: a
value above 1 is a duplicate submission), ``counts[route]``, ``bytes_in``/``bytes_out``. Runs on
its own thread (``with FakeBatchServer() as srv``) or as a process (``python
tests/batch_fake_server.py``: prints its base URL, serves until killed, ``GET /_stats`` gives the
counters).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class _Batch:
    id: str
    file_id: str
    metadata: dict[str, Any]
    created: float
    custom_ids: list[str]
    models: list[str]
    state: str = "validating"
    output_file_id: str | None = None
    error_file_id: str | None = None


@dataclass
class FakeBatchServer:
    delay_s: float = 0.2
    port: int = 0
    # The first `late_creates` batch creations are answered only after `late_s`: the batch exists on
    # the server while the client still waits for its id (the window a kill test aims at).
    late_creates: int = 0
    late_s: float = 1.0
    # Lines whose custom_id (read as hex) is divisible by `expire_mod` expire the first time they are
    # submitted: they go to the error file with OpenAI's `batch_expired` code instead of the output.
    expire_mod: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    lines: Counter[str] = field(default_factory=Counter)
    bytes_in: int = 0
    bytes_out: int = 0

    def __post_init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self.expired: set[str] = set()  # custom_ids the server expired once
        self._ids = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    # -- routes -----------------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_{self._ids:06d}"

    async def _upload(self, request: web.Request) -> web.Response:
        self.counts["files.create"] += 1
        data = await request.post()
        upload = data.get("file")
        if data.get("purpose") != "batch" or not isinstance(upload, web.FileField):
            return _error(400, "a batch file needs purpose=batch and a file part")
        content = upload.file.read()
        self.bytes_in += len(content)
        fid = self._id("file")
        self.files[fid] = content
        return web.json_response({"id": fid, "object": "file", "bytes": len(content), "purpose": "batch"})

    async def _create(self, request: web.Request) -> web.Response:
        self.counts["batches.create"] += 1
        body = await request.json()
        content = self.files.get(str(body.get("input_file_id")))
        if content is None:
            return _error(404, "no such file")
        ids, models = [], []
        for raw in content.decode("utf-8").splitlines():
            if raw.strip():
                line = json.loads(raw)
                ids.append(str(line["custom_id"]))
                models.append(str(line["body"].get("model", "")))
        self.lines.update(ids)
        b = _Batch(self._id("batch"), str(body["input_file_id"]), dict(body.get("metadata") or {}), time.time(),
                   ids, models)
        self.batches[b.id] = b
        if self.late_creates > 0:
            self.late_creates -= 1
            await asyncio.sleep(self.late_s)
        return web.json_response(self._obj(b))

    async def _list(self, request: web.Request) -> web.Response:
        self.counts["batches.list"] += 1
        newest = sorted(self.batches.values(), key=lambda b: b.created, reverse=True)[:100]
        return web.json_response({"object": "list", "data": [self._obj(b) for b in newest], "has_more": False})

    async def _get(self, request: web.Request) -> web.Response:
        self.counts["batches.get"] += 1
        b = self.batches.get(request.match_info["id"])
        if b is None:
            return _error(404, "no such batch")
        self._advance(b)
        return web.json_response(self._obj(b))

    async def _cancel(self, request: web.Request) -> web.Response:
        self.counts["batches.cancel"] += 1
        b = self.batches.get(request.match_info["id"])
        if b is None:
            return _error(404, "no such batch")
        if b.state not in ("completed", "failed", "expired", "cancelled"):
            b.state = "cancelled"
        return web.json_response(self._obj(b))

    async def _content(self, request: web.Request) -> web.Response:
        self.counts["files.content"] += 1
        content = self.files.get(request.match_info["id"])
        if content is None:
            return _error(404, "no such file")
        self.bytes_out += len(content)
        return web.Response(body=content, content_type="application/octet-stream")

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"counts": dict(self.counts), "lines": dict(self.lines), "bytes_in": self.bytes_in,
                                  "bytes_out": self.bytes_out, "batches": len(self.batches)})

    # -- batch life -------------------------------------------------------------------------------
    def _advance(self, b: _Batch) -> None:
        if b.state in ("completed", "failed", "expired", "cancelled"):
            return
        age = time.time() - b.created
        if age < self.delay_s / 3:
            b.state = "validating"
        elif age < self.delay_s:
            b.state = "in_progress"
        elif b.state != "finalizing" and self.delay_s > 0:
            b.state = "finalizing"
        else:
            out, err = [], []
            for n, (cid, model) in enumerate(zip(b.custom_ids, b.models, strict=True)):
                if self._expires(cid):
                    self.expired.add(cid)
                    err.append(json.dumps({"id": f"batch_req_{n}", "custom_id": cid, "response": None, "error": {
                        "code": "batch_expired", "message": "This request could not be executed before the "
                        "completion window expired."}}) + "\n")
                else:
                    out.append(json.dumps(_result_line(cid, model, n)) + "\n")
            b.output_file_id = self._id("file")
            self.files[b.output_file_id] = "".join(out).encode("utf-8")
            if err:
                b.error_file_id = self._id("file")
                self.files[b.error_file_id] = "".join(err).encode("utf-8")
            b.state = "completed"

    def _expires(self, cid: str) -> bool:
        if not self.expire_mod or cid in self.expired:
            return False
        try:
            return int(cid[:8], 16) % self.expire_mod == 0
        except ValueError:
            return False

    def _obj(self, b: _Batch) -> dict[str, Any]:
        failed = sum(1 for c in b.custom_ids if c in self.expired) if b.state == "completed" else 0
        done = len(b.custom_ids) - failed if b.state == "completed" else 0
        return {"id": b.id, "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": b.file_id,
                "completion_window": "24h", "status": b.state, "output_file_id": b.output_file_id,
                "error_file_id": b.error_file_id, "created_at": int(b.created), "metadata": b.metadata or None,
                "request_counts": {"total": len(b.custom_ids), "completed": done, "failed": failed}}

    # -- serving ----------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=512 * 1024 * 1024)
        app.router.add_post("/v1/files", self._upload)
        app.router.add_post("/v1/batches", self._create)
        app.router.add_get("/v1/batches", self._list)
        app.router.add_get("/v1/batches/{id}", self._get)
        app.router.add_post("/v1/batches/{id}/cancel", self._cancel)
        app.router.add_get("/v1/files/{id}/content", self._content)
        app.router.add_get("/_stats", self._stats)
        return app

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        runner = self._runner = web.AppRunner(self.app(), access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def __enter__(self) -> FakeBatchServer:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


def _result_line(custom_id: str, model: str, n: int) -> dict[str, Any]:
    body = {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "3"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 1, "total_tokens": 41}}
    return {"id": f"batch_req_{n}", "custom_id": custom_id,
            "response": {"status_code": 200, "request_id": f"req_{n}", "body": body}, "error": None}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error", "code": None}},
                             status=status)


def main() -> None:  # pragma: no cover - for benchmarks in another process
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay", type=float, default=0.2)
    args = ap.parse_args()
    with FakeBatchServer(delay_s=args.delay) as srv:
        print(srv.url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
