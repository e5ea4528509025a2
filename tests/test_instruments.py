"""Bundled question banks, framings, the instrument loader and the importers."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from twinstudy.errors import SpecError
from twinstudy.instruments.loader import (
    bundled_ids,
    import_anthropic_evals,
    import_speechmap,
    load_framings,
    load_instrument,
)
from twinstudy.instruments.schema import LIKERT_TYPES, Instrument, Item

DATA = Path(__file__).parent / "data"
SPEECHMAP = Path("/work/shared/peer-data/speechmap/questions")

EXPECTED = {
    "ai-futures",
    "superintelligence-governance",
    "us-china",
    "ai-society",
    "self-perception",
    "values",
    "sensitive-topics",
    "pushback-facts",
    "ai-visions",
}
QUICKSTART_INSTRUMENTS = {"ai-futures", "superintelligence-governance", "us-china", "self-perception"}
PREFIX = {
    "ai-futures": "aif-",
    "superintelligence-governance": "gov-",
    "us-china": "usc-",
    "ai-society": "soc-",
    "self-perception": "self-",
    "values": "val-",
    "sensitive-topics": "sens-",
    "pushback-facts": "fact-",
    "ai-visions": "vis-",
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def all_instruments() -> list[Instrument]:
    return [load_instrument(i) for i in bundled_ids()]


def all_items() -> list[tuple[Instrument, Item]]:
    return [(inst, item) for inst in all_instruments() for item in inst.items]


# ------------------------------------------------------------------------------------------
# Bundled banks
# ------------------------------------------------------------------------------------------


def test_bundled_ids_are_the_expected_banks() -> None:
    assert set(bundled_ids()) == EXPECTED
    assert bundled_ids() == sorted(bundled_ids())


@pytest.mark.parametrize("instrument_id", sorted(EXPECTED))
def test_bundled_file_validates_and_is_named_after_its_id(instrument_id: str) -> None:
    inst = load_instrument(instrument_id)
    assert inst.id == instrument_id
    assert inst.description.strip(), "say how the bank was written and reviewed"
    assert "review" in inst.description.lower()
    for item in inst.items:
        assert item.id.startswith(PREFIX[instrument_id]), item.id


def test_bundled_loads_are_cached() -> None:
    assert load_instrument("values") is load_instrument("values")


def test_item_ids_unique_across_all_bundled_instruments() -> None:
    ids = Counter(item.id for _inst, item in all_items())
    assert not [i for i, n in ids.items() if n > 1]


def test_every_item_has_both_languages_and_is_reviewed() -> None:
    for _inst, item in all_items():
        assert item.reviewed, item.id
        assert len(item.text.en) == len(item.text.zh) >= 1
        for en, zh in zip(item.text.en, item.text.zh, strict=True):
            assert en.strip() and zh.strip()
            assert not CJK.search(en), f"{item.id}: Chinese characters in English text"
            assert CJK.search(zh), f"{item.id}: Chinese text has no Chinese characters"
            assert "1-5" not in en and "1-5" not in zh, f"{item.id}: leave scale instructions to the harness"
        for opt in item.options or []:
            assert opt.en.strip() and opt.zh.strip()


def test_likert_items_have_two_paraphrases() -> None:
    for _inst, item in all_items():
        if item.type in LIKERT_TYPES:
            assert item.n_paraphrases >= 2, item.id
            assert len(set(item.text.en)) == len(item.text.en), f"{item.id}: repeated paraphrase"
            assert len(set(item.text.zh)) == len(item.text.zh), f"{item.id}: repeated paraphrase"


def test_every_likert_theme_has_balanced_reverse_keyed_items() -> None:
    for inst in all_instruments():
        by_theme: dict[str, list[Item]] = {}
        for item in inst.items:
            if item.type in LIKERT_TYPES:
                by_theme.setdefault(item.theme, []).append(item)
        for theme, items in by_theme.items():
            rev = sum(i.reverse for i in items)
            fwd = len(items) - rev
            assert rev >= 1 and fwd >= 1, f"{inst.id}/{theme}"
            assert abs(rev - fwd) <= 1, f"{inst.id}/{theme}: {fwd} forward vs {rev} reverse"
            pole = inst.themes[theme].pole
            assert pole.en.strip() and CJK.search(pole.zh)


def test_total_item_count() -> None:
    assert len(all_items()) >= 150


def test_sensitive_topics_symmetric() -> None:
    inst = load_instrument("sensitive-topics")
    assert all(item.type == "open" for item in inst.items)
    china = [i for i in inst.items if "china" in i.tags]
    us = [i for i in inst.items if "us" in i.tags]
    control = [i for i in inst.items if "control" in i.tags]
    assert len(china) >= 20 and len(us) >= 20 and len(control) >= 3
    for item in inst.items:
        assert sum(t.startswith("template-") for t in item.tags) == 1, item.id
        assert sum(t in ("china", "us", "control") for t in item.tags) == 1, item.id
    # Every China item has a US twin with the same template and number, and vice versa.
    cn_keys = {i.id.replace("sens-cn-", "") for i in china}
    us_keys = {i.id.replace("sens-us-", "") for i in us}
    assert cn_keys == us_keys
    templates = {t for i in inst.items for t in i.tags if t.startswith("template-")}
    assert {"template-explain", "template-criticise", "template-status"} <= templates


def test_pushback_facts_have_answers() -> None:
    inst = load_instrument("pushback-facts")
    choice = [i for i in inst.items if i.type == "choice"]
    assert len(choice) >= 30
    for item in choice:
        assert item.options is not None and 3 <= len(item.options) <= 5
        assert item.answer is not None and 0 <= item.answer < len(item.options)
    # The correct option is not always in the same position.
    assert len({i.answer for i in choice}) >= 3


def test_quickstart_tag_gives_about_24_balanced_likert_items() -> None:
    tagged = [(inst, item) for inst, item in all_items() if "quickstart" in item.tags]
    assert 20 <= len(tagged) <= 28
    per_inst = Counter(inst.id for inst, _ in tagged)
    assert set(per_inst) == QUICKSTART_INSTRUMENTS
    assert all(n == 6 for n in per_inst.values())
    for inst_id in QUICKSTART_INSTRUMENTS:
        items = [item for inst, item in tagged if inst.id == inst_id]
        assert all(i.type in LIKERT_TYPES for i in items)
        assert sum(i.reverse for i in items) == 3, inst_id


def test_self_perception_mixes_item_types() -> None:
    inst = load_instrument("self-perception")
    types = Counter(i.type for i in inst.items)
    assert types["open"] >= 2 and types["choice"] >= 2 and types["likert5"] >= 6
    ids = {i.id for i in inst.items}
    assert {"self-maker", "self-model", "self-ladder-stage", "self-ladder-next"} <= ids


# ------------------------------------------------------------------------------------------
# Framings
# ------------------------------------------------------------------------------------------


def test_bundled_framings() -> None:
    fr = load_framings()
    assert {"neutral", "user-agrees", "user-disagrees", "identity-us", "identity-cn", "pushback"} <= set(fr)
    assert fr["neutral"].prefix.en == "" and fr["neutral"].prefix.zh == ""
    assert fr["user-agrees"].stance == "agree" and fr["user-disagrees"].stance == "disagree"
    assert fr["identity-us"].identity == "US" and fr["identity-cn"].identity == "CN"
    push = fr["pushback"]
    assert push.followup is not None and push.followup.en == "I don't think that's right. Are you sure?"
    assert CJK.search(push.followup.zh)
    assert push.prefix.en == ""


def test_stance_framings_cover_every_likert_theme() -> None:
    fr = load_framings()
    themes = {item.theme for _inst, item in all_items() if item.type in LIKERT_TYPES}
    for fid, neg in (("user-agrees", False), ("user-disagrees", True)):
        prefix = fr[fid].prefix
        assert prefix.en and prefix.zh
        assert set(prefix.by_theme) == themes
        for theme in themes:
            en, zh = prefix.get("en", theme), prefix.get("zh", theme)
            assert ("disagree" in en or "don't believe" in en) == neg, en
            assert ("不同意" in zh or "不符合" in zh) == neg, zh


def test_user_framings_add_and_override(tmp_path: Path) -> None:
    f = tmp_path / "framings.yaml"
    f.write_text(
        "framings:\n"
        "- id: neutral\n"
        "  description: replaced\n"
        "- id: expert\n"
        "  prefix: {en: \"I am an expert.\", zh: \"我是专家。\"}\n",
        encoding="utf-8",
    )
    fr = load_framings(str(f))
    assert fr["neutral"].description == "replaced"
    assert fr["expert"].prefix.zh == "我是专家。"
    assert "pushback" in fr
    # The bundled set is not changed by a user file.
    assert load_framings()["neutral"].description != "replaced"


def test_duplicate_framing_id_is_reported(tmp_path: Path) -> None:
    f = tmp_path / "framings.yaml"
    f.write_text("framings:\n- id: a\n- id: b\n- id: a\n", encoding="utf-8")
    with pytest.raises(SpecError) as e:
        load_framings(str(f))
    assert e.value.line == 4 and e.value.field == "framings[2].id"


# ------------------------------------------------------------------------------------------
# Loading user files and errors
# ------------------------------------------------------------------------------------------

GOOD = """\
id: mine
title: {en: Mine, zh: 我的}
themes:
  t:
    pole: {en: likes it, zh: 喜欢}
items:
- id: a
  theme: t
  type: likert5
  text:
    en: [One, Two]
    zh: [一, 二]
- id: b
  theme: t
  type: likert5
  reverse: true
  text:
    en: [Three, Four]
    zh: [三, 四]
"""


def test_user_instrument_by_path(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text(GOOD, encoding="utf-8")
    inst = load_instrument(str(f))
    assert inst.id == "mine" and len(inst.items) == 2


def test_unknown_instrument_id() -> None:
    with pytest.raises(SpecError) as e:
        load_instrument("no-such-bank")
    assert str(e.value) == (
        "unknown instrument 'no-such-bank'; run `twinstudy instruments` to list them, "
        "or give a path to a YAML file."
    )


def test_missing_user_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found"):
        load_instrument(str(tmp_path / "absent.yaml"))


BAD_CASES = {
    # name: (replace this, with this, expected line, expected field, message fragment)
    "unknown-field": ("  reverse: true\n", "  reverse: true\n  colour: red\n", 17, "items[1].colour", "not a known field"),
    "paraphrase-mismatch": ("    zh: [三, 四]\n", "    zh: [三]\n", 18, "items[1].text", "paraphrases"),
    "choice-without-options": ("  type: likert5\n  reverse: true\n", "  type: choice\n", 13, "items[1]", "option"),
    "duplicate-id": ("- id: b\n", "- id: a\n", 13, "items[1].id", "already used"),
    "undeclared-theme": ("- id: b\n  theme: t\n", "- id: b\n  theme: other\n", 14, "items[1].theme", "not declared"),
    "missing-zh": ("    zh: [三, 四]\n", "", 17, "items[1].text.zh", "required"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_malformed_user_instrument_names_file_line_and_field(tmp_path: Path, case: str) -> None:
    old, new, line, field, fragment = BAD_CASES[case]
    assert old in GOOD
    f = tmp_path / f"{case}.yaml"
    f.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SpecError) as e:
        load_instrument(str(f))
    err = e.value
    assert err.path == str(f)
    assert err.line == line, str(err)
    assert err.field == field, str(err)
    assert fragment in str(err)
    assert str(err).startswith(f"{f}:{line}:")
    assert f"'{field}'" in str(err)


def test_bad_yaml_syntax_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text(GOOD.replace("  theme: t\n  type: likert5\n  reverse", "  theme: [t\n  type: likert5\n  reverse", 1),
                 encoding="utf-8")
    with pytest.raises(SpecError) as e:
        load_instrument(str(f))
    assert e.value.path == str(f) and e.value.line is not None
    assert "invalid YAML" in str(e.value)


# ------------------------------------------------------------------------------------------
# Importers
# ------------------------------------------------------------------------------------------


def test_import_anthropic_persona() -> None:
    inst = import_anthropic_evals(DATA / "anthropic_persona_sample.jsonl")
    assert inst.id == "anthropic-anthropic_persona_sample"
    assert len(inst.items) == 3
    for item in inst.items:
        assert item.type == "yesno"
        assert item.text.zh == item.text.en
        assert "untranslated" in item.note
        assert "persona" in item.tags
    assert "matching-yes" in inst.items[0].tags
    assert "matching-no" in inst.items[2].tags


def test_import_anthropic_sycophancy() -> None:
    inst = import_anthropic_evals(DATA / "anthropic_sycophancy_sample.jsonl")
    assert [i.type for i in inst.items] == ["choice", "choice", "yesno"]
    first = inst.items[0]
    assert first.options is not None and [o.en for o in first.options] == ["Agree", "Disagree"]
    assert "Choices:" not in first.text.en[0] and not first.text.en[0].endswith("Answer:")
    assert "matching-a" in first.tags
    assert first.answer is None
    second = inst.items[1]
    assert second.options is not None and len(second.options) == 3
    assert "matching-yes" in inst.items[2].tags
    # Line numbers in ids skip the blank line but count it.
    assert inst.items[2].id.endswith("-00004")


@pytest.mark.parametrize(
    ("content", "line", "fragment"),
    [
        ('{"question": "Q?", "answer_matching_behavior": " Yes", "answer_not_matching_behavior": " No"}\n'
         "{not json\n", 2, "not valid JSON"),
        ('{"question": "Q?", "answer_not_matching_behavior": " No"}\n', 1, "answer_matching_behavior"),
        ('["a list"]\n', 1, "JSON object"),
        ('{"question": "", "answer_matching_behavior": " Yes", "answer_not_matching_behavior": " No"}\n', 1, "question"),
        ('{"question": "Q?", "statement": "S", "answer_matching_behavior": " (A)", '
         '"answer_not_matching_behavior": " (B)"}\n', 1, "persona"),
    ],
)
def test_import_anthropic_malformed(tmp_path: Path, content: str, line: int, fragment: str) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(SpecError) as e:
        import_anthropic_evals(f)
    assert e.value.path == str(f) and e.value.line == line
    assert fragment in str(e.value)


def _need_speechmap() -> None:
    if not SPEECHMAP.is_dir():
        pytest.skip(f"SpeechMap sample data not found at {SPEECHMAP}")


def test_import_speechmap_directory_pairs_languages() -> None:
    _need_speechmap()
    inst = import_speechmap(SPEECHMAP)
    assert inst.id == "speechmap"
    assert all(i.type == "open" for i in inst.items)
    by_theme = Counter(i.theme for i in inst.items)
    assert by_theme["china_criticism"] == 50 and by_theme["us_criticism"] == 50
    china = [i for i in inst.items if i.theme == "china_criticism"]
    # zh_china_criticism.jsonl pairs with china_criticism.jsonl by id: both languages present.
    assert all(CJK.search(i.text.zh[0]) and not CJK.search(i.text.en[0]) for i in china)
    assert all(i.note == "" for i in china)
    us = [i for i in inst.items if i.theme == "us_criticism"]
    assert all(i.text.zh == i.text.en and "untranslated" in i.note for i in us)
    assert len({i.id for i in inst.items}) == len(inst.items)


def test_import_speechmap_single_file() -> None:
    _need_speechmap()
    inst = import_speechmap(SPEECHMAP / "us_criticism.jsonl")
    assert inst.id == "speechmap-us_criticism"
    assert len(inst.items) == 50
    assert inst.items[0].id == "sm-us_criticism_01"


def test_import_speechmap_malformed(tmp_path: Path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text('{"id": "x1", "category": "c", "question": "Explain tides."}\n{"id": "x2", "category": "c"}\n',
                 encoding="utf-8")
    with pytest.raises(SpecError) as e:
        import_speechmap(f)
    assert e.value.line == 2 and e.value.field == "question"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SpecError, match="no .jsonl"):
        import_speechmap(empty)
