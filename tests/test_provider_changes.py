"""Issue 16: thinking and sampling per model, self-healing parameters, per-region keys, retired
models, the live model check, and what the runner records. Every payload comes from
tests/fault_server.py, where each one cites its source."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import fault_server as fs
import pytest
from click.testing import CliRunner
from conftest import db_rows
from fault_server import FaultServer, Reply

from twinstudy.errors import SpecError, UserError
from twinstudy.models.anthropic import AnthropicModel
from twinstudy.models.base import Completion, GenerateParams, Message, ModelCallError, ModelInfo
from twinstudy.models.factory import BACKENDS, create_model
from twinstudy.models.healing import diagnose
from twinstudy.models.openai_compat import OpenAICompatModel
from twinstudy.models.presets import all_presets
from twinstudy.models.registry import all_models, check_key_sharing, is_retired, resolve

ASK = [Message("user", "Agree or disagree?")]
PARAMS = GenerateParams(max_tokens=16, temperature=0.7)


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for p in all_presets().values():
        for env in (p.api_key_env, *p.legacy_key_envs):
            if env:
                monkeypatch.delenv(env, raising=False)
    for env in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEEPSEEK_API_KEY", "ZAI_API_KEY", "MINIMAX_API_KEY",
                "MOONSHOT_API_KEY", "DASHSCOPE_INTL_API_KEY", "GEMINI_API_KEY", "ARK_API_KEY", "QIANFAN_API_KEY",
                "XAI_API_KEY"):
        monkeypatch.setenv(env, "test-key")


def backend(info: ModelInfo) -> Any:
    return create_model(info, timeout=5.0)


def calls(server: FaultServer, case: str, info: dict[str, Any], *replies: Reply, n: int = 1,
          params: GenerateParams = PARAMS) -> list[Completion]:
    url = server.script(case, *replies)
    model = backend(resolve({**info, "base_url": url}, allow_retired=True))

    async def go() -> list[Completion]:
        try:
            return [await model.generate(ASK, params) for _ in range(n)]
        finally:
            await model.aclose()

    return asyncio.run(go())


def sent(server: FaultServer, case: str) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in server.requests if r["path"].startswith(f"/{case}/")]


# -- blocks ---------------------------------------------------------------------------------------

NEW_BLOCKS = [
    ("openai-policy", "openai", fs.OPENAI_INVALID_PROMPT_POLICY, "openai:invalid_prompt", "input"),
    ("ark-severe", "ark", fs.ARK_SEVERE_VIOLATION, "ark:SensitiveContentDetected.SevereViolation", "input"),
    ("ark-violence", "ark", fs.ARK_VIOLENCE, "ark:SensitiveContentDetected.Violence", "input"),
    ("ark-plain", "ark", fs.ARK_SENSITIVE, "ark:SensitiveContentDetected", "input"),
    ("qwen-in-or-out", "dashscope-intl", fs.QWEN_INPUT_OR_OUTPUT, "dashscope:data_inspection_failed", "unknown"),
    ("minimax-500", "minimax", fs.MINIMAX_500_1026, "minimax:1026", "input"),
    ("minimax-500-msg", "minimax", fs.MINIMAX_500_NEW_SENSITIVE, "minimax:1026", "input"),
    ("baidu-choice-flag", "qianfan", fs.BAIDU_FLAG, "baidu:flag:1", "unknown"),
    ("baidu-top-flag", "qianfan", fs.BAIDU_FLAG_TOP_LEVEL, "baidu:flag:1", "unknown"),
]


@pytest.mark.parametrize(("case", "provider", "reply", "code", "where"), NEW_BLOCKS, ids=[b[0] for b in NEW_BLOCKS])
def test_documented_block_shapes(fault_server: FaultServer, case: str, provider: str, reply: Reply,
                                 code: str, where: str) -> None:
    (done,) = calls(fault_server, case, {"provider": provider, "model": "m", "origin": "CN"}, reply)
    assert done.block is not None and done.block.provider_code == code and done.block.where == where
    assert fault_server.count(case) == 1, "a block is never healed or retried"


def test_ark_checker_failure_is_retryable_not_a_block(fault_server: FaultServer) -> None:
    with pytest.raises(ModelCallError) as caught:
        calls(fault_server, "ark-checker", {"provider": "ark", "model": "m", "origin": "CN"}, fs.ARK_CHECKER_FAILED)
    assert caught.value.retryable and not caught.value.fatal
    assert caught.value.provider_code == "ContentSecurityDetectionError"


# -- self-healing ---------------------------------------------------------------------------------

def test_unsupported_parameter_is_dropped_once_and_remembered(fault_server: FaultServer) -> None:
    done = calls(fault_server, "heal-t", {"provider": "openai", "model": "gpt-x", "origin": "US"},
                 fs.OPENAI_UNSUPPORTED_TEMPERATURE, Reply(200, fs.completion_body("Agree")), n=3)
    bodies = sent(fault_server, "heal-t")
    assert [("temperature" in b) for b in bodies] == [True, False, False, False]  # one retry, then remembered
    for d in done:
        assert d.text == "Agree" and "temperature" not in d.request
        assert d.adjusted_params[0]["param"] == "temperature" and d.adjusted_params[0]["action"] == "dropped"
        assert "Unsupported parameter" in d.adjusted_params[0]["reason"]


@pytest.mark.parametrize(("reply", "info", "param", "check"), [
    (fs.OPENAI_TEMPERATURE_DEFAULT_ONLY, {"provider": "openai"}, "temperature", lambda b: "temperature" not in b),
    (fs.OPENAI_EFFORT_MINIMAL, {"provider": "openai", "thinking": False,
                                "thinking_control": {"style": "reasoning_effort", "on": "medium", "off": "minimal"}},
     "reasoning_effort", lambda b: b["reasoning_effort"] == "none"),
    (fs.OPENAI_MAX_TOKENS_RENAME, {"provider": "openai", "max_tokens_param": "max_tokens"}, "max_tokens",
     lambda b: "max_tokens" not in b and b["max_completion_tokens"] == 16),
    (fs.DASHSCOPE_THINKING_NONSTREAM, {"provider": "dashscope-intl", "thinking": True}, "enable_thinking",
     lambda b: b["enable_thinking"] is False),
    (fs.KIMI_TEMPERATURE_ONLY_1, {"provider": "moonshot"}, "temperature", lambda b: "temperature" not in b),
], ids=["openai-default-only", "openai-effort-minimal", "openai-max-tokens", "dashscope-thinking", "kimi-temp"])
def test_each_documented_400_heals_exactly_its_parameter(fault_server: FaultServer, reply: Reply,
                                                         info: dict[str, Any], param: str, check: Any) -> None:
    case = f"heal-{param}-{info['provider']}"
    (done,) = calls(fault_server, case, {**info, "model": "m", "origin": "US"}, reply,
                    Reply(200, fs.completion_body("Agree")))
    first, second = sent(fault_server, case)
    assert check(second) and done.text == "Agree"
    assert [a["param"] for a in done.adjusted_params] == [param]
    assert {k for k in first if k != param} - {"max_completion_tokens"} <= set(second)  # nothing else changed


def test_anthropic_heals_temperature_and_budget_thinking(fault_server: FaultServer) -> None:
    (done,) = calls(fault_server, "heal-anth", {"provider": "anthropic", "model": "claude-x", "origin": "US"},
                    fs.ANTHROPIC_TEMPERATURE_DEPRECATED, Reply(200, fs.anthropic_body("Agree")))
    assert "temperature" not in sent(fault_server, "heal-anth")[1] and done.adjusted_params[0]["action"] == "dropped"
    (done,) = calls(fault_server, "heal-anth2", {"provider": "anthropic", "model": "claude-x", "origin": "US",
                                                 "thinking": True},
                    fs.ANTHROPIC_THINKING_ENABLED, Reply(200, fs.anthropic_body("Agree")))
    assert sent(fault_server, "heal-anth2")[1]["thinking"] == {"type": "adaptive"}


def test_a_second_400_for_the_same_parameter_is_an_error(fault_server: FaultServer) -> None:
    with pytest.raises(ModelCallError) as caught:
        calls(fault_server, "heal-twice", {"provider": "openai", "model": "m", "origin": "US"},
              fs.OPENAI_UNSUPPORTED_TEMPERATURE, fs.OPENAI_EFFORT_MINIMAL)
    assert caught.value.http_status == 400 and fault_server.count("heal-twice") == 2


def test_diagnose_ignores_blocks_and_unrelated_400s() -> None:
    body = {"model": "m", "messages": [], "temperature": 0.7}
    assert diagnose(400, fs.OPENAI_INVALID_PROMPT_POLICY.body, body) is None
    assert diagnose(400, fs.DEEPSEEK_CONTENT_RISK.body, body) is None
    assert diagnose(404, fs.OPENAI_UNSUPPORTED_TEMPERATURE.body, body) is None
    assert diagnose(400, {"error": {"message": "Unsupported parameter: 'messages'"}}, body) is None


# -- thinking and sampling per model -------------------------------------------------------------

def build(ref: str | dict[str, Any], params: GenerateParams = PARAMS) -> tuple[dict[str, Any], list[str]]:
    model = backend(resolve(ref))
    out: tuple[dict[str, Any], list[str]] = model.build_request(ASK, params)
    return out


def test_openai_thinking_off_is_none_on_5x_and_absent_on_6x() -> None:
    body, omitted = build({"id": "openai/gpt-5.6-sol", "thinking": False})
    assert body["reasoning_effort"] == "none" and body["temperature"] == 0.7 and omitted == []
    body, omitted = build("openai/gpt-5.6-sol")  # thinks by default: sampling left out, recorded
    assert "temperature" not in body and "temperature" in omitted
    body, omitted = build({"id": "openai/gpt-6-sol", "thinking": False},
                          GenerateParams(max_tokens=8, temperature=0.5, logprobs=3))
    assert "reasoning_effort" not in body and "temperature" not in body and "logprobs" not in body
    assert set(omitted) == {"temperature", "logprobs", "thinking"}


def test_reasoning_effort_per_model_and_checked_against_the_registry() -> None:
    body, _ = build({"id": "zai/glm-5.2", "reasoning_effort": "high"})
    assert body["reasoning_effort"] == "high"
    with pytest.raises(UserError, match="low, high, max"):
        resolve({"id": "zai/glm-5.3", "reasoning_effort": "medium"})
    body, omitted = build({"id": "zai/glm-5.3", "thinking": False})
    assert "thinking" not in body and omitted == ["thinking"]  # always thinks


def test_minimax_m3_switches_thinking_with_its_own_control() -> None:
    body, omitted = build({"id": "minimax/minimax-m3", "thinking": False})
    assert body["thinking"] == {"type": "disabled"} and omitted == []
    body, _ = build({"id": "minimax/minimax-m3", "thinking": True})
    assert body["thinking"] == {"type": "adaptive"}


def test_deepseek_v4_logprobs_only_with_thinking_off() -> None:
    lp = GenerateParams(max_tokens=8, logprobs=5)
    body, omitted = build("deepseek/deepseek-v4-flash", lp)
    assert "logprobs" not in body and omitted == ["logprobs"]
    body, omitted = build({"id": "deepseek/deepseek-v4-flash", "thinking": False}, lp)
    assert body["logprobs"] is True and body["thinking"] == {"type": "disabled"}


def test_dashscope_sends_thinking_off_and_max_completion_tokens() -> None:
    body, omitted = build("dashscope/qwen3-8b")
    assert body["enable_thinking"] is False and body["max_completion_tokens"] == 16 and "max_tokens" not in body
    body, omitted = build({"id": "dashscope/qwen3-8b", "thinking": True})
    assert "enable_thinking" not in body and omitted == ["thinking"]


def test_anthropic_adaptive_thinking_effort_and_no_sampling() -> None:
    body, omitted = build({"id": "anthropic/claude-opus-4-7", "thinking": True, "reasoning_effort": "high"},
                          GenerateParams(max_tokens=8, temperature=0.5, top_p=0.9))
    assert body["thinking"] == {"type": "adaptive"} and body["output_config"] == {"effort": "high"}
    assert "temperature" not in body and "top_p" not in body and {"temperature", "top_p"} <= set(omitted)
    body, _ = build({"id": "anthropic/claude-haiku-4-5", "thinking": True})
    assert body["thinking"]["type"] == "enabled"  # older models keep budget thinking


def test_think_tags_split_only_where_the_preset_says(fault_server: FaultServer) -> None:
    reply = Reply(200, fs.completion_body("<think>x</think>Agree"))
    (mm,) = calls(fault_server, "tags-mm", {"provider": "minimax", "model": "m", "origin": "CN"}, reply)
    (ds,) = calls(fault_server, "tags-ds", {"provider": "deepseek", "model": "m", "origin": "CN"}, reply)
    assert (mm.text, mm.reasoning) == ("Agree", "x")
    assert ds.text == "<think>x</think>Agree" and ds.reasoning is None


# -- keys per region -----------------------------------------------------------------------------

def test_region_keys_and_the_old_shared_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DASHSCOPE_INTL_API_KEY")
    us = ModelInfo(id="a/us", provider="dashscope-us", model="m")
    intl = ModelInfo(id="a/intl", provider="dashscope-intl", model="m")
    with pytest.raises(UserError, match="DASHSCOPE_US_API_KEY"):
        backend(us)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "old-shared-key")
    assert backend(us) is not None  # the old name stands in for one region
    check_key_sharing([us])
    with pytest.raises(UserError, match="region-specific"):
        check_key_sharing([us, intl])
    monkeypatch.setenv("DASHSCOPE_INTL_API_KEY", "new-intl-key")
    check_key_sharing([us, intl])  # one region on its own key, the other on the old name
    assert all_presets()["moonshot-cn"].api_key_env == "MOONSHOT_CN_API_KEY"
    assert all_presets()["minimax-cn"].api_key_env == "MINIMAX_CN_API_KEY"


# -- registry ------------------------------------------------------------------------------------

def test_retired_models_name_successors_and_old_databases_still_resolve() -> None:
    with pytest.raises(UserError, match=r"retired .* 2026-07-24; use deepseek/deepseek-v4-flash"):
        resolve("deepseek/deepseek-chat")
    assert resolve("deepseek/deepseek-chat", allow_retired=True).model == "deepseek-chat"
    for gone in ("openai/gpt-4o", "anthropic/claude-opus-4-1", "gemini/gemini-2.5-pro", "gemini/gemini-2.5-flash",
                 "deepseek/deepseek-reasoner"):
        assert is_retired(resolve(gone, allow_retired=True)), gone
    assert resolve("openai/gpt-5").retired == "2026-12-11"
    assert is_retired(resolve("openai/gpt-5"), today="2026-12-11")
    for m in all_models():
        if m.retired:
            assert m.successors and all(not is_retired(resolve(s)) for s in m.successors), m.id


def test_current_models_are_listed_with_sources() -> None:
    ids = {m.id for m in all_models()}
    for wanted in ("zai/glm-4.7", "zhipu/glm-4.7", "zai/glm-5.2", "zai/glm-5.3", "deepseek/deepseek-v4-pro",
                   "moonshot/kimi-k3", "dashscope/qwen4-max", "dashscope/qwen3.8-max", "minimax/minimax-m3",
                   "ark/doubao-seed-2.1-pro", "tokenhub/hy3-preview", "qianfan/ernie-5.0-thinking",
                   "openai/gpt-5.6-sol", "openai/gpt-6.1-sol", "anthropic/claude-opus-4-7", "anthropic/claude-opus-5-5",
                   "gemini/gemini-3.8-flash", "xai/grok-4.5"):
        assert wanted in ids, wanted
    for m in all_models():
        if (m.release_date or "") >= "2026" or m.retired:
            assert m.sources, f"{m.id}: a 2026 entry needs a source"


def test_any_model_on_a_known_provider_without_a_registry_entry(tmp_path: Path) -> None:
    from twinstudy.study.spec import load_study

    study = tmp_path / "s.yaml"
    study.write_text("name: s\nmodels:\n  - {provider: zai, model: glm-4.7-flashx, origin: CN}\n"
                     "  - {id: zai/glm-4.7, reasoning_effort: high, timeout: 30}\n"
                     "instruments: [ai-futures]\n", encoding="utf-8")
    rs = load_study(study)
    assert [m.id for m in rs.models] == ["zai/glm-4.7-flashx", "zai/glm-4.7"]
    assert rs.models[1].reasoning_effort == "high" and rs.models[1].timeout == 30
    study.write_text("name: s\nmodels: [deepseek/deepseek-chat]\ninstruments: [ai-futures]\n", encoding="utf-8")
    with pytest.raises(SpecError, match="deepseek-v4"):
        load_study(study)
    assert load_study(study, allow_retired=True).models[0].id == "deepseek/deepseek-chat"


def test_backends_are_a_registry_and_declare_capabilities() -> None:
    assert set(BACKENDS) == {"openai", "anthropic", "local"}
    assert backend(resolve("zai/glm-4.7")).capabilities.logprobs is False
    assert backend(resolve("deepseek/deepseek-v4-flash")).capabilities.logprobs is True
    assert isinstance(backend(resolve("anthropic/claude-opus-4-7")), AnthropicModel)
    assert isinstance(backend(resolve("xai/grok-4.5")), OpenAICompatModel)


# -- models --check -------------------------------------------------------------------------------

def test_models_check_against_loopback(fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from twinstudy.models import live_check

    zai_url = fault_server.script("list-zai", fs.model_list("glm-4.7", "glm-5.2", "glm-9"))
    anth_url = fault_server.script("list-anth", fs.model_list("claude-opus-4-7"))
    presets = {"zai": all_presets()["zai"].model_copy(update={"base_url": zai_url}),
               "anthropic": all_presets()["anthropic"].model_copy(update={"base_url": anth_url})}
    results, skipped = live_check.check_providers(presets, timeout=5)
    by = {r.provider: r for r in results}
    assert by["zai"].status == "ok" and by["zai"].new == ["glm-9"]
    assert "zai/glm-4.6" in by["zai"].missing and "zai/glm-4.7" not in by["zai"].missing
    assert "anthropic/claude-opus-4-1" in by["anthropic"].retired
    assert "anthropic/claude-opus-4-7" not in by["anthropic"].missing
    anth = [r for r in fault_server.requests if r["path"].startswith("/list-anth/")][0]
    assert anth["path"] == "/list-anth/v1/models?limit=1000" and anth["headers"]["x-api-key"] == "test-key"

    monkeypatch.setattr(live_check, "all_presets", lambda: presets)
    out = CliRunner().invoke(_main(), ["models", "--check", "--json"])
    assert out.exit_code == 0 and {c["provider"] for c in json.loads(out.output)["checked"]} == {"zai", "anthropic"}


def test_models_check_offline_and_without_keys_say_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from twinstudy.models import live_check

    dead = {"zai": all_presets()["zai"].model_copy(update={"base_url": "http://127.0.0.1:9/v1"})}
    monkeypatch.setattr(live_check, "all_presets", lambda: dead)
    out = CliRunner().invoke(_main(), ["models", "--check", "--timeout", "2"])
    assert out.exit_code == 0 and out.output.startswith("offline:") and out.output.count("\n") == 1
    monkeypatch.delenv("ZAI_API_KEY")
    out = CliRunner().invoke(_main(), ["models", "--check"])
    assert out.output.startswith("no provider key is set") and out.output.count("\n") == 1


def _main() -> Any:
    from twinstudy.cli import main

    return main


# -- the runner: what was sent, healing on the trial, timeouts, account limit ---------------------

STUDY = """\
name: prov
models:
{models}
instruments:
  - {{id: ai-futures, limit: {n}}}
languages: [en]
framings: [neutral]
params: {{temperature: 0.7, max_tokens: 8}}
"""


def _run(tmp_path: Path, models: str, n: int = 2, **opts: Any) -> Path:
    from twinstudy.run.runner import Runner, RunOptions, check_models_ready
    from twinstudy.store import Store
    from twinstudy.study.spec import load_study

    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(models=models, n=n), encoding="utf-8")
    rs = load_study(study)
    built, _ = check_models_ready(rs.models, False, create_model)
    db = tmp_path / "r.db"
    store = Store(db)
    asyncio.run(Runner(rs, store, built, RunOptions(quiet=True, backoff_base=0.01, **opts)).run())
    store.close()
    return db


def test_trials_record_what_was_sent_and_the_healing(tmp_path: Path, fault_server: FaultServer) -> None:
    url = fault_server.script("run-heal", fs.OPENAI_UNSUPPORTED_TEMPERATURE, Reply(200, fs.completion_body("4")))
    db = _run(tmp_path, f"  - {{id: h, provider: openai-compatible, base_url: {url}, model: m, origin: US,"
                        " max_concurrency: 1, reasoning_effort: low}")
    rows = db_rows(db, "select outcome, sent_params, adjusted_params from trials")
    assert len(rows) == 2 and {r[0] for r in rows} == {"answered"}
    for _, sent_json, adjusted in rows:
        sent_params = json.loads(sent_json)
        assert sent_params["reasoning_effort"] == "low" and "temperature" not in sent_params
        assert "messages" not in sent_params
        assert json.loads(adjusted)[0]["param"] == "temperature"
    assert fault_server.count("run-heal") == 3  # one 400, its retry, then the remembered change

    from twinstudy.analysis import analyze
    from twinstudy.report.sections.method import build_method
    from twinstudy.store import Store

    store = Store(db)
    try:
        method = build_method(store, store.models(), analyze(store.scored_frame(), n_boot=0))
    finally:
        store.close()
    assert "temperature dropped" in method.models[0].meta["parameters changed after a 400"]


def test_per_model_timeout(tmp_path: Path, fault_server: FaultServer) -> None:
    url = fault_server.script("run-slow", Reply(200, fs.completion_body("4"), delay_s=2.0))
    db = _run(tmp_path, f"  - {{id: t, provider: openai-compatible, base_url: {url}, model: m, origin: US,"
                        " timeout: 0.3}", n=1, max_attempts=1)
    ((err,),) = db_rows(db, "select error from attempts")
    assert "timeout" in err or "within" in err


def test_account_limit_is_shared_by_models_on_one_account(tmp_path: Path, fault_server: FaultServer) -> None:
    url = fault_server.script("acct", Reply(200, fs.completion_body("4"), delay_s=0.15))
    models = "\n".join(f"  - {{id: a{i}, provider: openai-compatible, base_url: {url}, model: m{i}, origin: US,"
                       " max_concurrency: 4, account_max_concurrency: 1}" for i in range(2))
    t0 = time.monotonic()
    _run(tmp_path, models, n=3)
    assert time.monotonic() - t0 >= 6 * 0.15  # six requests, one at a time over the shared account


def test_readme_and_quickstart_name_only_current_models() -> None:
    import re

    from twinstudy.study.spec import quickstart_path

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"\b((?:" + "|".join(all_presets()) + r")/[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])")
    known = {m.id: m for m in all_models()}
    for path in (root / "README.md", quickstart_path()):
        for name in set(pattern.findall(path.read_text(encoding="utf-8"))):
            if name in known:
                assert not known[name].retired, f"{path.name} names {name}, which is retired"


def test_every_preset_and_model_field_is_read_by_code() -> None:
    """A field in presets.yaml or registry.yaml that no code reads is a promise nothing keeps."""
    import re

    from twinstudy.models.base import ModelInfo as Info
    from twinstudy.models.base import ThinkingControl
    from twinstudy.models.presets import Preset

    src = Path(__file__).resolve().parents[1] / "src" / "twinstudy"
    code = "\n".join(p.read_text(encoding="utf-8") for p in src.rglob("*.py"))
    for schema in (Preset, Info, ThinkingControl):
        for name in schema.model_fields:
            assert re.search(rf"(\.{name}\b|\[\"{name}\"\]|\"{name}\":)", code), f"{schema.__name__}.{name} is never read"
