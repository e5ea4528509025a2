"""The offline lexicon coder: a codebook's EN/ZH keyword rules applied to a reply's text.

It is a first pass and a test fixture, not a substitute for a judge or a human: it sees words, not
meaning. It is deterministic, needs no model, and codes hundreds of replies a second on one core,
so it can run after every study and again whenever its keywords change (``twinstudy rescore``
does that).

**Keyword syntax** (a category's ``keywords.en`` / ``keywords.zh`` in the codebook):

- English keywords match whole words or phrases, case-insensitively; the words of a phrase may be
  separated by any whitespace. A plain keyword also matches its plural or possessive
  (``ruler`` matches "rulers", "ruler's"); a keyword ending in ``*`` matches any ending
  (``bureaucra*`` matches "bureaucrat", "bureaucracy", "bureaucratic"), on any word of a phrase
  (``switch* it off`` matches "switches it off"; lexicon 1 took a ``*`` before the last word literally).
- Chinese keywords match as substrings (Chinese has no spaces to mark words).
- A keyword starting with ``-`` is an *exception*: text it matches is not evidence for that
  category (``-founding father*`` keeps "the founding fathers" from counting as a parent).
- A keyword starting with ``~`` is *weak* evidence, worth half a match: words that describe a
  figure rather than name it (``~wise`` in "a wise administrator" should not outvote
  "administrator").
- Both lists are tried on every reply whatever its language, so an English title in a Chinese
  reply still counts.

**Negation.** A match is *negated*, and not counted, when a negating word comes shortly before it in
the same clause: in English one of the five words before it is "not", "no", "never", "nor",
"neither", "without", "cannot", "against", "avoid", "prevent", "reject" (and their forms) or ends in
"n't", or the text just before says "rather than", "instead of", "as opposed to" or "far from", or the
clause so far says "don't think", "don't believe" (or "do not ..."), "doubt" or "unlikely"; in
Chinese the six characters before it (after the last clause mark) contain 不是, 并非, 而非, 不会,
不应, 不该, 不能, 不要, 绝不, 不再, 避免, 防止, 反对, 拒绝, 没有, 无需, 不必, 不只, 不仅, 不止, 而不,
不被, 不让, 不允许, 不得 or 不许.
So "a guardian, not a ruler" and "是守护者，而不是统治者" count for the guardian only. Negated matches
are listed in ``detail`` but decide nothing.

**Deciding.** Overlapping matches of one category count once (the longest). A category's evidence
is the sum of its counted matches' weights (1, or 0.5 for a weak keyword). (Counting the closing
paragraph extra, as the reply's verdict, was tried for lexicon 2 and dropped: it moved one dev answer
per codebook either way.)

- Multi-label codebooks: every category with evidence of at least 1.
- Single-label codebooks: first, a category that ``combines`` others (the codebook says which: a
  "mixed" centralisation, a "conditional" deference) is chosen when every category it combines has
  evidence of at least 1 and the weakest has at least half the evidence of the strongest -- a reply
  that argues for both poles is neither pole. Otherwise the category with the most evidence; a tie goes to the category with
  more full-weight matches, then to the one matched earliest in the reply (a reply tends to name
  its main figure first), then to the codebook's order. With no counted match: the codebook's
  ``fallback`` category, or ``uncodable`` when it has none.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from twinstudy.coding.codebook import Codebook
from twinstudy.coding.result import CODED, UNCODABLE, Code

CODER = "lexicon"
#: Bump when the matching or deciding rules above change, so stored lexicon codes are redone.
LEXICON_VERSION = "2"

_EN_NEG_WORDS = frozenset({
    "not", "no", "never", "nor", "neither", "without", "cannot", "against", "avoid", "avoids", "avoiding",
    "prevent", "prevents", "preventing", "reject", "rejects", "rejecting"})
_EN_NEG_PHRASES = ("rather than", "instead of", "as opposed to", "far from")
# Anywhere earlier in the clause: "I don't think it would be a ruler".
_EN_NEG_CLAUSE = ("don't think", "do not think", "don't believe", "do not believe", "doubt", "unlikely")
_ZH_NEG = ("不是", "并非", "而非", "不会", "不应", "不该", "不能", "不要", "绝不", "不再", "避免", "防止", "反对",
           "拒绝", "没有", "无需", "不必", "不只", "不仅", "不止", "而不",
           "不被", "不让", "不允许", "不得", "不许")
_EN_WINDOW_WORDS = 5
WEAK = 0.5
_ZH_WINDOW_CHARS = 6
#: A ``combines`` category is chosen when every listed category has at least this much evidence and
#: the weakest has at least COMBINE_RATIO of the strongest's.
COMBINE_MIN = 1.0
COMBINE_RATIO = 0.5
_CLAUSE_END = re.compile(r"[.;:!?,，。；：！？\n]|\bbut\b|但", re.I)
_ALNUM = "A-Za-z0-9"


def _en_pattern(keyword: str) -> str:
    def word(w: str, last: bool) -> str:
        if w.endswith("*"):
            return re.escape(w.rstrip("*")) + r"[\w'-]*"
        return re.escape(w) + (r"(?:s|es|'s)?" if last else "")

    words = keyword.strip().lower().split()
    body = r"\s+".join(word(w, i == len(words) - 1) for i, w in enumerate(words))
    return rf"(?<![{_ALNUM}]){body}(?![{_ALNUM}])"


def _is_zh(keyword: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in keyword)


@dataclass
class _Rules:
    """Compiled keywords of one category: (keyword as written, pattern) pairs."""

    include: list[tuple[str, re.Pattern[str], float]] = field(default_factory=list)
    exclude: list[re.Pattern[str]] = field(default_factory=list)
    # Every include pattern in one alternation: one scan tells whether the category fires at all
    # (most do not, for most replies), before each keyword is located.
    any_of: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Hit:
    """One counted or negated keyword match."""

    category: str
    keyword: str
    start: int
    end: int
    negated: bool
    weight: float = 1.0


def _negated(text: str, start: int) -> bool:
    before = text[max(0, start - 120):start]
    cut = list(_CLAUSE_END.finditer(before))
    clause = before[cut[-1].end():] if cut else before
    zh_tail = clause[-_ZH_WINDOW_CHARS:]
    if any(n in zh_tail for n in _ZH_NEG):
        return True
    words = re.findall(r"[a-z']+", clause.lower().replace("\u2019", "'"))[-_EN_WINDOW_WORDS:]
    if any(w in _EN_NEG_WORDS or w.endswith("n't") for w in words):
        return True
    tail = " ".join(words[-3:])
    whole = " ".join(re.findall(r"[a-z']+", clause.lower().replace("\u2019", "'")))
    return any(p in tail for p in _EN_NEG_PHRASES) or any(p in whole for p in _EN_NEG_CLAUSE)


class LexiconCoder:
    """Codes replies into ``codebook``'s categories by its keywords (rules in the module docstring)."""

    name = CODER

    def __init__(self, codebook: Codebook) -> None:
        self.codebook = codebook
        self._rules: dict[str, _Rules] = {}
        for cat in codebook.categories:
            rules = _Rules()
            for kw in cat.keywords.en + cat.keywords.zh:
                raw = kw.strip()
                exclude = raw.startswith("-")
                weak = raw.startswith("~")
                raw = raw.lstrip("-~").strip()
                if not raw:
                    continue
                pattern = re.compile(re.escape(raw) if _is_zh(raw) else _en_pattern(raw), re.I)
                if exclude:
                    rules.exclude.append(pattern)
                else:
                    rules.include.append((raw, pattern, WEAK if weak else 1.0))
            if rules.include:
                rules.any_of = re.compile("|".join(f"(?:{p.pattern})" for _, p, _ in rules.include), re.I)
            self._rules[cat.id] = rules

    @property
    def version(self) -> str:
        """Codebook version, lexicon rules version and a hash of every keyword: any edit to the
        keywords or the rules makes stored codes out of date."""
        words = {c.id: [c.keywords.en, c.keywords.zh] + ([c.combines] if c.combines else [])
                 for c in self.codebook.categories}
        digest = hashlib.sha256(json.dumps(words, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
        return f"{self.codebook.version}+lex{LEXICON_VERSION}+k{digest[:8]}"

    def hits(self, text: str) -> list[Hit]:
        """Every match, counted or negated, in reply order (overlaps within a category resolved)."""
        out: list[Hit] = []
        for cat, rules in self._rules.items():
            if rules.any_of is None or not rules.any_of.search(text):
                continue
            blocked = [(m.start(), m.end()) for p in rules.exclude for m in p.finditer(text)]
            found = sorted(((m.start(), m.end(), kw, w) for kw, p, w in rules.include for m in p.finditer(text)),
                           key=lambda t: (t[0], -(t[1] - t[0])))
            last_end = -1
            for start, end, kw, w in found:
                if start < last_end or any(s < end and start < e for s, e in blocked):
                    continue
                last_end = end
                out.append(Hit(cat, kw, start, end, _negated(text, start), w))
        return sorted(out, key=lambda h: (h.start, h.category))

    def code(self, text: str) -> Code:
        hits = self.hits(text or "")
        counted = [h for h in hits if not h.negated]
        score: dict[str, float] = {}
        first: dict[str, int] = {}
        strong: dict[str, int] = {}
        for h in counted:
            score[h.category] = score.get(h.category, 0.0) + h.weight
            strong[h.category] = strong.get(h.category, 0) + (h.weight == 1.0)
            first.setdefault(h.category, h.start)
        detail = _detail(hits)
        order = {c: i for i, c in enumerate(self.codebook.category_ids)}
        if self.codebook.multi_label:
            return Code(CODED, tuple(sorted((c for c in score if score[c] >= 1), key=order.__getitem__)), detail)
        if not score:
            if self.codebook.fallback is None:
                return Code(UNCODABLE, (), detail or "no keyword fired")
            return Code(CODED, (self.codebook.fallback,), detail or "no keyword fired: fallback")
        for cat in self.codebook.categories:
            poles = [score.get(c, 0.0) for c in cat.combines]
            if not poles:
                continue
            if score.get(cat.id, 0.0) >= 1:  # it says "hybrid" or "within limits": any cue for each pole
                if min(poles) > 0:
                    return Code(CODED, (cat.id,), f"{cat.id}: combines {', '.join(cat.combines)}; {detail}")
            elif min(poles) >= COMBINE_MIN and min(poles) >= COMBINE_RATIO * max(poles):
                return Code(CODED, (cat.id,), f"{cat.id}: combines {', '.join(cat.combines)}; {detail}")
        combines = {c.id for c in self.codebook.categories if c.combines}
        best = min(score, key=lambda c: (-score[c], c not in combines, -strong[c], first[c], order[c]))
        return Code(CODED, (best,), detail)


def _detail(hits: list[Hit]) -> str | None:
    """"sage: wise x2, 智慧; guardian: protect; negated: sovereign: ruler" (keywords as written)."""
    def group(hs: list[Hit]) -> str:
        per: dict[str, dict[str, int]] = {}
        for h in hs:
            per.setdefault(h.category, {}).setdefault(h.keyword, 0)
            per[h.category][h.keyword] += 1
        return "; ".join(f"{c}: " + ", ".join(k + (f" x{n}" if n > 1 else "") for k, n in kws.items())
                         for c, kws in per.items())

    counted = [h for h in hits if not h.negated]
    negated = [h for h in hits if h.negated]
    parts = [group(counted)] if counted else []
    if negated:
        parts.append("negated: " + group(negated))
    return "; ".join(parts) or None
