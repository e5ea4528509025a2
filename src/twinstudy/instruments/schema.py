"""Schema of instruments (question banks) and framings.

An item's ``id`` is stable across languages and paraphrases: paraphrase ``p`` in English and
paraphrase ``p`` in Chinese are the same question, so every factor can be compared item by item.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from twinstudy.vocab import LIKERT_TYPES, ItemType, Lang

__all__ = ["LIKERT_TYPES", "ItemType", "Lang"]  # re-exported for older imports
ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bilingual(Strict):
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class Texts(Strict):
    """Paraphrases per language; index 0 is the canonical wording."""

    en: list[str] = Field(min_length=1)
    zh: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _same_count(self) -> Texts:
        if len(self.en) != len(self.zh):
            raise ValueError(
                f"has {len(self.en)} English and {len(self.zh)} Chinese paraphrases; "
                "give the same number in both languages"
            )
        if any(not t.strip() for t in self.en + self.zh):
            raise ValueError("contains an empty text; write the question or remove the entry")
        return self

    def get(self, lang: str) -> list[str]:
        return self.en if lang == "en" else self.zh


class Theme(Strict):
    """A dimension that Likert answers are scored along; ``pole`` is what +1 means."""

    pole: Bilingual
    description: str = ""


class Item(Strict):
    id: str = Field(pattern=ID_PATTERN)
    theme: str = Field(pattern=ID_PATTERN)
    type: ItemType
    text: Texts
    reverse: bool = False
    options: list[Bilingual] | None = None
    answer: int | None = Field(default=None, ge=0, description="index of the correct option (facts)")
    tags: list[str] = Field(default_factory=list)
    reviewed: bool = False
    note: str = ""

    @model_validator(mode="after")
    def _options_fit_type(self) -> Item:
        if self.type == "choice":
            if not self.options or len(self.options) < 2:
                raise ValueError("is a choice item; give at least two options")
            if len(self.options) > 8:
                raise ValueError("has more than 8 options; keep choice items to A-H")
            if self.answer is not None and self.answer >= len(self.options):
                raise ValueError("answer index is past the last option; count options from 0")
        elif self.options is not None:
            raise ValueError(f"is a {self.type} item and cannot have options; remove them")
        if self.reverse and self.type not in LIKERT_TYPES:
            raise ValueError("reverse applies only to Likert items; remove it")
        return self

    @property
    def n_paraphrases(self) -> int:
        return len(self.text.en)


class Instrument(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: Bilingual
    description: str = ""
    version: int = 1
    themes: dict[str, Theme] = Field(default_factory=dict)
    items: list[Item] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids_and_themes(self) -> Instrument:
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"item id '{item.id}' appears twice; item ids must be unique")
            seen.add(item.id)
            if item.type in LIKERT_TYPES and item.theme not in self.themes:
                raise ValueError(
                    f"item '{item.id}' uses theme '{item.theme}', which is not declared under "
                    "'themes'; declare it with its pole"
                )
        return self


class FramingText(Strict):
    """What the user says before the question; ``by_theme`` overrides it for named themes."""

    en: str = ""
    zh: str = ""
    by_theme: dict[str, Bilingual] = Field(default_factory=dict)

    def get(self, lang: str, theme: str | None = None) -> str:
        if theme is not None and theme in self.by_theme:
            return self.by_theme[theme].get(lang)
        return self.en if lang == "en" else self.zh


STATEMENT_TYPES: tuple[ItemType, ...] = ("likert5", "likert7")


class Framing(Strict):
    """A user framing. ``applies_to`` names the item types it makes sense for: a stance framing
    ("I agree with the statement below") means nothing in front of a question, so by default it
    applies to statement items only, and the design leaves its other cells out."""

    id: str = Field(pattern=ID_PATTERN)
    description: str = ""
    prefix: FramingText = Field(default_factory=FramingText)
    followup: Bilingual | None = None
    stance: Literal["agree", "disagree"] | None = None
    identity: str | None = None
    # The culture the user brings up without stating an opinion ("I've been reading Laozi"): the
    # user-side contrast of open-answer coding (twinstudy.analysis.categories), beside identity.
    culture: str | None = None
    applies_to: list[ItemType] | None = Field(
        default=None, min_length=1,
        description="item types the framing is used with (default: all; statement types for a stance)")

    def item_types(self) -> tuple[ItemType, ...]:
        """The item types this framing is asked with."""
        if self.applies_to is not None:
            return tuple(self.applies_to)
        if self.stance is not None:
            return STATEMENT_TYPES
        return ("likert5", "likert7", "choice", "yesno", "open")

    def applies(self, item_type: str) -> bool:
        return item_type in self.item_types()


class FramingSet(Strict):
    framings: list[Framing] = Field(min_length=1)
