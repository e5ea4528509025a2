"""Provider presets, loaded from ``data/presets.yaml`` (data, not code)."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from twinstudy.errors import UserError

ThinkingStyle = Literal[
    "thinking_type", "enable_thinking", "reasoning_effort", "openrouter", "chat_template", "none"
]


class ThinkingControl(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    style: ThinkingStyle = "none"
    on: str | None = None
    off: str | None = None


class Preset(BaseModel):
    """How one provider's endpoint behaves; see the header of presets.yaml for each field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    api: Literal["openai", "anthropic", "local"] = "openai"
    base_url: str | None
    api_key_env: str | None
    reasoning_fields: tuple[str, ...] = ("reasoning_content", "reasoning")
    think_tags: bool = False
    thinking: ThinkingControl = ThinkingControl()
    refuses: tuple[str, ...] = ()
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    logprobs: bool = False
    business_codes: Literal["zhipu", "minimax", "none"] = "none"
    docs: tuple[str, ...] = ()


@functools.cache
def all_presets() -> dict[str, Preset]:
    text = resources.files("twinstudy.models").joinpath("data/presets.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)["presets"]
    return {name: Preset(name=name, **body) for name, body in raw.items()}


def get_preset(name: str) -> Preset:
    presets = all_presets()
    if name not in presets:
        known = ", ".join(sorted(presets))
        raise UserError(f"unknown provider '{name}'; use one of: {known}, "
                        "or 'openai-compatible' with a base_url")
    return presets[name]
