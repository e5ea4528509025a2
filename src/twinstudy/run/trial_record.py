"""What the runner stores for a finished trial: its record (the ``trials`` row), what its first
request sent, the parameters self-healing changed, and the answer distribution read from logprobs.

Kept apart from :mod:`twinstudy.run.runner`, which schedules and sends; this only describes."""

from __future__ import annotations

import json
import time
from typing import Any

from twinstudy.models.base import Completion, Message
from twinstudy.scoring.logprobs import label_distribution
from twinstudy.store import AttemptRow, TrialRecord
from twinstudy.study.design import Trial


def sent_params(comp: Completion | None) -> str | None:
    """What the first turn's request set besides the conversation: model, token limit, sampling,
    thinking and effort as actually sent (after omissions and self-healing)."""
    if comp is None or not comp.request:
        return None
    sent = {k: v for k, v in comp.request.items() if k != "messages"}
    return json.dumps(sent, ensure_ascii=False, sort_keys=True)


def adjusted_params_of(comps: list[Completion]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in comps:
        out.extend(a for a in c.adjusted_params if a not in out)
    return out


def distribution(comp: Completion, item_type: str) -> tuple[dict[str, float] | None, float | None]:
    """Answer distribution and label mass, read from logits (embedded model) or from returned
    top logprobs (HTTP); the same renormalised reading either way."""
    if comp.option_probs:
        return comp.option_probs, comp.option_mass
    reading = label_distribution(comp.top_logprobs, item_type) if comp.top_logprobs else None
    return (reading[0], reading[1]) if reading else (None, None)


def trial_record(study: str, t: Trial, outcome: str, comp: Completion | None, follow: Completion | None,
                  messages: list[Message], attempts: list[AttemptRow], cost: float | None) -> TrialRecord:
    comps = [c for c in (comp, follow) if c is not None]
    return TrialRecord(
        key=t.key, study=study, model=t.model.id, instrument=t.instrument, item=t.item.id,
        theme=t.item.theme, item_type=t.item.type, reverse=int(t.item.reverse), lang=t.lang,
        framing=t.framing.id, paraphrase=t.paraphrase, sample=t.sample, seed=t.seed,
        params_json=t.params.model_dump_json(),
        option_order=json.dumps(list(t.option_order)) if t.option_order else None,
        correct_letter=t.correct_letter,
        messages_json=json.dumps([[m.role, m.content] for m in messages], ensure_ascii=False),
        outcome=outcome,
        answer_text=comp.text if comp else None,
        reasoning=comp.reasoning if comp else None,
        followup_text=follow.text if follow else None,
        provider_code=comp.block.provider_code if comp and comp.block else (comp.provider_code if comp else None),
        omitted_params=json.dumps(comp.omitted_params) if comp and comp.omitted_params else None,
        n_attempts=len(attempts),
        tokens_in=sum(c.tokens_in or 0 for c in comps) if comps else None,
        tokens_out=sum(c.tokens_out or 0 for c in comps) if comps else None,
        cost=cost,
        finished_at=time.time(),
        sent_params=sent_params(comp),
        adjusted_params=json.dumps(adjusted, ensure_ascii=False) if (adjusted := adjusted_params_of(comps)) else None,
    )


