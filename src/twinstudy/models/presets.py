"""Provider presets, loaded from ``data/presets.yaml`` (data, not code)."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from twinstudy.errors import UserError
from twinstudy.models.base import ThinkingControl, ThinkingStyle

__all__ = ["Preset", "ThinkingControl", "ThinkingStyle", "all_presets", "get_preset"]


class Preset(BaseModel):
    """How one provider's endpoint behaves; see the header of presets.yaml for each field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    api: Literal["openai", "anthropic", "local"] = "openai"
    base_url: str | None
    api_key_env: str | None
    # Older variable names still read when api_key_env is unset and no other preset in the same
    # run reads the same old name (region-specific keys used to share one variable).
    legacy_key_envs: tuple[str, ...] = ()
    reasoning_fields: tuple[str, ...] = ("reasoning_content", "reasoning")
    think_tags: bool = False
    thinking: ThinkingControl = ThinkingControl()
    # Thinking works only on streamed calls (DashScope): twinstudy does not stream, so the off
    # switch is sent unless the study asks for thinking.
    thinking_needs_streaming: bool = False
    refuses: tuple[str, ...] = ()
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    logprobs: bool = False
    business_codes: str = "none"  # a table registered in provider_codes.py
    # The provider's batch API (twinstudy.batch.providers): openai-files (upload a JSONL file, then
    # /batches), anthropic (/v1/messages/batches), none. batch_url is the `url`/`endpoint` each line
    # names; batch_max_lines the most requests one batch may hold, per the provider's docs.
    batch: Literal["openai-files", "anthropic", "none"] = "none"
    batch_url: str = "/v1/chat/completions"
    batch_max_lines: int = 50_000
    docs: tuple[str, ...] = ()


@functools.cache
def all_presets() -> dict[str, Preset]:
    text = resources.files("twinstudy.models").joinpath("data/presets.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)["presets"]
    presets = {name: Preset(name=name, **body) for name, body in raw.items()}
    from twinstudy.models.provider_codes import code_table

    for p in presets.values():
        code_table(p.business_codes)  # fails loudly on a table no code registers
    return presets


def get_preset(name: str) -> Preset:
    presets = all_presets()
    if name not in presets:
        known = ", ".join(sorted(presets))
        raise UserError(f"unknown provider '{name}'; use one of: {known}, "
                        "or 'openai-compatible' with a base_url")
    return presets[name]
