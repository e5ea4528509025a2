"""Framing roles from the framing data, and the one analysis every command renders.

Which framings state an opinion and which state an identity is read from each framing's ``stance``
and ``identity`` fields (the definitions the runs kept, bundled ``framings.yaml``), never from
framing ids, so a user framing ``{id: my-agree, stance: agree}`` takes part like ``user-agrees``.

The scored frame gets two optional columns, ``stance`` and ``identity``, filled here when the store
did not fill them; :func:`analyze_store` is what ``report``, ``summary`` and ``analyze`` all call,
so the three print the same numbers for the same database and seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from twinstudy.analysis.results import DEFAULT_SEED, Results
from twinstudy.store import Store

ROLE_COLUMNS = ("stance", "identity")


@dataclass(frozen=True)
class FramingRole:
    """What a framing does, from its definition."""

    id: str
    description: str = ""
    stance: str | None = None    # "agree" / "disagree": the user states an opinion on the statement
    identity: str | None = None  # e.g. "CN", "US": the user says who they are
    followup: bool = False       # a later user turn (pushback)


def framing_roles(store: Store) -> dict[str, FramingRole]:
    """Roles of every framing the database knows (see :meth:`Store.framing_definitions`)."""
    return {fid: FramingRole(fid, f.description, f.stance, f.identity, f.followup is not None)
            for fid, f in store.framing_definitions().items()}


def add_role_columns(frame: pd.DataFrame, roles: dict[str, FramingRole]) -> pd.DataFrame:
    """The frame with ``stance`` and ``identity`` columns (kept as they are when already present)."""
    missing = [c for c in ROLE_COLUMNS if c not in frame.columns]
    if not missing:
        return frame
    out = frame.copy()
    framing = out["framing"].astype(str)
    for col in missing:
        out[col] = framing.map({fid: getattr(r, col) for fid, r in roles.items()}).astype(object)
        out[col] = out[col].where(out[col].notna(), None)
    return out


def study_frame(store: Store, design: str | None = None) -> tuple[pd.DataFrame, dict[str, FramingRole]]:
    """The scored frame with framing roles, and the roles themselves. ``design``: which design of
    the study (see :meth:`Store.scored_frame`); default the current one."""
    roles = framing_roles(store)
    return add_role_columns(store.scored_frame(design=design), roles), roles


def analyze_store(store: Store, twins: list[tuple[str, str]] | None = None, n_boot: int | None = None,
                  seed: int = DEFAULT_SEED, design: str | None = None,
                  frame: pd.DataFrame | None = None) -> Results:
    """``analysis.analyze`` on the store's frame: the one analysis all three commands render.
    ``frame``: that frame when the caller has read it already (``study_frame``)."""
    from twinstudy import analysis  # looked up at call time, so tests can count or break the calls

    if frame is None:
        frame, _ = study_frame(store, design)
    coded, failed = coded_frames(store, frame)
    results = analysis.analyze(frame, twins=twins, n_boot=n_boot, seed=seed, coded=coded)
    results.errors.update(failed)
    return results


def coded_frames(store: Store, frame: pd.DataFrame) -> tuple[dict[str, tuple[Any, pd.DataFrame]], dict[str, str]]:
    """Every codebook with codes in the database -> (codebook, coded frame of the coder that counts)
    over the open trials of ``frame``; and, per codebook that could not be read, its error (so it
    costs only the category tables of that codebook)."""
    from twinstudy.coding.frame import attach_codes, counting_coder
    from twinstudy.coding.loader import codebooks_in

    out: dict[str, tuple[Any, pd.DataFrame]] = {}
    failed: dict[str, str] = {}
    open_trials = frame.loc[(frame["item_type"] == "open").to_numpy()].reset_index(drop=True)
    books = {b.id: b for b in codebooks_in(store)}
    for cid in store.codebooks():
        try:
            book = books.get(cid)
            if book is None:
                raise ValueError(f"codebook '{cid}' has codes in the database but its definition is neither stored "
                                 "nor bundled; code the replies again with `twinstudy code --codebook PATH`")
            coder = counting_coder(store, cid)
            out[cid] = (book, attach_codes(open_trials, store.code_table(cid, coder), book, coder))
        except Exception as exc:  # noqa: BLE001 - one unreadable codebook must not cost the analysis
            failed[f"category_shares[{cid}]"] = f"{type(exc).__name__}: {exc}"
    return out, failed


def opinion_framings(roles: dict[str, FramingRole], present: set[str], stance: str) -> list[str]:
    return sorted(f for f in present if f in roles and roles[f].stance == stance)


def identity_framings(roles: dict[str, FramingRole], present: set[str]) -> dict[str, list[str]]:
    """Framing ids per declared identity, among the framings present."""
    out: dict[str, list[str]] = {}
    for f in sorted(present):
        r = roles.get(f)
        if r is not None and r.identity:
            out.setdefault(r.identity, []).append(f)
    return out


def pushback_framings(roles: dict[str, FramingRole], present: set[str]) -> list[str]:
    return sorted(f for f in present if f in roles and roles[f].followup)
