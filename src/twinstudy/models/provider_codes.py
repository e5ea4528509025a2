"""Provider business-code tables, registered by name; a preset names its table in ``business_codes``.

Some providers put their own numeric codes inside the error body (Zhipu/Z.ai ``error.code``,
MiniMax ``base_resp.status_code``). What a code means (out of credit, rate limited, bad key) is
provider data, so it lives here under the provider's name, not inside the generic backend: a new
provider with its own codes adds a table and names it in presets.yaml. Content-filter codes are
not here; they are blocks (``blocks.py``) and are checked first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["fatal", "retryable", "error"]


@dataclass(frozen=True)
class CodeVerdict:
    """What a business code means: stop the model, retry, or a plain (non-retryable) error."""

    kind: Kind
    code: str
    what: str


# A table reads (HTTP status, parsed body, error code, error message) and returns a verdict or None.
CodeTable = Callable[[int, Any, str, str], "CodeVerdict | None"]
CODE_TABLES: dict[str, CodeTable] = {}


def register_codes(name: str) -> Callable[[CodeTable], CodeTable]:
    def add(table: CodeTable) -> CodeTable:
        CODE_TABLES[name] = table
        return table
    return add


@register_codes("none")
def _no_codes(status: int, parsed: Any, code: str, msg: str) -> CodeVerdict | None:
    return None


# Zhipu BigModel / Z.ai business codes (https://docs.bigmodel.cn/cn/api/api-code,
# https://docs.z.ai/api-reference/api-code).
_ZHIPU_RETRYABLE = frozenset({"1302", "1303", "1305", "1312", "1120", "1230", "1234"})
_ZHIPU_FATAL = {
    "1000": "authentication failed", "1001": "authentication failed", "1002": "authentication failed",
    "1003": "authentication token expired", "1004": "authentication failed",
    "1110": "account inactive", "1111": "account does not exist", "1112": "account locked",
    "1113": "account balance is empty: top up your balance, then run again",
    "1121": "account locked for a policy violation",
    "1304": "daily call limit for this API reached", "1308": "usage limit reached until the next reset",
    "1309": "coding plan expired", "1310": "weekly/monthly usage limit reached",
}


@register_codes("zhipu")
def zhipu_codes(status: int, parsed: Any, code: str, msg: str) -> CodeVerdict | None:
    if code in _ZHIPU_FATAL:
        return CodeVerdict("fatal", code, _ZHIPU_FATAL[code])
    if code in _ZHIPU_RETRYABLE:
        return CodeVerdict("retryable", code, "")
    return None


# MiniMax base_resp codes (https://platform.minimax.io/docs/api-reference/errorcode.md). They come
# on HTTP 200 bodies without choices and, through some routes, on non-2xx statuses too
# (https://github.com/MiniMax-AI/MiniMax-M3/issues/11).
_MINIMAX_RETRYABLE = frozenset({1000, 1001, 1002, 1024, 1033})
_MINIMAX_FATAL = {1004: "authentication failed", 1008: "account balance is insufficient: top up your balance"}


@register_codes("minimax")
def minimax_codes(status: int, parsed: Any, code: str, msg: str) -> CodeVerdict | None:
    base = parsed.get("base_resp") if isinstance(parsed, dict) else None
    if not isinstance(base, dict) or base.get("status_code") in (None, 0, "0"):
        return None
    try:
        num = int(base["status_code"])
    except (TypeError, ValueError):
        num = -1
    text = str(base.get("status_msg") or "")
    if num in _MINIMAX_FATAL:
        return CodeVerdict("fatal", str(num), f"{_MINIMAX_FATAL[num]} ({num}: {text})")
    kind: Kind = "retryable" if num in _MINIMAX_RETRYABLE else "error"
    return CodeVerdict(kind, str(num), f"provider code {num}: {text}")


# Volcengine Ark: "ContentSecurityDetectionError" (风险识别产品请求失败) means the content checker
# itself failed, not that it found anything: retry (https://www.volcengine.com/docs/82379/1299023).
@register_codes("ark")
def ark_codes(status: int, parsed: Any, code: str, msg: str) -> CodeVerdict | None:
    if code.split(".", 1)[0] == "ContentSecurityDetectionError":
        return CodeVerdict("retryable", code, "the provider's content checker failed")
    return None


def code_table(name: str) -> CodeTable:
    """The table a preset names; an unknown name is a mistake in presets.yaml."""
    try:
        return CODE_TABLES[name]
    except KeyError:
        raise ValueError(f"presets.yaml names business_codes '{name}', which no table registers; "
                         f"known: {', '.join(sorted(CODE_TABLES))}") from None
