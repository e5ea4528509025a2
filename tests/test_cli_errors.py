"""The root group turns a user error from any command, nested ones included, into one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from twinstudy.cli import main


@pytest.mark.parametrize("args", [
    ["summary", "--db", "{tmp}/missing.db"],
    ["rescore", "--db", "{tmp}/missing.db"],
    ["instruments", "--show", "no-such-instrument"],
    ["chat", "export", "7", "-o", "{tmp}/out.yaml", "--db", "{tmp}/missing-chat.db"],
    ["replay", "7", "--models", "local/smollm2-135m", "--db", "{tmp}/missing-chat.db"],
    ["plan", "{tmp}/missing-study.yaml"],
])
def test_a_user_error_is_one_line_and_exit_2(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and "Traceback" not in result.output
