"""The README's examples name models that exist and commands that exist."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from twinstudy.cli import main
from twinstudy.models.registry import all_models
from twinstudy.study.spec import quickstart_path

ROOT = Path(__file__).resolve().parents[1]
PREFIXES = ("zai", "zhipu", "deepseek", "moonshot", "dashscope", "minimax", "ark", "hunyuan", "qianfan",
            "openai", "anthropic", "gemini", "openrouter", "local")


def _model_names(text: str) -> set[str]:
    alternatives = "|".join(PREFIXES)
    pattern = rf"\b((?:{alternatives})/[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])"
    return set(re.findall(pattern, text))


def test_models_named_in_readme_and_quickstart_are_in_the_registry() -> None:
    known = {m.id for m in all_models()}
    for path in (ROOT / "README.md", quickstart_path()):
        names = _model_names(path.read_text(encoding="utf-8"))
        assert names, path
        assert names <= known, f"{path} names unknown models: {sorted(names - known)}"


def test_commands_in_readme_exist() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    used = set(re.findall(r"^\s*twinstudy ([a-z]+)", text, flags=re.M)) | set(
        re.findall(r"`twinstudy ([a-z]+)", text))
    commands = set(main.commands)
    assert used and used <= commands, sorted(used - commands)
    for cmd in sorted(used):
        res = CliRunner().invoke(main, [cmd, "--help"])
        assert res.exit_code == 0, cmd
