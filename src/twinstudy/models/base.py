"""The one interface every model backend implements.

A backend turns a list of chat messages into a :class:`Completion`. It never decides outcomes
like "refused": it reports what the provider said (text, reasoning, finish reason, block signal),
and raises :class:`ModelCallError` for transport or HTTP failures so that the runner can retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

Origin = Literal["CN", "US", "EU", "FR", "UK", "AE", "KR", "JP", "IL", "CA", "OTHER", "UNKNOWN"]
Tier = Literal["platform", "ai-native", "lab", "unknown"]


class ModelInfo(BaseModel):
    """Metadata the analysis uses; origin is data, never guessed from a name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    provider: str
    model: str
    company: str = "unknown"
    origin: Origin = "UNKNOWN"
    tier: Tier = "unknown"
    open_weights: bool | None = None
    release_date: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    system: str | dict[str, str] | None = None
    max_concurrency: int | None = None
    thinking: bool | None = None
    notes: str = ""
    # Optional, added for the registry and the OpenAI-compatible backend (issue 3):
    vllm: str | None = None  # Hugging Face repo id to serve with vLLM/SGLang, for open weights
    ollama: str | None = None  # Ollama tag, for open weights
    omit_params: tuple[str, ...] = ()  # sampling params this model rejects (never sent, recorded)
    max_tokens_param: str | None = None  # overrides the preset's max-tokens parameter name
    reasoning_model: bool = False  # always thinks; answers may be truncated by max_tokens
    # USD per million tokens {"input": .., "output": ..}; overrides the bundled price table.
    price: dict[str, float] | None = None

    def system_prompt(self, lang: str) -> str | None:
        if isinstance(self.system, dict):
            return self.system.get(lang) or self.system.get("en")
        return self.system


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class GenerateParams:
    max_tokens: int = 256
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    logprobs: int | None = None  # number of top alternatives per generated token, or None
    # Answer labels ("1".."5", "A".."D") whose first-token probabilities a backend that can read
    # its own logits (the embedded model) reports in Completion.option_probs.
    options: tuple[str, ...] | None = None
    # JSON schema of a constrained closed answer (study params.structured); None = free text.
    # schema_style "json_schema" is OpenAI's response_format, "json_object" llama-cpp-python's,
    # "auto" picks json_object for the llamacpp preset and json_schema for every other one.
    answer_schema: dict[str, Any] | None = None
    schema_style: str = "auto"


@dataclass
class BlockInfo:
    """A provider's content filter stopped the request; never retried."""

    provider_code: str
    where: Literal["input", "output", "unknown"]
    message: str = ""


@dataclass
class Completion:
    text: str
    reasoning: str | None = None
    finish_reason: str | None = None
    http_status: int | None = None
    provider_code: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: float = 0.0
    raw: str = ""
    request: dict[str, Any] = field(default_factory=dict)
    omitted_params: list[str] = field(default_factory=list)
    block: BlockInfo | None = None
    # One dict per generated token position: alternative token text -> log probability.
    top_logprobs: list[dict[str, float]] | None = None
    # Probability of each answer label as the first token of the reply, renormalised over the
    # labels, and the share of probability mass the labels had before renormalising.
    option_probs: dict[str, float] | None = None
    option_mass: float | None = None


class ModelCallError(Exception):
    """A call that did not produce a completion.

    ``retryable`` errors (timeouts, resets, 408/409/429/5xx) are retried with backoff;
    ``fatal`` ones (no balance, bad key) stop every remaining trial of that model.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        http_status: int | None = None,
        provider_code: str | None = None,
        retry_after: float | None = None,
        fatal: bool = False,
        raw: str = "",
        request: dict[str, Any] | None = None,
        latency_ms: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.http_status = http_status
        self.provider_code = provider_code
        self.retry_after = retry_after
        self.fatal = fatal
        self.raw = raw
        self.request = request or {}
        self.latency_ms = latency_ms


class Model(Protocol):
    info: ModelInfo

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion: ...

    async def aclose(self) -> None: ...
