"""Recompute scores from stored replies with the current scorers; no model is called."""

from __future__ import annotations

import json

from twinstudy.instruments.loader import load_instrument
from twinstudy.instruments.schema import Item
from twinstudy.scoring.trial_scoring import Reply, score_reply
from twinstudy.store import FINAL_OUTCOMES, ScoreRow, Store


def rescore(store: Store) -> int:
    """Rescore every trial that has reply text; outcomes follow the new scores, blocks stay blocked."""
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
    n = 0
    for key, inst, item_id, lang, order_json, correct, outcome, text, follow, finish, dist_row in rows:
        if outcome in ("blocked", "error") or text is None:
            continue
        ik = (inst, item_id)
        if ik not in items:
            try:
                found = {it.id: it for it in load_instrument(inst).items}
            except Exception:  # an instrument no longer available: leave its trials as they are
                found = {}
            for iid, it in found.items():
                items[(inst, iid)] = it
        item = items.get(ik)
        if item is None:
            continue
        order = json.loads(order_json) if order_json else None
        dist, mass = _stored_distribution(dist_row)
        new_outcome, row = score_reply(key, item, lang, order, correct, Reply(text, finish, False, dist, mass))
        if row:
            score_rows.append(row)
        if follow is not None:
            _o, row2 = score_reply(key, item, lang, order, correct, Reply(follow, None), turn=1)
            if row2:
                score_rows.append(row2)
        if new_outcome != outcome and new_outcome in FINAL_OUTCOMES:
            outcome_updates.append((key, new_outcome))
        n += 1
    store.put_scores(score_rows)
    if outcome_updates:
        store.set_outcomes(outcome_updates)
    return n


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
