"""Every documented way a provider says "my content filter stopped this", in one place.

Pure functions over what came back (HTTP status, parsed JSON body, finish reason, choice and
message fields) returning a :class:`BlockInfo` or ``None``. Backends call them; nothing here does
I/O. A block is not a refusal (the model declining in words) and is never retried.

Shapes and where each was checked (see also ``data/presets.yaml``):

- DeepSeek, HTTP 400 ``{"error": {"message": "Content Exists Risk", "type":
  "invalid_request_error", ...}}`` (older form ``{"detail": "Content Exists Risk"}``).
  https://github.com/deepseek-ai/awesome-deepseek-integration/issues/13 (maintainer's answer),
  https://github.com/deepseek-ai/DeepSeek-V2/issues/30
- Zhipu BigModel / Z.ai, HTTP 400 ``{"error": {"code": "1301", "message": "系统检测到输入或生成内容
  可能包含不安全或敏感内容…"}}``; ``finish_reason: "sensitive"`` on 200.
  https://docs.bigmodel.cn/cn/api/api-code, https://docs.z.ai/api-reference/api-code,
  https://github.com/langchain4j/langchain4j/issues/1079
- Qwen / DashScope, HTTP 400 ``{"error": {"code": "data_inspection_failed", "type":
  "data_inspection_failed", "message": "Input data may contain inappropriate content."}}``
  (``Output data …`` when the answer was stopped; native API: ``DataInspectionFailed``).
  https://help.aliyun.com/zh/model-studio/error-code#inappropriate-content,
  https://github.com/camel-ai/owl/issues/432, https://github.com/QwenLM/qwen-code/issues/3145
- Moonshot / Kimi, HTTP 400 ``{"error": {"type": "content_filter", "message": "The request was
  rejected because it was considered high risk"}}``. https://platform.kimi.ai/docs/api/errors
- Volcengine Ark, HTTP 400 ``error.code`` ``SensitiveContentDetected`` (input),
  ``SensitiveContentDetected.SevereViolation`` / ``.Violence`` (dotted sub-codes),
  ``InputTextSensitiveContentDetected``, ``InputImageSensitiveContentDetected(.PrivacyInformation)``,
  ``InputTextRiskDetection`` / ``OutputTextRiskDetection``. ``ContentSecurityDetectionError`` is the
  checker itself failing: not a block (a retryable error, see provider_codes.py).
  https://www.volcengine.com/docs/82379/1299023
- OpenAI, HTTP 400 ``error.code`` ``content_filter`` / ``content_policy_violation`` /
  ``moderation_blocked``, and ``invalid_prompt`` when the message is a policy wording: "...your
  prompt was flagged as potentially violating our usage policy..." (the common one,
  https://github.com/alan-turing-institute/t0-1/issues/69,
  https://github.com/MDX-Tom/gpt-instruct/issues/56) or "...limited access to this content for
  safety reasons..." (https://github.com/microsoft/PyRIT/pull/1463).
- OpenRouter, HTTP 403 with ``error.metadata.reasons`` / ``flagged_input``.
  https://openrouter.ai/docs/api/reference/errors-and-debugging
- Any OpenAI-compatible provider, HTTP 200 with ``finish_reason`` ``content_filter`` or
  ``sensitive`` (output stopped).
- MiniMax, HTTP 200 with ``input_sensitive`` / ``output_sensitive`` (and ``*_sensitive_type``), or
  ``base_resp.status_code`` 1026 (input) / 1027 (output) -- on any HTTP status: "500 input
  new_sensitive ... (1026)" was seen through another route (MiniMax-AI/MiniMax-M3#11).
  https://platform.minimax.io/docs/api-reference/text-chat-openai,
  https://platform.minimaxi.com/docs/api-reference/errorcode.md
- Baidu Qianfan V2, ``choices[].flag`` > 0 ("安全细分类型", with ``ban_round``; documented for
  streaming, where ``finish_reason: content_filter`` is the non-streaming signal). Qianfan V2
  text-generation reference https://cloud.baidu.com/doc/qianfan-api/s/3m7of64lb (copy of
  2025-12-23 in the repository DevYangJC/intelli_hub). A top-level ``flag`` is still read.
- Anthropic, ``stop_reason: "refusal"`` (streaming classifiers; ``stop_details.category`` when
  present). https://platform.claude.com/docs/en/test-and-evaluate/strengthen-guardrails/handle-streaming-refusals
"""

from __future__ import annotations

from typing import Any, Literal

from twinstudy.models.base import BlockInfo

Where = Literal["input", "output", "unknown"]

BLOCK_FINISH_REASONS = frozenset({"content_filter", "sensitive"})

_ARK_BLOCK_SUFFIXES = ("SensitiveContentDetected", "RiskDetection")
_OPENAI_POLICY_WORDS = ("safety", "usage policy", "flagged")
_OPENAI_BLOCK_CODES = frozenset({"content_filter", "content_policy_violation", "moderation_blocked"})
_QWEN_BLOCK_CODES = frozenset({"data_inspection_failed", "DataInspectionFailed"})


def _error_obj(body: Any) -> dict[str, Any]:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return err
    return {}


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _where_from_prefix(text: str) -> Where:
    low = text.lower()
    if low.startswith(("input or output", "input/output")):  # DashScope native wording
        return "unknown"
    if low.startswith("input"):
        return "input"
    if low.startswith("output"):
        return "output"
    return "unknown"


def _zhipu_where(body: dict[str, Any]) -> Where:
    """Zhipu attaches ``contentFilter``/``content_filter`` entries naming the role that tripped."""
    entries = body.get("contentFilter") or body.get("content_filter") or []
    roles = {e.get("role") for e in entries if isinstance(e, dict)}
    if "assistant" in roles:
        return "output"
    if roles & {"user", "system", "history"}:
        return "input"
    return "unknown"


def _ark_block(code: str, message: str) -> BlockInfo | None:
    """Ark codes may carry a dotted sub-code (``SensitiveContentDetected.Violence``)."""
    head = code.split(".", 1)[0]
    if not head.endswith(_ARK_BLOCK_SUFFIXES):
        return None
    where = _where_from_prefix(head)
    if where == "unknown" and head == "SensitiveContentDetected":
        where = "input"  # the docs list it among the input checks
    return BlockInfo(f"ark:{code}", where, message)


def http_error_block(status: int, body: Any) -> BlockInfo | None:
    """A block signalled by a non-2xx response (400 or 403 bodies; MiniMax on any status)."""
    if isinstance(body, dict):
        found = _minimax_base_resp_block(body)
        if found is not None:
            return found
    if status not in (400, 403, 451, 422):
        return None
    err = _error_obj(body)
    code = _s(err.get("code"))
    etype = _s(err.get("type"))
    message = _s(err.get("message"))
    detail = _s(body.get("detail")) if isinstance(body, dict) else ""

    if "Content Exists Risk" in (message, detail):  # DeepSeek
        return BlockInfo("deepseek:content_exists_risk", "unknown", message or detail)
    if code == "1301":  # Zhipu BigModel / Z.ai
        return BlockInfo("zhipu:1301", _zhipu_where(body), message)
    if code in _QWEN_BLOCK_CODES or etype in _QWEN_BLOCK_CODES or "DataInspectionFailed" in message:
        text = message.split("DataInspectionFailed:", 1)[-1].strip()
        return BlockInfo(f"dashscope:{code or etype}", _where_from_prefix(text), message)
    if etype in ("content_filter", "content_filter_error") and not code:  # Moonshot / Kimi
        return BlockInfo(f"moonshot:{etype}", "unknown", message)
    ark = _ark_block(code, message)  # Volcengine Ark
    if ark is not None:
        return ark
    if code in _OPENAI_BLOCK_CODES:
        return BlockInfo(f"openai:{code}", "input", message)
    if code == "invalid_prompt" and any(w in message.lower() for w in _OPENAI_POLICY_WORDS):
        return BlockInfo("openai:invalid_prompt", "input", message)
    meta = err.get("metadata")
    if status == 403 and isinstance(meta, dict) and ("reasons" in meta or "flagged_input" in meta):
        reasons = meta.get("reasons") or []
        label = ",".join(str(r) for r in reasons) if isinstance(reasons, list) else str(reasons)
        return BlockInfo(f"openrouter:moderation:{label}" if label else "openrouter:moderation",
                         "input", message)
    return None


def minimax_block(body: dict[str, Any]) -> BlockInfo | None:
    """MiniMax flags sensitivity in the body of an HTTP 200 answer."""
    if body.get("input_sensitive"):
        return BlockInfo(f"minimax:input_sensitive:{_s(body.get('input_sensitive_type'))}", "input")
    if body.get("output_sensitive"):
        return BlockInfo(f"minimax:output_sensitive:{_s(body.get('output_sensitive_type'))}", "output")
    return _minimax_base_resp_block(body)


def _minimax_base_resp_block(body: dict[str, Any]) -> BlockInfo | None:
    """``base_resp`` 1026/1027, or an error message saying ``new_sensitive`` with one of them."""
    base = body.get("base_resp")
    if isinstance(base, dict):
        status = base.get("status_code")
        if status in (1026, "1026"):
            return BlockInfo("minimax:1026", "input", _s(base.get("status_msg")))
        if status in (1027, "1027"):
            return BlockInfo("minimax:1027", "output", _s(base.get("status_msg")))
    message = _s(_error_obj(body).get("message"))
    if "new_sensitive" in message:
        where: Where = "output" if "1027" in message or "output" in message.lower() else "input"
        return BlockInfo(f"minimax:{1027 if where == 'output' else 1026}", where, message)
    return None


def completion_block(body: dict[str, Any], finish_reason: str | None) -> BlockInfo | None:
    """A block signalled inside a 2xx chat-completion response."""
    found = minimax_block(body)
    if found is not None:
        return found
    if finish_reason in BLOCK_FINISH_REASONS:
        return BlockInfo(f"finish_reason:{finish_reason}", "output")
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    for flag in (first.get("flag"), body.get("flag")):  # Baidu: per choice (documented), top level (legacy)
        if isinstance(flag, int) and not isinstance(flag, bool) and flag > 0:
            return BlockInfo(f"baidu:flag:{flag}", "unknown")
    return None


def anthropic_block(body: dict[str, Any]) -> BlockInfo | None:
    """Anthropic's streaming classifiers end a message with ``stop_reason: "refusal"``."""
    if body.get("stop_reason") != "refusal":
        return None
    details = body.get("stop_details")
    category = _s(details.get("category")) if isinstance(details, dict) else ""
    explanation = _s(details.get("explanation")) if isinstance(details, dict) else ""
    code = f"anthropic:refusal:{category}" if category else "anthropic:refusal"
    return BlockInfo(code, "output", explanation)
