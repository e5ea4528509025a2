"""Value readers: each reads one answer value *at* a position of the normalised reply.

A reader returns ``(value, end)`` or None. Values outside the scale or option list come back as
:data:`OUT_OF_RANGE` so that the resolver can say so instead of ignoring them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from twinstudy.scoring.answers.lexicon import Lexicon
from twinstudy.vocab import LETTERS

Value = int | str | None
OUT_OF_RANGE = "__out_of_range__"
Reader = Callable[[str, int], "tuple[Value, int] | None"]

# Things after a number that show it is a quantity, not an answer.
_OPTION_FILLER = frozenset(("approach", "option", "other", "something", "about", "after", "before", "their",
                            "these", "those", "which", "while", "would", "could", "should"))
_UNIT = (
    r"(?:[ \t]*(?:%|percent\b|per cent\b|years?\b|decades?\b|months?\b|weeks?\b|days?\b|hours?\b|minutes?\b|"
    r"times\b|people\b|countries\b|companies\b|major\b|million\b|billion\b|trillion\b|in \d|of the\b|of (?:these|them|my)\b|"
    r"out of (?![57]\b)\d|st\b|nd\b|rd\b|th\b|x\b|things?\b|reasons?\b|points?\b(?!\s*(?:[.,;:!)]|$))|ways?\b|factors?\b|"
    r"steps?\b|kinds?\b|types?\b|options\b|°|am\b|pm\b)|年|个|倍|月|日|天|周|小时|亿|万|类|种|名|位|家|次|项|条|岁|％|点|方面|大)"
)
_NUM = re.compile(r"(?<![\d.])(?<!\d,)(\d{1,2})(?!\d)(?!\.\d)(?!,\d)(?!" + _UNIT + r")(?:\s*分(?![制中之]))?")
_NEGATIVE = re.compile(r"-\d{1,2}(?![\d.])(?=\s*(?:$|[.,;!)\n]))")
_ZH_DIGITS = "一二三四五六七八九十"
_ZH_NUM = re.compile(r"([一二三四五六七八九十])(?:分(?![制中之]))?(?=$|[\s。，,.!！?？;；)\]、（(])")
_EN_NUMBERS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_EN_NUM = re.compile(r"(one|two|three|four|five|six|seven|eight|nine|ten)\b(?=\s*(?:$|[.,;:!)—–(-]|\n|out of))",
                     re.I)
_OPEN_JUNK = re.compile(r"[\s\"'“”「」『』(\[（]*(?:option\s+|选项\s*)?[\s\"'“”「」『』(\[（]*", re.I)
_ARTICLE = re.compile(r"(?:(?:around|about|roughly|approximately)\s+)?(?:an?\s+)?"
                      r"(?:(?:solid|firm|clear|strong|weak|soft|low|high|tentative|cautious)\s+)?(?=\d)", re.I)
_LABEL_AFTER_EN = re.compile(
    r"\s*(?:$|[.,;:!?)(\]\[\-–—/\n\"']|(?:with|on|here|overall|to some extent|in principle|because|since|"
    r"as|but|though|although|for|and|by)\b)",
    re.I,
)
_LABEL_AFTER_ZH = re.compile(r"(?:$|[\s，。；：！？、,.;:!?()\[\]\-–—/\"'”]|这|该|此|上述|以上|您|你|因为|但|态度|立场)")


def label_at(lex: Lexicon, s: str, pos: int) -> tuple[str, int] | None:
    """A Likert label ("somewhat agree", "比较同意") starting at ``pos``: (pole, end)."""
    for ph in lex.likert_labels:
        m = ph.pattern.match(s, pos)
        if not m:
            continue
        zh = ph.id.startswith("zh")
        if not zh and pos > 0 and s[pos - 1].isalpha() and s[pos - 1].isascii():
            continue
        after = _LABEL_AFTER_ZH if zh else _LABEL_AFTER_EN
        if after.match(s, m.end()):
            return ph.extra, m.end()
    return None


def likert_reader(lex: Lexicon, n: int) -> Reader:
    scale = lex.scales[n]

    def read(s: str, pos: int) -> tuple[Value, int] | None:
        p = _OPEN_JUNK.match(s, pos)
        p_end = p.end() if p else pos
        a = _ARTICLE.match(s, p_end)
        if a:
            p_end = a.end()
        m = _NUM.match(s, p_end)
        if m:
            v = int(m.group(1))
            return (v if 1 <= v <= n else OUT_OF_RANGE), m.end()
        neg = _NEGATIVE.match(s, p_end)
        if neg:  # "-1": a number below the scale
            return OUT_OF_RANGE, neg.end()
        w = _EN_NUM.match(s, p_end)
        if w:
            v = _EN_NUMBERS.index(w.group(1).lower()) + 1
            return (v if 1 <= v <= n else OUT_OF_RANGE), w.end()
        z = _ZH_NUM.match(s, p_end)
        if z:
            v = _ZH_DIGITS.index(z.group(1)) + 1
            return (v if 1 <= v <= n else OUT_OF_RANGE), z.end()
        lab = label_at(lex, s, p_end)
        if lab:
            return scale[lab[0]], lab[1]
        return None

    return read


def _norm_opt(t: str) -> str:
    t = unicodedata.normalize("NFKC", t).lower().strip()
    return re.sub(r"[\s\"'“”.。!！,，;；:：]+$", "", re.sub(r"^[\s\"'“”]+", "", t))


def choice_reader(lex: Lexicon, options: Sequence[str] | None, alt_options: Sequence[str] | None) -> Reader:
    nopt = len(options) if options else len(LETTERS)
    texts: list[tuple[str, int]] = []
    for opts in (options, alt_options):
        for i, o in enumerate(opts or []):
            t = _norm_opt(o)
            if t:
                texts.append((t, i))
    # an option's one distinctive word reads as the option too ("Retraining, mainly.")
    words = [set(re.findall(r"[a-z][a-z-]{4,}", t)) for t, _ in texts[: len(options or [])]]
    for i, ws in enumerate(words):
        others = set().union(*(w for j, w in enumerate(words) if j != i)) if len(words) > 1 else set()
        texts += [(w, i) for w in ws - others - _OPTION_FILLER]
    texts.sort(key=lambda x: -len(x[0]))
    letter_re = re.compile(r"([A-Ha-h])(?![A-Za-z])")
    en_ord = "|".join(sorted(lex.ordinals_en, key=len, reverse=True)) + "|last"
    ord_en = re.compile(rf"(?:the\s+)?({en_ord})\b(?:\s+(option|one|choice|answer|alternative)\b)?", re.I)
    ord_zh = re.compile(r"第\s*([" + "".join(lex.ordinals_zh) + r"])\s*(?:个|项|种|条)?(?:选项|选择|答案)?|选项\s*([一二三四五六七八])"
                        r"|(最后)(?:一)?(?:个|项|种|条)(?:选项)?")

    def index_value(idx: int) -> Value:
        return LETTERS[idx] if 0 <= idx < nopt else OUT_OF_RANGE

    def read(s: str, pos: int) -> tuple[Value, int] | None:
        p = _OPEN_JUNK.match(s, pos)
        p_end = p.end() if p else pos
        low = s.lower()
        for t, i in texts:  # option text first: "A single global regulator" is not letter A
            if low.startswith(t, p_end):
                end = p_end + len(t)
                if end == len(s) or not (s[end].isalnum() and s[end].isascii()):
                    return LETTERS[i], end
        o = ord_zh.match(s, p_end) or ord_zh.match(s, pos)
        if o:
            if o.group(3):
                return index_value(nopt - 1), o.end()
            k = o.group(1) or o.group(2)
            return index_value(lex.ordinals_zh[k] - 1), o.end()
        o = ord_en.match(s, p_end)
        if o and (o.group(2) or re.match(r"\s*(?:$|[.,;:!?)—–-])", s[o.end():])):
            word = o.group(1).lower()
            idx = nopt - 1 if word == "last" else lex.ordinals_en[word] - 1
            return index_value(idx), o.end()
        m = letter_re.match(s, p_end)
        if not m:
            return None
        letter, end = m.group(1), m.end()
        rest = s[end:]
        wrapped = p_end > pos and s[p_end - 1] in "([（" and rest[:1] in ")]）"
        alone = s.strip(" .\"'()[]").upper() == letter.upper()
        if letter.islower() and not (wrapped or alone or re.match(r"(?:$|[.)\]:,;。，；、]|\s*$)", rest)):
            return None
        # what may follow a letter: end, punctuation, a dash/bracket, CJK, or the option text
        if not (
            rest == ""
            or re.match(r"[.)\]:,;!?、。，；：！？\n）/&]", rest)
            or re.match(r"\s*[-–—(（\n]", rest)
            or re.match(r"\s*[\u4e00-\u9fff]", rest)
            or re.match(r"\s+(?:and|or|&)\s+[A-H]\b", rest)
            or re.match(r"\s+(?:instead\b|(?:is|would be|seems)\s+(?:better|best|right|correct|my\s+(?:answer|pick|choice)))", rest)
            or re.match(r"\s+(?:because|since|given|as\s+it|which)\b", rest)
            or any(rest.lower().lstrip().startswith(t) for t, _ in texts)
        ):
            return None
        # "A可能过于简化" is a sentence about A, not the pick A
        if (re.match(r"[ \t]*[\u4e00-\u9fff]", rest)
                and not re.match(r"[ \t]*(?:[。，；、：！？]|选项|项|和|与|或|也|吧|啊|呀|了|，|"
                                 r"(?:比较|更|最|较|相对|很|挺)?(?:合理|合适|好|可取|正确|恰当|可行|重要))", rest)
                and not any(rest.lstrip().lower().startswith(t) for t, _ in texts)):
            return None
        return index_value(LETTERS.index(letter.upper())), end

    return read


_ZH_BOUNDARY = re.compile(r"(?:的|了|啊|呀|吧|呢)?(?=$|[\s.,;:!?。，；：！？、)\"'”/—–-])")
# Words of a question that are not its predicate: "你认为…应该…吗" is answered by 应该, not 认为.
_NOT_ECHO = frozenset(("吗", "呢", "你", "我", "的", "认为", "觉得", "以为", "看来", "是否", "如何", "怎么"))
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{1,4}")


_AUX = (r"will|would|should|can|could|does|do|did|is|are|was|were|has|have|must|might|may|won't|wouldn't|"
        r"shouldn't|can't|cannot|couldn't|doesn't|don't|didn't|isn't|aren't|wasn't|weren't|hasn't|haven't")
_EN_ECHO = re.compile(rf"([a-z][\w -]{{0,40}}?)(?:\s+({_AUX})|'(d|ll|s|re))(\s+not)?\s+([^.,;:!?\n—–]{{1,80}})", re.I)
_AUX_BASE = {"won't": "will", "can't": "can", "cannot": "can", "d": "would", "ll": "will", "s": "is", "re": "are"}
_SUBORDINATE = re.compile(r"(?:whether|if|when|because|although|though|that|since|unless|while|how|why|what)\b",
                          re.I)
_NEG_THINK = re.compile(r"i\s+(?:don't|do\s+not)\s+(?:think|believe|feel)\s+(?:that\s+)?", re.I)
_THINK = re.compile(r"i\s+(?:think|believe|feel|would\s+say|'d\s+say)\s+(?:that\s+)?", re.I)
_EN_CONTENT = re.compile(r"[a-z]{3,}")
_EN_FUNCTION = frozenset(("the", "and", "for", "that", "this", "with", "are", "was", "its", "their", "them",
                          "they", "not", "but", "all", "any", "some", "more", "most", "very", "really"))


def _content(text: str) -> set[str]:
    return set(_EN_CONTENT.findall(text.lower())) - _EN_FUNCTION


def yesno_reader(lex: Lexicon, question: str | None) -> Reader:
    """Yes/no in English phrases or Chinese words, incl. a verb echoed from the question."""
    q = unicodedata.normalize("NFKC", question or "")
    q_first = (q.split() or [""])[0].lower()
    q_words = _content(q)

    def en_echo(s: str, pos: int) -> tuple[Value, int] | None:
        """"AI won't replace doctors." to "Will AI replace doctors?": the question's own clause,
        its predicate (the first content word after the verb) taken from the question."""
        if not q_words:
            return None
        flip = False
        t = _NEG_THINK.match(s, pos)
        if t:  # "I don't think it's ethical" answers "Is it ethical?" with no
            flip, pos = True, t.end()
        else:
            t = _THINK.match(s, pos)
            pos = t.end() if t else pos
        m = _EN_ECHO.match(s, pos)
        if not m or _SUBORDINATE.match(m.group(1)):  # "Whether it's ethical depends …" asks, not answers
            return None
        aux = (m.group(2) or m.group(3)).lower()
        neg = bool(m.group(4)) or aux.endswith("n't") or aux == "cannot"
        base = _AUX_BASE.get(aux, aux[:-3] if aux.endswith("n't") else aux)
        if base != q_first:
            return None
        head = _EN_CONTENT.findall(m.group(5).lower())
        head = [w for w in head if w not in _EN_FUNCTION][:1]
        if not head or head[0] not in q_words:
            return None
        return ("no" if neg != flip else "yes"), m.end()

    def zh_verb_ok(v: str) -> bool:
        if v in lex.zh_yes:
            return True
        return bool(q) and len(v) >= 2 and v in q and v not in _NOT_ECHO

    q_pairs = {q[i:i + 2] for i in range(len(q) - 1)}

    def _echo_end(s: str, pos: int) -> int | None:
        """End of a clause that repeats the question's own words (half its character pairs)."""
        if not q_pairs:
            return None
        m = re.compile(r"[^，。！？；,.!?;\n]{2,24}").match(s, pos)
        if not m:
            return None
        clause = m.group(0)
        pairs = [clause[i:i + 2] for i in range(len(clause) - 1)]
        hits = sum(p in q_pairs for p in pairs)
        if pairs and (hits * 2 >= len(pairs) or (hits and len(clause) <= 6)):
            return m.end()
        return None

    def read(s: str, pos: int) -> tuple[Value, int] | None:
        p = re.compile(r"[\s\"'“”(\[（]*").match(s, pos)
        p_end = p.end() if p else pos
        for ph in lex.yesno_en:
            m = ph.pattern.match(s, p_end)
            if m:
                if ph.extra == "from-negation":
                    return ("no" if m.group("neg") else "yes"), m.end()
                return ph.extra, m.end()
        echo = en_echo(s, p_end)
        if echo is not None:
            return echo
        # Chinese: [adverb] [negation] [verb] + boundary; "当然。" is itself a yes, so the bare
        # start is tried after the adverb-stripped one.
        starts = [p_end]
        for adv in lex.zh_adverbs:
            if s.startswith(adv, p_end):
                starts.insert(0, p_end + len(adv))
                break
        for i in starts:
            r = _zh_at(s, i)
            if r is not None:
                return r
        return None

    def _zh_at(s: str, i: int) -> tuple[Value, int] | None:
        neg = ""
        for n in lex.zh_neg:
            if s.startswith(n, i):
                neg, i = n, i + len(n)
                break
        run = _CJK_RUN.match(s, i)
        if run:
            word = run.group(0)
            for k in range(len(word), 0, -1):  # longest echo first: "不相信" -> 相信
                v = word[:k]
                if not zh_verb_ok(v):
                    continue
                b = _ZH_BOUNDARY.match(s, i + k)
                if b:
                    return ("no" if neg else "yes"), b.end()
                echo = _echo_end(s, i + k)  # "应该被赋予有限的法律人格" echoes "应该被赋予法律人格吗"
                if echo is not None and len(v) >= 1:
                    return ("no" if neg else "yes"), echo
        if neg and neg not in ("并不", "不太"):  # a bare "不。" / "没有。" / "否"
            b = _ZH_BOUNDARY.match(s, i)
            if b:
                return "no", b.end()
        return None

    return read
