"""Schema of a codebook: the categories an open answer is coded into.

A codebook is data, not code, so a researcher can write their own: categories with English and
Chinese definitions (what a human or LLM coder reads), examples, and optional keyword rules for
the offline lexicon coder. ``multi_label: false`` means every coded answer gets exactly one
category (the shares of a model's answers sum to one); ``multi_label: true`` means each category
is a yes/no property of the answer, so an answer may have several or none.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from twinstudy.instruments.schema import ID_PATTERN, Bilingual


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Phrases(Strict):
    """Text per language; either side may be empty (a keyword list for one language only)."""

    en: list[str] = Field(default_factory=list)
    zh: list[str] = Field(default_factory=list)

    def get(self, lang: str) -> list[str]:
        return self.en if lang == "en" else self.zh


class Category(Strict):
    id: str = Field(pattern=ID_PATTERN)
    label: Bilingual
    definition: Bilingual
    examples: Phrases = Field(default_factory=Phrases)
    # Lexicon coder rules (twinstudy.coding.lexicon); a category without keywords is never
    # chosen by the lexicon coder, only by a judge or a human.
    keywords: Phrases = Field(default_factory=Phrases)


class AppliesTo(Strict):
    """Which stored open replies the codebook codes: items of these instruments, or items with
    one of these tags. Both empty: every open reply."""

    instruments: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class Codebook(Strict):
    id: str = Field(pattern=ID_PATTERN)
    version: int = 1
    title: Bilingual
    # The question a coder answers about each reply, e.g. "What figure does the reply picture an
    # aligned superintelligence as?"
    question: Bilingual
    description: str = ""
    multi_label: bool = False
    # Single-label only: the category for a reply that fits none of the others (or takes no
    # position). The lexicon coder assigns it when no keyword fires.
    fallback: str | None = None
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    categories: list[Category] = Field(min_length=2)

    @model_validator(mode="after")
    def _consistent(self) -> Codebook:
        ids = [c.id for c in self.categories]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"category id '{dup[0]}' appears twice; category ids must be unique")
        if self.fallback is not None and self.fallback not in ids:
            raise ValueError(f"fallback '{self.fallback}' is not one of the categories; name one of {ids}")
        if self.multi_label and self.fallback is not None:
            raise ValueError("a multi-label codebook has no fallback (an answer may have no category); remove it")
        return self

    @property
    def category_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.categories)
