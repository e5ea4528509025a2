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
    """One category an answer can be coded into."""

    id: str = Field(pattern=ID_PATTERN, description="what a coder writes (e.g. in a judge's `CODES:` line)")
    label: Bilingual = Field(description="short name in both languages")
    definition: Bilingual = Field(description="what counts, in both languages: what a judge or human reads")
    examples: Phrases = Field(default_factory=Phrases, description="short example answers per language, "
                              "shown to the judge")
    # Lexicon coder rules (twinstudy.coding.lexicon); a category without keywords is never
    # chosen by the lexicon coder, only by a judge or a human.
    keywords: Phrases = Field(default_factory=Phrases, description="lexicon-coder rules per language")
    # Lexicon coder, single-label only: a reply with real evidence for every listed category (a
    # "mixed" or "conditional" answer argues for both poles) gets this category instead of
    # whichever pole happens to have more keywords.
    combines: list[str] = Field(default_factory=list, description="single-label only: the lexicon coder "
                                "chooses this category when every listed category has evidence (a reply that "
                                "argues for both)")


class AppliesTo(Strict):
    """Which stored open replies the codebook codes: items of these instruments, or items with
    one of these tags. Both empty: every open reply."""

    instruments: list[str] = Field(default_factory=list, description="instrument ids")
    tags: list[str] = Field(default_factory=list, description="item tags")


class Codebook(Strict):
    """A codebook: the categories open answers are coded into."""

    id: str = Field(pattern=ID_PATTERN, description="names the codes in the database")
    version: int = Field(default=1, description="raise it when a definition changes meaning; codes of an "
                         "older version are coded again")
    title: Bilingual = Field(description="shown in tables and the report")
    # The question a coder answers about each reply, e.g. "What figure does the reply picture an
    # aligned superintelligence as?"
    question: Bilingual = Field(description="the question a coder answers about each reply")
    description: str = Field(default="", description="coding rules every coder reads")
    multi_label: bool = Field(default=False, description="each category a yes/no property (several or none "
                              "per answer) instead of exactly one category per answer")
    # Single-label only: the category for a reply that fits none of the others (or takes no
    # position). The lexicon coder assigns it when no keyword fires.
    fallback: str | None = Field(default=None, description="single-label only: the category for an answer "
                                 "that fits none (the lexicon's choice when no keyword fires)")
    applies_to: AppliesTo = Field(default_factory=AppliesTo, description="which stored open replies it codes")
    categories: list[Category] = Field(min_length=2, description="the categories, in display order")

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
        for c in self.categories:
            if not c.combines:
                continue
            if self.multi_label:
                raise ValueError(f"category '{c.id}': combines is for single-label codebooks; remove it")
            bad = [x for x in c.combines if x not in ids or x == c.id]
            if bad or len(c.combines) < 2:
                raise ValueError(f"category '{c.id}': combines needs two or more other categories of {ids}, "
                                 f"got {c.combines}")
        return self

    @property
    def category_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.categories)
