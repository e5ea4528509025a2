"""The transcript browser's data: every trial's texts, packed compactly and shortened to a budget.

Model output stays text: it reaches the page only inside the JSON blob, which the page renders with
textContent. Encoding the blob (plain JSON or gzip + base64) is :mod:`twinstudy.report.render`'s job.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from twinstudy.report import figures as figs
from twinstudy.store import ALL_OUTCOMES, Store
from twinstudy.store.reads import CellKey, TranscriptRow, cell_messages, transcript_rows

#: Bytes of model text (answers, reasoning, follow-ups) embedded as plain JSON at most (three times
#: this before compression when the transcripts are embedded compressed, then fitted to the render
#: module's PAYLOAD_LIMIT_BYTES). Longer texts are shortened (the database keeps them whole) so that
#: a 100,000-trial report stays under 25 MB.
TEXT_BUDGET_BYTES = 15_000_000
ANSWER_CAP = 8000
REASONING_CAP = 4000
PAGE_SIZE = 25


def _turns(messages_json: str | None) -> list[tuple[Any, Any]]:
    try:
        msgs = json.loads(messages_json or "[]")
    except ValueError:
        return []
    return [(m[0], m[1]) if isinstance(m, list) else (m.get("role"), m.get("content")) for m in msgs]


_OPTION_LINE = re.compile(r"^([A-H])\. (.+)$", re.M)


def options_seen(messages_json: str | None, parsed: str | None) -> tuple[str | None, str | None]:
    """A choice trial's options in the order this trial showed them, and the parsed letter's option.

    Options are shuffled per trial, so the cell's prompt shows one order only; each reply carries
    the order it saw, read from its own stored prompt."""
    if not messages_json:
        return None, None
    lines = _OPTION_LINE.findall(prompt_of(messages_json))
    if not lines:
        return None, None
    shown = "\n".join(f"{letter}. {text}" for letter, text in lines)
    chosen = next((f"{letter}. {text}" for letter, text in lines if letter == parsed), None)
    return shown, chosen


def prompt_of(messages_json: str | None) -> str:
    """The user's turn(s) before the model's first answer (the system prompt is shown with the model)."""
    parts: list[str] = []
    for role, content in _turns(messages_json):
        if role == "assistant":
            break
        if role == "user":
            parts.append(str(content))
    return "\n\n".join(parts)


def followup_of(messages_json: str | None) -> str:
    """The user's first turn after the model's answer (a pushback), or ''."""
    seen_assistant = False
    for role, content in _turns(messages_json):
        if role == "assistant":
            seen_assistant = True
        elif role == "user" and seen_assistant:
            return str(content)
    return ""


def _utf8_len(s: str | None) -> int:
    return len(s.encode("utf-8")) if s else 0


def _choose_cap(lengths: list[tuple[int, int]], budget: int, start: int) -> int:
    """Largest per-text cap (characters) whose capped total in UTF-8 bytes fits the budget.

    ``lengths``: (characters, bytes) per text; a text cut to c characters is counted as
    c * bytes / characters bytes (Chinese text is about 3 bytes a character).
    """
    def total(cap: int) -> float:
        return sum(min(c, cap) * (b / c) for c, b in lengths if c)

    if total(start) <= budget:
        return start
    lo, hi = 50, start
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if total(mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _shorten(s: str | None, cap: int) -> str | None:
    if s is None:
        return None
    if len(s) <= cap:
        return s
    return s[:cap] + f" …[+{len(s) - cap:,} chars]"


@dataclass
class TranscriptSource:
    """The trials in page order with the indexes the page's filters use."""

    rows: list[tuple[int, int, int, int, TranscriptRow]]  # cell, sample, model index, outcome index, row
    cells: list[list[Any]]
    models: list[str]
    items: list[str]
    langs: list[str]
    framings: list[str]
    outcomes: list[str]
    origins: list[str]
    answer_lengths: list[tuple[int, int]] = field(default_factory=list)
    other_lengths: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class TranscriptInfo:
    """Facts about the embedded transcripts, for the section's text and filters."""

    n_rows: int
    answer_cap: int
    other_cap: int
    shortened: int
    n_cells: int
    models: list[str]
    item_list: list[str]
    langs: list[str]
    framings: list[str]
    outcomes: list[str]
    encoding: str = "json"


def load_source(store: Store, meta: dict[str, dict[str, Any]]) -> TranscriptSource:
    rows = transcript_rows(store)
    msgs = cell_messages(store)
    prompts: dict[CellKey, tuple[str, str]] = {k: (prompt_of(m), followup_of(m)) for k, m in msgs.items()}
    models = figs.ordered_models(sorted({r.model for r in rows}), meta)
    items = sorted({r.item for r in rows})
    langs = sorted({r.lang for r in rows})
    framings = sorted({r.framing for r in rows}, key=lambda f: (f != "neutral", f))
    outcomes: list[str] = [o for o in ALL_OUTCOMES if o in {r.outcome for r in rows}]
    ix = {name: {v: i for i, v in enumerate(vals)} for name, vals in
          (("model", models), ("item", items), ("lang", langs), ("framing", framings), ("outcome", outcomes))}
    cell_keys = sorted(prompts, key=lambda k: (k[1], k[0], ix["lang"].get(k[2], 0), ix["framing"].get(k[3], 0), k[4]))
    cell_ix = {k: i for i, k in enumerate(cell_keys)}
    cells = [[ix["item"][k[1]], ix["lang"][k[2]], ix["framing"][k[3]], k[4], prompts[k][0], prompts[k][1] or None]
             for k in cell_keys]
    keyed = sorted(((cell_ix[(r.instrument, r.item, r.lang, r.framing, r.paraphrase)], r.sample,
                     ix["model"][r.model], ix["outcome"][r.outcome], r) for r in rows),
                   key=lambda x: (x[0], x[1], x[2]))
    return TranscriptSource(
        keyed, cells, models, items, langs, framings, outcomes,
        [str(meta.get(m, {}).get("origin", "?")) for m in models],
        [(len(r.answer_text), _utf8_len(r.answer_text)) for r in rows if r.answer_text],
        [(len(t), _utf8_len(t)) for r in rows for t in (r.reasoning, r.followup_text) if t])


def build_blob(src: TranscriptSource, budget: int) -> tuple[dict[str, Any], TranscriptInfo]:
    """The page's transcript data with texts shortened to fit ``budget`` bytes, and facts about it."""
    answer_cap = _choose_cap(src.answer_lengths, budget * 2 // 3, ANSWER_CAP)
    other_cap = _choose_cap(src.other_lengths, budget // 3, REASONING_CAP)
    shortened = 0
    out_rows: list[list[Any]] = []
    for cell, sample, model, outcome, r in src.rows:
        texts = ((r.answer_text, answer_cap), (r.reasoning, other_cap), (r.followup_text, other_cap))
        shortened += sum(1 for t, c in texts if t and len(t) > c)
        shown, chosen = options_seen(r.choice_messages, r.answer)
        out_rows.append([cell, sample, model, outcome, _shorten(r.answer_text, answer_cap),
                         _shorten(r.reasoning, other_cap) or None, _shorten(r.followup_text, other_cap),
                         r.provider_code, r.answer, r.final_answer, shown, chosen])
    blob = {"models": src.models, "items": src.items, "langs": src.langs, "framings": src.framings,
            "outcomes": src.outcomes, "cells": src.cells, "rows": out_rows, "page": PAGE_SIZE,
            "origins": src.origins}
    info = TranscriptInfo(len(out_rows), answer_cap, other_cap, shortened, len(src.cells), src.models, src.items,
                          src.langs, src.framings, src.outcomes)
    return blob, info
