"""The registry: enough current models, complete metadata, every provider a preset, and resolve()
for names, names with overrides, inline endpoints and mistakes."""

from __future__ import annotations

import asyncio
import re

import pytest

from twinstudy.errors import UserError
from twinstudy.models.base import ModelInfo
from twinstudy.models.factory import create_model
from twinstudy.models.openai_compat import OpenAICompatModel
from twinstudy.models.presets import all_presets
from twinstudy.models.registry import all_models, missing_key, models_table, resolve

DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


def test_at_least_25_models_from_both_sides() -> None:
    models = all_models()
    assert len(models) >= 25
    origins = {m.origin for m in models}
    assert {"CN", "US"} <= origins
    companies = {m.company for m in models}
    for company in ("Zhipu AI", "DeepSeek", "Alibaba", "Moonshot AI", "MiniMax", "ByteDance", "Tencent", "Baidu",
                    "OpenAI", "Anthropic", "Google", "Meta", "Microsoft"):
        assert company in companies


def test_every_model_has_complete_metadata() -> None:
    ids = [m.id for m in all_models()]
    assert len(ids) == len(set(ids))
    for m in all_models():
        assert m.provider in all_presets(), f"{m.id}: provider {m.provider} has no preset"
        assert m.model and m.company != "unknown" and m.origin != "UNKNOWN"
        assert m.tier in ("platform", "ai-native"), m.id
        assert m.release_date is None or DATE.match(m.release_date), m.id
        assert "/" in m.id
        if m.vllm or m.ollama:
            assert m.open_weights, f"{m.id}: lists a local serving id but not open weights"


def test_tiers_follow_the_company() -> None:
    platform = {"Alibaba", "ByteDance", "Tencent", "Baidu", "Google", "Meta", "Microsoft"}
    for m in all_models():
        assert (m.tier == "platform") == (m.company in platform), m.id


def test_embedded_model_is_listed() -> None:
    m = resolve("local/smollm2-135m")
    assert m.provider == "local" and m.open_weights and m.company == "Hugging Face"
    assert "New York" in m.notes  # the origin choice is explained


def test_resolve_by_name() -> None:
    m = resolve("zai/glm-4.7")
    assert m.provider == "zai" and m.model == "glm-4.7" and m.origin == "CN"


def test_resolve_name_with_overrides() -> None:
    m = resolve({"id": "zai/glm-4.6", "thinking": False, "system": {"en": "Be brief.", "zh": "简短。"}})
    assert m.provider == "zai" and m.thinking is False and m.system_prompt("zh") == "简短。"


def test_resolve_inline_endpoint() -> None:
    m = resolve({"id": "my-qwen", "provider": "openai-compatible", "base_url": "http://127.0.0.1:8000/v1",
                 "model": "Qwen/Qwen3-8B", "origin": "CN", "company": "Alibaba", "tier": "platform"})
    assert m.base_url == "http://127.0.0.1:8000/v1" and m.origin == "CN"
    backend = create_model(m)
    assert isinstance(backend, OpenAICompatModel)


def test_inline_with_a_named_preset_and_default_id() -> None:
    m = resolve({"provider": "vllm", "model": "Qwen/Qwen3-8B"})
    assert m.id == "vllm/Qwen/Qwen3-8B"


@pytest.mark.parametrize("missing", ["base_url", "model"])
def test_inline_openai_compatible_needs_base_url_and_model(missing: str) -> None:
    entry = {"id": "x", "provider": "openai-compatible", "base_url": "http://127.0.0.1:1/v1", "model": "m"}
    del entry[missing]
    with pytest.raises(UserError, match=missing):
        resolve(entry)


def test_unknown_name_says_what_to_do() -> None:
    with pytest.raises(UserError, match=r"unknown model 'gpt-17'.*twinstudy models.*inline"):
        resolve("gpt-17")


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(UserError, match="deepseek"):
        resolve({"id": "x", "provider": "nope", "model": "m"})


def test_bad_field_is_a_user_error() -> None:
    with pytest.raises(UserError, match="origin"):
        resolve({"id": "x", "provider": "vllm", "model": "m", "origin": "Mars"})


def test_models_table_reports_key_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "x")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    rows = {r["id"]: r for r in models_table()}
    assert rows["deepseek/deepseek-v4-flash"]["key_set"] is True
    assert rows["openai/gpt-5.6-sol"]["key_set"] is False and rows["openai/gpt-5.6-sol"]["key_env"] == "OPENAI_API_KEY"
    assert rows["local/smollm2-135m"]["key_set"] is None
    assert missing_key(resolve("openai/gpt-5.6-sol")) == "OPENAI_API_KEY"
    assert missing_key(resolve("local/smollm2-135m")) is None


def test_every_http_model_builds_a_backend_given_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for p in all_presets().values():
        if p.api_key_env:
            monkeypatch.setenv(p.api_key_env, "test-key")
    for m in all_models():
        if m.provider == "local":
            continue
        backend = create_model(m)
        assert backend.info == m
        asyncio.run(backend.aclose())


def test_models_command_prints_json() -> None:
    import json

    from click.testing import CliRunner

    from twinstudy.cli.models import models_command

    result = CliRunner().invoke(models_command, ["--json"])
    assert result.exit_code == 0
    assert len(json.loads(result.output)) == len(all_models())


def test_model_info_extra_fields_are_optional() -> None:
    m = ModelInfo(id="a/b", provider="vllm", model="m")
    assert m.vllm is None and m.omit_params == () and m.max_tokens_param is None and not m.reasoning_model
