"""Turn a checked :class:`ImportBatch` into the store's trial, attempt and score rows.

An imported reply becomes a trial whose conversation is the prompt (one user turn), one attempt
holding the source's raw response, and a score: the source judge's label under the judge's name
(version ``imported:<kind>``), or, when the source has no label, twinstudy's own open-item rules
(the same scorer ``twinstudy rescore`` runs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from twinstudy.imports.records import ImportBatch, trial_key
from twinstudy.scoring.trial_scoring import Reply, score_reply
from twinstudy.store import AttemptRow, ScoreRow


@dataclass
class Converted:
    trials: list[dict[str, Any]]
    attempts: list[AttemptRow]
    scores: list[ScoreRow]


def convert(batch: ImportBatch, now: float) -> Converted:
    items = {it.id: it for it in batch.instrument.items}
    inst = batch.instrument.id
    trials: list[dict[str, Any]] = []
    attempts: list[AttemptRow] = []
    scores: list[ScoreRow] = []
    for r in batch.rows:
        key = trial_key(batch.kind, r, inst)
        outcome = r.outcome
        if outcome is None:  # no source label: twinstudy's own rules decide, as they would in a run
            outcome, own = score_reply(key, items[r.item], r.lang, None, None,
                                       Reply(r.reply or "", r.finish_reason, False))
            if own is not None:
                scores.append(own)
        elif r.status is not None:
            scores.append(ScoreRow(trial_key=key, scorer=r.judge or "source-judge", version=batch.judge_version,
                                   status=r.status, value=r.source_label, detail=r.judge_detail))
        messages = [{"role": "user", "content": r.prompt}]
        trials.append({
            "key": key, "study": batch.study, "model": r.model, "instrument": inst, "item": r.item,
            "theme": r.theme, "item_type": "open", "reverse": 0, "lang": r.lang, "framing": r.framing,
            "paraphrase": 0, "sample": r.sample, "seed": 0,
            "params_json": json.dumps({"imported": batch.kind, "source_file": r.file, "source_line": r.line},
                                      ensure_ascii=False),
            "option_order": None, "correct_letter": None,
            "messages_json": json.dumps(messages, ensure_ascii=False), "outcome": outcome,
            "answer_text": r.reply, "reasoning": r.reasoning, "followup_text": None,
            "provider_code": r.source_label if r.status is None and r.source_label else None,
            "omitted_params": None, "n_attempts": 1, "tokens_in": r.tokens_in, "tokens_out": r.tokens_out,
            "cost": None, "finished_at": r.created if r.created is not None else now,
        })
        attempts.append(AttemptRow(
            trial_key=key, turn=0, attempt=1, started_at=r.created if r.created is not None else now,
            request={"messages": messages, "imported_from": r.file, "line": r.line},
            provider_code=r.provider, finish_reason=r.finish_reason, raw=r.raw, text=r.reply,
            reasoning=r.reasoning, tokens_in=r.tokens_in, tokens_out=r.tokens_out, blocked=r.blocked,
            error=r.source_label if r.status is None and r.source_label and r.outcome == "error" else None))
    return Converted(trials, attempts, scores)
