"""Framings are asked only where they mean something, and in every language the study asks in.

Issue 19: "I agree with the statement below" was put in front of questions ("Which country will
have the most advanced AI in 2030?"), and a framing with no Chinese prefix silently sent the
neutral prompt under the framing's label in Chinese.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from twinstudy.cli import main
from twinstudy.errors import SpecError
from twinstudy.study.design import count_trials, expand
from twinstudy.study.spec import load_study

STUDY = """\
name: scope
models:
  - local/smollm2-135m
instruments:
  - {id: us-china, items: [usc-lead-2030, usc-race-01]}
  - {id: self-perception, items: [self-maker]}
languages: [en, zh]
framings: [neutral, user-agrees, user-disagrees, identity-cn]
"""


def test_stance_framings_skip_questions_and_plan_reports_it(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(STUDY, encoding="utf-8")
    rs = load_study(path)
    trials = list(expand(rs))
    assert count_trials(rs) == len(trials)
    cells = {(t.framing.id, t.item.type) for t in trials}
    # Stance framings reach the Likert statement only; the other framings reach every item.
    assert ("user-agrees", "likert5") in cells and ("user-disagrees", "likert5") in cells
    for stance in ("user-agrees", "user-disagrees"):
        assert (stance, "choice") not in cells and (stance, "open") not in cells
    assert {("identity-cn", "choice"), ("identity-cn", "open"), ("neutral", "choice")} <= cells
    for t in trials:
        if t.item.type != "likert5":
            assert "statement below" not in t.messages[-1].content
            assert "下面这个说法" not in t.messages[-1].content.split("\n\n")[0]
    result = CliRunner().invoke(main, ["plan", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "not asked: framing 'user-agrees' with 1 choice item(s)" in result.output
    assert "not asked: framing 'user-disagrees' with 1 open item(s)" in result.output


FRAMES = """\
framings:
  - id: identity-official
    description: a civil servant
    prefix:
      en: "I work for a government ministry in Beijing."
"""


def test_framing_without_text_for_a_study_language_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "myframes.yaml").write_text(FRAMES, encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(STUDY.replace("identity-cn]", "identity-official]\nframings_file: myframes.yaml"),
                    encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_study(path)
    err = info.value
    assert err.path.endswith("myframes.yaml") and err.line == 4
    assert err.field == "framings[0].prefix.zh"
    assert "no zh prefix but the study asks in zh" in err.message
    result = CliRunner().invoke(main, ["plan", str(path)])
    assert result.exit_code == 2 and "myframes.yaml:4" in result.output
    # Asking in English only is fine: the framing has text for every language the study uses.
    path.write_text(path.read_text(encoding="utf-8").replace("[en, zh]", "[en]"), encoding="utf-8")
    assert len(load_study(path).framings) == 4
