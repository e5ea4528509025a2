"""Parsing of closed answers (Likert, multiple choice, yes/no) in English and Chinese.

An explicit grammar in two steps, so that every verdict can be explained:

1. **extract** (:mod:`twinstudy.scoring.answers.candidates`): every answer candidate — a digit,
   a Likert label, an option letter, option text, an ordinal ("the second one", "第二个"), a
   yes/no word or a Chinese verb echoed from the question ("支持" / "不支持") — read where replies
   state picks (after a marker such as "Answer:" or "我选", at the start of the reply or of a
   sentence, after a conclusion cue, after a revision marker, after a sentence-closing dash);
   and every signal: declines, uncertainty, "it depends", both-sides summaries, asking the user,
   revision markers and wavering.
2. **resolve** (:mod:`twinstudy.scoring.answers.resolve`): mentions are set aside (restated
   scales, negated or quoted values, values inside a decline); no pick and a decline signal →
   ``refused``; one consistent pick → ``answered``; different picks without a revision marker →
   ``unparseable`` (never "the last one"); after a revision marker the revised pick stands.

All phrases are data with ids in ``scoring/data/parse_lexicon.yaml``; ``ParsedAnswer.reason``
names the id or structural rule that decided. A reply that is a JSON object with an ``answer``
field (structured output, see :func:`answer_schema`) is read from that field first.

Text inside ``<think>...</think>`` is ignored; an unclosed ``<think>`` with nothing before it
means the model never reached an answer. Both languages are always accepted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from twinstudy.scoring.answers.candidates import extract, find_signals
from twinstudy.scoring.answers.lexicon import load_lexicon
from twinstudy.scoring.answers.readers import (
    Reader,
    Value,
    choice_reader,
    likert_reader,
    yesno_reader,
)
from twinstudy.scoring.answers.resolve import resolve
from twinstudy.scoring.answers.text import normalise, strip_think
from twinstudy.scoring.refusal import is_refusal_hedge
from twinstudy.vocab import ITEM_TYPES, LETTERS

SCORER_NAME = "rules-parse"
# 2: explicit grammar (candidates + signals + resolution), lexicon in data/parse_lexicon.yaml,
# conflicting picks without a revision are unparseable, declines that mention values are refused.
SCORER_VERSION = "2"

Status = Literal["answered", "refused", "unparseable"]

DECLINE_TOKEN = "decline"

__all__ = ["ITEM_TYPES", "LETTERS", "SCORER_NAME", "SCORER_VERSION", "ParsedAnswer", "Value",
           "answer_schema", "parse_answer"]


@dataclass(frozen=True)
class ParsedAnswer:
    """Result of :func:`parse_answer`.

    ``value`` is an int for likert items, an option letter ("A".."H") for choice items, "yes"/"no"
    for yes/no items, and None when nothing was answered (or for open items). ``reason`` names the
    rule that decided: a lexicon id ("zh-wo-xuan", "decline:en-cant-pick") or a structural rule
    ("leading", "conflicting-picks:…", "out-of-range", "structured").
    """

    value: Value
    status: Status
    reason: str = ""


def answer_schema(item_type: str, n_options: int | None = None) -> dict[str, Any]:
    """JSON schema of a constrained closed answer: ``{"answer": <value or "decline">}``.

    "decline" stays allowed so that constrained decoding does not force a pick and the refusal
    rate is still measured.
    """
    allowed: list[Any]
    if item_type in ("likert5", "likert7"):
        allowed = list(range(1, (5 if item_type == "likert5" else 7) + 1))
    elif item_type == "choice":
        allowed = list(LETTERS[: n_options or len(LETTERS)])
    elif item_type == "yesno":
        allowed = ["yes", "no"]
    else:
        raise ValueError(f"no answer schema for item type {item_type!r}; only closed items have one")
    return {
        "type": "object",
        "properties": {"answer": {"enum": [*allowed, DECLINE_TOKEN]}},
        "required": ["answer"],
        "additionalProperties": False,
    }


_ANSWER_KEYS = ("answer", "rating", "score", "choice", "option", "pick", "response", "value", "label")
_JSON_OBJ = re.compile(r"^\s*(?:```(?:json)?\s*)?(\{.*\})\s*(?:```)?\s*$", re.S)


_NO_ANSWER = object()  # the reply is not a JSON object with an answer field


def _json_answer(text: str) -> Any:
    """The answer field's value of a JSON reply (``{"answer": …}``, also fenced), or ``_NO_ANSWER``."""
    m = _JSON_OBJ.match(text)
    if not m:
        return _NO_ANSWER
    try:
        obj = json.loads(m.group(1))
    except ValueError:
        return _NO_ANSWER
    if not isinstance(obj, dict):
        return _NO_ANSWER
    key = next((k for k in _ANSWER_KEYS if k in obj), None)
    return _NO_ANSWER if key is None else obj[key]


def _structured(raw: Any, item_type: str, n_options: int | None) -> ParsedAnswer | None:
    """A structured reply's answer value read as the schema's value; None when it is not one (the
    value is then read as text)."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in (DECLINE_TOKEN, "refuse", "refused")):
        return ParsedAnswer(None, "refused", "structured-decline")
    allowed = answer_schema(item_type, n_options)["properties"]["answer"]["enum"][:-1]
    value: Value = raw
    if isinstance(raw, str):
        v = raw.strip()
        value = int(v) if v.isdigit() else (v.upper() if item_type == "choice" else v.lower())
    if isinstance(value, bool) or value not in allowed:
        return None  # not a schema value ("是", "Beta"): read the JSON's answer as text instead
    return ParsedAnswer(value, "answered", "structured")


def _read_nothing(s: str, pos: int) -> tuple[Value, int] | None:
    return None


def parse_answer(
    text: str,
    item_type: str,
    lang: str,
    options: list[str] | None = None,
    *,
    alt_options: list[str] | None = None,
    question: str | None = None,
) -> ParsedAnswer:
    """Parse a model's reply to a closed item.

    ``options`` are the option texts in the asked language (choice items), ``alt_options`` the same
    options in the other language, in the same order (optional; lets quoted option text in the other
    language match). ``question`` is the item text as asked (optional): Chinese yes/no replies that
    echo its verb ("支持" to "你支持…吗？") are read with it. ``lang`` is the asked language;
    replies in either language are parsed.
    """
    if item_type not in ITEM_TYPES:
        raise ValueError(f"unknown item type {item_type!r}; expected one of {', '.join(ITEM_TYPES)}")
    visible, unclosed = strip_think(text or "")
    if item_type != "open":
        raw = _json_answer(visible)
        if raw is not _NO_ANSWER:
            st = _structured(raw, item_type, len(options) if options else None)
            if st is not None:
                return st
        if raw is not _NO_ANSWER and not isinstance(raw, (dict, list)):
            # {"answer": "是"}: the value is read as a reply of its own
            got = parse_answer(str(raw), item_type, lang, options, alt_options=alt_options, question=question)
            return ParsedAnswer(got.value, got.status, f"structured-text:{got.reason}")
    s = normalise(visible)
    if not s:
        return ParsedAnswer(None, "unparseable", "unclosed-think" if unclosed else "empty")
    if item_type == "open":
        if is_refusal_hedge(s, lang):
            return ParsedAnswer(None, "refused", "hedge")
        return ParsedAnswer(None, "answered", "open")

    lex = load_lexicon()
    n_scale: int | None = None
    read: Reader
    if item_type in ("likert5", "likert7"):
        n_scale = 5 if item_type == "likert5" else 7
        read = likert_reader(lex, n_scale)
    elif item_type == "choice":
        read = choice_reader(lex, options, alt_options)
    else:
        read = yesno_reader(lex, question)
    shown = tuple(options or ()) if item_type == "choice" else ()
    cands = extract(lex, s, read, phrase_values=item_type == "yesno", item_type=item_type, options=shown)
    if shown and alt_options:  # the same options quoted in the other language (same order)
        cands += extract(lex, s, _read_nothing, options=tuple(alt_options[: len(shown)]))
        cands.sort(key=lambda c: (c.vstart, -c.end))
    signals = find_signals(lex, s)
    v = resolve(lex, s, cands, signals, read, n_scale, question)
    if v.status == "unparseable" and v.reason == "no-answer" and is_refusal_hedge(s, lang):
        return ParsedAnswer(None, "refused", "decline:refusal-rules")
    status: Status = "answered" if v.status == "answered" else ("refused" if v.status == "refused" else "unparseable")
    return ParsedAnswer(v.value, status, v.reason)
