"""Recompute scores from stored replies with the current scorers; no model is called.

Every scorer of the registry (:func:`twinstudy.scoring.trial_scoring.scorers`) scores again at its
current version, replacing its older rows; stored LLM-judge verdicts are kept and still decide the
outcome of the trials they judged (``twinstudy rescore --judge`` asks a judge; see judge_pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from twinstudy.errors import SpecError, UserError
from twinstudy.instruments.loader import load_instrument
from twinstudy.instruments.schema import Instrument, Item
from twinstudy.scoring.judge_pass import follow_judge
from twinstudy.scoring.trial_scoring import Reply, score_turn
from twinstudy.store import ScoreRow, Store
from twinstudy.study.spec import load_study
from twinstudy.vocab import FINAL_OUTCOMES


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
    for source in store.run_sources():
        if not Path(source).is_file():
            continue
        try:
            rs = load_study(source, allow_retired=True)
        except UserError:
            continue
        for inst in rs.instruments:
            found.setdefault(inst.id, inst)
    return found


def rescore(store: Store) -> RescoreResult:
    """Rescore every trial that has reply text; outcomes follow the new scores, blocks stay blocked.

    Scores and outcomes are written in one transaction, so they never disagree after a crash."""
    result = RescoreResult()
    from twinstudy.store.importer import imported_keys

    # What the runs kept in the database is exactly what was asked; a study file found on disk is
    # the fallback for databases written before runs kept their instruments.
    study_instruments = {**_study_instruments(store), **store.stored_instruments()}
    keep_outcome = imported_keys(store)  # an imported label decides its trial's outcome
    loaded: set[str] = set()
    items: dict[tuple[str, str], Item] = {}
    score_rows: list[ScoreRow] = []
    outcome_updates: list[tuple[str, str]] = []
    for t in store.stored_replies():
        if t.outcome in ("blocked", "error") or t.answer_text is None:
            continue
        if t.instrument not in loaded:
            loaded.add(t.instrument)
            source = study_instruments.get(t.instrument) or _bundled(t.instrument)
            for it in source.items if source else ():
                items[(t.instrument, it.id)] = it
        item = items.get((t.instrument, t.item))
        if item is None:
            result.skipped += 1
            result.missing.add(t.instrument)
            continue
        # A distribution read from logits is carried over rather than recomputed (see stored_replies).
        reply = Reply(t.answer_text, t.finish_reason, False, t.distribution, t.distribution_mass)
        new_outcome, rows = score_turn(t.key, item, t.lang, t.option_order, t.correct_letter, reply)
        score_rows.extend(rows)
        if t.followup_text is not None:
            _o, rows2 = score_turn(t.key, item, t.lang, t.option_order, t.correct_letter,
                                   Reply(t.followup_text, None), turn=1)
            score_rows.extend(rows2)
        if new_outcome != t.outcome and new_outcome in FINAL_OUTCOMES and t.key not in keep_outcome:
            outcome_updates.append((t.key, new_outcome))
        result.rescored += 1
    store.apply_rescore(score_rows, outcome_updates)
    judge = store.primary_judge()
    if judge is not None:
        # Stored judge verdicts outrank the recomputed scorers (see scoring.precedence).
        follow_judge(store, judge)
    return result
