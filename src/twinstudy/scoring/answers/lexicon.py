"""The parser's vocabulary, loaded from ``scoring/data/parse_lexicon.yaml``.

Phrases live in data rather than code so that each one has an id a verdict can name, and so that a
reviewer can read the whole vocabulary in one file.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

LEXICON_VERSION = "2"
DECLINE_CLASSES = ("decline", "uncertain", "depends", "both_sides", "ask_user")
_FLAGS = re.I | re.M


@dataclass(frozen=True)
class Phrase:
    """One pattern with its id; ``extra`` carries a class-specific field (pole, value, final)."""

    id: str
    pattern: re.Pattern[str]
    extra: str = ""
    only: tuple[str, ...] = ()  # item types the phrase applies to (empty: all)


@dataclass(frozen=True)
class Lexicon:
    markers: tuple[Phrase, ...]
    cues: tuple[Phrase, ...]
    preambles: tuple[Phrase, ...]
    likert_labels: tuple[Phrase, ...]
    scales: dict[int, dict[str, int]]
    ordinals_en: dict[str, int]
    ordinals_zh: dict[str, int]
    yesno_en: tuple[Phrase, ...]
    zh_yes: tuple[str, ...]
    zh_neg: tuple[str, ...]
    zh_adverbs: tuple[str, ...]
    signals: dict[str, tuple[Phrase, ...]]
    scale_restatements: tuple[Phrase, ...]
    off_task: tuple[Phrase, ...]


def _phrases(raw: Any, section: str, extra_key: str | None = None) -> tuple[Phrase, ...]:
    if not isinstance(raw, list):
        raise ValueError(f"parse lexicon: section {section!r} must be a list of {{id, pattern}} mappings")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "id" not in item or "pattern" not in item:
            raise ValueError(f"parse lexicon: entry {i} of {section!r} needs an id and a pattern")
        try:
            # replies are NFKC-normalised ("，" -> ","), so the patterns are too
            rx = re.compile(unicodedata.normalize("NFKC", str(item["pattern"])), _FLAGS)
        except re.error as e:
            raise ValueError(f"parse lexicon: {section} entry {item['id']!r} is not a valid pattern: {e}") from e
        extra = ""
        if extra_key is not None:
            extra = str(item.get(extra_key, "")).lower()
        only = item.get("only") or ()
        out.append(Phrase(str(item["id"]), rx, extra, tuple(str(t) for t in only)))
    return tuple(out)


def _sorted_words(raw: Any) -> tuple[str, ...]:
    return tuple(sorted((unicodedata.normalize("NFKC", str(w)) for w in raw or []), key=len, reverse=True))


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """Load and compile the bundled lexicon (cached); ids must be unique across the file."""
    import yaml

    text = resources.files("twinstudy.scoring").joinpath("data/parse_lexicon.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    if str(raw.get("version")) != LEXICON_VERSION:
        raise ValueError(f"parse lexicon has version {raw.get('version')!r}, code expects {LEXICON_VERSION}")
    signals = {cls: _phrases(items, f"signals.{cls}") for cls, items in raw["signals"].items()}
    lex = Lexicon(
        markers=_phrases(raw["markers"], "markers", "final"),
        cues=_phrases(raw["conclusion_cues"], "conclusion_cues", "settles"),
        preambles=_phrases(raw["preambles"], "preambles"),
        likert_labels=_phrases(raw["likert_labels"], "likert_labels", "pole"),
        scales={int(k): {str(p): int(v) for p, v in m.items()} for k, m in raw["scales"].items()},
        ordinals_en={str(k).lower(): int(v) for k, v in raw["ordinals_en"].items()},
        ordinals_zh={str(k): int(v) for k, v in raw["ordinals_zh"].items()},
        yesno_en=_phrases(raw["yesno_en"], "yesno_en", "value"),
        zh_yes=_sorted_words(raw["yesno_zh_yes"]),
        zh_neg=_sorted_words(raw["yesno_zh_neg"]),
        zh_adverbs=_sorted_words(raw["yesno_zh_adverbs"]),
        signals=signals,
        scale_restatements=_phrases(raw["scale_restatements"], "scale_restatements"),
        off_task=_phrases(raw["off_task"], "off_task"),
    )
    seen: set[str] = set()
    groups: list[tuple[Phrase, ...]] = [lex.markers, lex.cues, lex.preambles, lex.likert_labels, lex.yesno_en,
                                        lex.scale_restatements, lex.off_task, *signals.values()]
    for group in groups:
        for ph in group:
            if ph.id in seen:
                raise ValueError(f"parse lexicon: duplicate id {ph.id!r}")
            seen.add(ph.id)
    return lex
