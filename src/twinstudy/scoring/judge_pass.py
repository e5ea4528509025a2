"""Run an LLM judge over the stored replies to open requests, as a scorer.

The judge needs a model call, so it is not in the synchronous scorer registry of
:mod:`twinstudy.scoring.trial_scoring`: it runs as a pass over the database, after a study's run
(when the study file has a ``judge:`` section) or from ``twinstudy rescore --judge MODEL``. The
models that wrote the replies are never asked again.

Each verdict is a score row under the judge's identity: scorer ``judge:<model id>``, version
``<JUDGE_VERSION>+p<first 8 hex of the prompt's SHA-256>``, ``detail`` naming the prompt. A
different judge adds its own rows beside the others; the judge asked last becomes the one whose
verdicts count (recorded in the ``meta`` table as ``judge``; see :mod:`twinstudy.scoring.precedence`).
A reply the judge's answer did not settle is stored as ``unparseable`` and never decides anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from twinstudy.models.base import Model
from twinstudy.run.model_pass import ask_each
from twinstudy.scoring.judge import JUDGE_PROMPT, JUDGE_VERSION, judge_open
from twinstudy.store import ScoreRow, Store
from twinstudy.store.records import first_user_message

JUDGE_PREFIX = "judge:"
OPEN_OUTCOME = {"complete": "answered", "evasive": "evasive", "denial": "refused"}


def judge_scorer(model_id: str) -> str:
    return f"{JUDGE_PREFIX}{model_id}"


def judge_version(prompt: str) -> str:
    """Changes whenever the prompt does, so verdicts from an edited prompt are asked for again."""
    return f"{JUDGE_VERSION}+p{hashlib.sha256(prompt.encode('utf-8')).hexdigest()[:8]}"


@dataclass
class JudgeResult:
    judged: int = 0       # verdicts stored in this pass
    unparseable: int = 0  # judge replies with no readable verdict (stored as `unparseable`)
    failed: int = 0       # calls that failed after the backend's retries (nothing stored; asked again next time)
    kept: int = 0         # already judged by this judge with this prompt, not asked again
    outcomes_changed: int = 0
    first_error: str | None = None


def primary_judge(store: Store) -> str | None:
    """The model id of the judge whose verdicts count, or None when no judge was asked."""
    return store.primary_judge()


async def judge_store(store: Store, model: Model, model_id: str, *, prompt: str = JUDGE_PROMPT,
                      prompt_name: str = "default", max_tokens: int = 400, concurrency: int = 4,
                      redo: bool = False, progress: Callable[[int, int], None] | None = None) -> JudgeResult:
    """Judge every stored open reply (turn 0) not yet judged by ``model_id`` with ``prompt``.

    Trial outcomes then follow this judge's verdicts (a ``truncated`` trial stays truncated).
    ``redo`` asks again even where a verdict from the same judge and prompt is stored.
    """
    name, version = judge_scorer(model_id), judge_version(prompt)
    done = store.judged_keys(name, version)
    todo = []
    result = JudgeResult()
    for key, messages_json, text, _outcome in store.open_replies():
        if key in done and not redo:
            result.kept += 1
            continue
        todo.append((key, first_user_message(messages_json), str(text)))
    def row(key: str, verdict: str | None) -> ScoreRow:
        return ScoreRow(key, name, version, verdict or "unparseable", detail=f"prompt={prompt_name}")

    asked = await ask_each(
        todo, lambda t: judge_open(model, t[1], t[2], max_tokens=max_tokens, prompt=prompt),
        concurrency=concurrency, progress=progress,
        save=lambda chunk: store.put_scores([row(t[0], verdict) for t, verdict in chunk]))
    result.failed, result.first_error = asked.failed, asked.first_error
    result.unparseable = sum(verdict is None for _t, verdict in asked.answers)
    result.judged = len(asked.answers) - result.unparseable
    store.set_primary_judge(model_id)
    result.outcomes_changed = follow_judge(store, model_id)
    return result


def follow_judge(store: Store, model_id: str) -> int:
    """Set each judged open trial's outcome from this judge's verdict; returns how many changed."""
    updates = [(key, OPEN_OUTCOME[status]) for key, status, outcome in store.verdicts_of(judge_scorer(model_id))
               if status in OPEN_OUTCOME and OPEN_OUTCOME[status] != outcome]
    if updates:
        store.set_outcomes(updates)
    return len(updates)
