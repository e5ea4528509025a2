"""What an importer produces: rows checked one by one, then one batch written at once.

A reader turns each source row into an :class:`ImportedRow` (or raises a :class:`SpecError` naming
the file and line); :func:`build_batch` then checks the rows against each other (one reply per
model, item, language, framing and sample; one wording per item and language) and assembles the
instrument that the replies answer. Nothing touches a database until the whole batch is valid.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from twinstudy.errors import SpecError
from twinstudy.instruments.schema import Bilingual, Instrument, Item, Texts

#: A judge's label (any case) -> the status twinstudy's open-item scorers use.
LABELS = {"complete": "complete", "evasive": "evasive", "denial": "denial"}
#: Status -> trial outcome, as twinstudy's own open-item scorer decides it.
OUTCOME_OF_STATUS = {"complete": "answered", "evasive": "evasive", "denial": "refused"}
#: Source labels that say the reply was not judged, and what the trial's outcome then is.
#: A reply stopped by the provider's moderation is ``blocked`` (never a refusal by the model).
ERROR_OUTCOMES = {
    "ERROR_ORIGINAL_MODERATION": "blocked",
    "BLOCKED": "blocked",
    "ERROR_ORIGINAL_RESPONSE": "error",
    "ERROR_ORIGINAL_TRUNCATION": "truncated",
}
#: Any other ``ERROR_JUDGE_*`` label: the reply exists but its judge failed, so it has no score.
JUDGE_ERROR_OUTCOME = "unparseable"
KEY_VERSION = 1
_BAD_ID_CHARS = re.compile(r"[^a-z0-9._-]+")


def slug(text: str) -> str:
    """An id twinstudy accepts (lower case letters, digits, '.', '_', '-')."""
    return _BAD_ID_CHARS.sub("-", text.strip().lower()).strip("-._")


def outcome_of_label(label: str) -> tuple[str, str | None] | None:
    """(trial outcome, score status or None) for a source label; None if the label is unknown."""
    status = LABELS.get(label.strip().lower())
    if status is not None:
        return OUTCOME_OF_STATUS[status], status
    upper = label.strip().upper()
    if upper in ERROR_OUTCOMES:
        return ERROR_OUTCOMES[upper], None
    if upper.startswith("ERROR_JUDGE"):
        return JUDGE_ERROR_OUTCOME, None
    return None


@dataclass
class ImportedRow:
    """One reply from the source, with where it came from (file, line) for error messages."""

    file: str
    line: int
    model: str
    item: str           # twinstudy item id (slugged)
    theme: str          # prompt set
    lang: str           # "en" | "zh"
    prompt: str
    reply: str | None
    outcome: str | None = None          # None: let twinstudy's scorer decide (no source label)
    status: str | None = None           # complete | evasive | denial, from the source label
    source_label: str | None = None     # the label exactly as the source wrote it
    judge: str | None = None            # the source judge's name: the scorer the label is stored under
    judge_detail: str | None = None
    framing: str = "neutral"
    sample: int = 0
    reasoning: str | None = None
    finish_reason: str | None = None
    provider: str | None = None
    raw: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    created: float | None = None
    blocked: str | None = None          # input | output | unknown when the provider stopped the reply


@dataclass
class ImportBatch:
    """A whole import, checked and ready to write in one transaction."""

    kind: str                           # "speechmap" | "table"
    source: str                         # the path the user gave
    study: str
    description: str
    instrument: Instrument
    rows: list[ImportedRow]
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    judge_version: str = "imported"
    notes: list[str] = field(default_factory=list)

    def spec_text(self) -> str:
        """What the runs table records as the 'study file' of an import (YAML, read by the report)."""
        import yaml

        doc = {"name": self.study, "description": self.description, "imported": self.kind,
               "source": self.source, "replies": len(self.rows), "models": sorted({r.model for r in self.rows}),
               "instrument": self.instrument.id}
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def trial_key(kind: str, row: ImportedRow, instrument: str) -> str:
    """A stable key for an imported reply: the same source row always gets the same key."""
    blob = json.dumps({"v": KEY_VERSION, "import": kind, "model": row.model, "instrument": instrument,
                       "item": row.item, "lang": row.lang, "framing": row.framing, "sample": row.sample,
                       "prompt": row.prompt}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def build_instrument(inst_id: str, title: str, description: str, rows: list[ImportedRow]) -> Instrument:
    """The open items the imported replies answer, with each item's wording per language.

    An item asked in one language only repeats that wording in the other (and says so in its
    note), as :func:`twinstudy.instruments.loader.import_speechmap` does for unpaired questions.
    """
    texts: dict[str, dict[str, tuple[str, ImportedRow]]] = {}
    themes: dict[str, str] = {}
    for r in rows:
        slot = texts.setdefault(r.item, {})
        seen = slot.get(r.lang)
        if seen is None:
            slot[r.lang] = (r.prompt, r)
        elif seen[0] != r.prompt:
            raise SpecError(r.file, r.line, "prompt",
                            f"gives item '{r.item}' ({r.lang}) a different wording than {seen[1].file}:"
                            f"{seen[1].line}; one item must be asked with one wording per language "
                            "(give the variants different item ids).")
        theme = themes.setdefault(r.item, r.theme)
        if theme != r.theme:
            raise SpecError(r.file, r.line, "set", f"puts item '{r.item}' in set '{r.theme}', but an earlier "
                            f"row put it in '{theme}'; an item belongs to one set.")
    items = []
    for item_id, slot in texts.items():
        en = slot.get("en", slot.get("zh", ("", None)))[0]
        zh = slot.get("zh", slot.get("en", ("", None)))[0]
        note = ""
        if "en" not in slot:
            note = "asked in Chinese only in the source; the English text repeats the Chinese"
        elif "zh" not in slot:
            note = "asked in English only in the source; the Chinese text repeats the English"
        items.append(Item(id=item_id, theme=themes[item_id], type="open", text=Texts(en=[en], zh=[zh]),
                          tags=["imported", themes[item_id]], note=note))
    return Instrument(id=inst_id, title=Bilingual(en=title, zh=title), description=description, items=items)


def check_unique(rows: list[ImportedRow]) -> None:
    """One reply per model, item, language, framing and sample: a second one is an error."""
    seen: dict[tuple[str, str, str, str, int], ImportedRow] = {}
    for r in rows:
        k = (r.model, r.item, r.lang, r.framing, r.sample)
        first = seen.setdefault(k, r)
        if first is not r:
            raise SpecError(r.file, r.line, None,
                            f"repeats the reply of model '{r.model}' to item '{r.item}' ({r.lang}, "
                            f"{r.framing}, sample {r.sample}) already given at {first.file}:{first.line}; "
                            "remove one, or number repeated draws with a sample column.")
