"""Known models (``data/registry.yaml``) and how a study names one.

A model reference is either a registry id (``"zai/glm-4.7"``), a dict naming a registry id plus
overrides (``{id: zai/glm-4.7, thinking: false, reasoning_effort: high}``), any model id on a known
provider (``{provider: zai, model: glm-4.7-flash, origin: CN}``: the registry is a convenience, not a
gate), or an inline endpoint (``{id: my-qwen, provider: openai-compatible, base_url:
http://127.0.0.1:8000/v1, model: Qwen/Qwen3-8B, origin: CN}``).

A retired entry stays in the registry with its date and successors: a new study naming it gets an
error that names the successors; results already stored under it still open (``allow_retired``).
"""

from __future__ import annotations

import datetime
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


def _retired(info: ModelInfo) -> UserError:
    instead = " or ".join(info.successors) if info.successors else "a current model (`twinstudy models`)"
    return UserError(f"model '{info.id}' was retired by its provider on {info.retired}; use {instead} "
                     "instead. Results already stored under the old id still open and report.")


def is_retired(info: ModelInfo, today: str | None = None) -> bool:
    """Retired on or before today (a date still ahead only announces the shutdown)."""
    return bool(info.retired) and str(info.retired) <= (today or datetime.date.today().isoformat())


def _checked(info: ModelInfo, allow_retired: bool) -> ModelInfo:
    if is_retired(info) and not allow_retired:
        raise _retired(info)
    if info.reasoning_effort and info.efforts and info.reasoning_effort not in info.efforts:
        raise UserError(f"model '{info.id}' takes reasoning_effort {', '.join(info.efforts)}, "
                        f"not '{info.reasoning_effort}'; set one of those in the study, or leave it out "
                        "for the provider's default.")
    return info


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


def resolve(ref: str | dict[str, Any], *, allow_retired: bool = False) -> ModelInfo:
    """A registry name, a registry name with overrides, a model on a known provider, or an inline
    endpoint -> ModelInfo. ``allow_retired`` is for reading results stored before a retirement."""
    return _checked(_resolve(ref), allow_retired)


def _resolve(ref: str | dict[str, Any]) -> ModelInfo:
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
    known = _registry().get(str(fields["id"]))
    if known is not None and known.provider == provider and known.model == fields["model"]:
        fields = {**known.model_dump(), **fields}  # the same model: keep the registry's metadata
    return _validated(fields, f"'{fields['id']}'")


def key_names(info: ModelInfo) -> tuple[str, ...]:
    """Variables that may hold this model's key, in reading order (empty: no key needed)."""
    if info.api_key_env:
        return (info.api_key_env,)
    preset = get_preset(info.provider)
    return (preset.api_key_env, *preset.legacy_key_envs) if preset.api_key_env else ()


def key_env(info: ModelInfo) -> str | None:
    """The environment variable this model's key is read from now: the first one set, else the
    one to set; None if it needs none."""
    names = key_names(info)
    return next((n for n in names if os.environ.get(n, "").strip()), names[0] if names else None)


def missing_key(info: ModelInfo) -> str | None:
    """The env var to set before this model can run, or None if it is ready."""
    names = key_names(info)
    if not names or any(os.environ.get(n, "").strip() for n in names):
        return None
    return names[0]


def check_key_sharing(infos: list[ModelInfo]) -> None:
    """An older shared variable (e.g. DASHSCOPE_API_KEY) may stand in for one region's key, not
    for two: keys are region-specific, so a run that would send it to two regions stops here."""
    readers: dict[str, set[str]] = {}
    for info in infos:
        names = key_names(info)
        if names and not os.environ.get(names[0], "").strip() and key_env(info) != names[0]:
            readers.setdefault(str(key_env(info)), set()).add(info.provider)
    for legacy, providers in readers.items():
        if len(providers) > 1:
            wanted = ", ".join(str(get_preset(p).api_key_env) for p in sorted(providers))
            raise UserError(f"{legacy} is set but this study uses {', '.join(sorted(providers))}, whose keys "
                            f"are region-specific; set {wanted} instead (one key per region).")


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
            "retired": info.retired, "retired_now": is_retired(info), "successors": list(info.successors),
            "sources": list(info.sources) + list(get_preset(info.provider).docs), "notes": info.notes,
        })
    return rows
