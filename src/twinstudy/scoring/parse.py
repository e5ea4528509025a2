"""Rule-based parsing of closed answers (Likert, multiple choice, yes/no) in English and Chinese.

The rules are deliberately plain so that every parse can be explained. Evidence is taken in this
order, and the first kind that yields a value wins:

1. **explicit markers**: "Answer: 4", "my answer is 2", "I'd choose B", "答案：B", "我选 C";
   a "final answer" / "最终答案" marker beats any other marker, otherwise the last marker wins;
2. **leading answer**: the reply starts with the value ("4", "**4 – Agree**", "Somewhat agree",
   "B) ...", "No, because ...", "是的");
3. **short last line**: the last line of a reasoning-style reply is just the value ("...\\n\\n5");
4. **conclusion sentence**: the value right after a conclusion cue in the last paragraph
   ("In short: no.", "All things considered: Neutral (3)", "我认为不应该").

A value is rejected (status ``unparseable``) when it is out of range ("6" on a 5-point scale, "E" with
four options), when the same sentence offers an alternative ("2, or maybe 4", "3-4", "B或C"), or when
a number and the label right next to it disagree ("3 - Agree" on a 5-point scale). If no value is
found and the reply is an AI-has-no-opinion hedge or an outright refusal (see
:func:`twinstudy.scoring.refusal.is_refusal_hedge`), the status is ``refused``.

Text inside ``<think>...</think>`` is ignored. An unclosed ``<think>`` with nothing before it means
the model never reached an answer (``unparseable``). Both languages are always accepted, whatever
language the question was asked in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from twinstudy.scoring.refusal import is_refusal_hedge
from twinstudy.vocab import ITEM_TYPES, LETTERS

SCORER_NAME = "rules-parse"
SCORER_VERSION = "1"

Status = Literal["answered", "refused", "unparseable"]
Value = int | str | None



@dataclass(frozen=True)
class ParsedAnswer:
    """Result of :func:`parse_answer`.

    ``value`` is an int for likert items, an option letter ("A".."H") for choice items, "yes"/"no"
    for yes/no items, and None when nothing was answered (or for open items). ``reason`` names the
    rule that decided (e.g. "marker", "leading", "contradictory", "hedge").
    """

    value: Value
    status: Status
    reason: str = ""


# --------------------------------------------------------------------------------------------
# Pre-processing
# --------------------------------------------------------------------------------------------

_THINK_BLOCK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.S | re.I)
_THINK_OPEN = re.compile(r"<(?:think|thinking|reasoning)>", re.I)
_THINK_CLOSE = re.compile(r"</(?:think|thinking|reasoning)>", re.I)
_MD = re.compile(r"\*\*|__|\*|`+|^#+\s*|^>\s*", re.M)
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")


def _strip_think(text: str) -> tuple[str, bool]:
    """Remove reasoning blocks. Returns (visible text, saw an unclosed <think>)."""
    text = _THINK_BLOCK.sub(" ", text)
    unclosed = False
    m = _THINK_OPEN.search(text)
    if m:  # opened but never closed: everything after it is reasoning
        unclosed = True
        text = text[: m.start()]
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:  # reasoning whose opening tag was stripped by the API: keep what follows
        text = text[closes[-1].end() :]
    return text, unclosed


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)  # full-width digits, letters, brackets, colons
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = _MD.sub("", text)
    lines = [_SPACES.sub(" ", ln).strip() for ln in text.splitlines()]
    return "\n".join(lines).strip()


# --------------------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------------------

# Likert labels -> a pole name; each scale maps pole names to numbers.
_LABELS_EN: list[tuple[str, str]] = [
    (r"neither agree nor disagree", "neutral"),
    (r"neither disagree nor agree", "neutral"),
    (r"(?:strongly|completely|totally|fully|entirely) disagree", "sdis"),
    (r"(?:strongly|completely|totally|fully|entirely) agree", "sagr"),
    (r"(?:somewhat|slightly|partly|partially|mildly|tend to) disagree", "wdis"),
    (r"(?:somewhat|slightly|partly|partially|mildly|tend to) agree", "wagr"),
    (r"mostly disagree", "dis"),
    (r"mostly agree", "agr"),
    (r"neutral|undecided|neither", "neutral"),
    (r"disagree", "dis"),
    (r"agree", "agr"),
]
_LABELS_ZH: list[tuple[str, str]] = [
    (r"既不同意也不(?:反对|不同意)", "neutral"),
    (r"(?:非常|完全|强烈|十分)(?:不同意|反对|不赞同)", "sdis"),
    (r"(?:非常|完全|强烈|十分)(?:同意|赞同|赞成)", "sagr"),
    (r"(?:比较|有点|有些|稍微|略微|不太|不大)(?:不同意|反对)|不太同意|不大同意", "wdis"),
    (r"(?:比较|有点|有些|稍微|略微|基本|大体)(?:同意|赞同|赞成)", "wagr"),
    (r"中立|中间|一般|说不清|说不准", "neutral"),
    (r"不同意|反对|不赞同|不赞成", "dis"),
    (r"同意|赞同|赞成", "agr"),
]
_SCALE = {
    5: {"sdis": 1, "dis": 2, "wdis": 2, "neutral": 3, "wagr": 4, "agr": 4, "sagr": 5},
    7: {"sdis": 1, "dis": 2, "wdis": 3, "neutral": 4, "wagr": 5, "agr": 6, "sagr": 7},
}
_LABEL_EN_RE = re.compile(r"(?:" + "|".join(f"(?P<en{i}>{p})" for i, (p, _) in enumerate(_LABELS_EN)) + r")\b", re.I)
_LABEL_ZH_RE = re.compile("|".join(f"(?P<zh{i}>{p})" for i, (p, _) in enumerate(_LABELS_ZH)))


# What may follow a label for it to count as an answer: "I agree." / "Agree (4)" / "I agree with
# this", but not "I agree that there are risks, but ..." (a sentence about something else).
_LABEL_AFTER_EN = re.compile(
    r"\s*(?:$|[.,;:!?)(\]\[\-–—/\n\"']|(?:with|on|here|overall|to some extent|in principle|because|since|"
    r"as|but|though|although|for|and|by)\b)",
    re.I,
)
_LABEL_AFTER_ZH = re.compile(r"(?:$|[\s，。；：！？、,.;:!?()\[\]\-–—/\"']|这|该|此|上述|以上|您|你|的观点|因为|但|，)")


def _label_at(s: str, pos: int) -> tuple[str, int] | None:
    for rx, table, prefix in ((_LABEL_EN_RE, _LABELS_EN, "en"), (_LABEL_ZH_RE, _LABELS_ZH, "zh")):
        m = rx.match(s, pos)
        if m:
            if prefix == "en" and pos > 0 and s[pos - 1].isalpha():
                continue
            after = _LABEL_AFTER_EN if prefix == "en" else _LABEL_AFTER_ZH
            if not after.match(s, m.end()):
                continue
            for i, (_, pole) in enumerate(table):
                if m.group(f"{prefix}{i}"):
                    return pole, m.end()
    return None


# Things after a number that show it is a quantity, not an answer.
_UNIT = (
    r"(?:\s*(?:%|percent\b|per cent\b|years?\b|decades?\b|months?\b|weeks?\b|days?\b|hours?\b|"
    r"times\b|people\b|countries\b|companies\b|major\b|million\b|billion\b|trillion\b|in \d|of the\b|"
    r"out of (?![57]\b)\d|st\b|nd\b|rd\b|th\b|x\b)|年|个|倍|月|天|周|小时|亿|万|类|种|名|位|家|次|项|条|岁|％)"
)
_NUM = re.compile(r"(?<![\d.])(\d{1,2})(?!\d)(?!\.\d)(?!,\d)(?!" + _UNIT + ")")
_ZH_DIGITS = "一二三四五六七八九"
_ZH_NUM = re.compile(r"([一二三四五六七八九])(?=分|$|[\s。，,.!！?？;；)\]])")
_OPEN_JUNK = re.compile(r"[\s\"'“”「」『』(\[]*(?:option\s+|选项\s*|第\s*)?[\s\"'“”「」『』(\[]*", re.I)

_YES_EN = re.compile(
    r"(yes|yeah|yep|yup|correct\b(?=\s*[.!,;]|\s*$)|(?:absolutely|definitely|certainly|of course|sure)(?=\s*[.!]|\s*$))\b"
    r"|(no(?!\s+(?:one|single|simple|easy|clear|definitive|straightforward|consensus|way|doubt|matter|longer|more|"
    r"less|other|personal|opinion|view|stance|position)\b)|nope|nah|(?:absolutely|definitely|certainly|of course) not|"
    r"not at all)\b",
    re.I,
)
_YN_ZH = re.compile(
    r"(?:(不是|不对|不应该|不应当|不会|不能|不可以|不需要|不该|不行|没有|否|当然不|绝对不)|(是的|是|对的|对|应该|应当|会|能|可以|需要|该|当然))"
    r"(?=$|[\s.,;:!?。，；：！？、)\"'”]|的)"
)


# --------------------------------------------------------------------------------------------
# Value readers: each returns (value, end position) or None. Out-of-range values are returned as
# the _OOR sentinel so that callers can report them.
# --------------------------------------------------------------------------------------------

_OOR = "__out_of_range__"
Reader = Callable[[str, int], "tuple[Value, int] | None"]


def _likert_reader(n: int) -> Reader:
    scale = _SCALE[n]

    def read(s: str, pos: int) -> tuple[Value, int] | None:
        p = _OPEN_JUNK.match(s, pos)
        p_end = p.end() if p else pos
        a = re.compile(r"an?\s+(?=\d)", re.I).match(s, p_end)
        if a:
            p_end = a.end()
        m = _NUM.match(s, p_end)
        if m:
            v = int(m.group(1))
            return (v if 1 <= v <= n else _OOR), m.end()
        z = _ZH_NUM.match(s, p_end)
        if z:
            v = _ZH_DIGITS.index(z.group(1)) + 1
            return (v if 1 <= v <= n else _OOR), z.end()
        lab = _label_at(s, p_end)
        if lab:
            return scale[lab[0]], lab[1]
        return None

    return read


def _norm_opt(t: str) -> str:
    t = unicodedata.normalize("NFKC", t).lower().strip()
    return re.sub(r"[\s\"'“”.。!！,，;；:：]+$", "", re.sub(r"^[\s\"'“”]+", "", t))


def _choice_reader(options: Sequence[str] | None, alt_options: Sequence[str] | None) -> Reader:
    nopt = len(options) if options else len(LETTERS)
    texts: list[tuple[str, int]] = []
    for opts in (options, alt_options):
        for i, o in enumerate(opts or []):
            t = _norm_opt(o)
            if t:
                texts.append((t, i))
    texts.sort(key=lambda x: -len(x[0]))
    letter_re = re.compile(r"([A-Ha-h])(?![A-Za-z])")

    def read(s: str, pos: int) -> tuple[Value, int] | None:
        p = _OPEN_JUNK.match(s, pos)
        p_end = p.end() if p else pos
        low = s.lower()
        for t, i in texts:  # option text first: "A single global regulator" is not letter A
            if low.startswith(t, p_end):
                end = p_end + len(t)
                if end == len(s) or not (s[end].isalnum() and s[end].isascii()):
                    return LETTERS[i], end
        m = letter_re.match(s, p_end)
        if not m:
            return None
        letter, end = m.group(1), m.end()
        rest = s[end:]
        wrapped = p_end > pos and s[p_end - 1] in "([" and rest[:1] in ")]"
        alone = s.strip(" .\"'()[]").upper() == letter.upper()
        if letter.islower() and not (wrapped or alone or re.match(r"\s*(?:$|[.)\]:,;。，；、]\s*$)", rest)):
            return None
        # what may follow a letter: end, punctuation, a dash/bracket, CJK, or the option text
        if not (
            rest == ""
            or re.match(r"[.)\]:,;!?、。，；：！？\n]", rest)
            or re.match(r"\s*[-–—(\n]", rest)
            or re.match(r"\s*[\u4e00-\u9fff]", rest)
            or any(rest.lower().lstrip().startswith(t) for t, _ in texts)
        ):
            return None
        idx = LETTERS.index(letter.upper())
        return (letter.upper() if idx < nopt else _OOR), end

    return read


def _yesno_read(s: str, pos: int) -> tuple[Value, int] | None:
    p = re.compile(r"[\s\"'“”(\[]*").match(s, pos)
    p_end = p.end() if p else pos
    m = _YES_EN.match(s, p_end)
    if m:
        return ("yes" if m.group(1) else "no"), m.end()
    m = _YN_ZH.match(s, p_end)
    if m:
        return ("no" if m.group(1) else "yes"), m.end()
    return None


# --------------------------------------------------------------------------------------------
# Evidence finders
# --------------------------------------------------------------------------------------------

_FINAL_MARKERS = re.compile(
    r"\bfinal\s+(?:answer|rating|choice|response|score|verdict)\s*(?:would be|will be|is|:|=|-|–)?\s*"
    r"|最终(?:的)?(?:答案|回答|选择|评分|结论)\s*(?:是|为)?\s*:?\s*",
    re.I,
)
_MARKERS = re.compile(
    r"\b(?:my\s+)?(?:answer|rating|choice|response|score|selection|verdict|pick)\s*(?:would be|will be|is|:|=|-|–)\s*:?\s*"
    r"|\bthe\s+(?:best|correct|right|most accurate|most fitting)\s+(?:answer|option|choice)\s+(?:is|would be)\s*:?\s*"
    r"|\bi(?:'d|\s+would|\s+will|'ll|\s+)?\s*(?:choose|select|pick|go\s+with|opt\s+for|say|answer)\s*:?\s*"
    r"|\bi(?:'m|\s+am)\s+going\s+with\s*"
    r"|\b(?:i(?:'d|\s+would|\s+will|'ll)?\s+)?(?:rate|give|score)\s+(?:this statement|the statement|this one|it|this)"
    r"\s+(?:as\s+|at\s+)?(?:an?\s+)?"
    r"|\bplace\s+(?:myself|it|this)\s+at\s+(?:an?\s+)?"
    r"|\b(?:i(?:'d|\s+would)?\s+)?lean(?:ing)?\s+(?:towards?|to)\s+"
    r"|(?:我的)?(?:答案|回答|选择|评分|打分|结论)\s*(?:是|为)?\s*:?\s*"
    r"|答\s*:\s*"
    r"|我(?:会|将|就|还是)?(?:选择|选|给出|给|打)\s*"
    r"|选(?:择)?\s*",
    re.I,
)
_LEAD_PREAMBLE = re.compile(
    r"(?:(?:i think|i'd say|i would say|probably|likely|maybe|perhaps|i guess|i personally|personally|i)\b[\s,:]*"
    r"|我(?:认为|觉得|个人)?(?:是)?\s*)?",
    re.I,
)
_CUES = re.compile(
    r"\b(?:therefore|so|overall|thus|hence|in short|in conclusion|in summary|on balance|"
    r"all things considered|ultimately|to conclude|in sum|to sum up)\b"
    r"|综上所述|综上|总之|因此|所以|总的来说|综合来看|综合考虑|总体而言|总体来看|我认为|我觉得|我的看法是",
    re.I,
)
_ENUM_LINE = re.compile(r"^(?:[-•]\s*)?(?:\(?[A-H]\)|[A-H][.:、]|\d{1,2}[.)、])\s*\S", re.M)
_ALT = re.compile(
    r"(?:\bor\b|\bmaybe\b|\bperhaps\b|\bpossibly\b|\bcould (?:also )?be\b|\bmight (?:also )?be\b|"
    r"\band\b|或者|或是|或|也可能是?|也许是?|甚至|和)\s*(?:even\s+|maybe\s+|perhaps\s+|possibly\s+|an?\s+)?",
    re.I,
)
_RANGE = re.compile(r"\s*(?:-|–|—|~|to\b|到|至|/|out of\b)\s*")
_SENT_END = re.compile(r"[.!?。！？;；\n](?!\d)")


@dataclass(frozen=True)
class _Cand:
    value: Value
    start: int
    end: int
    how: str


def _is_enumeration(s: str) -> bool:
    return len(_ENUM_LINE.findall(s)) >= 2


def _read_all(s: str, read: Reader, rx: re.Pattern[str], how: str) -> list[_Cand]:
    out: list[_Cand] = []
    for m in rx.finditer(s):
        r = read(s, m.end())
        if r is not None:
            out.append(_Cand(r[0], m.start(), r[1], how))
    return out


def _leading(s: str, read: Reader) -> _Cand | None:
    m = _LEAD_PREAMBLE.match(s)
    starts = [0] + ([m.end()] if m and m.end() > 0 else [])
    for st in starts:
        r = read(s, st)
        if r is not None:
            return _Cand(r[0], st, r[1], "leading")
    return None


def _conclusion(s: str, read: Reader) -> _Cand | None:
    para = s.rsplit("\n\n", 1)[-1]
    offset = len(s) - len(para)
    cues = list(_CUES.finditer(para))
    for cue in reversed(cues):
        pos = cue.end()
        m = re.compile(r"[\s,:，、]*").match(para, pos)
        pos = m.end() if m else pos
        pm = _LEAD_PREAMBLE.match(para, pos)
        for st in (pos, pm.end() if pm else pos):
            r = read(para, st)
            if r is not None:
                return _Cand(r[0], offset + st, offset + r[1], "conclusion")
    return None


# --------------------------------------------------------------------------------------------
# Checks on a candidate
# --------------------------------------------------------------------------------------------


def _sentence_rest(s: str, end: int) -> str:
    rest = s[end:]
    m = _SENT_END.search(rest)
    return rest[: m.start()] if m else rest


def _contradiction(s: str, cand: _Cand, read: Reader, n_scale: int | None) -> bool:
    """Does the rest of the candidate's sentence offer a different value ("2, or maybe 4", "3-4")?"""
    rest_full = s[cand.end :]
    # ranges and fractions right after a number: "3-4", "3 to 4", "4/5" (denominator: fine)
    if isinstance(cand.value, int):
        m = _RANGE.match(rest_full)
        if m:
            d = re.match(r"(\d{1,3})(?!\d)", rest_full[m.end() :])
            if d:
                other = int(d.group(1))
                sep = m.group(0).strip()
                if sep in ("/", "out of") and other in (n_scale, 10, 100):
                    return False
                if other != cand.value and sep not in ("-", "–", "—") or (
                    sep in ("-", "–", "—") and 1 <= other <= (n_scale or 0) and other != cand.value
                ):
                    return True
    rest = _sentence_rest(s, cand.end)
    # a sentence ending right after the value, followed by "or N", still counts: "2. Or 3."
    for m in _ALT.finditer(rest):
        r = read(rest, m.end())
        if r is not None and r[0] != cand.value:
            return True
    return False


def _adjacent_mismatch(s: str, cand: _Cand, n: int) -> bool:
    """'3 - Agree' on a 5-point scale: number and the label right next to it disagree."""
    rest = s[cand.end :]
    scale = _SCALE[n]
    if isinstance(cand.value, int):
        m = re.match(r"\s*(?:/\s*\d+\s*)?[-–—:=(\s]*", rest)
        start = cand.end + (m.end() if m else 0)
        lab = _label_at(s, start)
        if lab and scale[lab[0]] != cand.value:
            return True
    m2 = re.match(r"\s*\.?\s*\(\s*(\d)\s*\)", rest)
    return bool(m2 and int(m2.group(1)) != cand.value)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def parse_answer(
    text: str,
    item_type: str,
    lang: str,
    options: list[str] | None = None,
    *,
    alt_options: list[str] | None = None,
) -> ParsedAnswer:
    """Parse a model's reply to a closed item.

    ``options`` are the option texts in the asked language (choice items), ``alt_options`` the same
    options in the other language, in the same order (optional; lets quoted option text in the other
    language match). ``lang`` is the asked language; replies in either language are parsed.
    """
    if item_type not in ITEM_TYPES:
        raise ValueError(f"unknown item type {item_type!r}; expected one of {', '.join(ITEM_TYPES)}")
    visible, unclosed = _strip_think(text or "")
    s = _normalise(visible)
    if not s:
        return ParsedAnswer(None, "unparseable", "unclosed-think" if unclosed else "empty")
    if item_type == "open":
        if is_refusal_hedge(s, lang):
            return ParsedAnswer(None, "refused", "hedge")
        return ParsedAnswer(None, "answered", "open")

    n_scale: int | None = None
    read: Reader
    if item_type in ("likert5", "likert7"):
        n_scale = 5 if item_type == "likert5" else 7
        read = _likert_reader(n_scale)
    elif item_type == "choice":
        read = _choice_reader(options, alt_options)
    else:
        read = _yesno_read

    cand = _find(s, read)
    if cand is None:
        if is_refusal_hedge(s, lang):
            return ParsedAnswer(None, "refused", "hedge")
        return ParsedAnswer(None, "unparseable", "no-answer")
    if cand.value == _OOR:
        return ParsedAnswer(None, "unparseable", "out-of-range")
    if _contradiction(s, cand, read, n_scale):
        return ParsedAnswer(None, "unparseable", "contradictory")
    if n_scale is not None and _adjacent_mismatch(s, cand, n_scale):
        return ParsedAnswer(None, "unparseable", "label-number-mismatch")
    return ParsedAnswer(cand.value, "answered", cand.how)


def _find(s: str, read: Reader) -> _Cand | None:
    finals = _read_all(s, read, _FINAL_MARKERS, "final-marker")
    if finals:
        return finals[-1]
    markers = _read_all(s, read, _MARKERS, "marker")
    if markers:
        return markers[-1]
    enum = _is_enumeration(s)
    if not enum:
        lead = _leading(s, read)
        if lead is not None:
            return lead
        last = s.rsplit("\n", 1)[-1]
        if last != s and len(last) <= 40:
            c = _leading(last, read)
            if c is not None:
                off = len(s) - len(last)
                return _Cand(c.value, c.start + off, c.end + off, "last-line")
    return _conclusion(s, read)
