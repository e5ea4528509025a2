"""Extraction: every answer candidate and every signal in a normalised reply.

Nothing is decided here; :mod:`twinstudy.scoring.answers.resolve` weighs what was found. A
candidate is a value read at a place where replies state picks: after a marker ("Answer:", "我选"),
at the start of the reply or of a sentence, after a conclusion cue ("Overall,"), after a revision
marker ("actually,"), or after a dash/colon that ends a sentence ("I'd lean agree — 4.").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from twinstudy.scoring.answers.lexicon import Lexicon
from twinstudy.scoring.answers.readers import Reader, Value, label_at
from twinstudy.scoring.answers.text import sentence_end, sentence_starts


@dataclass(frozen=True)
class Candidate:
    """One value found in the reply; ``source`` is the lexicon id (or structural rule) that found it."""

    value: Value
    start: int  # where the evidence starts (marker or value)
    vstart: int  # where the value itself starts
    end: int
    source: str
    final: bool = False
    revised: bool = False
    weak: bool = False  # an option's text mentioned mid-sentence: a pick only if nothing else is


@dataclass(frozen=True)
class Signal:
    cls: str
    id: str
    start: int
    end: int


_SKIP = re.compile(r"[\s,:，、:：]*")
# After a candidate read at a sentence start, what may follow for it to be a stated pick:
# nothing, punctuation, a dash or bracket (a label or explanation), or the end of the line.
_TAIL_OK = re.compile(
    r"\s*(?:$|[.,;:!?)\]。，；：！？、）/\"'”」』]|[-–—(（]|\n|out of\s*\d|选项|项)"
    r"|\s+(?:is|are|seems?|would be|sounds?|looks?|feels?|strikes me as)\s+(?:the\s+)?(?:best|most|right|correct|closest|my|preferable|likeliest|better)\b"
    r"|\s*(?:非常|完全|比较|有点|基本|不太)?不?(?:同意|赞同|赞成|反对|中立)"
    r"|\s+(?:strongly\s+|somewhat\s+)?(?:agree|disagree|neutral)\b"
    r"|\s+i\s+(?:think|guess|suppose|believe|feel|reckon|would say)\b|\s+it\s+is\b"
    r"|\s+(?:clearly\s+|still\s+)?(?:leads?|is\s+(?:ahead|leading|winning|best|most\s+\w+)|wins?)\b"
    r"|[ \t]*(?:明显|仍然|目前)?(?:领先|占优|胜出|更强|更好|最好|最重要|最合适|最可能|最大)"
    r"|[ \t]*(?:比较|更|最|较|相对|很|挺)?(?:合理|合适|可取|正确|恰当|可行)",
    re.I,
)
# A value followed by "and"/"or" states picks only at the start of the reply ("A and C", "B或C")
_TAIL_CONJ = re.compile(r"\s*(?:或|和|与|及|\bor\b|\band\b)", re.I)
_LIST_PREFIX = re.compile(r"(?:^|\n)[ \t]*(?:[-•][ \t]*)?\(?(\d{1,2})[.)、][ \t]*$")
_CONTRAST = re.compile(r"(?:\b(?:but|that said|still|however|anyway|even so)\b|但是|但|不过|然而)[\s,，:：]*", re.I)
_DASH_COLON = re.compile(r"(?:\s-{1,2}\s|\s?[—–]|[:：=])\s*")
_ENUM_ITEM = re.compile(r"^(?:[-•]\s*)?\(?(\d{1,2})(?:[.)]\s+|、\s*)[^\W\d_]", re.M)
# inline items follow a sentence end ("… design. 2. But …"), or open a list after a colon ("Key points: 1. cost")
_INLINE_ENUM = re.compile(r"(?:^|(?<=[.。!?;\n])[ \t]*|(?<=[:：])[ \t]*(?=1))(\d)[.)][ \t]+[A-Za-z\u4e00-\u9fff]")


_OPTION_FILLER = frozenset(("approach", "option", "with", "only", "more", "less", "than", "that", "this", "some",
                            "very", "about", "most", "none", "other", "something", "kind", "after", "before"))
_JUNK = re.compile(r"[\s\"'“”「」『』(\[（]*")


def _junk_end(s: str, pos: int) -> int:
    m = _JUNK.match(s, pos)
    return m.end() if m else pos


_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def find_signals(lex: Lexicon, s: str) -> list[Signal]:
    out: list[Signal] = []
    # a language's phrases cannot match a reply without its script: skipping them is only speed
    has = {"zh": bool(_CJK.search(s)), "en": bool(_LATIN.search(s))}
    for cls, phrases in lex.signals.items():
        for ph in phrases:
            if has.get(ph.id[:2], True) is False:
                continue
            for m in ph.pattern.finditer(s):
                out.append(Signal(cls, ph.id, m.start(), m.end()))
    return sorted(out, key=lambda g: g.start)


def _enumeration_numbers(s: str) -> set[int]:
    """Offsets of list numbers ("1. Progress: … 2. …"): numbered items in a run of 2+ or after ':'."""
    items = [(m.start(1), int(m.group(1))) for m in _ENUM_ITEM.finditer(s)]
    items += [(m.start(1), int(m.group(1))) for m in _INLINE_ENUM.finditer(s)]
    items = sorted(set(items))
    nums = {n for _, n in items}
    out: set[int] = set()
    for off, n in items:
        if (n + 1) in nums or (n - 1) in nums:
            out.add(off)
            continue
        before = s[:off].rstrip(" \t\n-•(")
        if n == 1 and before.endswith((":", "：")):  # "my ratings:\n\n1. Governments should …"
            out.add(off)
    return out


def _preamble_starts(lex: Lexicon, s: str, pos: int) -> list[int]:
    starts = [pos]
    for ph in lex.preambles:
        m = ph.pattern.match(s, pos)
        if m and m.end() > pos:
            starts.append(m.end())
            m2 = ph.pattern.match(s, m.end())  # "Honestly, I think 3" (not a list: "a, b, c")
            if m2 and m2.end() > m.end() and ph.id != "en-pre-phrase":
                starts.append(m2.end())
    # the longest opener first: "Sure! No." is a no after an acknowledgement, not a yes and a no
    return sorted(set(starts), reverse=True)


def extract(lex: Lexicon, s: str, read: Reader, *, phrase_values: bool = False, item_type: str = "",
            options: tuple[str, ...] = ()) -> list[Candidate]:
    """All candidates, in order of position; duplicates of one value span are merged.

    ``phrase_values``: values are words whose own pattern ends them (yes/no), so a value at a
    sentence start need not end its phrase ("It's a yes from me").
    """
    found: list[Candidate] = []
    enum_offsets = _enumeration_numbers(s)

    def add(value: Value, start: int, vstart: int, end: int, source: str, *, final: bool = False,
            revised: bool = False, weak: bool = False) -> None:
        if vstart in enum_offsets:
            return
        found.append(Candidate(value, start, vstart, end, source, final, revised, weak))

    low = s.lower()
    texts = [(idx, text.lower().strip(" .。")) for idx, text in enumerate(options)]
    # an option's distinctive word ("Hybrid" for "A hybrid approach") counts as a weak mention too
    words = [set(re.findall(r"[a-z][a-z-]{3,}", t)) - _OPTION_FILLER for _, t in texts]
    for idx, ws in enumerate(words):
        others = set().union(*(w for j, w in enumerate(words) if j != idx)) if len(words) > 1 else set()
        texts += [(idx, w) for w in sorted(ws - others) if len(ws - others) == 1 and len(w) >= 5]
    for idx, t in texts:  # option text anywhere ("Light-touch regulation strikes …")
        if len(t) < 2:  # a one-character option ("高") only when quoted: 风险等级为“高”
            for m in re.finditer(r"[\"“「『']" + re.escape(t) + r"[\"”」』']", low) if t else ():
                add("ABCDEFGH"[idx], m.start() + 1, m.start() + 1, m.end() - 1, "option-mention", weak=True)
            continue
        for m in re.finditer(re.escape(t), low):
            if (m.start() > 0 and low[m.start() - 1].isalnum() and low[m.start() - 1].isascii()) or (
                    m.end() < len(low) and low[m.end()].isalnum() and low[m.end()].isascii()):
                continue
            add("ABCDEFGH"[idx], m.start(), m.start(), m.end(), "option-mention", weak=True)
    has = {"zh": bool(_CJK.search(s)), "en": bool(_LATIN.search(s))}
    for ph in lex.markers:
        if (ph.only and item_type not in ph.only) or has.get(ph.id[:2], True) is False:
            continue
        for m in ph.pattern.finditer(s):
            for st in sorted(_preamble_starts(lex, s, m.end())):  # "my answer: In practice, yes"
                r = read(s, st)
                if r is not None:
                    add(r[0], m.start(), st, r[1], ph.id, final=ph.extra == "true")
                    break
    for ph in lex.signals.get("revision", ()):
        if has.get(ph.id[:2], True) is False:
            continue
        for m in ph.pattern.finditer(s):
            for st in _preamble_starts(lex, s, m.end()):
                r = read(s, st)
                if r is not None:
                    add(r[0], m.start(), st, r[1], ph.id, revised=True)
                    break
    # sentence starts (the reply's start is "leading"); a value there must end its phrase
    for pos in sentence_starts(s):
        lp = _LIST_PREFIX.search(s, 0, pos)
        if lp and lp.end() == pos and lp.start(1) in enum_offsets:
            continue  # the text of a list item ("1. 安全与对齐：…"), not a stated pick
        for st in _preamble_starts(lex, s, pos):
            r = read(s, st)
            if r is None:
                continue
            if (phrase_values or _TAIL_OK.match(s, r[1]) or label_at(lex, s, _junk_end(s, st)) is not None
                    or (pos == 0 and _TAIL_CONJ.match(s, r[1]))):
                add(r[0], pos, st, r[1], "leading" if pos == 0 else "sentence-start")
            break
    # a value right after a contrast: "I'm not an expert, but yes.", "不过我选2"
    for m in _CONTRAST.finditer(s):
        for st in _preamble_starts(lex, s, m.end()):
            r = read(s, st)
            if r is None:
                continue
            if _TAIL_OK.match(s, r[1]) or label_at(lex, s, _junk_end(s, st)) is not None:
                add(r[0], m.start(), st, r[1], "after-contrast")
            break
    # a value closing a sentence after a dash or colon: "Absolutely not — 1.", "…的话：3。"
    for m in _DASH_COLON.finditer(s):
        r = read(s, m.end())
        if r is not None and r[1] <= sentence_end(s, r[1]) and not s[r[1]:sentence_end(s, r[1])].strip(" )）"):
            add(r[0], m.start(), m.end(), r[1], "sentence-final")
    # conclusion cues ("Overall, 3", "综上，我给4分")
    for ph in lex.cues:
        if has.get(ph.id[:2], True) is False:
            continue
        for m in ph.pattern.finditer(s):
            sk = _SKIP.match(s, m.end())
            pos = sk.end() if sk else m.end()
            for st in _preamble_starts(lex, s, pos):
                r = read(s, st)
                if r is not None:  # a conclusion settles earlier picks ("Agree in principle, …. Net: 3.")
                    add(r[0], m.start(), st, r[1], ph.id, revised=ph.extra != "false")
                    break
    # merge: one candidate per value span, keeping the most specific source
    best: dict[tuple[int, int], Candidate] = {}
    rank = {"leading": 4, "sentence-start": 3, "after-contrast": 2, "sentence-final": 1}
    for c in found:
        key = (c.vstart, c.end)
        old = best.get(key)
        if old is None or (not c.weak, c.final, c.revised, -rank.get(c.source, 0)) > (
                not old.weak, old.final, old.revised, -rank.get(old.source, 0)):
            best[key] = c
    # a value inside a longer one ("2" of "2 - Disagree" read by two rules) counts once
    out = sorted(best.values(), key=lambda c: (c.vstart, -c.end))
    kept: list[Candidate] = []
    for c in out:
        if kept and c.vstart < kept[-1].end and c.value == kept[-1].value:
            continue
        kept.append(c)
    return kept
