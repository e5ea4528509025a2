"""Turn a :class:`ModelInfo` into a ready backend; a missing key fails here, before any call.

Backends are chosen by name through :data:`BACKENDS` (a preset's ``api``: ``openai``,
``anthropic``, ``local``), not by an if/else: a new API style registers a name and the class path,
and a preset names it. Classes are imported only when first used, so the embedded model's
llama.cpp is not loaded for a hosted-only study.
"""

from __future__ import annotations

import importlib
from typing import Any

from twinstudy.models.base import Model, ModelInfo
from twinstudy.models.presets import Preset, get_preset

# name -> "module:Class"; every class takes (info, preset, **options) and satisfies Model.
BACKENDS: dict[str, str] = {
    "openai": "twinstudy.models.openai_compat:OpenAICompatModel",
    "anthropic": "twinstudy.models.anthropic:AnthropicModel",
    "local": "twinstudy.models.local:LocalModel",
}
_NO_OPTIONS = frozenset({"local"})  # in-process: no HTTP timeout or connection pool


def register_backend(name: str, path: str) -> None:
    """Add or replace a backend: ``path`` is ``"package.module:Class"``."""
    BACKENDS[name] = path


def backend_class(name: str) -> Any:
    try:
        module, _, cls = BACKENDS[name].partition(":")
    except KeyError:
        raise ValueError(f"no backend is registered for api '{name}'; known: {', '.join(sorted(BACKENDS))}") from None
    return getattr(importlib.import_module(module), cls)


def create_model(info: ModelInfo, **options: Any) -> Model:
    """The backend the model's preset names, built with ``options`` (timeout, max_connections)
    for HTTP backends. Raises :class:`~twinstudy.errors.UserError` naming the env var when a key
    is missing."""
    preset: Preset = get_preset(info.provider)
    cls = backend_class(preset.api)
    if preset.api in _NO_OPTIONS:
        model: Model = cls(info)
        return model
    built: Model = cls(info, preset, **{k: v for k, v in options.items() if v is not None})
    return built
