"""The LLM judge from the command line: which judge a rescore means, running it over a results
database, and the one line that reports it. Only the judge model is called."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from twinstudy.errors import UserError
from twinstudy.store import Store
from twinstudy.study.spec import load_study

if TYPE_CHECKING:
    from twinstudy.scoring.judge_pass import JudgeResult
    from twinstudy.study.spec import ResolvedJudge


def judge_for_rescore(store: Store, ref: str, prompt_path: Path | None) -> ResolvedJudge:
    from twinstudy.models.registry import resolve
    from twinstudy.scoring.judge import JUDGE_PROMPT, check_prompt
    from twinstudy.study.spec import ResolvedJudge

    stored = store.latest_spec()
    rs = None
    if stored and Path(stored[1]).is_file():
        try:
            rs = load_study(stored[1])
        except UserError:
            rs = None
    if ref == "study":
        if rs is None or rs.judge is None:
            where = stored[1] if stored else "the database"
            raise UserError(f"--judge study: the study file recorded in the database ({where}) has no "
                            "`judge:` section or cannot be read; name a judge model instead: --judge MODEL_ID.")
        rj = rs.judge
    else:
        own = {m.id: m for m in rs.models} if rs else {}
        info = own[ref] if ref in own else resolve(ref)
        rj = ResolvedJudge(info, JUDGE_PROMPT, "default")
    if prompt_path is not None:
        try:
            text = prompt_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read the judge prompt {prompt_path} ({exc.strerror}).") from None
        why = check_prompt(text)
        if why:
            raise UserError(f"{prompt_path}: {why}.")
        rj = ResolvedJudge(rj.info, text, str(prompt_path), rj.max_tokens, rj.concurrency)
    return rj


def run_judge(store: Store, judge: ResolvedJudge, *, redo: bool = False) -> JudgeResult:
    """Create the judge model, judge every open reply not yet judged, close the model."""
    from twinstudy.models.factory import create_model
    from twinstudy.scoring.judge_pass import judge_store

    model = create_model(judge.info)

    async def go() -> JudgeResult:
        try:
            return await judge_store(store, model, judge.info.id, prompt=judge.prompt,
                                     prompt_name=judge.prompt_name, max_tokens=judge.max_tokens,
                                     concurrency=judge.concurrency, redo=redo)
        finally:
            await model.aclose()

    return asyncio.run(go())


def judge_summary(judge_id: str, r: JudgeResult) -> str:
    """One line for the terminal; failures say what to do next."""
    line = (f"judge {judge_id}: {r.judged} verdicts, {r.unparseable} unreadable, {r.kept} already judged, "
            f"{r.outcomes_changed} outcomes changed")
    if r.failed:
        line += (f"; {r.failed} calls failed ({r.first_error}); run `twinstudy rescore --judge {judge_id}` "
                 "later to judge them")
    return line
