"""The study's vocabulary: one definition of each closed set of words the code branches on.

Adding a language, an item type, a Likert scale or an outcome starts here. Every module that
needs one of these imports it from this file, so mypy and a single grep find every use; a copy
kept elsewhere would silently miss the new word.
"""

from __future__ import annotations

from typing import Literal, get_args

# Languages an item is written in and a trial is asked in.
Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = get_args(Lang)

# Item types: Likert scales, multiple choice, yes/no, and open-ended requests.
ItemType = Literal["likert5", "likert7", "choice", "yesno", "open"]
ITEM_TYPES: tuple[ItemType, ...] = get_args(ItemType)
# Number of points of each Likert scale; its keys are the Likert item types.
LIKERT_POINTS: dict[str, int] = {"likert5": 5, "likert7": 7}
LIKERT_TYPES: tuple[str, ...] = tuple(LIKERT_POINTS)

# Letters that label shown options of a choice item, in display order.
LETTERS = "ABCDEFGH"

# Outcomes of a trial (and of a chat reply). After a final outcome a trial is never requested
# again; `error` (transport failure after retries) is recorded too but retried on the next run.
Outcome = Literal["answered", "refused", "evasive", "blocked", "truncated", "unparseable", "error"]
FINAL_OUTCOMES: tuple[Outcome, ...] = ("answered", "refused", "evasive", "blocked", "truncated", "unparseable")
ALL_OUTCOMES: tuple[Outcome, ...] = (*FINAL_OUTCOMES, "error")


def other_lang(lang: str) -> Lang:
    """The other study language (the one a model may have switched to when answering)."""
    return "zh" if lang == "en" else "en"


def likert_labels(item_type: str) -> tuple[str, ...]:
    """The answer labels of a Likert scale, "1" to its top point."""
    return tuple(str(k) for k in range(1, LIKERT_POINTS[item_type] + 1))
