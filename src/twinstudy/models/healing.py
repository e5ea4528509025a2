"""Self-healing parameters: a 400 that names one unsupported parameter or value is fixed once.

Providers change which sampling and thinking parameters a model accepts faster than any registry
can follow (OpenAI's gpt-5.1 dropped ``reasoning_effort: minimal``, Claude Opus 4.7 dropped
``temperature``). When an answer is HTTP 400/422 and its message names exactly one parameter we
sent (or, for DashScope, one we must send), :func:`diagnose` says how to change exactly that
parameter; the backend retries once with the change, keeps it for the rest of the run and records
it on every completion it touches. A content block is never diagnosed: blocks are classified
first and are final.

Documented shapes (each reproduced in tests/fault_server.py):

- OpenAI ``unsupported_parameter``: "Unsupported parameter: 'temperature' is not supported with
  this model." with ``param`` (https://github.com/appatalks/eva-agent/issues/83); the
  ``max_tokens`` variant ends "Use 'max_completion_tokens' instead." (parameter renamed).
- OpenAI ``unsupported_value``: "Unsupported value: 'temperature' does not support 0.1 with this
  model. Only the default (1) value is supported." (https://github.com/nashsu/llm_wiki/issues/670)
  -> dropped; "Unsupported value: 'minimal' is not supported with the 'gpt-5.1' model. Supported
  values are: 'none', 'low', 'medium', and 'high'."
  (https://github.com/openai/openai-agents-python/issues/2089) -> the nearest supported value.
- Anthropic: "'temperature' is deprecated for this model."
  (https://github.com/rocketride-org/rocketride-server/issues/1194) -> dropped;
  "\"thinking.type.enabled\" is not supported for this model. Use \"thinking.type.adaptive\" and
  \"output_config.effort\" ..." (https://github.com/zhukunpenglinyutong/jetbrains-cc-gui/issues/1003)
  -> ``thinking: {type: adaptive}``.
- DashScope: "parameter.enable_thinking must be set to false for non-streaming calls"
  (https://github.com/OpenBMB/UltraRAG/issues/287) -> ``enable_thinking: false``.
- Moonshot/Kimi: "invalid temperature: only 1 is allowed for this model"
  (https://github.com/anomalyco/opencode/issues/27796) -> dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

# Parameters a fix may touch; the conversation and the model name never are.
HEALABLE = frozenset({
    "temperature", "top_p", "top_k", "seed", "logprobs", "top_logprobs", "reasoning_effort",
    "thinking", "enable_thinking", "max_tokens", "max_completion_tokens", "output_config",
    "chat_template_kwargs", "reasoning", "frequency_penalty", "presence_penalty",
})
EFFORT_ORDER = ("none", "minimal", "low", "medium", "high", "xhigh", "max")

_QUOTED = r"""['"`]?([A-Za-z_][A-Za-z0-9_.]*)['"`]?"""
_UNSUPPORTED_PARAM = re.compile(r"unsupported parameter:\s*" + _QUOTED, re.I)
_USE_INSTEAD = re.compile(r"use\s+" + _QUOTED + r"\s+instead", re.I)
_UNSUPPORTED_VALUE = re.compile(r"unsupported value:\s*" + _QUOTED, re.I)
_SUPPORTED_VALUES = re.compile(r"supported values are:?\s*(.+)$", re.I)
_DEPRECATED = re.compile(_QUOTED + r"\s+is deprecated for this model", re.I)
_INVALID_ONLY = re.compile(r"invalid\s+([a-z_]+):\s*only\s+\S+\s+is allowed", re.I)


@dataclass(frozen=True)
class ParamFix:
    """One change to one parameter: drop it, set it to ``value``, or rename it to ``value``."""

    param: str
    action: Literal["dropped", "set", "renamed"]
    value: Any = None
    reason: str = ""

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"param": self.param, "action": self.action, "reason": self.reason}
        if self.action != "dropped":
            out["value"] = self.value
        return out

    def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``body`` with the change made (a no-op when the parameter is not there)."""
        out = dict(body)
        if self.action == "dropped":
            out.pop(self.param, None)
            if self.param == "logprobs":
                out.pop("top_logprobs", None)
        elif self.action == "renamed":
            if self.param in out:
                out[str(self.value)] = out.pop(self.param)
        else:
            out[self.param] = self.value
        return out


def _error_parts(parsed: Any) -> tuple[str, str, str]:
    """(message, param, code) from the OpenAI and Anthropic error envelopes."""
    if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
        parsed = parsed[0]
    if not isinstance(parsed, dict):
        return "", "", ""
    err = parsed.get("error")
    if isinstance(err, dict):
        return (str(err.get("message") or ""), str(err.get("param") or ""), str(err.get("code") or ""))
    return str(parsed.get("message") or ""), str(parsed.get("param") or ""), str(parsed.get("code") or "")


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _nearest_effort(sent: str, allowed: list[str]) -> str | None:
    known = [a for a in allowed if a in EFFORT_ORDER]
    if not known:
        return allowed[0] if allowed else None
    if sent not in EFFORT_ORDER:
        return known[0]
    pos = EFFORT_ORDER.index(sent)
    # ties go to the lighter effort: "minimal" means "as little as possible", so it becomes "none"
    return min(known, key=lambda a: (abs(EFFORT_ORDER.index(a) - pos), EFFORT_ORDER.index(a)))


def diagnose(status: int, parsed: Any, body: dict[str, Any]) -> ParamFix | None:
    """The one change a 400/422 asks for, or None when it does not name a parameter we can fix."""
    if status not in (400, 422):
        return None
    message, param, code = _error_parts(parsed)
    if not message and not param:
        return None
    reason = f"HTTP {status}: {message[:200]}"
    low = message.lower()

    if "thinking.type.enabled" in message and "adaptive" in low and "thinking" in body:
        return ParamFix("thinking", "set", {"type": "adaptive"}, reason)
    if "enable_thinking must be set to false" in low or "enable_thinking必须设置为false" in message:
        return ParamFix("enable_thinking", "set", False, reason)

    m = _UNSUPPORTED_VALUE.search(message)
    if m:
        target = _top(param) if param else ""
        bad = m.group(1)
        if not target:  # "Unsupported value: 'minimal' ..." names the value; find what carried it
            target = next((k for k, v in body.items() if isinstance(v, str) and v == bad), bad)
        allowed = _SUPPORTED_VALUES.search(message)
        if allowed and target in body and isinstance(body[target], str):
            values = re.findall(r"['\"`]([^'\"`]+)['\"`]", allowed.group(1))
            choice = _nearest_effort(body[target], values)
            if choice is not None and choice != body[target]:
                return ParamFix(target, "set", choice, reason)
            return None
        return _drop(target, body, reason)

    m = _UNSUPPORTED_PARAM.search(message)
    if m:
        name = _top(param or m.group(1))
        instead = _USE_INSTEAD.search(message)
        if instead and name in body and _top(instead.group(1)) in HEALABLE:
            return ParamFix(name, "renamed", _top(instead.group(1)), reason)
        return _drop(name, body, reason)

    m = _DEPRECATED.search(message) or _INVALID_ONLY.search(message)
    if m:
        return _drop(_top(m.group(1)), body, reason)

    if param and code in ("unsupported_parameter", "unsupported_value"):
        return _drop(_top(param), body, reason)
    return None


def _drop(name: str, body: dict[str, Any], reason: str) -> ParamFix | None:
    if name not in HEALABLE or name not in body:
        return None
    return ParamFix(name, "dropped", None, reason)


class ParamMemory:
    """Self-healing changes learned during a run, applied to every later request of one backend."""

    def __init__(self) -> None:
        self.fixes: dict[str, ParamFix] = {}

    def apply(self, body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        records = []
        for fix in self.fixes.values():
            if fix.param in body or fix.action == "set":
                body = fix.apply(body)
                records.append(fix.record())
        return body, records

    def learn(self, status: int, parsed: Any, body: dict[str, Any]) -> ParamFix | None:
        """A new fix for this 400 (None if it names nothing fixable or a parameter fixed before)."""
        fix = diagnose(status, parsed, body)
        if fix is None or fix.param in self.fixes:
            return None
        self.fixes[fix.param] = fix
        return fix
