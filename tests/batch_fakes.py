"""In-memory provider batch services for the orchestration tests (not a test module).

:class:`FakeProvider` is one provider account: it keeps the batches it was given, moves each one
state further per poll, and answers every line with what ``reply`` says (an answer, a block, an
error, or nothing: expired). :class:`FakeBatchAPI` is the adapter the orchestrator talks to;
:class:`TaggedFakeBatchAPI` can also find a batch by the orchestrator's tag. The provider counts
how often each custom_id reached it, which is what "no duplicate submission" is checked against.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from twinstudy.batch.api import TAG_KEY, BatchLine, BatchStatus, LineResult, Submitted
from twinstudy.models.base import BlockInfo, Completion, ModelCallError

PROGRESSION = ("validating", "in_progress", "finalizing", "completed")


def answer(line: BatchLine) -> LineResult:
    """A plain answer of the kind a live request would get back ("3" parses on every Likert item)."""
    return LineResult(line.custom_id, Completion("3", finish_reason="stop", http_status=200, tokens_in=40,
                                                 tokens_out=2, request={"model": "fake"}))


def blocked(line: BatchLine) -> LineResult:
    return LineResult(line.custom_id, Completion("", finish_reason="content_filter", http_status=200,
                                                 block=BlockInfo("content_filter", "output")))


def expired(line: BatchLine) -> LineResult:
    return LineResult(line.custom_id, error=ModelCallError("the batch expired before this request ran",
                                                           retryable=True), expired=True)


def bad_request(line: BatchLine) -> LineResult:
    return LineResult(line.custom_id, error=ModelCallError("HTTP 400: invalid parameter", retryable=False,
                                                           http_status=400))


@dataclass
class FakeBatch:
    id: str
    lines: list[BatchLine]
    tag: str | None
    polls: int = 0
    state: str = "validating"


@dataclass
class FakeProvider:
    reply: Callable[[BatchLine], LineResult | None] = answer  # None: no result line at all
    polls_to_end: int = 2
    submit_errors: list[ModelCallError] = field(default_factory=list)  # raised by the next submits, in order
    end_state: str = "completed"
    batches: dict[str, FakeBatch] = field(default_factory=dict)
    received: Counter[str] = field(default_factory=Counter)
    submits: int = 0
    polls: int = 0
    cancelled: list[str] = field(default_factory=list)

    def create(self, lines: list[BatchLine], tag: str | None) -> Submitted:
        self.submits += 1
        if self.submit_errors:
            raise self.submit_errors.pop(0)
        bid = f"batch_{len(self.batches) + 1}"
        self.batches[bid] = FakeBatch(bid, list(lines), tag)
        self.received.update(line.custom_id for line in lines)
        return Submitted(bid, f"file_{bid}", "validating")

    def poll(self, bid: str) -> BatchStatus:
        self.polls += 1
        b = self.batches[bid]
        if b.state not in ("completed", "expired", "failed", "cancelled"):
            b.polls += 1
            step = min(b.polls * (len(PROGRESSION) - 1) // max(1, self.polls_to_end), len(PROGRESSION) - 1)
            b.state = PROGRESSION[step] if step < len(PROGRESSION) - 1 else self.end_state
        done = len(b.lines) if b.state in ("completed", "expired", "cancelled") else 0
        return BatchStatus(b.state, total=len(b.lines), done=done, failed=0,  # type: ignore[arg-type]
                           output_file_id=f"out_{bid}")


class FakeBatchAPI:
    provider = "fake"

    def __init__(self, service: FakeProvider, max_lines: int = 50_000) -> None:
        self.service = service
        self.max_lines = max_lines
        self.closed = False

    def line_body(self, line: BatchLine) -> dict[str, object]:
        return {"messages": [[m.role, m.content] for m in line.messages], "max_tokens": line.params.max_tokens}

    async def submit(self, lines: list[BatchLine]) -> Submitted:
        return self.service.create(lines, None)

    async def poll(self, batch_id: str) -> BatchStatus:
        return self.service.poll(batch_id)

    async def results(self, batch_id: str, status: BatchStatus) -> AsyncIterator[LineResult]:
        for line in self.service.batches[batch_id].lines:
            res = self.service.reply(line)
            if res is not None:
                yield res

    async def cancel(self, batch_id: str) -> BatchStatus:
        self.service.cancelled.append(batch_id)
        self.service.batches[batch_id].state = "cancelled"
        return self.service.poll(batch_id)

    async def aclose(self) -> None:
        self.closed = True


class TaggedFakeBatchAPI(FakeBatchAPI):
    """Keeps metadata with the batch (OpenAI-style) and finds a batch by it."""

    async def submit(self, lines: list[BatchLine], *, metadata: Mapping[str, str] | None = None) -> Submitted:
        return self.service.create(lines, (metadata or {}).get(TAG_KEY))

    async def find_submitted(self, metadata_key: str, value: str) -> Submitted | None:
        for b in self.service.batches.values():
            if metadata_key == TAG_KEY and b.tag == value:
                return Submitted(b.id, f"file_{b.id}", b.state)  # type: ignore[arg-type]
        return None


class TimedFakeBatchAPI(FakeBatchAPI):
    """Keeps no metadata (Anthropic-style) but finds a batch by creation time and size."""

    async def find_created_since(self, since: float, n_lines: int) -> Submitted | None:
        found = [b for b in self.service.batches.values() if len(b.lines) == n_lines]
        if len(found) != 1:
            return None
        return Submitted(found[0].id, None, found[0].state)  # type: ignore[arg-type]
