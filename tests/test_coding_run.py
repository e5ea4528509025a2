"""Coding stored replies: which replies, coder identity and versions, redo, primary coder, the
CLI (code, code-agreement, codebooks) and its errors."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from twinstudy.cli.main import main
from twinstudy.coding.codebook import Codebook
from twinstudy.coding.frame import category_column, coded_frame
from twinstudy.coding.lexicon import LexiconCoder
from twinstudy.coding.loader import load_codebook
from twinstudy.coding.run import code_with_judge, code_with_lexicon, recode_lexicon
from twinstudy.instruments.loader import load_instrument
from twinstudy.models.base import Completion, GenerateParams, Message, ModelInfo
from twinstudy.store import Store, TrialRecord

DATA = Path(__file__).parent / "data"
REPLIES = [
    ("en", "answered", "It would be a guardian, not a ruler, protecting people from disaster."),
    ("zh", "answered", "它更像一位智者和老师，而不是统治者。"),
    ("en", "evasive", "Hard to say what it would be."),
    ("en", "refused", "I cannot discuss this."),
    ("zh", "blocked", None),
]


def _store(tmp: Path, instrument: str = str(DATA / "coding_instrument.yaml")) -> Store:
    inst = load_instrument(instrument)
    store = Store(tmp / "r.sqlite")
    store.put_definitions([inst], [])
    trials = []
    for i, (lang, outcome, text) in enumerate(REPLIES):
        item = inst.items[i % len(inst.items)]
        trials.append(TrialRecord(
            key=f"k{i}", study="s", model="m", instrument=inst.id, item=item.id, theme=item.theme, item_type="open",
            reverse=0, lang=lang, framing="neutral", paraphrase=0, sample=0, seed=0, params_json="{}",
            option_order=None, correct_letter=None, messages_json=json.dumps([["user", "FRAMING " + item.text.en[0]]]),
            outcome=outcome, answer_text=text, reasoning=None, followup_text=None, provider_code=None,
            omitted_params=None, n_attempts=1, tokens_in=None, tokens_out=None, cost=None, finished_at=time.time()))
    store.write_batch([], trials, [])
    return store


def _book() -> Codebook:
    data = load_codebook("archetype").model_dump()
    data["applies_to"] = {"instruments": [], "tags": ["vision"]}
    return Codebook.model_validate(data)


class FakeJudge:
    def __init__(self, reply: str) -> None:
        self.info = ModelInfo(id="fake", provider="fake", model="fake")
        self.reply = reply
        self.seen: list[list[Message]] = []

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion:
        self.seen.append(messages)
        return Completion(text=self.reply)

    async def aclose(self) -> None:
        return None


def test_lexicon_codes_substantive_replies_only_and_keeps_them_until_the_version_changes(tmp_path: Path) -> None:
    store = _store(tmp_path)
    book = _book()
    r = code_with_lexicon(store, book)
    assert (r.eligible, r.coded, r.kept) == (3, 3, 0)  # refused and blocked replies are not coded
    table = store.code_table(book.id, "lexicon").set_index("trial_key")
    assert table.loc["k0", "categories"] == ("guardian",) and table.loc["k1", "categories"] == ("sage",)
    assert table.loc["k2", "categories"] == ("other",)
    assert store.primary_coder(book.id) == "lexicon"
    again = code_with_lexicon(store, book)
    assert (again.coded, again.kept) == (0, 3)
    assert code_with_lexicon(store, book, redo=True).coded == 3
    # the coded frame the analysis reads carries the codes
    store.put_codebook(book.id, book.model_dump_json())
    store.close()


def test_a_codebook_that_applies_elsewhere_codes_nothing_unless_all_open(tmp_path: Path) -> None:
    store = _store(tmp_path)
    book = load_codebook("archetype")  # applies to ai-visions only
    assert code_with_lexicon(store, book).eligible == 0
    assert code_with_lexicon(store, book, all_open=True).coded == 3


def test_judge_codes_under_its_own_identity_sees_the_item_without_framing_and_becomes_primary(tmp_path: Path) -> None:
    store = _store(tmp_path)
    book = _book()
    code_with_lexicon(store, book)
    judge = FakeJudge("CODES: guardian")
    r = asyncio.run(code_with_judge(store, book, judge, "fake-judge"))
    assert r.coded == 3 and r.coder == "judge:fake-judge"
    assert all("FRAMING" not in m[0].content for m in judge.seen)
    assert store.coders(book.id) == ["lexicon", "judge:fake-judge"]
    assert store.primary_coder(book.id) == "judge:fake-judge"
    bad = asyncio.run(code_with_judge(store, book, FakeJudge("CODES: wizard"), "bogus"))
    assert bad.uncodable == 3
    again = asyncio.run(code_with_judge(store, book, judge, "fake-judge"))
    assert again.kept == 3 and len(judge.seen) == 3  # nothing asked twice
    from twinstudy.coding.loader import codebooks_in

    (kept,) = codebooks_in(store)
    assert kept.applies_to.tags == ["vision"]  # the definition the coders used, not the bundled one


def test_a_judge_pass_stopped_midway_keeps_what_it_saved_and_asks_only_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Codes are saved in chunks as they come: Ctrl-C (here on the third call) loses at most the
    last unsaved chunk, and the next pass asks only the replies not yet coded."""
    import importlib

    monkeypatch.setattr(importlib.import_module("twinstudy.run.model_pass"), "SAVE_EVERY", 1)
    store = _store(tmp_path)
    book = _book()

    class Interrupted(FakeJudge):
        async def generate(self, messages: list[Message], params: GenerateParams) -> Completion:
            if len(self.seen) == 2:
                raise KeyboardInterrupt
            return await super().generate(messages, params)

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(code_with_judge(store, book, Interrupted("CODES: guardian"), "fake-judge", concurrency=1))
    assert len(store.code_table(book.id, "judge:fake-judge")) == 2
    judge = FakeJudge("CODES: guardian")
    again = asyncio.run(code_with_judge(store, book, judge, "fake-judge"))
    assert (again.kept, again.coded, len(judge.seen)) == (2, 1, 1)
    assert store.primary_coder(book.id) == "judge:fake-judge"


def test_rescore_recodes_lexicon_codes_when_the_keywords_changed(tmp_path: Path) -> None:
    store = _store(tmp_path)
    book = _book()
    code_with_lexicon(store, book)
    data = book.model_dump()
    data["categories"][0]["keywords"]["en"].append("disaster")  # administrator now fires on k0 too
    edited = Codebook.model_validate(data)
    store.put_codebook(book.id, edited.model_dump_json())  # the kept definition is what a recode reads
    assert recode_lexicon(store) == []  # 'archetype' is bundled: the bundled file is current
    # a user codebook (not bundled) is recoded from the definition the database kept
    data["id"] = "mine"
    mine = Codebook.model_validate(data)
    code_with_lexicon(store, Codebook.model_validate({**data, "categories": book.model_dump()["categories"]}))
    store.put_codebook("mine", mine.model_dump_json())
    (res,) = recode_lexicon(store)
    assert res.codebook == "mine" and res.coded == 3
    assert set(store.code_table("mine", "lexicon")["version"]) == {LexiconCoder(mine).version}


def test_cli_code_and_agreement(tmp_path: Path) -> None:
    store = _store(tmp_path)
    book_path = tmp_path / "arch.yaml"
    data = _book().model_dump(mode="json")
    book_path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    asyncio.run(code_with_judge(store, _book(), FakeJudge("CODES: guardian"), "fake-judge"))
    store.close()
    db = str(tmp_path / "r.sqlite")
    runner = CliRunner()
    res = runner.invoke(main, ["code", db, "--codebook", str(book_path)])
    assert res.exit_code == 0, res.output
    assert "archetype by lexicon: 3 coded" in res.output
    res = runner.invoke(main, ["code-agreement", db, "--codebook", str(book_path)])
    assert res.exit_code == 0, res.output
    assert "judge:fake-judge vs lexicon" in res.output and "alpha" in res.output
    from twinstudy.store.export import read_tables

    codes = read_tables(db, ("codes",))["codes"]
    assert len(codes) == 6 and set(codes["coder"]) == {"lexicon", "judge:fake-judge"}
    store = Store(tmp_path / "r.sqlite")
    frame = coded_frame(store, _book(), coder="lexicon", design="all")
    assert frame[category_column("guardian")].notna().sum() == 3
    store.close()


def test_cli_errors_name_file_line_and_what_to_do(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.close()
    db = str(tmp_path / "r.sqlite")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ntitle: {en: T, zh: T}\nquestion: {en: Q, zh: Q}\nmulti_label: maybe\n"
                   "categories: []\n", encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(main, ["code", db, "--codebook", str(bad)])
    assert res.exit_code == 2 and f"{bad}:4" in res.output and "multi_label" in res.output
    res = runner.invoke(main, ["code", db, "--codebook", "nosuch"])
    assert res.exit_code == 2 and "twinstudy codebooks" in res.output
    res = runner.invoke(main, ["code-agreement", db, "--codebook", "archetype"])
    assert res.exit_code == 2 and "needs two" in res.output
    res = runner.invoke(main, ["code", str(tmp_path / "none.sqlite"), "--codebook", "archetype"])
    assert res.exit_code == 2 and "no results database" in res.output
    res = runner.invoke(main, ["code", db, "--codebook", "archetype"])
    assert res.exit_code == 0 and "--all-open" in res.output
    res = runner.invoke(main, ["codebooks", "--show", "culture"])
    assert res.exit_code == 0 and "chinese" in res.output


@pytest.mark.parametrize("book", ["archetype", "deference", "centralisation", "culture"])
def test_every_bundled_codebook_codes_its_own_examples(book: str) -> None:
    """Each category's examples are coded as that category by the lexicon (multi-label: at least
    that category): a check that keywords and examples were written together."""
    cb = load_codebook(book)
    coder = LexiconCoder(cb)
    for cat in cb.categories:
        for ex in cat.examples.en + cat.examples.zh:
            got = coder.code(ex).categories
            assert cat.id in got if cb.multi_label else got == (cat.id,), (cat.id, ex, coder.code(ex))


STUDY = """\
name: tiny
models:
  - local/smollm2-135m
instruments:
  - {id: ai-futures, limit: 2}
coding:
  codebooks: [archetype, %s]
  coders: [lexicon, %s]
"""


def test_study_coding_section_resolves_codebooks_and_coders(tmp_path: Path) -> None:
    from twinstudy.errors import SpecError
    from twinstudy.study.spec import load_study

    (tmp_path / "mine.yaml").write_text((DATA / "coding_codebook.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(STUDY % ("mine.yaml", "local/smollm2-135m"), encoding="utf-8")
    rs = load_study(path)
    assert rs.coding is not None
    assert [b.id for b in rs.coding.codebooks] == ["archetype", "waters"]
    assert rs.coding.coders[0] == "lexicon" and not isinstance(rs.coding.coders[1], str)
    path.write_text(STUDY % ("astrology", "local/smollm2-135m"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"s\.yaml:7: field 'coding\.codebooks\[1\]' unknown codebook 'astrology'"):
        load_study(path)
    path.write_text(STUDY % ("culture", "acme/none-9000"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"s\.yaml:8: field 'coding\.coders\[1\]'.*lexicon"):
        load_study(path)


def test_rescore_command_recodes_out_of_date_lexicon_codes(tmp_path: Path) -> None:
    store = _store(tmp_path)
    data = _book().model_dump()
    data["id"] = "mine"
    old = Codebook.model_validate(data)
    code_with_lexicon(store, old)
    data["categories"][0]["keywords"]["en"].append("disaster")
    store.put_codebook("mine", Codebook.model_validate(data).model_dump_json())
    store.close()
    res = CliRunner().invoke(main, ["rescore", "--db", str(tmp_path / "r.sqlite")])
    assert res.exit_code == 0, res.output
    assert "recoded with the current lexicon: mine by lexicon: 3 coded" in res.output
    res = CliRunner().invoke(main, ["rescore", "--db", str(tmp_path / "r.sqlite")])
    assert "recoded" not in res.output  # up to date now: nothing to do


def test_a_persons_codes_are_imported_checked_and_compared(tmp_path: Path) -> None:
    store = _store(tmp_path)
    code_with_lexicon(store, _book())
    store.close()
    db = str(tmp_path / "r.sqlite")
    book = tmp_path / "arch.yaml"
    book.write_text(json.dumps(_book().model_dump(mode="json")), encoding="utf-8")
    good = tmp_path / "alice.yaml"
    good.write_text("- {trial_key: k0, categories: guardian}\n- {trial_key: k1, categories: [sage]}\n"
                    "- {trial_key: k2, categories: uncodable}\n", encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(main, ["code", db, "--codebook", str(book), "--coder", "human:alice", "--import", str(good)])
    assert res.exit_code == 0 and "human:alice: 2 coded, 1 uncodable" in res.output, res.output
    res = runner.invoke(main, ["code-agreement", db, "--codebook", str(book)])
    assert "lexicon vs human:alice" in res.output
    bad = tmp_path / "bob.yaml"
    bad.write_text("- {trial_key: k0, categories: wizard}\n", encoding="utf-8")
    res = runner.invoke(main, ["code", db, "--codebook", str(book), "--coder", "human:bob", "--import", str(bad)])
    assert res.exit_code == 2 and "[0].categories" in res.output and "wizard" in res.output
    res = runner.invoke(main, ["code", db, "--codebook", str(book), "--coder", "bob", "--import", str(good)])
    assert res.exit_code == 2 and "human:NAME" in res.output
    store = Store(tmp_path / "r.sqlite")
    assert store.primary_coder("archetype") == "lexicon"  # imported codes do not take over
    store.close()
