"""Native Anthropic Messages API backend (the OpenAI-compatible layer drops too much).

``POST /v1/messages`` with ``x-api-key`` and ``anthropic-version: 2023-06-01``; system text is a
top-level field; ``max_tokens`` is required; thinking blocks become ``Completion.reasoning``;
``stop_reason: "refusal"`` is a block (streaming classifiers,
https://platform.claude.com/docs/en/test-and-evaluate/strengthen-guardrails/handle-streaming-refusals).
429, 529 (overloaded) and 5xx are retryable and honour ``retry-after``.

Thinking is per model: ``anthropic_budget`` (``{type: enabled, budget_tokens}``, up to 4.5; deprecated
on 4.6) or ``anthropic_adaptive`` (``{type: adaptive}`` plus ``output_config.effort``; the only form
Opus 4.7+, Opus/Sonnet 5.x, Fable and Mythos accept: "Manual extended thinking ... is not supported
... and will return a 400 error",
https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-adaptive-thinking.html). Those
models also reject ``temperature``/``top_p`` (registry ``omit_params``); a 400 naming either is
healed once (``healing.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinstudy.models.base import Capabilities, Completion, GenerateParams, Message, ModelCallError, ModelInfo
from twinstudy.models.blocks import anthropic_block
from twinstudy.models.healing import ParamMemory
from twinstudy.models.http import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT_S,
    RAW_ERROR_CHARS,
    HttpClient,
    key_envs,
    parse_retry_after,
    read_api_key,
    says_no_credit,
    used_key_env,
)
from twinstudy.models.presets import Preset, get_preset
from twinstudy.models.thinking import effective_thinking

ANTHROPIC_VERSION = "2023-06-01"
THINKING_BUDGET_TOKENS = 1024  # the documented minimum budget for extended thinking
_RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


class AnthropicModel:
    """A :class:`~twinstudy.models.base.Model` over Anthropic's Messages API."""

    def __init__(
        self,
        info: ModelInfo,
        preset: Preset | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.info = info
        self._preset = preset or get_preset("anthropic")
        self._base_url = (info.base_url or self._preset.base_url or "https://api.anthropic.com").rstrip("/")
        self._url = self._base_url + ("/messages" if self._base_url.endswith("/v1") else "/v1/messages")
        names = key_envs(info, self._preset) or ("ANTHROPIC_API_KEY",)
        key = read_api_key(names, info.id)
        self._key_env = used_key_env(names) or names[0]
        self._secret = key or ""
        self.timeout = info.timeout or timeout
        self._pool = HttpClient(
            base_url=self._base_url,
            headers={"x-api-key": self._secret, "anthropic-version": ANTHROPIC_VERSION,
                     "content-type": "application/json", "accept": "application/json"},
            timeout=self.timeout, max_connections=max_connections)
        self._refused = frozenset(self._preset.refuses) | frozenset(info.omit_params)
        self._adaptive = (info.thinking_control or self._preset.thinking).style == "anthropic_adaptive"
        self.memory = ParamMemory()
        self.capabilities = Capabilities(streaming=False, logprobs=False)

    def __repr__(self) -> str:
        return f"AnthropicModel(id={self.info.id!r}, base_url={self._base_url!r})"

    async def aclose(self) -> None:
        await self._pool.aclose()

    def build_request(self, messages: list[Message], params: GenerateParams) -> tuple[dict[str, Any], list[str]]:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        body: dict[str, Any] = {
            "model": self.info.model,
            "max_tokens": params.max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in messages if m.role != "system"],
        }
        if system:
            body["system"] = system
        omitted: list[str] = []
        thinking = self._thinking(body, params, omitted)
        if params.temperature is not None:
            if thinking or "temperature" in self._refused:
                omitted.append("temperature")
            else:
                body["temperature"] = params.temperature
        if params.top_p is not None:
            # Recent Claude models refuse temperature and top_p together; temperature wins.
            if thinking or "top_p" in self._refused or "temperature" in body:
                omitted.append("top_p")
            else:
                body["top_p"] = params.top_p
        if params.seed is not None:
            omitted.append("seed")
        if params.logprobs is not None:
            omitted.append("logprobs")
        return body, omitted

    def _thinking(self, body: dict[str, Any], params: GenerateParams, omitted: list[str]) -> bool:
        """Put the thinking switch and effort in the body; whether the model thinks."""
        wanted = self.info.thinking
        if wanted is False and self.info.reasoning_model:
            omitted.append("thinking")  # always thinks (Fable): "disabled" is a 400
        thinking = effective_thinking(self.info) if wanted is None else (wanted or self.info.reasoning_model)
        if wanted and not self._adaptive:
            body["thinking"] = {"type": "enabled", "budget_tokens": THINKING_BUDGET_TOKENS}
            body["max_tokens"] = params.max_tokens + THINKING_BUDGET_TOKENS
        elif wanted and self._adaptive:
            body["thinking"] = {"type": "adaptive"}
        if self.info.reasoning_effort:
            if wanted is False and not self.info.reasoning_model:
                omitted.append("reasoning_effort")
            else:
                body["output_config"] = {"effort": self.info.reasoning_effort}
        return thinking

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion:
        built, omitted = self.build_request(messages, params)
        body, adjusted = self.memory.apply(built)
        ex = await self._pool.exchange(self._url, body, self.info.id, self._secret)
        if ex.status in (400, 422):
            fix = self.memory.learn(ex.status, ex.parsed, body)
            if fix is not None:  # retry once with exactly that parameter changed
                body = fix.apply(body)
                adjusted = [*adjusted, fix.record()]
                ex = await self._pool.exchange(self._url, body, self.info.id, self._secret)
        done = self.read_response(ex.status, ex.parsed, ex.raw, body, omitted, headers=ex.headers,
                                  latency_ms=ex.latency_ms, clear=ex.clear)
        done.adjusted_params = adjusted
        return done

    def read_response(self, status: int, parsed: Any, raw: str, body: dict[str, Any], omitted: list[str], *,
                      headers: Mapping[str, str] | None = None, latency_ms: float = 0.0,
                      clear: Any = None) -> Completion:
        """One Messages reply read into a :class:`Completion`, or a raised :class:`ModelCallError`.
        ``parsed``/``raw`` are redacted; ``clear`` is the body before redaction (block detection
        only). A live call and a batch result line both go through here."""
        hdrs: Mapping[str, str] = headers if headers is not None else {}
        if status >= 400 or not isinstance(parsed, dict):
            raise self._error(status, parsed, raw, hdrs, body, latency_ms)
        texts: list[str] = []
        thoughts: list[str] = []
        for block in parsed.get("content") or ():
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                texts.append(str(block.get("text", "")))
            elif block.get("type") == "thinking":
                thoughts.append(str(block.get("thinking", "")))
        usage: dict[str, Any] = parsed["usage"] if isinstance(parsed.get("usage"), dict) else {}
        found = anthropic_block(clear if isinstance(clear, dict) else parsed)  # before redaction
        return Completion(
            text="".join(texts), reasoning="\n".join(thoughts) if thoughts else None,
            finish_reason=parsed.get("stop_reason"), http_status=status,
            provider_code=found.provider_code if found else None,
            tokens_in=usage.get("input_tokens"), tokens_out=usage.get("output_tokens"),
            latency_ms=latency_ms, raw=raw, request=body, omitted_params=omitted, block=found,
        )

    def transport(self) -> tuple[HttpClient, str]:
        """The pooled session (its headers hold the key) and the key, for the batch adapter."""
        return self._pool, self._secret

    @property
    def base_url(self) -> str:
        return self._base_url

    def _error(self, status: int, parsed: Any, raw: str, headers: Mapping[str, str],
               body: dict[str, Any], latency: float) -> ModelCallError:
        err = parsed.get("error") if isinstance(parsed, dict) else None
        etype = str(err.get("type", "")) if isinstance(err, dict) else ""
        msg = str(err.get("message", "")) if isinstance(err, dict) else ""
        detail = f"HTTP {status}" + (f" {etype}" if etype else "") + (f": {msg[:RAW_ERROR_CHARS]}" if msg else "")
        common: dict[str, Any] = {"http_status": status, "provider_code": etype or None, "raw": raw,
                                  "request": body, "latency_ms": latency}
        if status < 400:
            return ModelCallError(f"{self.info.id}: HTTP {status} with a body that is not a message",
                                  retryable=True, **common)
        if status in (401, 403):
            return ModelCallError(f"{self.info.id}: check that {self._key_env} holds a valid key ({detail})",
                                  retryable=False, fatal=True, **common)
        if status == 402 or "credit balance" in msg.lower() or says_no_credit(etype, msg):
            return ModelCallError(f"{self.info.id}: out of credit: top up the account, then run again "
                                  f"({detail})", retryable=False, fatal=True, **common)
        return ModelCallError(f"{self.info.id}: {detail}", retryable=status in _RETRYABLE_STATUS or status >= 500,
                              retry_after=parse_retry_after(headers), **common)
