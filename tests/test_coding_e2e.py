"""End to end, offline: the ai-visions instrument asked of SmolLM2 behind a real
``python -m llama_cpp.server`` (fixture ``llama_server``), its answers coded by the study's
``coding:`` section with the lexicon AND SmolLM2 as a (weak) judge. Mechanics only: codes stored
for both coders, uncodable allowed, agreement computed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from twinstudy.cli.main import main
from twinstudy.store import Store

pytestmark = pytest.mark.slow

STUDY = """\
name: visions-e2e
models:
  - {{id: smol, provider: llamacpp, base_url: "{base}", model: smollm2, origin: US}}
instruments:
  - {{id: ai-visions, limit: 1}}
languages: [en, zh]
framings: [neutral]
params: {{max_tokens: 48, temperature: 0.0}}
coding:
  codebooks: [culture]
  coders: [lexicon, smol]
  max_tokens: 32
  concurrency: 1
"""


def test_visions_study_coded_by_lexicon_and_a_weak_judge(llama_server: str, tmp_path: Path) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(STUDY.format(base=llama_server), encoding="utf-8")
    db = tmp_path / "results.db"
    runner = CliRunner()
    res = runner.invoke(main, ["run", str(study), "--db", str(db), "--no-report", "-q"])
    assert res.exit_code == 0, res.output
    assert "culture by lexicon" in res.output and "culture by judge:smol" in res.output
    store = Store(db, create=False)
    try:
        answered = {r[0] for r in store.replies_to_code()}
        assert answered, "SmolLM2 answered at least one question"
        for book in ("culture",):
            assert store.coders(book) == ["lexicon", "judge:smol"]
            assert store.primary_coder(book) == "judge:smol"
            for coder in ("lexicon", "judge:smol"):
                table = store.code_table(book, coder)
                assert set(table["trial_key"]) == answered
                assert set(table["status"]) <= {"coded", "uncodable"}
    finally:
        store.close()
    # deference coded afterwards from the command line, by the lexicon only (no model call)
    res = runner.invoke(main, ["code", str(db), "--codebook", "deference"])
    assert res.exit_code == 0 and "deference by lexicon" in res.output, res.output
    res = runner.invoke(main, ["code-agreement", str(db), "--codebook", "culture"])
    assert res.exit_code == 0, res.output
    assert "lexicon vs judge:smol" in res.output  # alpha may be undefined: SmolLM2 is a weak judge
