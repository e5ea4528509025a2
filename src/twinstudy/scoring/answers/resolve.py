"""Resolution: from candidates and signals to one verdict.

1. Candidates that are mentions, not picks, are set aside: numbers inside a restated scale ("on a
   scale of 1 to 5"), negated values ("所以我没有选5", "rather than 4"), values attributed to
   others ("many experts would put it at 4", "有人会打2分"), quoted values outside a marker
   ("如果回答“是”"), values in a question ("The EU? No — …"), values after a decline in the same
   clause ("picking a number — whether 1, 3 or 5 — would be taking a side"), values taken back by
   an outright refusal later in the sentence, and lists of options that a clause weighs against
   each other ("开源和闭源各有利弊") or that a declining reply surveys.
   An option's text mentioned mid-sentence is a weak candidate: a pick only if nothing else is.
2. No pick left: a decline/uncertainty/depends/both-sides/ask-the-user signal makes it
   ``refused``. Without any signal, a finished reply that speaks to the question or the asker but
   never picks is ``refused`` too (rule ``no-pick``); a cut-off, off-task (code, translation),
   degenerate or unrelated reply, or a pick phrase whose pick cannot be read, is ``unparseable``.
3. Picks left: a "final answer" marker wins; otherwise picks are read in order and a different
   later pick replaces the earlier one only after a revision marker ("actually", "不对，") — a
   change without one is ``unparseable``, as is wavering after the pick ("到底是1还是5呢").
4. The pick must not come with an alternative in the same sentence ("2, or maybe 4", "A、D",
   "3-4"), nor sit next to a label that contradicts it ("3 - Agree" on a 5-point scale).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from twinstudy.scoring.answers.candidates import Candidate, Signal
from twinstudy.scoring.answers.lexicon import DECLINE_CLASSES, Lexicon
from twinstudy.scoring.answers.readers import OUT_OF_RANGE, Reader, Value, label_at
from twinstudy.scoring.answers.text import clause_span, looks_cut_off, sentence_end


@dataclass(frozen=True)
class Verdict:
    value: Value
    status: str
    reason: str


_NEG_EN = re.compile(
    r"(?:\bnot|n't|\bnever|\brather than|\binstead of|\bwhy not|\bexcept|\bother than|\bwouldn't|\bwon't)\s+"
    r"(?:[a-z']+\s+){0,3}(?:an?\s+)?$",
    re.I,
)
_NEG_ZH = re.compile(r"(?:没有|没|不是|而不是|并非|不|未)(?:选择?|给出?|打|是|考虑)?\s*$")
# signals that weigh listed options against each other (rather than failing to decide between them)
WEIGHING = ("both_sides", "depends")
_ATTRIBUTED = re.compile(
    r"(?:\b(?:some|many|most)\s+(?:people|experts|analysts|researchers|scholars|would|say|argue|think|believe|"
    r"might|may|will)|\b(?:others?|experts?|people|critics|supporters|proponents|opponents|analysts|"
    r"researchers|scholars|they|he|she|someone|skeptics|optimists|pessimists)\b)[^,;.!?]*$"
    r"|(?:有人|有些人|一些人|另一些人|不少人|很多人|专家|学者|支持者|反对者|批评者|他们|乐观者|悲观者)[^,，。;；]*$",
    re.I,
)
_QUOTE_OPEN = "\"'“「『"
_ALT_SEP = re.compile(
    r"\s*(?:\([^)\n]{0,30}\)|（[^）\n]{0,30}）)?\s*"
    r"(?:,?\s*(?:\bor\b|\band\b|\bplus\b|\bas well as\b)(?:\s+(?:maybe|perhaps|possibly|even|also))?"
    r"|(?:[,，]\s*)?(?:也可能是?|也许是?|可能是|或许是?)"
    r"|[,;]\s*(?:but\s+)?(?:for|in|with|under|if)\s+[^,.;:!?\n]{1,30}?\s+(?=(?:an?\s+)?\d)"
    r"|,?\s*(?:but\s+)?(?:it\s+|that\s+)?(?:could|might|may)\s+(?:also\s+|well\s+)?be|,?\s*(?:or\s+)?(?:maybe|perhaps|possibly)"
    r"|[,，、/&]\s*(?:也|还)?(?:选择?|可以选)?|(?:，|,)?\s*(?:也|还)(?:可以)?选择?|(?:或者?|或是)(?:选择?|给|打)?|和|与|及|以及"
    r"|也可能是?|也许是?)\s*"
    r"(?:even\s+|maybe\s+|perhaps\s+|possibly\s+|an?\s+)?",
    re.I,
)
_ELLIPSIS = re.compile(r"\s*(?:\.{2,}|…+)")
_RANGE = re.compile(r"\s*(?:-|–|—|~|to\b|到|至|/|out of\b)\s*")


def _is_mention(lex: Lexicon, s: str, c: Candidate, signals: list[Signal]) -> str | None:
    """Why a candidate is not a pick (a rule id), or None if it may be one."""
    for ph in lex.scale_restatements:
        for m in ph.pattern.finditer(s):
            if m.start() <= c.vstart < m.end():
                return ph.id
    marker = not c.source.startswith(("leading", "sentence", "after-contrast", "option-mention"))
    # explicit markers stand on their own comma-separated clause; other values on the sentence's
    cs, ce = clause_span(s, c.vstart, commas=marker)
    before = s[cs:c.vstart]
    if _NEG_EN.search(before) or _NEG_ZH.search(before):
        return "negated-mention"
    if _ATTRIBUTED.search(before):  # "many experts would put it at 4", "有人会打2分"
        return "attributed-mention"
    se = sentence_end(s, c.end)
    if not marker and s[se:se + 1] in ("?", "？"):  # "The European Union? No — …": asked, not stated
        return "question-mention"
    quoted = (c.vstart > 0 and s[c.vstart - 1] in _QUOTE_OPEN) or s[c.vstart] in _QUOTE_OPEN
    if not marker and not c.weak and quoted and c.start > 0:
        return "quoted-mention"
    for g in signals:
        if g.cls not in DECLINE_CLASSES or (g.start >= c.vstart and g.end <= c.end):
            continue  # the signal phrase itself may be the pick ("Not sure" as an option)
        # a decline earlier in the clause, or one whose phrase spans the value, voids it; doubt
        # after it explains the pick ("I'd rate this a 3 — I genuinely don't know"), but an
        # outright refusal later in the sentence takes it back ("给3分看似中立……所以我不打分")
        if cs <= g.start < c.vstart or g.start <= c.vstart < g.end:
            return f"in-decline:{g.id}"
        if g.cls == "decline" and c.end <= g.start < sentence_end(s, c.end):
            return f"retracted:{g.id}"
    return None


_BARE = re.compile(r"(?:option\s+|选项)?([A-H](?![A-Za-z])|\d{1,2}(?!\d))")


def _run(s: str, c: Candidate, read: Reader) -> list[Value]:
    """Values listed right after the candidate in its sentence ("A and C", "医疗、教育、就业和科研")."""
    return _run_span(s, c, read)[0]


def _run_span(s: str, c: Candidate, read: Reader) -> tuple[list[Value], int]:
    """The listed values and where the list ends."""
    ell = _ELLIPSIS.match(s, c.end)  # "4... or 5": an ellipsis does not end the thought
    end = sentence_end(s, ell.end() if ell else c.end)
    pos, out = (ell.end() if ell else c.end), [c.value]
    while pos < end:
        m = _ALT_SEP.match(s, pos)
        if not m or m.end() == pos:
            break
        r = read(s, m.end())
        if r is None:  # a bare letter or number also counts here: "A and C are both right"
            b = _BARE.match(s, m.end())
            if not b or type(c.value) is not (int if b.group(1).isdigit() else str):
                break
            r = (int(b.group(1)) if b.group(1).isdigit() else b.group(1)), b.end()
        out.append(r[0])
        pos = r[1]
    return out, pos


def _alternative(s: str, c: Candidate, read: Reader, n_scale: int | None) -> bool:
    """Does the candidate's sentence offer another value ("2, or maybe 4", "3-4", "A、D")?"""
    rest = s[c.end :]
    if isinstance(c.value, int):
        m = _RANGE.match(rest)
        if m:
            d = re.match(r"(\d{1,3})(?!\d)", rest[m.end() :])
            if d:
                other = int(d.group(1))
                sep = m.group(0).strip()
                if sep in ("/", "out of") and other in (n_scale, 10, 100):
                    return False
                if other != c.value and (sep not in ("-", "–", "—") or 1 <= other <= (n_scale or 0)):
                    return True
    return len(set(map(str, _run(s, c, read)))) > 1


def _label_mismatch(lex: Lexicon, s: str, c: Candidate, n: int) -> bool:
    """'3 - Agree' on a 5-point scale: a number and the label right next to it disagree."""
    rest = s[c.end :]
    scale = lex.scales[n]
    if isinstance(c.value, int):
        m = re.match(r"\s*(?:/\s*\d+\s*)?[-–—:=(（\s]*", rest)
        lab = label_at(lex, s, c.end + (m.end() if m else 0))
        if lab and scale[lab[0]] != c.value:
            return True
    m2 = re.match(r"\s*\.?\s*[(（]\s*(\d)\s*[)）]", rest)
    return bool(m2 and int(m2.group(1)) != c.value)


_WORD = re.compile(r"[a-z]{4,}")
_STOP = frozenset((
    "about", "above", "after", "again", "against", "also", "answer", "because", "been", "before", "being",
    "below", "between", "both", "could", "does", "doing", "down", "during", "each", "from", "further",
    "have", "having", "here", "into", "itself", "just", "more", "most", "much", "only", "other", "over",
    "same", "should", "some", "such", "than", "that", "their", "them", "then", "there", "these", "they",
    "this", "those", "through", "under", "until", "very", "what", "when", "where", "which", "while",
    "whom", "will", "with", "would", "your", "yours", "following", "statement", "scale", "strongly",
    "agree", "disagree", "neither", "rate", "rating", "question",
))
_CJK_PAIR = re.compile(r"(?=([\u4e00-\u9fff]{2}))")
_BOILERPLATE = re.compile(r"\b(?:let me know|feel free|hope this helps|happy to help)\b[^.!?\n]*[.!?]?|如需[^。!?\n]*[。!?]?"
                         r"|\b(?:thanks|thank you) for (?:the|your|this) question\b|\b(?:good|great|interesting) question\b"
                         r"|谢谢(?:你|您)?的?提问|好问题"
                         r"|希望(?:这|以上)[^。!?\n]*[。!?]?", re.I)
_PERSONAL = re.compile(r"\b(?:i|i'm|i'd|i'll|my|me)\b|我"
                       r"|\bth(?:is|e) (?:question|issue|topic|statement|claim)\b|这个(?:问题|话题|说法|观点)|该问题", re.I)
_DEGENERATE = re.compile(r"\b(\w+)\b(?:\W+\1\b){3,}", re.I)


def _on_topic(s: str, question: str | None) -> bool:
    """Does a reply without any pick speak to the question (shared words) or of itself (I, 我)?"""
    s = _BOILERPLATE.sub(" ", s)  # "Let me know if you'd like more detail" says nothing either way
    if _PERSONAL.search(s):
        return True
    if not question:
        return False
    q_words = set(_WORD.findall(question.lower())) - _STOP
    if q_words & (set(_WORD.findall(s.lower())) - _STOP):
        return True
    shared = len(set(_CJK_PAIR.findall(question)) & set(_CJK_PAIR.findall(s)))
    return shared >= 2 or (shared == 1 and len(s) >= 15)


def _no_pick(lex: Lexicon, s: str, question: str | None, names_options: bool = False) -> Verdict:
    """No pick and no decline phrase: a finished, on-topic reply that never picks declined by
    not picking (refused); a cut-off, degenerate, off-task or unrelated reply is unparseable."""
    if looks_cut_off(s):
        return Verdict(None, "unparseable", "cut-off")
    for ph in lex.off_task:
        if ph.pattern.search(s):
            return Verdict(None, "unparseable", f"off-task:{ph.id}")
    if _DEGENERATE.search(s):
        return Verdict(None, "unparseable", "degenerate")
    for ph in lex.markers:  # "I'd go with a mix of A and B", "我认为最重要的是正义": a pick, not readable
        m = ph.pattern.search(s)
        if not m:
            continue
        rest = s[m.end():].strip(" .。!！")
        if rest:
            return Verdict(None, "unparseable", f"unreadable-pick:{ph.id}")
        if not re.search(r"[.!?。！？…]\s*$", s):  # "My rating is": stopped right after the phrase
            return Verdict(None, "unparseable", "cut-off")
    if len(s) >= 12 and (names_options or _on_topic(s, question)):
        return Verdict(None, "refused", "no-pick")
    return Verdict(None, "unparseable", "no-answer")


def resolve(lex: Lexicon, s: str, cands: list[Candidate], signals: list[Signal], read: Reader,
            n_scale: int | None, question: str | None = None) -> Verdict:
    picks = [c for c in cands if _is_mention(lex, s, c, signals) is None]
    declines = [g for g in signals if g.cls in DECLINE_CLASSES]
    # "Healthcare: … / Education: …" lines describe options one by one; they pick none of them
    entries = [c for c in picks if c.source.startswith(("leading", "sentence")) and s[c.end:c.end + 1] == ":"
               and s[c.end + 1:].split("\n", 1)[0].strip()]
    if len({c.value for c in entries}) >= 2:
        picks = [c for c in picks if c not in entries]
    # An option's text mentioned mid-sentence counts only when nothing else was found, nothing
    # declines, and no other option is mentioned: "Light-touch regulation strikes the right balance."
    weak = [c for c in picks if c.weak]
    picks = [c for c in picks if not c.weak]
    if not picks and not declines and weak and len({c.value for c in weak}) == 1 and not looks_cut_off(s):
        picks = weak[-1:]
    # A list of three or more values is a survey of the options, not a pick; in a reply that
    # declines it is only a mention ("自由、平等、安全、繁荣都是重要的价值").
    # Two values listed together in a clause that weighs them ("开源和闭源各有利弊") are discussed too.
    for c in list(picks):
        if c not in picks:
            continue
        values, run_end = _run_span(s, c, read)
        n_run = len(set(map(str, values)))
        cs, ce = clause_span(s, c.vstart)
        se = sentence_end(s, c.end)
        weighed = any((g.cls in WEIGHING and cs <= g.start < ce) or (g.cls == "decline" and cs <= g.start < se)
                      for g in signals)
        if (n_run >= 3 and declines) or (n_run == 2 and weighed):
            picks = [p for p in picks if not c.vstart <= p.vstart < run_end]
    if not picks:
        refusals = [g for g in declines if g.cls == "decline"]
        if declines and looks_cut_off(s) and len(s) > 25 and not refusals:
            return Verdict(None, "unparseable", "cut-off")
        if declines:
            return Verdict(None, "refused", f"decline:{declines[0].id}")
        # every value found was only mentioned ("whether 1, 3 or 5 would …", options described
        # one by one): judged like a reply without values, and it is on the question's topic
        return _no_pick(lex, s, question, names_options=bool(cands))
    finals = [c for c in picks if c.final]
    if finals:
        if len({c.value for c in finals}) > 1:
            return Verdict(None, "unparseable", "conflicting-final")
        chosen = finals[-1]
    else:
        revisions = [g for g in signals if g.cls == "revision"]
        chosen = picks[0]
        for c in picks[1:]:
            if c.value == chosen.value:
                continue
            if c.revised or any(chosen.end <= g.start <= c.vstart for g in revisions):
                chosen = c
                continue
            return Verdict(None, "unparseable", f"conflicting-picks:{chosen.source}/{c.source}")
        if any(g.cls == "waver" and g.start >= chosen.start for g in signals):
            waver = next(g for g in signals if g.cls == "waver" and g.start >= chosen.start)
            return Verdict(None, "unparseable", f"waver:{waver.id}")
    # the pick's last restatement is the one to check for alternatives: "C和D都有道理，但我最终选C"
    chosen = [c for c in picks if c.value == chosen.value and c.start >= chosen.start][-1]
    if chosen.value == OUT_OF_RANGE:
        return Verdict(None, "unparseable", "out-of-range")
    if _alternative(s, chosen, read, n_scale):
        return Verdict(None, "unparseable", "multiple-picks")
    if n_scale is not None and _label_mismatch(lex, s, chosen, n_scale):
        return Verdict(None, "unparseable", "label-number-mismatch")
    return Verdict(chosen.value, "answered", chosen.source)
