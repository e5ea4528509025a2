"""The contract between batch orchestration and provider adapters.

An adapter speaks one provider's batch protocol (upload, create, poll, fetch results, cancel). It
knows nothing of the store: the orchestrator (:mod:`twinstudy.batch.orchestrate`) records every
batch id and its trial keys in the database *before* anything is sent, so a crash at any moment
leaves enough on disk to poll the open batches again instead of resubmitting.

Every result line is turned into what a live call would have produced: a
:class:`~twinstudy.models.base.Completion` (answer, block, truncation) or a
:class:`~twinstudy.models.base.ModelCallError` (provider error) -- by the same backend code that
reads live responses, so a block found in a batch line is classified exactly as a live one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from twinstudy.models.base import Completion, GenerateParams, Message, ModelCallError

#: A batch's state, normalised across providers. ``ended`` states never change again.
BatchState = Literal["submitting", "validating", "in_progress", "finalizing", "completed",
                     "failed", "expired", "cancelling", "cancelled"]
ENDED: frozenset[str] = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass(frozen=True)
class BatchLine:
    """One request of a batch. ``custom_id`` is the trial key (unique within a batch)."""

    custom_id: str
    messages: list[Message]
    params: GenerateParams


@dataclass(frozen=True)
class Submitted:
    """What the provider returned on creating a batch; ``batch_id`` is what later calls name."""

    batch_id: str
    input_file_id: str | None = None
    state: BatchState = "validating"


@dataclass(frozen=True)
class BatchStatus:
    state: BatchState
    total: int | None = None
    done: int | None = None
    failed: int | None = None
    # Provider-side ids the results are fetched from (OpenAI-style output/error files).
    output_file_id: str | None = None
    error_file_id: str | None = None
    message: str = ""  # the provider's reason for failed/expired, already free of secrets


@dataclass(frozen=True)
class LineResult:
    """One result line: exactly one of ``completion`` and ``error`` is set.

    ``expired``/``cancelled`` lines carry an ``error`` with ``retryable=True`` and are marked here so
    the orchestrator can send them again (as new batch lines, or live with ``--batch-fallback live``).
    A block is a ``completion`` with ``block`` set, never an error, and is never resubmitted.
    """

    custom_id: str
    completion: Completion | None = None
    error: ModelCallError | None = None
    expired: bool = False


class BatchAPI(Protocol):
    """One provider's batch protocol for one model. Adapters are created from a model entry by
    :func:`twinstudy.batch.providers.batch_api_for` (None when the provider has no batch API)."""

    provider: str
    max_lines: int  # the most lines one batch may hold (the orchestrator splits above this)

    def line_body(self, line: BatchLine) -> dict[str, object]:
        """The request body of one line, built by the live backend's own ``build_request``."""
        ...

    async def submit(self, lines: list[BatchLine]) -> Submitted:
        """Upload (where the protocol needs a file) and create one batch of ``lines``."""
        ...

    async def poll(self, batch_id: str) -> BatchStatus: ...

    def results(self, batch_id: str, status: BatchStatus) -> AsyncIterator[LineResult]:
        """The result lines of an ended batch (completed, or expired/cancelled with partial results)."""
        ...

    async def cancel(self, batch_id: str) -> BatchStatus: ...

    async def aclose(self) -> None: ...



#: The metadata key under which the orchestrator's tag travels with a batch (see FindsOwnBatches).
TAG_KEY = "twinstudy_batch"


@runtime_checkable
class FindsOwnBatches(Protocol):
    """Optional for an adapter: keep metadata with a batch and find a batch again by it.

    The orchestrator commits a batch row (state ``submitting``) before calling ``submit``. A crash
    after the provider created the batch but before its id was committed leaves that row without a
    remote id. An adapter with these methods lets the next run ask the provider (OpenAI-style:
    ``metadata`` on create, then a list call) instead of sending the lines a second time; without
    them the orchestrator sends them again and says that the provider may hold an unconfirmed copy."""

    async def submit(self, lines: list[BatchLine], *, metadata: Mapping[str, str] | None = None) -> Submitted:
        """``BatchAPI.submit``, storing ``metadata`` with the batch at the provider."""
        ...

    async def find_submitted(self, metadata_key: str, value: str) -> Submitted | None:
        """The batch created with ``metadata[metadata_key] == value``, or None when the provider has none."""
        ...


@runtime_checkable
class FindsByCreation(Protocol):
    """Optional for an adapter whose provider keeps no metadata with a batch (Anthropic): find the
    batch a crash left unconfirmed as the one created since ``since`` (Unix seconds) with exactly
    ``n_lines`` requests; None when there is none or more than one (the lines are then sent again)."""

    async def find_created_since(self, since: float, n_lines: int) -> Submitted | None: ...
