"""Whether a model thinks on a request, and how a thinking switch is written into the body."""

from __future__ import annotations

from typing import Any

from twinstudy.models.base import ModelInfo, ThinkingControl


def effective_thinking(info: ModelInfo) -> bool:
    """Whether the model thinks on this request: the study's word, else the model's default."""
    if info.reasoning_model:
        return True
    if info.thinking is not None:
        return info.thinking
    return info.thinks_by_default and info.reasoning_effort != "none"


def apply_thinking(ctl: ThinkingControl, body: dict[str, Any], on: bool) -> bool:
    """Put the switch in the body; False when this control cannot express the request."""
    if ctl.style == "thinking_type":
        value = (ctl.on or "enabled") if on else ctl.off
        if value is None:
            return False
        body["thinking"] = {"type": value}
    elif ctl.style == "enable_thinking":
        body["enable_thinking"] = on
    elif ctl.style == "reasoning_effort":
        effort = ctl.on if on else ctl.off
        if effort is None:
            return False
        body["reasoning_effort"] = effort
    elif ctl.style == "openrouter":
        body["reasoning"] = {"enabled": on}
    elif ctl.style == "chat_template":
        body["chat_template_kwargs"] = {ctl.key: on}
    else:
        return False
    return True
