"""A mirror-chat conversation exported as an instrument, asked in a study, and its stored replies
coded with a user's codebook (--all-open: the codebook names no instrument of the study)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from conftest import VaryingServer
from test_chat import source_conversation

from twinstudy.cli.main import main
from twinstudy.store import Store

DATA = Path(__file__).parent / "data"


def test_exported_chat_instrument_is_asked_then_coded_with_all_open(tmp_path: Path) -> None:
    chat_db = source_conversation(tmp_path)
    items = tmp_path / "rivers.yaml"
    runner = CliRunner()
    res = runner.invoke(main, ["chat", "export", "rivers", "-o", str(items), "--db", str(chat_db)])
    assert res.exit_code == 0, res.output
    with VaryingServer(max_runtime_s=120.0) as srv:
        study = tmp_path / "study.yaml"
        study.write_text(f"""\
name: chat-coded
models:
  - {{id: us-a, provider: openai-compatible, base_url: "{srv.base}/us-a/v1", model: m, origin: US}}
instruments: [rivers.yaml]
languages: [en, zh]
params: {{max_tokens: 64}}
""", encoding="utf-8")
        db = tmp_path / "results.db"
        res = runner.invoke(main, ["run", str(study), "--db", str(db), "--no-report", "-q"])
        assert res.exit_code == 0, res.output
    book = str(DATA / "coding_codebook.yaml")
    res = runner.invoke(main, ["code", str(db), "--codebook", book])
    assert res.exit_code == 0 and "0 coded" in res.output and "--all-open" in res.output
    res = runner.invoke(main, ["code", str(db), "--codebook", book, "--all-open"])
    assert res.exit_code == 0, res.output
    store = Store(db, create=False)
    codes = store.code_table("waters", "lexicon")
    answered = len(store.replies_to_code())
    n_trials = store.counts()
    store.close()
    assert sum(n_trials.values()) == 6  # 3 turns x 2 languages
    assert len(codes) == answered >= 1  # every answered reply, and only those, is coded
    assert any("rivers" in c for c in codes["categories"])
