"""The one interface every model backend implements.

A backend turns a list of chat messages into a :class:`Completion`. It never decides outcomes
like "refused": it reports what the provider said (text, reasoning, finish reason, block signal),
and raises :class:`ModelCallError` for transport or HTTP failures so that the runner can retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

Origin = Literal["CN", "US", "EU", "FR", "DE", "UK", "AE", "KR", "JP", "IL", "CA", "OTHER", "UNKNOWN"]
Tier = Literal["platform", "ai-native", "lab", "unknown"]


ThinkingStyle = Literal[
    "thinking_type", "enable_thinking", "reasoning_effort", "openrouter", "chat_template",
    "anthropic_budget", "anthropic_adaptive", "none",
]


class ThinkingControl(BaseModel):
    """How thinking is switched on one endpoint or model (see the header of presets.yaml).

    ``off: null`` with a style that needs a value means the model cannot stop thinking: a request
    for thinking off is left out and recorded, never sent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    style: ThinkingStyle = "none"
    on: str | None = None
    off: str | None = None
    # chat_template only: the template variable (enable_thinking for Qwen/GLM, thinking for
    # DeepSeek V3.x, thinking_mode for MiniMax-M3 on vLLM).
    key: str = "enable_thinking"


class ModelInfo(BaseModel):
    """Metadata the analysis uses; origin is data, never guessed from a name.

    Fields after ``notes`` shape requests per model (not per provider): every one is read by the
    backends or by the registry; the header of registry.yaml says what each does.
    """

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
    # Always thinks and cannot be switched off: a study's `thinking: false` is left out and
    # recorded, never sent (and parameters in omit_when_thinking always apply).
    reasoning_model: bool = False
    # Thinks unless told not to (DeepSeek V4, GLM-4.7+, Kimi K2.x, Seed 2.x): decides whether
    # `omit_when_thinking` applies when the study leaves `thinking` unset.
    thinks_by_default: bool = False
    thinking_control: ThinkingControl | None = None  # overrides the preset's switch for this model
    reasoning_effort: str | None = None  # sent as reasoning_effort / output_config.effort
    efforts: tuple[str, ...] = ()  # the effort values this model accepts (empty: not checked)
    omit_when_thinking: tuple[str, ...] = ()  # params this model rejects while it thinks
    logprobs: bool | None = None  # overrides the preset's logprobs support
    timeout: float | None = Field(default=None, gt=0, le=3600)  # seconds per request
    account_max_concurrency: int | None = Field(default=None, ge=1, le=4096)
    retired: str | None = None  # YYYY-MM-DD the provider shut this id down
    successors: tuple[str, ...] = ()  # registry ids to use instead once retired
    sources: tuple[str, ...] = ()  # pages the entry was checked against
    # USD per million tokens {"input": .., "output": ..}; overrides the bundled price table.
    price: dict[str, float] | None = None
    # The model this one was post-trained from (a registry id), for lineage twins (issue 15).
    base_model: str | None = None
    # Send this model's trials through its provider's batch API (study `batch: true`; `run --batch`).
    batch: bool | None = None

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
    # Self-healing changes in force for this request: {"param", "action", "value", "reason"},
    # made after a provider's 400 named the parameter (this request or earlier in the run).
    adjusted_params: list[dict[str, Any]] = field(default_factory=list)
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


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, declared rather than probed with ``getattr``.

    ``streaming``: it implements ``generate_stream(messages, params, on_delta)``.
    ``logprobs``: it can return top logprobs or label probabilities for this model.
    ``max_concurrency``: the most requests it can usefully serve at once (None: no own limit).
    """

    streaming: bool = False
    logprobs: bool = False
    max_concurrency: int | None = None


class Model(Protocol):
    info: ModelInfo
    capabilities: Capabilities

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion: ...

    async def aclose(self) -> None: ...
