"""Batch adapters, one per protocol, chosen by the model's preset (``batch`` in presets.yaml).

``openai-files`` serves OpenAI, Zhipu BigModel (``/v4/chat/completions``), DashScope (Beijing and
Singapore, OpenAI-compatible mode), Moonshot and Gemini (through its OpenAI-compatible layer, which
Google documents for batches too; see presets.yaml); ``anthropic`` serves Claude. Every other
provider (DeepSeek, Z.ai international, MiniMax, Ark, local servers, the embedded model, ...) has
no batch API we could confirm, and its models run live.

Gemini's native ``models/{model}:batchGenerateContent`` (inline ``GenerateContentRequest`` objects
keyed by ``metadata.key``) is not used: twinstudy has no native Gemini backend, so native bodies
would be built and read by code that no live call exercises, while the OpenAI-compatible batch
sends exactly the body the live backend sends.
"""

from __future__ import annotations

from typing import Any

from twinstudy.batch.api import BatchAPI
from twinstudy.batch.providers.anthropic import AnthropicBatch, from_custom_id, to_custom_id
from twinstudy.batch.providers.openai_files import OpenAIFilesBatch
from twinstudy.models.anthropic import AnthropicModel
from twinstudy.models.base import Model, ModelInfo
from twinstudy.models.openai_compat import OpenAICompatModel
from twinstudy.models.presets import get_preset

__all__ = ["AnthropicBatch", "OpenAIFilesBatch", "batch_api_for", "from_custom_id", "has_batch", "to_custom_id"]


def has_batch(info: ModelInfo) -> bool:
    """Whether this model's provider has a batch API twinstudy speaks (no backend needed)."""
    return get_preset(info.provider).batch != "none"


def batch_api_for(info: ModelInfo, model: Model, **opts: Any) -> BatchAPI | None:
    """The batch adapter for ``model`` (the live backend built for ``info``), or None when its
    provider has no batch API. ``opts``: ``max_lines`` (lower than the provider's limit, e.g. for
    tests), ``completion_window`` (openai-files)."""
    preset = get_preset(info.provider)
    max_lines = min(int(opts.get("max_lines") or preset.batch_max_lines), preset.batch_max_lines)
    if preset.batch == "openai-files" and isinstance(model, OpenAICompatModel):
        return OpenAIFilesBatch(model, provider=preset.name, url=preset.batch_url, max_lines=max_lines,
                                completion_window=str(opts.get("completion_window") or "24h"))
    if preset.batch == "anthropic" and isinstance(model, AnthropicModel):
        return AnthropicBatch(model, provider=preset.name, max_lines=max_lines)
    return None
