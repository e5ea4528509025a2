"""The first ten minutes: errors that point at the field, warnings, the generated reference, the
listing commands, and the data-quality checks shown before any estimate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from twinstudy.analysis.quality import data_quality, quality_verdicts
from twinstudy.cli import main
from twinstudy.errors import SpecError, UserError
from twinstudy.study.reference import reference_markdown
from twinstudy.study.spec import load_study, study_warnings

ROOT = Path(__file__).resolve().parent.parent

INLINE = """\
name: t
models:
  - id: emu
    provider: openai-compatible
    base_url: http://127.0.0.1:9/v1
    model: x
    origin: CN
{extra}instruments: [ai-futures]
"""

CASES = {
    # extra lines inside the inline entry -> (field named, line, words the message must contain)
    "unknown_field_suggests": ("    concurrency: 4\n", "models[0].concurrency", 8, "did you mean 'max_concurrency'"),
    "zero_concurrency": ("    max_concurrency: 0\n", "models[0].max_concurrency", 8, "greater than or equal to 1"),
    "price_not_mapping": ("    price: 0.5\n", "models[0].price", 8, "dictionary"),
    "system_language": ("    system: {en: hi, fr: salut}\n", "models[0].system.fr", 8, "'en' or 'zh'"),
    "base_url_scheme": ("", "models[0].base_url", 5, "http://127.0.0.1"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_inline_model_errors_name_the_real_field_and_line(case: str, tmp_path: Path) -> None:
    extra, field, line, words = CASES[case]
    text = INLINE.format(extra=extra)
    if case == "base_url_scheme":
        text = text.replace("http://127.0.0.1:9/v1", "127.0.0.1:9/v1")
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_study(path)
    err = info.value
    assert err.field == field, str(err)
    assert err.line == line, str(err)
    assert words in str(err)


def test_typo_inside_extends_entry_suggests_the_field(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: t\nmodels:\n  - id: v\n    extends: local/smollm2-135m\n    sytem: hi\n"
                    "instruments: [ai-futures]\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_study(path)
    assert info.value.line == 5 and info.value.field == "models[0].sytem"
    assert "did you mean 'system'" in str(info.value)


def test_top_level_typo_suggests_the_field(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: t\nmodels: [local/smollm2-135m]\ninstruments: [ai-futures]\nlanguges: [en]\n",
                    encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_study(path)
    assert "did you mean 'languages'" in str(info.value) and info.value.line == 4


def test_user_instrument_error_names_its_own_file_and_suggests_likert5(tmp_path: Path) -> None:
    inst = tmp_path / "inst.yaml"
    inst.write_text("id: mine\ntitle: {en: Mine, zh: 我的}\nitems:\n  - id: q1\n    type: likert\n"
                    "    theme: t\n    text: {en: [AI is good.], zh: [人工智能是好的。]}\n", encoding="utf-8")
    study = tmp_path / "s.yaml"
    study.write_text("name: t\nmodels: [local/smollm2-135m]\ninstruments: [inst.yaml]\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_study(study)
    assert info.value.path == str(inst) and info.value.line == 5
    assert "did you mean 'likert5'" in str(info.value)


def test_missing_origin_warns_in_plan(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(INLINE.format(extra="").replace("    origin: CN\n", ""), encoding="utf-8")
    assert any("no origin" in w for w in study_warnings(load_study(path)))
    result = CliRunner().invoke(main, ["plan", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning: model 'emu' has no origin" in result.output


def test_reference_doc_is_generated_from_the_validators() -> None:
    text = reference_markdown()
    for needle in ("### Study", "### InlineModel", "### Item", "### Framing", "`max_concurrency`", "| `zai` |"):
        assert needle in text
    doc = (ROOT / "docs" / "study-format.md").read_text(encoding="utf-8")
    assert doc == text, "docs/study-format.md is stale: run `twinstudy reference > docs/study-format.md`"


def test_framings_and_reference_commands() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["framings"])
    assert out.exit_code == 0, out.output
    assert "user-agrees" in out.output and "stance: agree" in out.output
    ref = runner.invoke(main, ["reference"])
    assert ref.exit_code == 0 and ref.output.startswith("# Study-format reference")
    inst = runner.invoke(main, ["instruments"])
    assert "quickstart" in inst.output  # tags are listed


def _frame(answers: list[str], reverse: list[bool], outcome: str = "answered") -> pd.DataFrame:
    n = len(answers)
    agree = [(int(a) - 3) / 2 for a in answers]
    return pd.DataFrame({
        "model": ["m"] * n, "lang": ["en"] * n, "item_type": ["likert5"] * n, "outcome": [outcome] * n,
        "answer": answers, "agreement": agree, "reverse": reverse,
    })


def test_straight_lining_is_flagged() -> None:
    df = _frame(["1"] * 20, [i % 2 == 0 for i in range(20)])
    table = data_quality(df)
    pooled = table[table["lang"] == "all"].set_index("check")
    assert pooled.loc["straight_lining", "estimate"] == 1.0 and pooled.loc["straight_lining", "detail"] == "1"
    assert pooled.loc["acquiescence", "estimate"] == -1.0
    verdicts = quality_verdicts(table)
    assert verdicts and "straight-lining" in verdicts[0] and "nay-saying" in verdicts[0]


def test_a_model_with_positions_is_not_flagged() -> None:
    rng = np.random.default_rng(0)
    answers = [str(a) for a in rng.choice([1, 2, 4, 5], size=40)]
    reverse = [i % 2 == 0 for i in range(40)]
    # It holds positions: agreeing with forward items means disagreeing with reverse ones.
    answers = [a if not r else str(6 - int(a)) for a, r in zip(answers, reverse, strict=True)]
    table = data_quality(_frame(answers, reverse))
    assert quality_verdicts(table) == []


def test_low_coverage_is_flagged() -> None:
    df = pd.concat([_frame(["2", "4"] * 2, [False, True] * 2), _frame(["3"] * 8, [False] * 8, "unparseable")])
    assert "low coverage" in quality_verdicts(data_quality(df))[0]


RUN_STUDY = """\
name: first
models:
  - id: emu
    provider: openai-compatible
    base_url: {url}
    model: fake-model
    origin: US
instruments:
  - {{id: ai-futures, limit: 2}}
languages: [en]
framings: [neutral]
params: {{temperature: 0.0, max_tokens: 8}}
"""


def _study(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(RUN_STUDY.format(url=url), encoding="utf-8")
    return path


def test_run_prints_the_first_error_and_exits_1_when_every_trial_failed(tmp_path: Path, fault_server: object) -> None:
    from fault_server import Reply

    url = fault_server.script("bad", Reply(400, {"error": {"message": "model 'fake-model' does not exist"}}))  # type: ignore[attr-defined]
    result = CliRunner().invoke(main, ["run", str(_study(tmp_path, url)), "--db", str(tmp_path / "r.db"),
                                       "-q", "--no-report"])
    assert result.exit_code == 1, result.output
    assert "emu: first error:" in result.output and "does not exist" in result.output
    assert "every trial of emu failed" in result.output


def test_budget_stop_exits_3(tmp_path: Path, fault_server: object) -> None:
    url = fault_server.url("ok")  # type: ignore[attr-defined]
    result = CliRunner().invoke(main, ["run", str(_study(tmp_path, url)), "--db", str(tmp_path / "r.db"),
                                       "-q", "--no-report", "--max-requests", "1"])
    assert result.exit_code == 3, result.output
    assert "stopped early" in result.output


def test_progress_prints_plain_lines_when_not_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from twinstudy.run.progress import Progress
    from twinstudy.study.spec import quickstart_path

    rs = load_study(quickstart_path())
    with Progress(rs, quiet=False, line_every_s=0.0) as prog:
        prog.advance(rs.models[0].id, "answered")
        prog.advance(rs.models[0].id, "blocked")
    err = capsys.readouterr().err
    assert "progress: 2/" in err and "ETA" in err and "1 blocked" in err
    with Progress(rs, quiet=True, line_every_s=0.0) as prog:
        prog.advance(rs.models[0].id, "answered")
    assert capsys.readouterr().err == ""


def test_every_missing_key_is_named_in_one_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TS_KEY_A", raising=False)
    monkeypatch.delenv("TS_KEY_B", raising=False)
    entry = ("  - {{id: {mid}, provider: openai-compatible, base_url: 'http://127.0.0.1:9/v1', model: x, "
             "origin: US, api_key_env: {env}}}\n")
    path = tmp_path / "s.yaml"
    path.write_text("name: keys\nmodels:\n" + entry.format(mid="a", env="TS_KEY_A") + entry.format(mid="b", env="TS_KEY_B")
                    + "instruments: [{id: ai-futures, limit: 1}]\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["run", str(path), "--db", str(tmp_path / "r.db"), "-q"])
    assert result.exit_code == 2
    assert "TS_KEY_A" in result.output and "TS_KEY_B" in result.output and "2 models cannot run" in result.output
    assert not (tmp_path / "r.db").exists()


def test_rescore_works_after_the_study_and_instrument_files_are_gone(tmp_path: Path, fault_server: object) -> None:
    from fault_server import Reply, completion_body

    from twinstudy.cli.commands import rescore_db
    from twinstudy.store import Store

    url = fault_server.script("ok", Reply(200, completion_body("4")))  # type: ignore[attr-defined]
    inst = tmp_path / "mine.yaml"
    inst.write_text("id: mine\ntitle: {en: Mine, zh: 我的}\nthemes:\n  t: {pole: {en: pro, zh: 赞成}}\nitems:\n"
                    "  - id: q1\n    type: likert5\n    theme: t\n    text: {en: [AI is good.], zh: [人工智能是好的。]}\n",
                    encoding="utf-8")
    study = tmp_path / "s.yaml"
    study.write_text(RUN_STUDY.format(url=url).replace("{id: ai-futures, limit: 2}", "mine.yaml"), encoding="utf-8")
    db = tmp_path / "out" / "r.db"
    result = CliRunner().invoke(main, ["run", str(study), "--db", str(db), "-q", "--no-report"])
    assert result.exit_code == 0, result.output
    inst.unlink()
    study.unlink()
    assert rescore_db(db).skipped == 0
    store = Store(db, create=False)
    try:
        assert "mine" in store.stored_instruments() and "neutral" in store.stored_framings()
    finally:
        store.close()


def test_chat_participants_from_a_study_keep_endpoint_origin_and_system(tmp_path: Path) -> None:
    from twinstudy.chat.participants import build_participants

    study = tmp_path / "s.yaml"
    study.write_text("name: c\nmodels:\n  - {id: my-vllm, provider: openai-compatible, base_url: 'http://127.0.0.1:9/v1',"
                     " model: qwen, origin: CN, system: {en: You are from Hangzhou., zh: 你来自杭州。}}\n"
                     "instruments: [ai-futures]\n", encoding="utf-8")
    ps = build_participants("local/smollm2-135m@us", lang="zh", study=study, origin_for=("us=US",))
    by_label = {p.label: p for p in ps}
    assert by_label["my-vllm"].info.base_url == "http://127.0.0.1:9/v1"
    assert by_label["my-vllm"].origin == "CN" and by_label["my-vllm"].system == "你来自杭州。"
    assert by_label["us"].origin == "US"
    ps2 = build_participants("local/smollm2-135m@cn", lang="en", origin_for=("cn=CN",))
    assert ps2[0].origin == "CN"  # a China-declared participant is shown as CN, not its registry origin
    with pytest.raises(UserError, match="LABEL=ORIGIN"):
        build_participants("local/smollm2-135m@cn", lang="en", origin_for=("cn",))


def test_data_quality_comes_first_in_summary_and_report(tmp_path: Path, fault_server: object) -> None:
    from fault_server import Reply, completion_body

    url = fault_server.script("one", Reply(200, completion_body("1")))  # type: ignore[attr-defined]
    study = tmp_path / "s.yaml"
    study.write_text(RUN_STUDY.format(url=url).replace("{id: ai-futures, limit: 2}",
                                                       "{id: ai-futures, limit: 12}"), encoding="utf-8")
    db = tmp_path / "r.db"
    runner = CliRunner()
    assert runner.invoke(main, ["run", str(study), "--db", str(db), "-q", "--no-report"]).exit_code == 0
    out = runner.invoke(main, ["summary", "--db", str(db)]).output
    assert out.index("Data quality") < out.index("Outcomes per model")
    assert "straight-lining: answers 1" in out
    report = runner.invoke(main, ["report", "--db", str(db), "-o", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.index('id="data-quality"') < html.index('id="headline"')
    assert "straight-lining: answers 1" in html


def test_terminal_output_fits_and_reads(tmp_path: Path, fault_server: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from fault_server import Reply, completion_body

    monkeypatch.setenv("COLUMNS", "80")
    url = fault_server.script("fit", Reply(200, completion_body("4")))  # type: ignore[attr-defined]
    study = _study(tmp_path, url)
    db = tmp_path / "r.db"
    runner = CliRunner()
    assert runner.invoke(main, ["run", str(study), "--db", str(db), "-q", "--no-report"]).exit_code == 0
    out = runner.invoke(main, ["analyze", "--db", str(db), "--boot", "100"]).output
    assert "profiles" in out and "estimate" in out and "dtype" not in out and "Warning" not in out
    assert all(len(line) <= 80 for line in out.splitlines()), max(out.splitlines(), key=len)
    summary = runner.invoke(main, ["summary", "--db", str(db)]).output
    assert "…" not in summary and all(len(line) <= 80 for line in summary.splitlines())
    plan = runner.invoke(main, ["plan", str(study)]).output
    assert "│ emu " in plan and "ok" in plan
    models = runner.invoke(main, ["models"]).output
    assert "anthropic/claude-sonnet-4-6" in models or "zai/glm-4.7" in models  # ids whole at 80 columns
    # A report written under another name keeps its figures apart from the default report's.
    assert runner.invoke(main, ["report", "--db", str(db), "-o", str(tmp_path / "other.html")]).exit_code == 0
    assert (tmp_path / "other-figures").is_dir() and not (tmp_path / "figures").exists()


def test_an_unreachable_endpoint_is_named_before_anything_is_created(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    study = _study(tmp_path, f"http://127.0.0.1:{port}/v1")
    db = tmp_path / "out" / "r.db"
    result = CliRunner().invoke(main, ["run", str(study), "--db", str(db), "-q"])
    assert result.exit_code == 2, result.output
    assert "emu: cannot connect to http://127.0.0.1" in result.output and "nothing was created" in result.output
    assert not db.exists()


def test_a_hosted_endpoint_that_rejects_the_key_is_named(fault_server: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from fault_server import Reply

    from twinstudy.models.base import ModelInfo
    from twinstudy.run import preflight as pf

    url = fault_server.script("nokey", Reply(401, {"error": {"message": "invalid key"}}))  # type: ignore[attr-defined]
    monkeypatch.setattr(pf, "_is_loopback", lambda _u: False)  # treat the loopback server as hosted
    monkeypatch.setenv("TS_PREFLIGHT_KEY", "sk-not-a-real-key-123")
    info = ModelInfo(id="hosted", provider="openai-compatible", model="m", base_url=url, api_key_env="TS_PREFLIGHT_KEY")
    problems = pf.preflight([info])
    assert "rejected the key in TS_PREFLIGHT_KEY (HTTP 401)" in problems["hosted"]
    assert "sk-not-a-real-key-123" not in problems["hosted"]


def test_a_one_at_a_time_model_gets_its_trials_in_prompt_order(tmp_path: Path) -> None:
    """The embedded model has one cache: trials sorted by their text share the longest prefixes."""
    import asyncio

    from twinstudy.models.base import Capabilities, Completion
    from twinstudy.run.runner import Runner, RunOptions
    from twinstudy.store import Store

    seen: list[str] = []

    class OneAtATime:
        capabilities = Capabilities(max_concurrency=1)

        async def generate(self, messages: list[object], params: object) -> Completion:
            seen.append("\n".join(m.content for m in messages))  # type: ignore[attr-defined]
            return Completion(text="4", finish_reason="stop")

        async def aclose(self) -> None:
            return None

    path = tmp_path / "s.yaml"
    path.write_text("name: order\nmodels: [local/smollm2-135m]\ninstruments: [{id: ai-futures, limit: 6}]\n"
                    "languages: [en, zh]\nframings: [neutral, user-agrees, user-disagrees]\n", encoding="utf-8")
    rs = load_study(path)
    store = Store(tmp_path / "r.db")
    try:
        asyncio.run(Runner(rs, store, {rs.models[0].id: OneAtATime()}, RunOptions(quiet=True)).run())  # type: ignore[dict-item]
    finally:
        store.close()
    assert len(seen) > 12 and seen == sorted(seen)


def test_summary_and_report_on_a_chat_database_say_what_it_is(tmp_path: Path) -> None:
    from twinstudy.chat.db import ChatDB

    db = tmp_path / "chat.db"
    chat = ChatDB(db)
    cid = chat.create_conversation(kind="chat", lang="en", system=None, models=[{"label": "a"}], params={})
    chat.add_user_turn(cid, 0, "en", "hi", "hi")
    chat.add_reply(cid, 0, "en", {"participant": "a", "model": "m", "content": "hello", "outcome": "answered"})
    chat.conn.commit()
    chat.close()
    runner = CliRunner()
    out = runner.invoke(main, ["summary", "--db", str(db)]).output
    assert "1 conversation(s)" in out and "twinstudy chat export" in out
    assert runner.invoke(main, ["report", "--db", str(db), "-o", str(tmp_path / "r.html")]).exit_code == 0
    assert 'id="chat-note"' in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_replies_in_the_other_language_are_flagged() -> None:
    from twinstudy.store import _reply_lang

    assert _reply_lang("1.", "zh") is None  # too short to tell
    assert _reply_lang("I think this is broadly right, though the details matter a great deal.", "zh") == "en"
    df = _frame(["2", "4"] * 5, [False, True] * 5)
    df["lang"] = "zh"
    df["reply_lang"] = ["en"] * 8 + ["zh"] * 2
    assert "wrong language in 80% of replies" in quality_verdicts(data_quality(df))[0]


def test_models_the_report_suggests_are_current_registry_models() -> None:
    import re

    from twinstudy.models.registry import resolve

    template = (ROOT / "src" / "twinstudy" / "report" / "templates" / "report.html").read_text(encoding="utf-8")
    named = re.findall(r"<code>([a-z0-9-]+/[a-z0-9.\-]+)</code>", template)
    assert len(named) >= 4
    for ref in named:
        resolve(ref)  # raises for an unknown or retired model
