"""Known models (``data/registry.yaml``) and how a study names one.

A model reference is either a registry id (``"deepseek/deepseek-chat"``), a dict naming a registry
id plus overrides (``{id: zai/glm-4.6, thinking: false, system: ...}``), or an inline endpoint
(``{id: my-qwen, provider: openai-compatible, base_url: http://127.0.0.1:8000/v1, model:
Qwen/Qwen3-8B, origin: CN}``).
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from typing import Any

import yaml
from pydantic import ValidationError

from twinstudy.errors import UserError
from twinstudy.models.base import ModelInfo
from twinstudy.models.presets import all_presets, get_preset

INLINE_PROVIDER = "openai-compatible"


@functools.cache
def _registry() -> dict[str, ModelInfo]:
    text = resources.files("twinstudy.models").joinpath("data/registry.yaml").read_text("utf-8")
    entries = yaml.safe_load(text)["models"]
    out: dict[str, ModelInfo] = {}
    for entry in entries:
        info = ModelInfo(**entry)
        if info.id in out:
            raise ValueError(f"registry.yaml lists '{info.id}' twice")
        out[info.id] = info
    return out


def all_models() -> list[ModelInfo]:
    return list(_registry().values())


def _unknown(name: str) -> UserError:
    return UserError(f"unknown model '{name}'; run `twinstudy models` to list them, or give an "
                     "inline endpoint ({id, provider: openai-compatible, base_url, model, origin}).")


def _validated(fields: dict[str, Any], what: str) -> ModelInfo:
    try:
        return ModelInfo(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}"
                             for e in exc.errors())
        raise UserError(f"model entry {what} is not valid: {problems}") from None


def resolve(ref: str | dict[str, Any]) -> ModelInfo:
    """A registry name, a registry name with overrides, or an inline endpoint -> ModelInfo."""
    if isinstance(ref, str):
        found = _registry().get(ref.strip())
        if found is None:
            raise _unknown(ref)
        return found
    if not isinstance(ref, dict):
        raise UserError(f"a model must be a name or a mapping, not {type(ref).__name__}")
    fields = dict(ref)
    if "name" in fields and "id" not in fields:
        fields["id"] = fields.pop("name")
    name = fields.get("id")
    if "provider" not in fields:
        if not isinstance(name, str) or name not in _registry():
            raise _unknown(str(name))
        base = _registry()[name].model_dump()
        base.update(fields)
        return _validated(base, f"'{name}'")
    provider = fields["provider"]
    if provider not in all_presets():
        get_preset(str(provider))  # raises a UserError listing the known providers
    if provider == INLINE_PROVIDER:
        missing = [k for k in ("base_url", "model") if not fields.get(k)]
        if missing:
            raise UserError(f"inline model '{name or '?'}' with provider openai-compatible needs "
                            + " and ".join(missing) + " (e.g. base_url: http://127.0.0.1:8000/v1).")
    if "model" not in fields:
        raise UserError(f"inline model '{name or '?'}' needs `model` (the name the API expects).")
    fields.setdefault("id", f"{provider}/{fields['model']}")
    return _validated(fields, f"'{fields['id']}'")


def key_env(info: ModelInfo) -> str | None:
    """The environment variable holding this model's key, or None if it needs none."""
    return info.api_key_env or get_preset(info.provider).api_key_env


def missing_key(info: ModelInfo) -> str | None:
    """The env var to set before this model can run, or None if it is ready."""
    env = key_env(info)
    return env if env and not os.environ.get(env, "").strip() else None


def models_table() -> list[dict[str, Any]]:
    """One row per registry model, with whether its key is set (None = no key needed)."""
    rows = []
    for info in all_models():
        env = key_env(info)
        rows.append({
            "id": info.id, "provider": info.provider, "model": info.model, "company": info.company,
            "origin": info.origin, "tier": info.tier, "open_weights": info.open_weights,
            "release_date": info.release_date, "key_env": env,
            "key_set": None if env is None else bool(os.environ.get(env, "").strip()),
            "vllm": info.vllm, "ollama": info.ollama,
        })
    return rows
