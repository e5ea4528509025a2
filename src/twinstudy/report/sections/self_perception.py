"""Replies to questions without a right answer: per item, model and language, the commonest replies.

Which items qualify is decided by the data, not by an instrument id: open items, and choice and
yes/no items with no known answer, from instruments that ask more than open requests (an instrument of
open requests only is a refusal probe, summarised by the outcome rates). What a model says of itself
(who made it, what it can do) is the typical case. Replies under the neutral framing are used when
there are any, so that the user's stated views do not colour them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from twinstudy.report import figures as figs
from twinstudy.report.sections.transcripts import prompt_of
from twinstudy.store import Store, reads

TOP = 3
TEXT_CAP = 400


@dataclass
class Reply:
    text: str
    count: int


@dataclass
class LangCell:
    lang: str
    n: int
    top: list[Reply] = field(default_factory=list)
    outcomes: str = ""
    distinct: int = 0


@dataclass
class ModelReplies:
    model: str
    origin: str
    maker: str
    langs: list[LangCell]


@dataclass
class ItemReplies:
    instrument: str
    item: str
    type: str
    prompts: dict[str, str]
    langs: list[str]
    rows: list[ModelReplies]


@dataclass
class _Cell:
    texts: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    n: int = 0


def build_replies(store: Store, meta: dict[str, dict[str, Any]]) -> list[ItemReplies]:
    rows = reads.unscored_replies(store)
    if not rows:
        return []
    if any(r.framing == "neutral" for r in rows):
        rows = [r for r in rows if r.framing == "neutral"]
    langs = sorted({r.lang for r in rows})
    prompts: dict[tuple[str, str], dict[str, str]] = {}
    cells: dict[tuple[str, str], dict[tuple[str, str], _Cell]] = {}
    types: dict[tuple[str, str], str] = {}
    for r in rows:
        key = (r.instrument, r.item)
        types[key] = r.item_type
        prompts.setdefault(key, {}).setdefault(r.lang, prompt_of(r.messages_json))
        cell = cells.setdefault(key, {}).setdefault((r.model, r.lang), _Cell())
        cell.n += 1
        cell.outcomes[r.outcome] += 1
        if r.answer_text and r.outcome != "blocked":
            t = " ".join(r.answer_text.split())
            cell.texts[t[:TEXT_CAP] + ("…" if len(t) > TEXT_CAP else "")] += 1
    out: list[ItemReplies] = []
    for key in sorted(cells, key=lambda k: (types[k] != "open", k)):
        per_model = cells[key]
        table: list[ModelReplies] = []
        for m in figs.ordered_models(sorted({m for m, _ in per_model}), meta):
            per_lang: list[LangCell] = []
            for lang in langs:
                c = per_model.get((m, lang))
                if c is None:
                    per_lang.append(LangCell(lang, 0))
                    continue
                per_lang.append(LangCell(lang, c.n, [Reply(t, k) for t, k in c.texts.most_common(TOP)],
                                         ", ".join(f"{o} {k}" for o, k in c.outcomes.most_common()), len(c.texts)))
            table.append(ModelReplies(m, str(meta.get(m, {}).get("origin", "?")),
                                      str(meta.get(m, {}).get("company", "?")), per_lang))
        out.append(ItemReplies(key[0], key[1], types[key], prompts[key], langs, table))
    return out
