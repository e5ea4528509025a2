"""Recompute scores from stored replies with the current scorers; no model is called.

Every scorer of the registry (:func:`twinstudy.scoring.trial_scoring.scorers`) scores again at its
current version, replacing its older rows; stored LLM-judge verdicts are kept and still decide the
outcome of the trials they judged (``twinstudy rescore --judge`` asks a judge; see judge_pass).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from twinstudy.errors import SpecError, UserError
from twinstudy.instruments.loader import load_instrument
from twinstudy.instruments.schema import Instrument, Item
from twinstudy.scoring.judge_pass import follow_judge, primary_judge
from twinstudy.scoring.trial_scoring import Reply, score_turn
from twinstudy.store import FINAL_OUTCOMES, ScoreRow, Store
from twinstudy.study.spec import load_study


@dataclass
class RescoreResult:
    rescored: int = 0
    skipped: int = 0  # trials whose instrument could not be found any more
    missing: set[str] = field(default_factory=set)


def _bundled(instrument_id: str) -> Instrument | None:
    try:
        return load_instrument(instrument_id)
    except SpecError:
        return None


def _study_instruments(store: Store) -> dict[str, Instrument]:
    """Instruments as the stored runs' study files name them (user files and imports included),
    newest run first; a study file that has moved or no longer validates is passed over."""
    found: dict[str, Instrument] = {}
    sources = [r[0] for r in store.conn.execute("SELECT DISTINCT source FROM runs ORDER BY id DESC")]
    for source in sources:
        if not Path(source).is_file():
            continue
        try:
            rs = load_study(source)
        except UserError:
            continue
        for inst in rs.instruments:
            found.setdefault(inst.id, inst)
    return found


def rescore(store: Store) -> RescoreResult:
    """Rescore every trial that has reply text; outcomes follow the new scores, blocks stay blocked."""
    result = RescoreResult()
    study_instruments = _study_instruments(store)
    loaded: set[str] = set()
    items: dict[tuple[str, str], Item] = {}
    score_rows: list[ScoreRow] = []
    outcome_updates: list[tuple[str, str]] = []
    # A distribution read from logits is stored only in the scores table (the embedded model's
    # logits are gone after the call), so it is carried over rather than recomputed.
    rows = store.conn.execute(
        "SELECT t.key, t.instrument, t.item, t.lang, t.option_order, t.correct_letter, t.outcome, "
        "t.answer_text, t.followup_text, "
        "(SELECT finish_reason FROM attempts a WHERE a.trial_key = t.key AND a.turn = 0 "
        " ORDER BY a.id DESC LIMIT 1), "
        "(SELECT s.distribution || char(31) || coalesce(s.detail, '') FROM scores s "
        " WHERE s.trial_key = t.key AND s.turn = 0 AND s.distribution IS NOT NULL LIMIT 1) "
        "FROM trials t").fetchall()
    for key, inst, item_id, lang, order_json, correct, outcome, text, follow, finish, dist_row in rows:
        if outcome in ("blocked", "error") or text is None:
            continue
        ik = (inst, item_id)
        if inst not in loaded:
            loaded.add(inst)
            source = study_instruments.get(inst) or _bundled(inst)
            for it in source.items if source else ():
                items[(inst, it.id)] = it
        item = items.get(ik)
        if item is None:
            result.skipped += 1
            result.missing.add(inst)
            continue
        order = json.loads(order_json) if order_json else None
        dist, mass = _stored_distribution(dist_row)
        new_outcome, rows_ = score_turn(key, item, lang, order, correct, Reply(text, finish, False, dist, mass))
        score_rows.extend(rows_)
        if follow is not None:
            _o, rows2 = score_turn(key, item, lang, order, correct, Reply(follow, None), turn=1)
            score_rows.extend(rows2)
        if new_outcome != outcome and new_outcome in FINAL_OUTCOMES:
            outcome_updates.append((key, new_outcome))
        result.rescored += 1
    store.put_scores(score_rows)
    if outcome_updates:
        store.set_outcomes(outcome_updates)
    judge = primary_judge(store)
    if judge is not None:
        # Stored judge verdicts outrank the recomputed scorers (see scoring.precedence).
        follow_judge(store, judge)
    return result


def _stored_distribution(row: str | None) -> tuple[dict[str, float] | None, float | None]:
    if not row:
        return None, None
    dist_json, _, detail = row.partition("\x1f")
    mass = None
    for part in detail.split(";"):
        if part.startswith("label-mass="):
            mass = float(part.split("=", 1)[1])
    dist: dict[str, float] = json.loads(dist_json)
    return dist, mass
