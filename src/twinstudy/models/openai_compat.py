"""One backend for every OpenAI Chat Completions endpoint, shaped by a provider preset.

Hot path: build a dict, ``json.dumps`` it, POST over one pooled keep-alive ``aiohttp`` session (http.py),
``json.loads`` the answer and pick fields by hand (no pydantic per response). The backend never
retries: it returns a :class:`Completion` (with ``block`` set when a provider filter stopped the
request, whatever the HTTP status) or raises :class:`ModelCallError` saying whether a retry can
help (``retryable``) or the model must stop (``fatal``). The API key lives only in the client's
headers: it is never put in ``Completion.request``, raw text, messages or reprs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinstudy.errors import UserError
from twinstudy.models.base import Capabilities, Completion, GenerateParams, Message, ModelCallError, ModelInfo
from twinstudy.models.blocks import completion_block, http_error_block
from twinstudy.models.healing import ParamMemory
from twinstudy.models.http import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT_S,
    RAW_ERROR_CHARS,
    HttpClient,
    key_envs,
    parse_retry_after,
    read_api_key,
    redact,
    says_no_credit,
    used_key_env,
)
from twinstudy.models.presets import Preset, get_preset
from twinstudy.models.provider_codes import CodeVerdict, code_table
from twinstudy.models.thinking import apply_thinking, effective_thinking

# Re-exported: other backends and older callers import these from here.
__all__ = ["DEFAULT_MAX_CONNECTIONS", "DEFAULT_TIMEOUT_S", "RAW_ERROR_CHARS", "HttpClient", "OpenAICompatModel",
           "ParamMemory", "effective_thinking", "key_envs", "parse_retry_after", "parse_top_logprobs",
           "read_api_key", "says_no_credit", "split_reasoning", "used_key_env"]

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
_QUOTA_CODES = frozenset({"insufficient_quota", "exceeded_current_quota_error", "billing_hard_limit_reached"})


def split_reasoning(content: Any, message: dict[str, Any], fields: tuple[str, ...],
                    think_tags: bool = True) -> tuple[str, str | None]:
    """Answer text without reasoning, and the reasoning (from message fields, and from inline
    <think> tags where the preset says reasoning may come that way)."""
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    text = content if isinstance(content, str) else ""
    parts: list[str] = []
    for name in fields:
        value = message.get(name)
        if isinstance(value, str) and value:
            parts.append(value)
            break
    if think_tags and ("</think>" in text or text.lstrip().startswith("<think>")):
        inline, text = _split_think_tags(text)
        if inline:
            parts.append(inline)
    reasoning = "\n".join(parts) if parts else None
    return text, reasoning


def _split_think_tags(text: str) -> tuple[str, str]:
    stripped = text.lstrip()
    if "</think>" in stripped:
        head, _, tail = stripped.rpartition("</think>")
        thought = head.removeprefix("<think>").replace("<think>", "").strip()
        return thought, tail.lstrip()
    # <think> opened and never closed: the budget ran out while thinking.
    return stripped.removeprefix("<think>").strip(), ""


def parse_top_logprobs(logprobs: Any) -> list[dict[str, float]] | None:
    """One dict per generated position: alternative token -> log probability."""
    if not isinstance(logprobs, dict):
        return None
    content = logprobs.get("content")
    if isinstance(content, list):
        out: list[dict[str, float]] = []
        for pos in content:
            if not isinstance(pos, dict):
                continue
            alts = {str(a["token"]): float(a["logprob"]) for a in pos.get("top_logprobs") or ()
                    if isinstance(a, dict) and "token" in a and a.get("logprob") is not None}
            if not alts and "token" in pos and pos.get("logprob") is not None:
                alts = {str(pos["token"]): float(pos["logprob"])}
            out.append(alts)
        return out
    legacy = logprobs.get("top_logprobs")  # text-completion style
    if isinstance(legacy, list):
        return [{str(k): float(v) for k, v in d.items() if v is not None}
                for d in legacy if isinstance(d, dict)]
    return None


def _error_fields(parsed: Any) -> tuple[str, str]:
    if not isinstance(parsed, dict):
        return "", ""
    err = parsed.get("error")
    if isinstance(err, dict):
        return str(err.get("code") or err.get("type") or ""), str(err.get("message") or "")
    if isinstance(err, str):
        return "", err
    return str(parsed.get("code") or ""), str(parsed.get("message") or parsed.get("detail") or "")


class OpenAICompatModel:
    """A :class:`~twinstudy.models.base.Model` for any OpenAI-compatible chat endpoint."""

    def __init__(
        self,
        info: ModelInfo,
        preset: Preset | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.info = info
        self._preset = preset or get_preset(info.provider)
        base_url = info.base_url or self._preset.base_url
        if not base_url:
            raise UserError(f"model '{info.id}' has no base_url; give one in the study "
                            "(e.g. base_url: http://127.0.0.1:8000/v1).")
        self._base_url = base_url.rstrip("/")
        self._url = self._base_url + "/chat/completions"
        names = key_envs(info, self._preset)
        key = read_api_key(names, info.id)
        self._key_env = used_key_env(names) or (names[0] if names else None)
        self._secret = key or ""
        headers = {"content-type": "application/json", "accept": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        self.timeout = info.timeout or timeout
        self._pool = HttpClient(base_url=self._base_url, headers=headers, timeout=self.timeout,
                                max_connections=max_connections)
        self._refused = frozenset(self._preset.refuses) | frozenset(info.omit_params)
        self._max_tokens_param = info.max_tokens_param or self._preset.max_tokens_param
        self._reasoning_fields = tuple(dict.fromkeys(
            (*self._preset.reasoning_fields, "reasoning_content", "reasoning")))
        self._logprobs = self._preset.logprobs if info.logprobs is None else info.logprobs
        self._codes = code_table(self._preset.business_codes)
        self.memory = ParamMemory()
        self.capabilities = Capabilities(streaming=False, logprobs=self._logprobs)

    def __repr__(self) -> str:
        return (f"OpenAICompatModel(id={self.info.id!r}, provider={self._preset.name!r}, "
                f"base_url={self._base_url!r})")

    async def aclose(self) -> None:
        await self._pool.aclose()

    # -- request ---------------------------------------------------------------------------------

    def build_request(self, messages: list[Message], params: GenerateParams) -> tuple[dict[str, Any], list[str]]:
        """The JSON body (never holding a secret) and the parameters left out by policy.

        Thinking and sampling follow the model first, then the preset: the model's own thinking
        switch, effort and the parameters it rejects while thinking.
        """
        body: dict[str, Any] = {
            "model": self.info.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            self._max_tokens_param: params.max_tokens,
        }
        omitted: list[str] = []
        thinks = effective_thinking(self.info)
        refused = self._refused | (frozenset(self.info.omit_when_thinking) if thinks else frozenset())
        for name, value in (("temperature", params.temperature), ("top_p", params.top_p),
                            ("seed", params.seed)):
            if value is None:
                continue
            if name in refused:
                omitted.append(name)
            else:
                body[name] = value
        if params.logprobs is not None:
            if self._logprobs and "logprobs" not in refused:
                body["logprobs"] = True
                if params.logprobs > 0:
                    body["top_logprobs"] = params.logprobs
            else:
                omitted.append("logprobs")
        self._thinking_fields(body, omitted)
        if params.answer_schema is not None:  # structured closed answer (recorded in the request)
            if "response_format" in self._refused:
                omitted.append("response_format")
            elif params.schema_style == "json_object" or (
                    params.schema_style == "auto" and self._preset.name == "llamacpp"):
                # llama-cpp-python's server (which answers json_schema with HTTP 500) and llama-server
                body["response_format"] = {"type": "json_object", "schema": params.answer_schema}
            else:  # OpenAI, vLLM, llama.cpp's llama-server
                body["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": "closed_answer", "strict": True, "schema": params.answer_schema}}
        return body, omitted

    def _thinking_fields(self, body: dict[str, Any], omitted: list[str]) -> None:
        ctl = self.info.thinking_control or self._preset.thinking
        wanted = self.info.thinking
        if wanted is None and self._preset.thinking_needs_streaming and ctl.style != "none":
            wanted = False  # thinking needs a stream here and twinstudy never streams
        elif wanted and self._preset.thinking_needs_streaming:
            omitted.append("thinking")  # would be a 400 on a non-streamed call
            wanted = None
        if wanted is False and self.info.reasoning_model:
            omitted.append("thinking")  # always thinks: an off switch would be ignored or a 400
            wanted = None
        if wanted is not None and not apply_thinking(ctl, body, wanted):
            omitted.append("thinking")
        effort = self.info.reasoning_effort
        if effort is None:
            return
        if wanted is False:
            omitted.append("reasoning_effort")  # thinking off wins over an effort
        elif ctl.style == "openrouter":
            body["reasoning"] = {**body.get("reasoning", {}), "effort": effort}
        else:
            body["reasoning_effort"] = effort

    # -- call ------------------------------------------------------------------------------------

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion:
        built, omitted = self.build_request(messages, params)
        body, adjusted = self.memory.apply(built)
        ex = await self._pool.exchange(self._url, body, self.info.id, self._secret)
        parsed, clear = _unwrap(ex.parsed), _unwrap(ex.clear)
        # Blocks are detected on the body as received (``clear``), before any key redaction.
        if ex.status in (400, 422) and http_error_block(ex.status, clear if clear is not None else parsed) is None:
            fix = self.memory.learn(ex.status, parsed, body)
            if fix is not None:  # retry once with exactly that parameter changed
                body = fix.apply(body)
                adjusted = [*adjusted, fix.record()]
                ex = await self._pool.exchange(self._url, body, self.info.id, self._secret)
                parsed, clear = _unwrap(ex.parsed), _unwrap(ex.clear)
        done = self.read_response(ex.status, parsed, ex.raw, body, omitted, headers=ex.headers,
                                  latency_ms=ex.latency_ms, clear=clear)
        done.adjusted_params = adjusted
        return done

    def read_response(self, status: int, parsed: Any, raw: str, body: dict[str, Any], omitted: list[str], *,
                      headers: Mapping[str, str] | None = None, latency_ms: float = 0.0,
                      clear: Any = None) -> Completion:
        """One reply read into a :class:`Completion` (a block included, whatever the status), or a
        raised :class:`ModelCallError`. ``parsed``/``raw`` are the body with the key redacted,
        ``clear`` the body parsed before redaction (blocks are detected on it; never stored).

        The one reader of replies: a live call and a batch result line (which carries its own HTTP
        status and body) go through here, so both are classified the same way.
        """
        parsed, clear = _unwrap(parsed), _unwrap(clear)
        hdrs: Mapping[str, str] = headers if headers is not None else {}
        if status >= 400:
            return self._from_error(status, parsed, raw, hdrs, body, omitted, latency_ms, clear)
        if not isinstance(parsed, dict):
            raise ModelCallError(f"{self.info.id}: HTTP {status} with a body that is not JSON",
                                 retryable=True, http_status=status, raw=raw, request=body,
                                 latency_ms=latency_ms)
        return self._from_body(status, parsed, raw, hdrs, body, omitted, latency_ms, clear)

    def transport(self) -> tuple[HttpClient, str]:
        """The pooled session (its headers hold the key) and the key itself, for the batch adapter
        that talks to the same provider: the key is needed only to redact replies."""
        return self._pool, self._secret

    @property
    def base_url(self) -> str:
        return self._base_url

    def _from_body(self, status: int, parsed: dict[str, Any], raw: str, headers: Mapping[str, str],
                   body: dict[str, Any], omitted: list[str], latency: float, clear_body: Any = None) -> Completion:
        choices = parsed.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        finish = choice.get("finish_reason")
        finish_reason = str(finish) if finish is not None else None
        clear = clear_body if isinstance(clear_body, dict) else parsed
        clear_choices = clear.get("choices")
        clear_choice = (clear_choices[0] if isinstance(clear_choices, list) and clear_choices
                        and isinstance(clear_choices[0], dict) else {})
        clear_finish = clear_choice.get("finish_reason")
        block = completion_block(clear, str(clear_finish) if clear_finish is not None else None)
        if not choice and block is None:
            self._raise_in_body_error(status, parsed, raw, headers, body, latency)
        message = choice.get("message") or {}
        text, reasoning = split_reasoning(message.get("content"), message, self._reasoning_fields,
                                          think_tags=self._preset.think_tags)
        usage: dict[str, Any] = parsed["usage"] if isinstance(parsed.get("usage"), dict) else {}
        return Completion(
            text=text, reasoning=reasoning, finish_reason=finish_reason, http_status=status,
            provider_code=block.provider_code if block else None,
            tokens_in=usage.get("prompt_tokens"), tokens_out=usage.get("completion_tokens"),
            latency_ms=latency, raw=raw, request=body, omitted_params=omitted, block=block,
            top_logprobs=parse_top_logprobs(choice.get("logprobs")),
        )

    def _raise_in_body_error(self, status: int, parsed: dict[str, Any], raw: str,
                             headers: Mapping[str, str], body: dict[str, Any], latency: float) -> None:
        """A 2xx answer without choices: a business code from the preset's table, or an ``error``."""
        code, msg = _error_fields(parsed)
        verdict = self._codes(status, parsed, code, msg)
        if verdict is not None:
            raise self._verdict(verdict, status, raw, body, latency, parse_retry_after(headers))
        err = parsed.get("error")
        inner = err.get("code") if isinstance(err, dict) else None
        retryable = isinstance(inner, int) and inner in _RETRYABLE_STATUS
        raise ModelCallError(f"{self.info.id}: HTTP {status} without choices"
                             + (f" ({code}: {msg[:RAW_ERROR_CHARS]})" if code or msg else ""),
                             retryable=retryable, http_status=status, provider_code=code or None,
                             raw=raw, request=body, latency_ms=latency)

    def _verdict(self, v: CodeVerdict, status: int, raw: str, body: dict[str, Any], latency: float,
                 retry_after: float | None, detail: str = "") -> ModelCallError:
        what = self._redact(" ".join(x for x in (v.what, f"({detail})" if detail else "") if x))
        if v.kind == "fatal":
            return self._fatal(what, status, v.code, raw, body, latency)
        return ModelCallError(f"{self.info.id}: {what[:RAW_ERROR_CHARS]}", retryable=v.kind == "retryable",
                              http_status=status, provider_code=v.code, retry_after=retry_after, raw=raw,
                              request=body, latency_ms=latency)

    def _from_error(self, status: int, parsed: Any, raw: str, headers: Mapping[str, str],
                    body: dict[str, Any], omitted: list[str], latency: float, clear_body: Any = None) -> Completion:
        block = http_error_block(status, clear_body if clear_body is not None else parsed)
        if block is not None:
            return Completion(text="", http_status=status, provider_code=block.provider_code,
                              latency_ms=latency, raw=raw, request=body, omitted_params=omitted,
                              block=block)
        code, msg = _error_fields(parsed)
        detail = f"HTTP {status}" + (f" {code}" if code else "") + (f": {msg[:RAW_ERROR_CHARS]}" if msg else "")
        retry_after = parse_retry_after(headers)
        verdict = self._codes(status, parsed, code, msg)
        if verdict is not None:
            raise self._verdict(verdict, status, raw, body, latency, retry_after, detail)
        if status == 402 or code in _QUOTA_CODES or (status in (400, 403, 429) and says_no_credit(code, msg)):
            raise self._fatal(f"out of credit or quota: top up the account, then run again ({detail})",
                              status, code, raw, body, latency)
        if status in (401, 403):
            hint = (f"check that {self._key_env} holds a valid key for this endpoint"
                    if self._key_env else "the endpoint asks for credentials; set api_key_env in the study")
            raise self._fatal(f"{hint} ({detail})", status, code, raw, body, latency)
        raise ModelCallError(f"{self.info.id}: {detail}", retryable=status in _RETRYABLE_STATUS or status >= 500,
                             http_status=status, provider_code=code or None, retry_after=retry_after,
                             raw=raw, request=body, latency_ms=latency)

    def _fatal(self, what: str, status: int, code: str, raw: str, body: dict[str, Any],
               latency: float) -> ModelCallError:
        return ModelCallError(f"{self.info.id}: {what}", retryable=False, fatal=True, http_status=status,
                              provider_code=code or None, raw=raw, request=body, latency_ms=latency)

    def _redact(self, text: str) -> str:
        return redact(text, self._secret)


def _unwrap(parsed: Any) -> Any:
    """Gemini's compatibility layer wraps errors in a list."""
    if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
        return parsed[0]
    return parsed
