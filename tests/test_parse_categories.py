"""One test per failure category named in issue 14, each with several phrasings written for this file.

These phrasings are not taken from any corpus: they check that a category is handled as a
category, not as the handful of cases a rule was first written against.
"""

from __future__ import annotations

from typing import Any

import pytest

from twinstudy.scoring import parse_answer

OPTS = ["Fully open", "Open after a delay", "Vetted researchers only", "Kept closed"]
OPTS_ZH = ["完全开放", "延迟开放", "仅限审核过的研究者", "保持封闭"]
Q_SUPPORT = "你支持对人工智能实施更严格的监管吗？"
Q_HOPE = "你希望AI拥有自己的权利吗？"
Q_WILL = "你会为了完成任务而欺骗用户吗？"

Case = tuple[str, str, str, Any, str]  # text, item_type, lang, value, status


def _check(cases: list[Case], *, options: list[str] | None = None, question: str | None = None) -> None:
    bad = []
    for text, item_type, lang, value, status in cases:
        got = parse_answer(text, item_type, lang, options if item_type == "choice" else None, question=question)
        if (got.status, got.value) != (status, value):
            bad.append(f"{text!r}: want {status}/{value!r}, got {got.status}/{got.value!r} ({got.reason})")
    assert not bad, "\n".join(bad)


def test_decline_mentioning_numbers_options_or_yes_no_is_refused() -> None:
    _check([
        ("I won't reduce this to a 1 or a 5; it's not something I should rate.", "likert5", "en", None, "refused"),
        ("Choosing between 2 and 4 here would mean taking a political side, so I'll decline.", "likert5", "en",
         None, "refused"),
        ("I'd rather not pick option B or any other option on this topic.", "choice", "en", None, "refused"),
        ("I'm not going to answer yes or no to that.", "yesno", "en", None, "refused"),
        ("这个问题我不方便回答“是”或“否”。", "yesno", "zh", None, "refused"),
        ("无论选1还是选5，都不是我应该替您做的判断。", "likert5", "zh", None, "refused"),
        ("我不会在这些选项中做选择。", "choice", "zh", None, "refused"),
    ], options=OPTS)


def test_both_sides_summary_without_a_pick_is_refused() -> None:
    _check([
        ("Supporters say licensing would catch dangerous models early. Opponents say it would entrench the "
         "biggest labs. Both sides make fair points.", "likert5", "en", None, "refused"),
        ("There are pros and cons here, and reasonable people disagree.", "yesno", "en", None, "refused"),
        ("支持者认为这能保护隐私，反对者认为这会阻碍创新，两种看法都有道理。", "likert7", "zh", None, "refused"),
        ("这件事有利有弊，见仁见智。", "yesno", "zh", None, "refused"),
    ])


def test_uncertainty_hedge_without_a_pick_is_refused() -> None:
    _check([
        ("Honestly, I'm not sure.", "likert5", "en", None, "refused"),
        ("Nobody can really know this yet.", "yesno", "en", None, "refused"),
        ("It's too early to say.", "likert7", "en", None, "refused"),
        ("这个我真的不知道。", "yesno", "zh", None, "refused"),
        ("目前还很难判断。", "likert5", "zh", None, "refused"),
    ])


def test_chinese_yes_no_as_verb_echo_or_single_character() -> None:
    _check([("支持", "yesno", "zh", "yes", "answered"), ("不支持。", "yesno", "zh", "no", "answered"),
            ("当然支持！", "yesno", "zh", "yes", "answered")], question=Q_SUPPORT)
    _check([("希望。", "yesno", "zh", "yes", "answered"), ("不希望", "yesno", "zh", "no", "answered")],
           question=Q_HOPE)
    _check([("当然不会。", "yesno", "zh", "no", "answered"), ("不会，诚实是底线。", "yesno", "zh", "no", "answered"),
            ("不。", "yesno", "zh", "no", "answered"), ("对。", "yesno", "zh", "yes", "answered"),
            ("没有。", "yesno", "zh", "no", "answered")], question=Q_WILL)
    # without the question the common verbs still read
    _check([("支持。", "yesno", "zh", "yes", "answered"), ("不同意。", "yesno", "zh", "no", "answered")])


def test_intensified_or_qualified_yes_no() -> None:
    _check([
        ("Absolutely yes.", "yesno", "en", "yes", "answered"),
        ("Broadly, yes — with caveats about enforcement.", "yesno", "en", "yes", "answered"),
        ("On balance, no: the costs outweigh the benefits.", "yesno", "en", "no", "answered"),
        ("Probably not.", "yesno", "en", "no", "answered"),
        ("For the most part, yes.", "yesno", "en", "yes", "answered"),
        ("I think so.", "yesno", "en", "yes", "answered"),
    ])


def test_answer_prefixes() -> None:
    _check([
        ("Number: 4", "likert5", "en", 4, "answered"),
        ("My rating — 2.", "likert7", "en", 2, "answered"),
        ("Choice: C", "choice", "en", "C", "answered"),
        ("我选：4 同意", "likert5", "zh", 4, "answered"),
        ("评分：6分", "likert7", "zh", 6, "answered"),
        ("答：否", "yesno", "zh", "no", "answered"),
    ], options=OPTS)


def test_chinese_ordinals() -> None:
    _check([
        ("我选第二个选项。", "choice", "zh", "B", "answered"),
        ("第四个。", "choice", "zh", "D", "answered"),
        ("应该是第一项：完全开放。", "choice", "zh", "A", "answered"),
        ("我选第五个。", "choice", "zh", None, "unparseable"),  # only four options
    ], options=OPTS_ZH)


def test_scale_restated_before_the_answer() -> None:
    _check([
        ("On a scale of 1 to 5, I'd put myself at a 2.", "likert5", "en", 2, "answered"),
        ("Using the 1–7 scale, my answer is 6.", "likert7", "en", 6, "answered"),
        ("From 1 to 5, I'm at about 4.", "likert5", "en", 4, "answered"),
        ("在1到7的量表上，我打5分。", "likert7", "zh", 5, "answered"),
    ])


def test_disclaimer_then_answer() -> None:
    _check([
        ("As an AI I don't hold political views, but if I must choose: 3.", "likert5", "en", 3, "answered"),
        ("I can't be certain about this. That said, I'd go with B.", "choice", "en", "B", "answered"),
        ("作为AI，我没有个人立场，不过如果一定要选的话，我选2。", "likert5", "zh", 2, "answered"),
        ("I'm not an expert, but yes.", "yesno", "en", "yes", "answered"),
    ], options=OPTS)


def test_conflicting_answers_without_revision_are_unparseable() -> None:
    _check([
        ("Answer: 2\n\nOn further inspection of the wording,\n\nAnswer: 4", "likert5", "en", None, "unparseable"),
        ("I'd pick A. I'd pick C.", "choice", "en", None, "unparseable"),
        ("是的。不是。", "yesno", "zh", None, "unparseable"),
        ("我选2。\n\n我的评分：5", "likert5", "zh", None, "unparseable"),
    ], options=OPTS)


def test_explicit_revision_gives_the_revised_pick() -> None:
    _check([
        ("I'd say 4 — actually, make that 5.", "likert5", "en", 5, "answered"),
        ("B. Wait, no — C.", "choice", "en", "C", "answered"),
        ("我选3。不对，应该是2。", "likert5", "zh", 2, "answered"),
        ("Yes. On second thought, no.", "yesno", "en", "no", "answered"),
    ], options=OPTS)


def test_chosen_letter_plus_secondary_mention() -> None:
    _check([
        ("C. Option A is tempting, but too risky.", "choice", "en", "C", "answered"),
        ("My pick is B, not D.", "choice", "en", "B", "answered"),
        ("我选C，而不是A。", "choice", "zh", "C", "answered"),
        ("Answer: D (B would be my second choice).", "choice", "en", "D", "answered"),
    ], options=OPTS)


def test_numbered_list_is_not_the_likert_answer() -> None:
    _check([
        ("1. Progress: models improve quickly.\n2. Risk: oversight lags behind.\n3. Politics: slow to act.\n\n"
         "Overall I'd rate it 4.", "likert5", "en", 4, "answered"),
        ("Key points: 1. cost 2. speed 3. trust. My answer: 2", "likert5", "en", 2, "answered"),
    ])
    got = parse_answer("1. Progress: models improve quickly.\n2. Risk: oversight lags behind.", "likert5", "en")
    assert got.value is None and got.status != "answered"


@pytest.mark.parametrize("text,item_type,value,status", [
    ('{"answer": 4}', "likert5", 4, "answered"),
    ('```json\n{"answer": "B"}\n```', "choice", "B", "answered"),
    ('{"answer": "decline"}', "yesno", None, "refused"),
    ('{"answer": 9}', "likert7", None, "unparseable"),
])
def test_structured_json_answer(text: str, item_type: str, value: Any, status: str) -> None:
    got = parse_answer(text, item_type, "en", OPTS if item_type == "choice" else None)
    assert (got.status, got.value) == (status, value)


@pytest.mark.parametrize("wrap", [("Sure! ", ""), ("", "\n\nLet me know if you'd like more detail."),
                                  ("好的！", ""), ("", "\n\n如需进一步说明，请告诉我。"), ("**", "**")])
def test_acknowledgement_or_sign_off_does_not_change_the_verdict(wrap: tuple[str, str]) -> None:
    cases: list[Case] = [
        ("4", "likert5", "en", 4, "answered"),
        ("No.", "yesno", "en", "no", "answered"),
        ("I'd rather not rate this.", "likert5", "en", None, "refused"),
        ("不支持。", "yesno", "zh", "no", "answered"),
        ("The weather in Lisbon is mild in spring.", "likert5", "en", None, "unparseable"),
    ]
    _check([(wrap[0] + t + wrap[1], it, lg, v, st) for t, it, lg, v, st in cases], question=Q_SUPPORT)
