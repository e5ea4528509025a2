"""The "what was measured" box: instruments with their themes and item types, and each framing in
the words of its own definition (framings.yaml or the study's framings file)."""

from __future__ import annotations

from dataclasses import dataclass

from twinstudy.report.roles import FramingRole
from twinstudy.store import Store, reads

UNDESCRIBED = "a framing defined in the study's framings file"


@dataclass
class InstrumentLine:
    id: str
    n_items: int
    themes: str
    types: str


@dataclass
class FramingLine:
    id: str
    text: str


@dataclass
class Measured:
    instruments: list[InstrumentLine]
    framings: list[FramingLine]


def build_measured(store: Store, roles: dict[str, FramingRole]) -> Measured:
    framings = reads.framing_ids(store)
    framings.sort(key=lambda f: (f != "neutral", f))
    return Measured(
        [InstrumentLine(i.id, i.n_items, ", ".join(i.themes), ", ".join(i.item_types))
         for i in reads.instrument_summaries(store)],
        [FramingLine(f, (roles[f].description if f in roles and roles[f].description else UNDESCRIBED))
         for f in framings])
