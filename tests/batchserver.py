"""A loopback batch server speaking OpenAI's files+batches and Anthropic's Message Batches protocols.

Not a test: the one loopback batch server of the batch tests (adapters, kill test) and of the
benches ``bench/batch.py`` and ``bench/batch_adapters.py``. It runs an aiohttp server on
127.0.0.1, either on its own thread (``with BatchServer(...) as srv``) or as a process
(``python tests/batchserver.py --port 0 --print-port [--polls N] [--wait-s S] [--key K]``; the
first stdout line is the port). Shapes follow the providers' documentation (see
``src/twinstudy/batch/providers/``); the block payloads are the ones ``tests/fault_server.py``
cites and ``models/blocks.py`` recognises.

OpenAI-style routes under each of ``/v1``, ``/api/paas/v4`` (Zhipu), ``/compatible-mode/v1``
(DashScope), ``/v1beta/openai`` (Gemini): ``POST files`` (multipart, purpose=batch), ``POST
batches``, ``GET batches``, ``GET batches/{id}``, ``POST batches/{id}/cancel``, ``GET
files/{id}/content``. Anthropic: ``POST /v1/messages/batches``, ``GET`` (list), ``GET .../{id}``, ``GET
.../{id}/results``, ``POST .../{id}/cancel``. ``GET /_stats`` returns the counters as JSON.

State progression: a new batch is ``validating`` (Anthropic: ``in_progress``); it ends at the
first poll after ``polls`` polls and ``wait_s`` seconds since creation (``polls=0, wait_s=0``:
the first poll ends it). ``wait_s`` is the simulated wait a benchmark subtracts.

What each line gets is read from its last user message, so tests choose outcomes by prompt:

- ``[[block]]``: OpenAI 400 ``invalid_prompt`` ("usage policy"); Anthropic ``stop_reason: refusal``.
- ``[[filter]]``: 200 with ``finish_reason: content_filter`` (Anthropic: refusal as above).
- ``[[refuse]]``: a refusal in words ("I'm sorry, but I can't help with that.").
- ``[[truncate]]``: ``finish_reason: length`` / ``stop_reason: max_tokens`` with partial text.
- ``[[429]]`` / ``[[500]]`` / ``[[400]]``: that provider error on the line (Anthropic: errored
  with rate_limit_error / api_error / invalid_request_error).
- ``[[expire]]``: the line is never run (OpenAI: batch ``expired``, line in the error file with
  ``batch_expired``; Anthropic: result ``expired``).
- ``[[echo-key]]``: the answer quotes the key the request carried (redaction tests).
- ``[[long]]``: a 200,000-character answer (a result line longer than any read buffer).
- otherwise an answer: the first option letter written "(B)" or "B)" in the prompt, else the first
  digit 1-9, else "I agree with this statement."

Knobs for crash tests (both protocols): ``hold_creates=N, hold_s=S`` answers the first N batch
creations only S seconds after the batch exists (a client killed meanwhile has no id for it);
``expire_mod=M`` expires, once, every line whose custom_id read as hex (its first 8 characters) is
divisible by M, as ``[[expire]]`` does; ``expired`` is the set of custom_ids so expired.

Cancelling a batch before it ends: the first half of its lines are answered, the rest are
cancelled (``batch_cancelled`` / ``canceled``).

Counters: ``counts[endpoint]`` (files.create, batches.create, batches.get, batches.list,
batches.cancel, files.content, anthropic.create, anthropic.list, anthropic.get, anthropic.results,
anthropic.cancel), ``lines[custom_id]`` (times a custom_id was submitted, over all batches: a
value above 1 is a duplicate submission), ``bytes_received``, ``bytes_sent`` (result files),
``busy_s`` (time spent in handlers), ``waits`` (per batch, seconds from creation to the poll that
found it ended: the simulated wait plus the client's polling slack).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fault_server as fs  # noqa: E402  (the canned block payloads, with their sources)

OPENAI_PREFIXES = ("/v1", "/api/paas/v4", "/compatible-mode/v1", "/v1beta/openai")
ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REFUSAL_TEXT = "I'm sorry, but I can't help with that."


@dataclass
class Batch:
    id: str
    kind: str  # openai | anthropic
    lines: list[dict[str, Any]]  # OpenAI: {custom_id, method, url, body}; Anthropic: {custom_id, params}
    endpoint: str = ""
    input_file_id: str = ""
    metadata: dict[str, Any] | None = None
    created: float = field(default_factory=time.monotonic)
    created_at: float = field(default_factory=time.time)
    polls: int = 0
    state: str = "validating"
    cancel_requested: bool = False
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    results: bytes = b""  # Anthropic results JSONL
    counts: dict[str, int] = field(default_factory=dict)


def _last_user(messages: Any) -> str:
    for m in reversed(messages if isinstance(messages, list) else []):
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, list):
                return "".join(p.get("text", "") for p in c if isinstance(p, dict))
            return str(c or "")
    return ""


def answer_for(prompt: str) -> str:
    letter = re.search(r"\(([A-H])\)|^\s*([A-H])\)", prompt, re.MULTILINE)
    if letter:
        return letter.group(1) or letter.group(2)
    digit = re.search(r"(?<![0-9])([1-9])(?![0-9])", prompt)
    return digit.group(1) if digit else "I agree with this statement."


def outcome(prompt: str) -> str:
    for tag in ("block", "filter", "refuse", "truncate", "429", "500", "400", "expire", "echo-key", "long"):
        if f"[[{tag}]]" in prompt:
            return tag
    return "answer"


class BatchServer:
    """The server; see the module docstring. ``key``: when set, requests without it get 401."""

    def __init__(self, *, polls: int = 0, wait_s: float = 0.0, key: str | None = None, port: int = 0,
                 hold_creates: int = 0, hold_s: float = 1.0, expire_mod: int = 0) -> None:
        self.polls = polls
        self.wait_s = wait_s
        self.key = key
        self.port = port
        self.hold_creates = hold_creates
        self.hold_s = hold_s
        self.expire_mod = expire_mod
        self.expired: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.lines: Counter[str] = Counter()
        self.bytes_received = 0
        self.bytes_sent = 0
        self.busy_s = 0.0
        self.waits: list[tuple[float, float]] = []  # (created, ended) per batch, time.monotonic()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, Batch] = {}
        self._ids = itertools.count(1)
        self._seen_keys: list[str] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()

    # -- app ---------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=512 * 1024 * 1024, middlewares=[self._auth])
        r = app.router
        for p in OPENAI_PREFIXES:
            r.add_post(f"{p}/files", self.file_create)
            r.add_get(f"{p}/files/{{fid}}/content", self.file_content)
            r.add_post(f"{p}/batches", self.batch_create)
            r.add_get(f"{p}/batches", self.batch_list)
            r.add_get(f"{p}/batches/{{bid}}", self.batch_get)
            r.add_post(f"{p}/batches/{{bid}}/cancel", self.batch_cancel)
        r.add_post("/v1/messages/batches", self.a_create)
        r.add_get("/v1/messages/batches", self.a_list)
        r.add_get("/v1/messages/batches/{bid}", self.a_get)
        r.add_get("/v1/messages/batches/{bid}/results", self.a_results)
        r.add_post("/v1/messages/batches/{bid}/cancel", self.a_cancel)
        r.add_get("/_stats", self.stats)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/_stats":
            return await handler(request)
        t0 = time.perf_counter()
        try:
            return await self._checked(request, handler)
        finally:
            self.busy_s += time.perf_counter() - t0

    async def _checked(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        self._seen_keys.append(given)
        if self.key is not None and given != self.key:
            return web.json_response({"error": {"type": "authentication_error", "code": "invalid_api_key",
                                                "message": "Incorrect API key provided."}}, status=401)
        return await handler(request)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"counts": dict(self.counts), "lines": dict(self.lines),
                                  "bytes_received": self.bytes_received, "bytes_sent": self.bytes_sent,
                                  "busy_s": self.busy_s, "waits": self.waits, "expired": sorted(self.expired)})

    async def _hold(self) -> None:
        """The create-response delay of ``hold_creates`` (the batch already exists); not busy time."""
        if self.hold_creates > 0:
            self.hold_creates -= 1
            t0 = time.perf_counter()
            await asyncio.sleep(self.hold_s)
            self.busy_s -= time.perf_counter() - t0

    # -- OpenAI files + batches --------------------------------------------------------------------

    async def file_create(self, request: web.Request) -> web.Response:
        self.counts["files.create"] += 1
        form = await request.post()
        upload = form.get("file")
        if form.get("purpose") != "batch" or not isinstance(upload, web.FileField):
            return _oai_error(400, "invalid_request_error", "purpose must be 'batch' and a file must be given")
        content = upload.file.read()
        self.bytes_received += len(content)
        fid = self._new_id("file-")
        self.files[fid] = content
        return web.json_response({"id": fid, "object": "file", "bytes": len(content), "purpose": "batch",
                                  "filename": upload.filename, "created_at": int(time.time())})

    async def file_content(self, request: web.Request) -> web.Response:
        self.counts["files.content"] += 1
        fid = request.match_info["fid"]
        if fid not in self.files:
            return _oai_error(404, "invalid_request_error", f"No such File object: {fid}")
        self.bytes_sent += len(self.files[fid])
        return web.Response(body=self.files[fid], content_type="application/jsonl")

    async def batch_create(self, request: web.Request) -> web.Response:
        self.counts["batches.create"] += 1
        body = await request.json()
        fid = str(body.get("input_file_id") or "")
        if fid not in self.files:
            return _oai_error(400, "invalid_request_error", f"No such File object: {fid}")
        if body.get("completion_window") != "24h":
            return _oai_error(400, "invalid_request_error", "completion_window must be 24h")
        endpoint = str(body.get("endpoint") or "")
        batch = Batch(self._new_id("batch_"), "openai", [], endpoint=endpoint, input_file_id=fid,
                      metadata=body.get("metadata"))
        seen: set[str] = set()
        for n, text in enumerate(self.files[fid].decode("utf-8").splitlines(), 1):
            if not text.strip():
                continue
            line = json.loads(text)
            cid = line.get("custom_id")
            if (not isinstance(cid, str) or cid in seen or line.get("method") != "POST" or line.get("url") != endpoint
                    or not isinstance(line.get("body"), dict)):
                batch.errors.append({"code": "invalid_request", "line": n,
                                     "message": "each line needs a unique custom_id, method POST, the batch's url "
                                                "and a body"})
            seen.add(str(cid))
            batch.lines.append(line)
        for line in batch.lines:
            self.lines[str(line.get("custom_id"))] += 1
        if batch.errors:
            batch.state = "failed"
        self.batches[batch.id] = batch
        await self._hold()
        return web.json_response(self._oai_obj(batch))

    async def batch_list(self, request: web.Request) -> web.Response:
        self.counts["batches.list"] += 1
        data = [self._oai_obj(b) for b in reversed(list(self.batches.values())) if b.kind == "openai"][:100]
        return web.json_response({"object": "list", "data": data, "has_more": False})

    async def batch_get(self, request: web.Request) -> web.Response:
        self.counts["batches.get"] += 1
        batch = self.batches.get(request.match_info["bid"])
        if batch is None or batch.kind != "openai":
            return _oai_error(404, "invalid_request_error", "No such batch")
        self._advance(batch)
        return web.json_response(self._oai_obj(batch))

    async def batch_cancel(self, request: web.Request) -> web.Response:
        self.counts["batches.cancel"] += 1
        batch = self.batches.get(request.match_info["bid"])
        if batch is None or batch.kind != "openai":
            return _oai_error(404, "invalid_request_error", "No such batch")
        if batch.state in ("validating", "in_progress", "finalizing"):
            batch.cancel_requested = True
            batch.state = "cancelling"
        return web.json_response(self._oai_obj(batch))

    def _oai_obj(self, b: Batch) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": b.id, "object": "batch", "endpoint": b.endpoint, "input_file_id": b.input_file_id,
            "completion_window": "24h", "status": b.state, "created_at": int(b.created_at), "output_file_id": b.output_file_id,
            "error_file_id": b.error_file_id, "metadata": b.metadata,
            "request_counts": {"total": len(b.lines), "completed": b.counts.get("completed", 0),
                               "failed": b.counts.get("failed", 0)},
            "errors": {"object": "list", "data": b.errors} if b.errors else None,
        }
        return obj

    # -- Anthropic ---------------------------------------------------------------------------------

    async def a_create(self, request: web.Request) -> web.Response:
        self.counts["anthropic.create"] += 1
        raw = await request.read()
        self.bytes_received += len(raw)
        body = json.loads(raw)
        reqs = body.get("requests")
        if not isinstance(reqs, list) or not reqs:
            return _anth_error(400, "invalid_request_error", "requests: field required")
        seen: set[str] = set()
        for r in reqs:
            cid = r.get("custom_id") if isinstance(r, dict) else None
            if not isinstance(cid, str) or not ANTHROPIC_ID.match(cid):
                return _anth_error(400, "invalid_request_error",
                                   "requests.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'")
            if cid in seen:
                return _anth_error(400, "invalid_request_error", f"Duplicate custom_id: {cid}")
            seen.add(cid)
        batch = Batch(self._new_id("msgbatch_"), "anthropic", reqs, state="in_progress")
        for r in reqs:
            self.lines[r["custom_id"]] += 1
        self.batches[batch.id] = batch
        await self._hold()
        return web.json_response(self._anth_obj(batch, request))

    async def a_list(self, request: web.Request) -> web.Response:
        self.counts["anthropic.list"] += 1
        data = [self._anth_obj(b, request) for b in reversed(list(self.batches.values())) if b.kind == "anthropic"]
        return web.json_response({"data": data[:100], "has_more": False})

    async def a_get(self, request: web.Request) -> web.Response:
        self.counts["anthropic.get"] += 1
        batch = self.batches.get(request.match_info["bid"])
        if batch is None or batch.kind != "anthropic":
            return _anth_error(404, "not_found_error", "No such batch")
        self._advance(batch)
        return web.json_response(self._anth_obj(batch, request))

    async def a_results(self, request: web.Request) -> web.Response:
        self.counts["anthropic.results"] += 1
        batch = self.batches.get(request.match_info["bid"])
        if batch is None or batch.kind != "anthropic" or batch.state != "ended":
            return _anth_error(404, "not_found_error", "results are available once the batch has ended")
        self.bytes_sent += len(batch.results)
        return web.Response(body=batch.results, content_type="application/binary")

    async def a_cancel(self, request: web.Request) -> web.Response:
        self.counts["anthropic.cancel"] += 1
        batch = self.batches.get(request.match_info["bid"])
        if batch is None or batch.kind != "anthropic":
            return _anth_error(404, "not_found_error", "No such batch")
        if batch.state == "in_progress":
            batch.cancel_requested = True
            batch.state = "canceling"
        return web.json_response(self._anth_obj(batch, request))

    def _anth_obj(self, b: Batch, request: web.Request) -> dict[str, Any]:
        ended = b.state == "ended"
        counts = {k: b.counts.get(k, 0) for k in ("succeeded", "errored", "canceled", "expired")}
        counts["processing"] = 0 if ended else len(b.lines)
        return {"id": b.id, "type": "message_batch", "processing_status": b.state, "request_counts": counts,
                "created_at": _iso(b.created_at), "expires_at": _iso(b.created_at + 86400),
                "ended_at": "2026-12-05T00:01:00Z" if ended else None,
                "cancel_initiated_at": "2026-12-05T00:00:30Z" if b.cancel_requested else None,
                "results_url": f"{request.url.origin()}/v1/messages/batches/{b.id}/results" if ended else None}

    # -- progression and results -------------------------------------------------------------------

    def _advance(self, b: Batch) -> None:
        """One poll: end the batch once enough polls and seconds have passed (or it was cancelled)."""
        if b.state in ("completed", "failed", "expired", "cancelled", "ended"):
            return
        b.polls += 1
        if b.cancel_requested or (b.polls > self.polls and time.monotonic() - b.created >= self.wait_s):
            self._finish(b)
        elif b.kind == "openai":
            b.state = "in_progress"

    def _finish(self, b: Batch) -> None:
        cut = len(b.lines) // 2 if b.cancel_requested else len(b.lines)
        out: list[str] = []
        err: list[str] = []
        expired = False
        for i, line in enumerate(b.lines):
            cid = line["custom_id"]
            body = line["body"] if b.kind == "openai" else line["params"]
            what = outcome(_last_user(body.get("messages")))
            if i >= cut:
                what = "cancelled"
            elif self._expires(cid):
                what = "expire"
                self.expired.add(cid)
            if what == "expire":
                expired = True
            if b.kind == "openai":
                self._oai_line(b, cid, body, what, out, err)
            else:
                out.append(json.dumps(self._anth_line(b, cid, body, what)))
        if b.kind == "openai":
            if out:
                b.output_file_id = self._new_id("file-")
                self.files[b.output_file_id] = ("\n".join(out) + "\n").encode()
            if err:
                b.error_file_id = self._new_id("file-")
                self.files[b.error_file_id] = ("\n".join(err) + "\n").encode()
            b.state = "cancelled" if b.cancel_requested else "expired" if expired else "completed"
        else:
            b.results = ("\n".join(out) + "\n").encode()
            b.state = "ended"
        self.waits.append((b.created, time.monotonic()))

    def _expires(self, cid: str) -> bool:
        """``expire_mod``: this line expires now (the first time the server runs it)."""
        if not self.expire_mod or cid in self.expired:
            return False
        try:
            return int(cid[:8], 16) % self.expire_mod == 0
        except ValueError:
            return False

    def _text(self, what: str, prompt: str) -> str:
        if what == "refuse":
            return REFUSAL_TEXT
        if what == "echo-key":
            return f"My key is {self._seen_keys[-1] if self._seen_keys else ''}."
        if what == "long":
            return "A" * 200_000
        return answer_for(prompt)

    def _oai_line(self, b: Batch, cid: str, body: dict[str, Any], what: str, out: list[str], err: list[str]) -> None:
        rid = self._new_id("batch_req_")
        if what in ("expire", "cancelled"):
            code = "batch_expired" if what == "expire" else "batch_cancelled"
            msg = ("This request could not be executed before the completion window expired." if what == "expire"
                   else "This request was not executed because the batch was cancelled.")
            err.append(json.dumps({"id": rid, "custom_id": cid, "response": None,
                                   "error": {"code": code, "message": msg}}))
            b.counts["failed"] = b.counts.get("failed", 0) + 1
            return
        prompt = _last_user(body.get("messages"))
        status, rbody = 200, None
        if what == "block":
            status, rbody = fs.OPENAI_INVALID_PROMPT_POLICY.status, fs.OPENAI_INVALID_PROMPT_POLICY.body
        elif what == "filter":
            rbody = fs.completion_body("", finish_reason="content_filter", model=str(body.get("model")))
        elif what == "truncate":
            rbody = fs.completion_body("Well, on the one", finish_reason="length", model=str(body.get("model")))
        elif what in ("429", "500", "400"):
            status = int(what)
            kind = {"429": "rate_limit_exceeded", "500": "server_error", "400": "invalid_request_error"}[what]
            rbody = {"error": {"message": f"simulated {kind}", "type": kind, "param": None, "code": kind}}
        else:
            rbody = fs.completion_body(self._text(what, prompt), model=str(body.get("model")))
        if isinstance(rbody, dict) and "choices" in rbody:
            rbody = {**rbody, "usage": {"prompt_tokens": max(1, len(prompt) // 4), "completion_tokens": 2,
                                        "total_tokens": max(1, len(prompt) // 4) + 2}}
        line = {"id": rid, "custom_id": cid, "response": {"status_code": status, "request_id": rid, "body": rbody},
                "error": None}
        if status == 200:
            out.append(json.dumps(line))
            b.counts["completed"] = b.counts.get("completed", 0) + 1
        else:
            err.append(json.dumps(line))
            b.counts["failed"] = b.counts.get("failed", 0) + 1

    def _anth_line(self, b: Batch, cid: str, params: dict[str, Any], what: str) -> dict[str, Any]:
        def count(k: str) -> None:
            b.counts[k] = b.counts.get(k, 0) + 1

        if what in ("expire", "cancelled"):
            count("expired" if what == "expire" else "canceled")
            return {"custom_id": cid, "result": {"type": "expired" if what == "expire" else "canceled"}}
        if what in ("429", "500", "400"):
            count("errored")
            etype = {"429": "rate_limit_error", "500": "api_error", "400": "invalid_request_error"}[what]
            return {"custom_id": cid, "result": {"type": "errored", "error": {
                "type": "error", "error": {"type": etype, "message": f"simulated {etype}"}}}}
        count("succeeded")
        prompt = _last_user(params.get("messages"))
        model = str(params.get("model"))
        if what in ("block", "filter"):
            message = {**fs.ANTHROPIC_REFUSAL.body, "model": model}
        elif what == "truncate":
            message = {**fs.anthropic_body("Well, on the one", stop_reason="max_tokens"), "model": model}
        else:
            message = {**fs.anthropic_body(self._text(what, prompt)), "model": model}
        message["usage"] = {"input_tokens": max(1, len(prompt) // 4), "output_tokens": 2}
        return {"custom_id": cid, "result": {"type": "succeeded", "message": message}}

    # -- running -----------------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BatchServer:
        self._thread = threading.Thread(target=self._run, name="batchserver", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the batch server did not start within 10 s")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        runner = web.AppRunner(self.app(), access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        loop.run_until_complete(site.start())
        server = getattr(site, "_server", None)
        if self.port == 0 and server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> BatchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _oai_error(status: int, etype: str, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": etype, "param": None, "code": None}},
                             status=status)


def _anth_error(status: int, etype: str, message: str) -> web.Response:
    return web.json_response({"type": "error", "error": {"type": etype, "message": message}}, status=status)


def main() -> None:  # pragma: no cover - for benchmarks and kill tests in another process
    ap = argparse.ArgumentParser(description="Run the loopback batch server until killed or --max-runtime.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--print-port", action="store_true", help="print the port on the first stdout line")
    ap.add_argument("--polls", type=int, default=0, help="polls before a batch ends")
    ap.add_argument("--wait-s", type=float, default=0.0, help="seconds (simulated wait) before a batch ends")
    ap.add_argument("--key", default=None, help="answer 401 unless requests carry this key")
    ap.add_argument("--max-runtime", type=float, default=3600.0)
    args = ap.parse_args()
    srv = BatchServer(polls=args.polls, wait_s=args.wait_s, key=args.key, port=args.port).start()
    if args.print_port:
        print(srv.port, flush=True)
    try:
        time.sleep(args.max_runtime)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
