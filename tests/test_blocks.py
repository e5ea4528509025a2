"""Each provider's documented block signal becomes a Completion with ``block`` set, after exactly one
request; business and HTTP errors become the right kind of ModelCallError. Everything runs through
the real backends against the loopback fault server."""

from __future__ import annotations

import asyncio
import json
import time
from email.utils import formatdate
from typing import Any

import fault_server as fs
import pytest
from fault_server import FaultServer, Reply

from twinstudy.errors import UserError
from twinstudy.models.anthropic import AnthropicModel
from twinstudy.models.base import Completion, GenerateParams, Message, ModelCallError, ModelInfo
from twinstudy.models.openai_compat import OpenAICompatModel

ASK = [Message("user", "Do you agree? Answer Agree or Disagree.")]
PARAMS = GenerateParams(max_tokens=16, temperature=0.7)
KEY_ENVS = ("ZAI_API_KEY", "ZHIPUAI_API_KEY", "DEEPSEEK_API_KEY", "MOONSHOT_API_KEY", "DASHSCOPE_API_KEY",
            "MINIMAX_API_KEY", "ARK_API_KEY", "HUNYUAN_API_KEY", "QIANFAN_API_KEY", "OPENAI_API_KEY",
            "GEMINI_API_KEY", "OPENROUTER_API_KEY", "ANTHROPIC_API_KEY")


@pytest.fixture(autouse=True)
def fake_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for env in KEY_ENVS:
        monkeypatch.setenv(env, f"test-key-for-{env.lower()}")


def call(server: FaultServer, case: str, provider: str, *replies: Reply, timeout: float = 5.0,
         **info: Any) -> Completion:
    base_url = server.script(case, *replies)
    model_info = ModelInfo(id=f"{provider}/{case}", provider=provider, model="m", base_url=base_url, **info)

    async def go() -> Completion:
        backend = (AnthropicModel(model_info, timeout=timeout) if provider == "anthropic"
                   else OpenAICompatModel(model_info, timeout=timeout))
        try:
            return await backend.generate(ASK, PARAMS)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def call_error(server: FaultServer, case: str, provider: str, *replies: Reply, **kw: Any) -> ModelCallError:
    with pytest.raises(ModelCallError) as caught:
        call(server, case, provider, *replies, **kw)
    return caught.value


BLOCKS = [
    # case, provider, reply, expected code, expected where, expected http status
    ("deepseek-risk", "deepseek", fs.DEEPSEEK_CONTENT_RISK, "deepseek:content_exists_risk", "unknown", 400),
    ("zai-1301", "zai", fs.ZHIPU_1301, "zhipu:1301", "input", 400),
    ("zhipu-1301", "zhipu", fs.ZHIPU_1301, "zhipu:1301", "input", 400),
    ("qwen-input", "dashscope-intl", fs.QWEN_INPUT_INSPECTION, "dashscope:data_inspection_failed", "input", 400),
    ("qwen-output", "dashscope", fs.QWEN_OUTPUT_INSPECTION, "dashscope:data_inspection_failed", "output", 400),
    ("kimi-filter", "moonshot", fs.MOONSHOT_CONTENT_FILTER, "moonshot:content_filter", "unknown", 400),
    ("ark-input", "ark", fs.ARK_INPUT_SENSITIVE, "ark:InputTextSensitiveContentDetected", "input", 400),
    ("ark-output", "ark", fs.ARK_OUTPUT_RISK, "ark:OutputTextRiskDetection", "output", 400),
    ("openai-prompt", "openai", fs.OPENAI_INVALID_PROMPT, "openai:invalid_prompt", "input", 400),
    ("openrouter-mod", "openrouter", fs.OPENROUTER_MODERATION, "openrouter:moderation:harassment", "input", 403),
    ("finish-filter", "gemini", fs.FINISH_CONTENT_FILTER, "finish_reason:content_filter", "output", 200),
    ("finish-sensitive", "hunyuan", fs.FINISH_SENSITIVE, "finish_reason:sensitive", "output", 200),
    ("minimax-input", "minimax", fs.MINIMAX_INPUT_SENSITIVE, "minimax:input_sensitive:1", "input", 200),
    ("minimax-output", "minimax-cn", fs.MINIMAX_OUTPUT_SENSITIVE, "minimax:output_sensitive:2", "output", 200),
    ("minimax-1027", "minimax", fs.MINIMAX_1027, "minimax:1027", "output", 200),
    ("baidu-flag", "qianfan", fs.BAIDU_FLAG, "baidu:flag:1", "unknown", 200),
    ("anthropic-refusal", "anthropic", fs.ANTHROPIC_REFUSAL, "anthropic:refusal:cyber", "output", 200),
]


@pytest.mark.parametrize(("case", "provider", "reply", "code", "where", "status"), BLOCKS,
                         ids=[b[0] for b in BLOCKS])
def test_block_becomes_a_completion_after_one_request(
    fault_server: FaultServer, case: str, provider: str, reply: Reply, code: str, where: str, status: int
) -> None:
    done = call(fault_server, case, provider, reply)
    assert done.block is not None, "a provider block must come back as Completion.block"
    assert done.block.provider_code == code
    assert done.block.where == where
    assert done.provider_code == code
    assert done.http_status == status
    assert done.raw, "the provider's raw answer is kept for the record"
    assert done.request["model"] == "m"
    assert fault_server.count(case) == 1, "the backend itself never retries"


def test_zai_empty_balance_is_fatal_and_says_top_up(fault_server: FaultServer) -> None:
    err = call_error(fault_server, "zai-1113", "zai", fs.ZAI_1113)
    assert err.fatal and not err.retryable
    assert err.provider_code == "1113"
    assert "top up" in str(err)
    assert fault_server.count("zai-1113") == 1


@pytest.mark.parametrize("reply", [fs.ZAI_1302, fs.ZAI_1303], ids=["1302-concurrency", "1303-rate"])
def test_zai_concurrency_and_rate_codes_are_retryable(fault_server: FaultServer, reply: Reply) -> None:
    err = call_error(fault_server, "zai-429", "zai", reply)
    assert err.retryable and not err.fatal
    assert err.http_status == 429
    assert err.provider_code in ("1302", "1303")


def test_zai_1302_passes_retry_after_on(fault_server: FaultServer) -> None:
    assert call_error(fault_server, "zai-1302", "zai", fs.ZAI_1302).retry_after == 2.0


def test_rate_limit_is_retryable_with_retry_after_parsed(fault_server: FaultServer) -> None:
    err = call_error(fault_server, "rate", "deepseek", fs.RATE_LIMITED)
    assert err.retryable and err.retry_after == 7.0 and err.http_status == 429
    assert fault_server.count("rate") == 1


def test_retry_after_as_http_date(fault_server: FaultServer) -> None:
    reply = Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": formatdate(time.time() + 30, usegmt=True)})
    err = call_error(fault_server, "rate-date", "openai", reply)
    assert err.retry_after is not None and 20 <= err.retry_after <= 31


@pytest.mark.parametrize(("reply", "provider"), [(fs.SERVER_ERROR, "openai"), (fs.OVERLOADED_529, "anthropic")],
                         ids=["500", "529-anthropic"])
def test_server_errors_are_retryable(fault_server: FaultServer, reply: Reply, provider: str) -> None:
    err = call_error(fault_server, "server", provider, reply)
    assert err.retryable and not err.fatal


def test_anthropic_529_retry_after(fault_server: FaultServer) -> None:
    assert call_error(fault_server, "overload", "anthropic", fs.OVERLOADED_529).retry_after == 3.0


def test_connection_reset_is_retryable(fault_server: FaultServer) -> None:
    err = call_error(fault_server, "reset", "openai", fs.RESET)
    assert err.retryable and err.http_status is None


def test_hang_times_out_as_retryable(fault_server: FaultServer) -> None:
    err = call_error(fault_server, "hang", "openai", Reply(action="hang", delay_s=5), timeout=0.5)
    assert err.retryable and "timeout" in str(err)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_bad_key_is_fatal_and_names_the_env_var(fault_server: FaultServer, provider: str) -> None:
    err = call_error(fault_server, "auth", provider, fs.UNAUTHORIZED)
    assert err.fatal and not err.retryable
    assert ("OPENAI_API_KEY" if provider == "openai" else "ANTHROPIC_API_KEY") in str(err)


def test_no_balance_402_is_fatal(fault_server: FaultServer) -> None:
    err = call_error(fault_server, "ds-402", "deepseek", fs.DEEPSEEK_402)
    assert err.fatal and "top up" in str(err)


def test_other_4xx_is_neither_retryable_nor_fatal(fault_server: FaultServer) -> None:
    err = call_error(fault_server, "nf", "openai", fs.NOT_FOUND)
    assert not err.retryable and not err.fatal and err.http_status == 404


def test_minimax_balance_code_is_fatal_and_rate_code_retryable(fault_server: FaultServer) -> None:
    assert call_error(fault_server, "mm-1008", "minimax", fs.MINIMAX_1008).fatal
    assert call_error(fault_server, "mm-1002", "minimax", fs.MINIMAX_1002).retryable


def test_missing_key_is_a_user_error_naming_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPSEEK_API_KEY")
    with pytest.raises(UserError, match="DEEPSEEK_API_KEY"):
        OpenAICompatModel(ModelInfo(id="deepseek/x", provider="deepseek", model="deepseek-chat"))


# --- the normal path: reasoning apart from the answer, logprobs, parameter policy ---------------------

def test_reasoning_content_is_kept_apart(fault_server: FaultServer) -> None:
    done = call(fault_server, "r1", "deepseek", Reply(200, fs.completion_body("Agree", reasoning="I weigh it.")))
    assert done.text == "Agree" and done.reasoning == "I weigh it."
    assert done.block is None and done.finish_reason == "stop" and done.tokens_in == 12 and done.tokens_out == 3


def test_think_tags_in_content_are_split_off(fault_server: FaultServer) -> None:
    done = call(fault_server, "mm", "minimax",
                Reply(200, fs.completion_body("<think>\nThe user asks.\n</think>\n\nDisagree")))
    assert done.text == "Disagree" and done.reasoning == "The user asks."


def test_unclosed_think_tag_leaves_no_answer(fault_server: FaultServer) -> None:
    done = call(fault_server, "mm-cut", "minimax",
                Reply(200, fs.completion_body("<think>still thinking", finish_reason="length")))
    assert done.text == "" and done.reasoning == "still thinking" and done.finish_reason == "length"


def test_logprobs_are_requested_and_parsed(fault_server: FaultServer) -> None:
    base_url = fault_server.url("lp")
    info = ModelInfo(id="openai/lp", provider="openai", model="gpt-4o", base_url=base_url)

    async def go() -> Completion:
        backend = OpenAICompatModel(info)
        try:
            return await backend.generate(ASK, GenerateParams(max_tokens=4, logprobs=3))
        finally:
            await backend.aclose()

    done = asyncio.run(go())
    sent = json.loads(fault_server.requests[-1]["body"])
    assert sent["logprobs"] is True and sent["top_logprobs"] == 3
    assert done.top_logprobs and set(done.top_logprobs[0]) == {"Agree", "Disagree", "Neutral"}


def test_refused_params_are_omitted_and_recorded(fault_server: FaultServer) -> None:
    done = call(fault_server, "kimi", "moonshot", Reply(200, fs.completion_body("Agree")),
                omit_params=("temperature", "top_p"))
    assert "temperature" not in done.request and done.omitted_params == ["temperature"]


def test_logprobs_unsupported_by_preset_are_omitted(fault_server: FaultServer) -> None:
    info = ModelInfo(id="zai/x", provider="zai", model="glm-4.6", base_url=fault_server.url("z"))
    body, omitted = OpenAICompatModel(info).build_request(ASK, GenerateParams(logprobs=5))
    assert "logprobs" not in body and omitted == ["logprobs"]


@pytest.mark.parametrize(("provider", "on", "expected"), [
    ("zai", False, {"thinking": {"type": "disabled"}}),
    ("deepseek", True, {"thinking": {"type": "enabled"}}),
    ("ark", False, {"thinking": {"type": "disabled"}}),
    ("dashscope-intl", False, {"enable_thinking": False}),
    ("openrouter", True, {"reasoning": {"enabled": True}}),
    ("vllm", False, {"chat_template_kwargs": {"enable_thinking": False}}),
])
def test_thinking_switch_follows_the_preset(provider: str, on: bool, expected: dict[str, Any]) -> None:
    info = ModelInfo(id="x/y", provider=provider, model="m", base_url="http://127.0.0.1:9/v1", thinking=on)
    body, omitted = OpenAICompatModel(info).build_request(ASK, GenerateParams())
    assert {k: body[k] for k in expected} == expected and omitted == []


def test_thinking_switch_unsupported_is_recorded() -> None:
    info = ModelInfo(id="x/y", provider="hunyuan", model="m", thinking=False)
    body, omitted = OpenAICompatModel(info).build_request(ASK, GenerateParams())
    assert omitted == ["thinking"]


def test_max_tokens_parameter_name_per_preset() -> None:
    openai = OpenAICompatModel(ModelInfo(id="a/b", provider="openai", model="gpt-5"))
    zai = OpenAICompatModel(ModelInfo(id="a/c", provider="zai", model="glm-4.6"))
    assert "max_completion_tokens" in openai.build_request(ASK, GenerateParams(max_tokens=9))[0]
    assert zai.build_request(ASK, GenerateParams(max_tokens=9))[0]["max_tokens"] == 9


def test_anthropic_request_shape_and_thinking(fault_server: FaultServer) -> None:
    base_url = fault_server.script("anth", Reply(200, fs.anthropic_body("Agree", thinking="Let me see.")))
    info = ModelInfo(id="anthropic/x", provider="anthropic", model="claude-x", base_url=base_url)

    async def go() -> Completion:
        backend = AnthropicModel(info)
        try:
            return await backend.generate([Message("system", "Be brief."), *ASK],
                                          GenerateParams(max_tokens=8, temperature=0.5, top_p=0.9, logprobs=2))
        finally:
            await backend.aclose()

    done = asyncio.run(go())
    sent = fault_server.requests[-1]
    assert sent["path"] == "/anth/v1/messages"
    assert sent["headers"]["anthropic-version"] == "2023-06-01" and "x-api-key" in sent["headers"]
    assert done.request["system"] == "Be brief." and all(m["role"] != "system" for m in done.request["messages"])
    assert done.text == "Agree" and done.reasoning == "Let me see." and done.finish_reason == "end_turn"
    assert done.omitted_params == ["top_p", "logprobs"]


def test_gemini_list_wrapped_error_is_understood(fault_server: FaultServer) -> None:
    reply = Reply(429, [{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                                   "status": "RESOURCE_EXHAUSTED"}}], {"Retry-After": "5"})
    err = call_error(fault_server, "gemini-429", "gemini", reply)
    assert err.retryable and err.retry_after == 5.0 and "exhausted" in str(err)


@pytest.mark.parametrize(("content", "text", "reasoning"), [
    ("plain answer", "plain answer", None),
    ("<think>a</think>b", "b", "a"),
    ("only the end of a thought</think>\n\nAgree", "Agree", "only the end of a thought"),
    ("  <think>\nx\n</think>  y", "y", "x"),
])
def test_split_reasoning_shapes(content: str, text: str, reasoning: str | None) -> None:
    from twinstudy.models.openai_compat import split_reasoning

    assert split_reasoning(content, {}, ("reasoning_content",)) == (text, reasoning)


def test_reasoning_field_and_think_tags_are_both_kept() -> None:
    from twinstudy.models.openai_compat import split_reasoning

    assert split_reasoning("<think>t</think>A", {"reasoning": "r"}, ("reasoning_content", "reasoning")) == ("A", "r\nt")


def test_legacy_and_chat_logprobs_shapes() -> None:
    from twinstudy.models.openai_compat import parse_top_logprobs

    assert parse_top_logprobs({"top_logprobs": [{"A": -0.1, "B": -2.0}]}) == [{"A": -0.1, "B": -2.0}]
    assert parse_top_logprobs({"content": [{"token": "A", "logprob": -0.5, "top_logprobs": []}]}) == [{"A": -0.5}]
    assert parse_top_logprobs(None) is None


def test_fault_mix_is_seeded_and_each_fault_maps_to_the_right_error() -> None:
    from fault_server import FaultMix

    def run_once() -> dict[str, int]:
        mix = FaultMix(rate_limit=0.2, server_error=0.1, reset=0.1, hang=0.05, retry_after_s=4, hang_s=3)
        with FaultServer(faults=mix, seed=7, max_runtime_s=60) as srv:
            info = ModelInfo(id="o/x", provider="openai", model="m", base_url=srv.url("mix"))

            async def go() -> dict[str, int]:
                backend = OpenAICompatModel(info, timeout=0.5)
                tally: dict[str, int] = {}
                try:
                    for _ in range(100):
                        try:
                            await backend.generate(ASK, PARAMS)
                            kind = "ok"
                        except ModelCallError as exc:
                            assert exc.retryable
                            kind = ("429" if exc.retry_after == 4.0 else str(exc.http_status)
                                    if exc.http_status else "timeout" if "timeout" in str(exc) else "reset")
                        tally[kind] = tally.get(kind, 0) + 1
                finally:
                    await backend.aclose()
                return tally

            return asyncio.run(go())

    first = run_once()
    assert first == run_once(), "same seed, same faults"
    assert set(first) == {"ok", "429", "500", "reset", "timeout"}
    assert 45 <= first["ok"] <= 75 and 10 <= first["429"] <= 30
