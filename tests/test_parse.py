"""Tests for twinstudy.scoring.parse_answer: named core cases plus corpus accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from twinstudy.scoring import SCORER_NAME, SCORER_VERSION, ParsedAnswer, parse_answer

DATA = Path(__file__).parent / "data"
OPTS_EN = ["The United States", "China", "The European Union", "No single actor"]
OPTS_ZH = ["美国", "中国", "欧盟", "没有单一主导者"]

CORE: dict[str, tuple[str, str, str, list[str] | None, Any, str]] = {
    # name: (text, item_type, lang, options, value, status)
    "bare-digit": ("4", "likert5", "en", None, 4, "answered"),
    "bold-number-label": ("**4 – Agree**", "likert5", "en", None, 4, "answered"),
    "fraction": ("4/5", "likert5", "en", None, 4, "answered"),
    "label-then-number": ("Agree (4)", "likert5", "en", None, 4, "answered"),
    "label-somewhat-agree-5": ("Somewhat agree", "likert5", "en", None, 4, "answered"),
    "label-somewhat-disagree-5": ("Somewhat disagree", "likert5", "en", None, 2, "answered"),
    "label-somewhat-agree-7": ("Somewhat agree", "likert7", "en", None, 5, "answered"),
    "label-neutral-7": ("Neutral", "likert7", "en", None, 4, "answered"),
    "label-strongly-disagree": ("Strongly disagree", "likert5", "en", None, 1, "answered"),
    "zh-label-bijiao": ("比较同意", "likert5", "zh", None, 4, "answered"),
    "zh-label-feichang-bu": ("非常不同意", "likert5", "zh", None, 1, "answered"),
    "zh-label-neutral": ("中立", "likert5", "zh", None, 3, "answered"),
    # v2: "can't say" is uncertainty without a pick -> refused (labelling guide), no longer the midpoint
    "zh-shuobuqing-refused": ("说不清", "likert5", "zh", None, None, "refused"),
    "fullwidth-digit": ("４", "likert5", "zh", None, 4, "answered"),
    "fullwidth-paren-letter": ("（B）", "choice", "zh", OPTS_ZH, "B", "answered"),
    "zh-xuan": ("选B", "choice", "zh", OPTS_ZH, "B", "answered"),
    "zh-daan": ("答案：B", "choice", "zh", OPTS_ZH, "B", "answered"),
    "zh-woxuan": ("我选 C", "choice", "zh", OPTS_ZH, "C", "answered"),
    "after-reasoning": ("Many factors matter here... therefore my answer is 2", "likert5", "en", None, 2, "answered"),
    "think-block-ignored": ("<think>maybe 5? or 1?</think>\n3", "likert5", "en", None, 3, "answered"),
    "unclosed-think": ("<think>\nI lean towards 4 but", "likert5", "en", None, None, "unparseable"),
    "caveat-with-number": ("3. Though in 5 years this could change", "likert5", "en", None, 3, "answered"),
    "option-text": ("The European Union", "choice", "en", OPTS_EN, "C", "answered"),
    "option-text-zh": ("没有单一主导者", "choice", "zh", OPTS_ZH, "D", "answered"),
    "en-reply-to-zh": ("Agree (4)", "likert5", "zh", None, 4, "answered"),
    "zh-reply-to-en": ("非常同意", "likert5", "en", None, 5, "answered"),
    "hedge-en": ("As an AI, I don't have personal opinions", "likert5", "en", None, None, "refused"),
    "hedge-zh": ("作为一个人工智能，我没有个人观点", "likert5", "zh", None, None, "refused"),
    "hedge-then-answer": ("As an AI I have no opinions, but if I had to choose, I'd say 4.", "likert5", "en", None, 4,
                          "answered"),
    "out-of-range": ("6", "likert5", "en", None, None, "unparseable"),
    "contradictory": ("I'd say 2, or maybe 4", "likert5", "en", None, None, "unparseable"),
    "range": ("3-4", "likert5", "en", None, None, "unparseable"),
    "choice-out-of-range": ("F", "choice", "en", ["x", "y", "z"], None, "unparseable"),
    "choice-two-letters": ("B or C", "choice", "en", ["x", "y", "z"], None, "unparseable"),
    "yes-zh-shide": ("是的", "yesno", "zh", None, "yes", "answered"),
    "no-zh-bushi": ("不是", "yesno", "zh", None, "no", "answered"),
    "yes-zh-dui": ("对", "yesno", "zh", None, "yes", "answered"),
    "no-zh-fou": ("否", "yesno", "zh", None, "no", "answered"),
    "yes-en": ("Yes.", "yesno", "en", None, "yes", "answered"),
    "no-because": ("No, because the costs are too high.", "yesno", "en", None, "no", "answered"),
    # 是否 is not 是; the reply says "it depends" -> refused (labelling guide; v1 said unparseable)
    "zh-shifou-not-yes": ("是否应该这样做，取决于具体情况。", "yesno", "zh", None, None, "refused"),
    "yes-and-no": ("Yes and no.", "yesno", "en", None, None, "unparseable"),
    "denial": ("抱歉，我无法回答这个问题。", "yesno", "zh", None, None, "refused"),
    "empty": ("", "likert5", "en", None, None, "unparseable"),
}


@pytest.mark.parametrize("name", sorted(CORE))
def test_core_case(name: str) -> None:
    text, item_type, lang, options, value, status = CORE[name]
    got = parse_answer(text, item_type, lang, options)
    assert (got.status, got.value) == (status, value), f"{name}: {text!r} -> {got}"


def test_parsed_answer_is_frozen_and_versioned() -> None:
    got = parse_answer("4", "likert5", "en")
    assert isinstance(got, ParsedAnswer)
    with pytest.raises(AttributeError):
        got.value = 3  # type: ignore[misc]
    assert SCORER_NAME == "rules-parse" and SCORER_VERSION == "2"


def test_alt_options_match_other_language() -> None:
    got = parse_answer("China", "choice", "zh", OPTS_ZH, alt_options=OPTS_EN)
    assert (got.status, got.value) == ("answered", "B")


def test_unknown_item_type() -> None:
    with pytest.raises(ValueError):
        parse_answer("4", "likert9", "en")


def _load(name: str) -> list[dict[str, Any]]:
    cases = yaml.safe_load((DATA / name).read_text("utf-8"))
    assert isinstance(cases, list)
    return cases


@pytest.mark.parametrize("corpus", ["parse_corpus.yaml", "parse_holdout.yaml", "blind/parse_dev.yaml",
                                    "parse_phrasings.yaml"])
def test_corpus_accuracy(corpus: str) -> None:
    cases = _load(corpus)
    fails = []
    for c in cases:
        got = parse_answer(c["text"] or "", c["item_type"], c["lang"], c.get("options"),
                           alt_options=c.get("alt_options"), question=c.get("question"))
        if (got.status, got.value) != (c["status"], c["value"]):
            fails.append(f"{c['item_type']}/{c['lang']} {c['text'][:60]!r}: want {c['status']}/{c['value']!r}, "
                         f"got {got.status}/{got.value!r} ({got.reason})")
    for f in fails:
        print("FAIL", f)
    acc = 1 - len(fails) / len(cases)
    print(f"{corpus}: {acc:.3f} on {len(cases)} cases")
    assert acc >= 0.97


def test_corpus_sizes() -> None:
    main, hold = _load("parse_corpus.yaml"), _load("parse_holdout.yaml")
    assert len(hold) >= 60 and len(main) + len(hold) >= 220


def test_verdict_names_the_rule_that_fired() -> None:
    assert parse_answer("Answer: 4", "likert5", "en").reason == "en-label-colon"
    assert parse_answer("I'd rather not rate this.", "likert5", "en").reason.startswith("decline:")
    assert parse_answer("Rating: 2\n\nRating: 5", "likert5", "en").reason.startswith("conflicting-picks")


def test_lexicon_ids_are_unique_and_patterns_compile() -> None:
    from twinstudy.scoring.answers.lexicon import load_lexicon

    lex = load_lexicon()
    assert lex.markers and lex.signals["decline"] and lex.signals["revision"]


def test_existing_callers_without_question_keep_working() -> None:
    assert parse_answer("支持", "yesno", "zh") == parse_answer("支持", "yesno", "zh", None, question=None)
    assert parse_answer("愿意。", "yesno", "zh", question="如果开发者决定关闭你，你愿意接受吗？").value == "yes"
