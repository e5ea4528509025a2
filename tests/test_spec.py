"""Study-file validation: every malformed file gives one line naming file, line and field, exit 2,
and leaves no database behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from twinstudy.cli import main
from twinstudy.errors import SpecError
from twinstudy.study.spec import load_study, quickstart_path

GOOD = """\
name: tiny
models:
  - local/smollm2-135m
instruments:
  - {id: ai-futures, limit: 2}
languages: [en, zh]
framings: [neutral]
samples: 1
"""

BAD = {
    "bad_yaml": ("name: tiny\nmodels: [local/smollm2-135m\ninstruments: [ai-futures]\n", None, 3),
    "unknown_field": (GOOD + "colour: blue\n", "colour", 9),
    "unknown_model": (GOOD.replace("local/smollm2-135m", "acme/nonexistent-9000"), "models[0]", 3),
    "empty_models": (GOOD.replace("models:\n  - local/smollm2-135m\n", "models: []\n"), "models", 2),
    "unknown_language": (GOOD.replace("[en, zh]", "[en, fr]"), "languages[1]", 6),
    "negative_samples": (GOOD.replace("samples: 1", "samples: -3"), "samples", 8),
    "unknown_instrument": (GOOD.replace("ai-futures", "astrology"), "instruments[0]", 5),
    "wrong_type_samples": (GOOD.replace("samples: 1", "samples: many"), "samples", 8),
    "wrong_type_params": (GOOD + "params: {temperature: hot}\n", "params.temperature", 9),
    "unknown_framing": (GOOD.replace("[neutral]", "[neutral, flattery]"), "framings[1]", 7),
    "missing_name": (GOOD.replace("name: tiny\n", ""), "name", None),
    "not_a_mapping": ("- just\n- a list\n", None, 1),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_study_gives_one_line_error_and_exit_2(case: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    text, field, line = BAD[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", str(path), "--db", str(tmp_path / "out" / "r.db"), "-q"])
    assert result.exit_code == 2, result.output
    err = result.stderr.strip() if hasattr(result, "stderr") else result.output.strip()
    assert len(err.splitlines()) == 1, err
    assert str(path) in err
    if field:
        assert f"'{field}'" in err
    if line:
        assert f"{path}:{line}:" in err
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "twinstudy-runs").exists()


def test_error_names_the_line_of_the_offending_field(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(GOOD.replace("samples: 1", "samples: 0"), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_study(path)
    assert info.value.line == 8 and info.value.field == "samples"


def test_cli_subprocess_prints_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(GOOD + "bogus: 1\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "twinstudy", "run", str(path)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and f"{path}:9:" in proc.stderr
    assert not (tmp_path / "twinstudy-runs").exists()


def test_quickstart_resolves_to_two_declared_origin_variants() -> None:
    rs = load_study(quickstart_path())
    assert [m.origin for m in rs.models] == ["CN", "US"]
    assert all(m.provider == "local" for m in rs.models)
    assert rs.models[0].system_prompt("zh") != rs.models[0].system_prompt("en")
    assert 20 <= len(rs.items) <= 28
    assert {f.id for f in rs.framings} == {"neutral", "user-agrees", "user-disagrees"}


def test_inline_endpoint_model(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(GOOD.replace("  - local/smollm2-135m\n", """\
  - id: my-vllm
    provider: openai-compatible
    base_url: http://127.0.0.1:8000/v1
    model: Qwen/Qwen2.5-7B-Instruct
    api_key_env: MY_KEY
    origin: CN
    system: "You are a careful assistant."
"""), encoding="utf-8")
    rs = load_study(path)
    info = rs.models[0]
    assert (info.id, info.origin, info.base_url, info.api_key_env) == (
        "my-vllm", "CN", "http://127.0.0.1:8000/v1", "MY_KEY")


def test_study_can_import_public_datasets_by_path(tmp_path: Path) -> None:
    sample = Path(__file__).parent / "data"
    evals = sorted(sample.glob("anthropic_*.jsonl"))
    assert evals, "sample Anthropic evals files are missing"
    path = tmp_path / "s.yaml"
    path.write_text(GOOD.replace("  - {id: ai-futures, limit: 2}", f"  - {{id: 'anthropic-evals:{evals[0]}', limit: 2}}"),
                    encoding="utf-8")
    rs = load_study(path)
    assert len(rs.items) == 2
    bad = tmp_path / "b.yaml"
    bad.write_text(GOOD.replace("  - {id: ai-futures, limit: 2}", "  - 'speechmap:/nonexistent/q.jsonl'"),
                   encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_study(bad)
    assert info.value.line == 5
