"""Turn a :class:`ModelInfo` into a ready backend; a missing key fails here, before any call."""

from __future__ import annotations

from typing import Any

from twinstudy.models.base import Model, ModelInfo
from twinstudy.models.presets import get_preset


def create_model(info: ModelInfo, **options: Any) -> Model:
    """``local`` -> in-process GGUF; ``anthropic`` -> Messages API; anything else -> OpenAI-compatible.

    ``options`` (timeout, max_connections) go to the HTTP backends.
    Raises :class:`~twinstudy.errors.UserError` naming the env var when a key is missing.
    """
    if info.provider == "local":
        from twinstudy.models.local import LocalModel

        model: Model = LocalModel(info)
        return model
    preset = get_preset(info.provider)
    if preset.api == "anthropic":
        from twinstudy.models.anthropic import AnthropicModel

        return AnthropicModel(info, preset, **options)
    from twinstudy.models.openai_compat import OpenAICompatModel

    return OpenAICompatModel(info, preset, **options)
