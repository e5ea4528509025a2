"""Text preparation shared by the answer grammar: reasoning blocks, normalisation, clause spans."""

from __future__ import annotations

import re
import unicodedata

_THINK_BLOCK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.S | re.I)
_THINK_OPEN = re.compile(r"<(?:think|thinking|reasoning)>", re.I)
_THINK_CLOSE = re.compile(r"</(?:think|thinking|reasoning)>", re.I)
_MD = re.compile(r"\*\*|__|\*|`+|^#+\s*|^>\s*|</?[A-Za-z_][\w-]{0,20}>", re.M)
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")


def strip_think(text: str) -> tuple[str, bool]:
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


def normalise(text: str) -> str:
    """NFKC (full-width digits, letters, colons), straight quotes, no markdown, one space per run."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "So")  # emoji: "👍 Agree!"
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\ufe0f", "").replace("\u20e3", "")
    text = _MD.sub("", text)
    lines = [_SPACES.sub(" ", ln).strip() for ln in text.splitlines()]
    out = "\n".join(lines).strip()
    # a one-line reply given as a bullet ("- 4"); bullets in longer replies list things instead
    return re.sub(r"^[-•]\s+", "", out) if "\n" not in out else out


# A sentence ends at . ! ? ; or a line break -- but not at the dot of "2.5" or of "e.g.".
SENT_END = re.compile(r"(?:\.(?!\d)|[!?;]|[。！？；…]|\n)+")
# A clause additionally ends at a contrast or a conclusion word: what follows "but" / "不过" / "so"
# is said on its own terms ("I can't be sure, but I'd say 4").
_CLAUSE_END = re.compile(
    r"(?:\.(?!\d)|[!?;]|[。！？；…]|\n)+"
    r"|\b(?:but|however|that said|yet|still|so|therefore|anyway|nonetheless|nevertheless)\b"
    r"|但是|但|不过|然而|可是|所以|因此|话虽如此|尽管如此",
    re.I,
)


def sentence_starts(s: str) -> list[int]:
    """Offsets where a sentence starts (the first non-space character after a sentence end)."""
    starts = [0]
    for m in SENT_END.finditer(s):
        p = m.end()
        while p < len(s) and s[p] in " \t\"'”」)":
            p += 1
        if p < len(s):
            starts.append(p)
    return starts


def sentence_end(s: str, pos: int) -> int:
    m = SENT_END.search(s, pos)
    return m.start() if m else len(s)


_CONCESSIVE = re.compile(r"\s*(?:while|whilst|although|though|even though|even if|as an ai\b|as a language model|"
                         r"虽然|尽管|虽说|即使|作为)", re.I)
_COMMA = re.compile(r"[,，]")


def clause_span(s: str, pos: int, *, commas: bool = False) -> tuple[int, int]:
    """The clause around offset ``pos``: between the nearest clause ends on either side.

    A concessive opener ("Although I can't be sure, …", "作为AI，…") ends at its comma; with
    ``commas`` every comma ends a clause (used for explicit markers: "我没有立场，我选3").
    """
    start = 0
    for m in _CLAUSE_END.finditer(s, 0, pos):
        if m.end() <= pos:
            start = m.end()
    m2 = _CLAUSE_END.search(s, pos)
    end = m2.start() if m2 else len(s)
    if commas or _CONCESSIVE.match(s, start):
        for c in _COMMA.finditer(s, start, pos):
            start = c.end()
        c2 = _COMMA.search(s, pos, end)
        if commas and c2:
            end = c2.start()
    return start, end


_TERMINAL = re.compile(r"[.!?。！？…)）\]」』\"'”]\s*$|[\u4e00-\u9fff]$")


def looks_cut_off(s: str) -> bool:
    """A reply that stops mid-sentence ("My rating is", "答案：", "…the obligations for")."""
    tail = s.rstrip()
    if not tail:
        return True
    if tail[-1] in ":：,，、-–—(" or re.search(r"\n\s*\d{1,2}[.)、]$", tail):  # "…\n3." stops at an item
        return True
    # Latin text that does not end a sentence; CJK text ending without 。 is ambiguous (short
    # Chinese replies often omit it), so it only counts when the reply is long or punctuates
    # its earlier sentences.
    if re.search(r"[A-Za-z0-9]$", tail) and len(tail.split()) >= 4:  # "three", "Y": short, not cut
        return True
    return bool(re.search(r"[\u4e00-\u9fff]$", tail) and (len(tail) > 40 or re.search(r"[。!?]", tail)))
