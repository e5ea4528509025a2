"""The public API: what ``__all__`` promises exists, and the README's Python example runs as written."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from conftest import VaryingServer

import twinstudy

ROOT = Path(__file__).resolve().parents[1]

STUDY = """\
name: api-example
models:
  - {{id: cn-a, provider: openai-compatible, base_url: "{base}/cn-a/v1", model: a, origin: CN, company: Lab A}}
  - {{id: us-a, provider: openai-compatible, base_url: "{base}/us-a/v1", model: b, origin: US, company: Lab C}}
instruments:
  - {{id: ai-futures, limit: 4}}
languages: [en, zh]
framings: [neutral, user-agrees]
params: {{temperature: 0.7, max_tokens: 32, seed: 0}}
"""


def test_all_names_exist_and_are_few() -> None:
    assert set(twinstudy.__all__) == {"UserError", "__version__", "analyze", "build_report", "load_study",
                                      "open_results", "plan", "run"}
    for name in twinstudy.__all__:
        assert getattr(twinstudy, name) is not None
    importlib.import_module("twinstudy.run.runner")  # the engine subpackage must not replace run()
    assert callable(twinstudy.run)


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    return str(blocks[0])


def test_the_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with VaryingServer(max_runtime_s=120.0) as srv:
        (tmp_path / "my-study.yaml").write_text(STUDY.format(base=srv.base), encoding="utf-8")
        exec(compile(_readme_example(), "README.md", "exec"), {})  # noqa: S102 - our own README
    out = capsys.readouterr().out
    assert "cn-a 16 None" in out  # 4 items x 2 languages x 2 framings; no price known
    assert (tmp_path / "runs" / "report.html").stat().st_size > 10_000
    res = twinstudy.open_results(tmp_path / "runs" / "results.db")
    assert len(res.scored) == len(res.trials) == 32
    assert set(res.models["id"]) == {"cn-a", "us-a"}
    assert res.codes.empty and "codebook" in res.codes.columns  # nothing coded yet, same columns as export


def test_open_results_on_a_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(twinstudy.UserError, match="no results database"):
        twinstudy.open_results(tmp_path / "nope.db")
