"""What each command does, as plain functions the CLI and tests can both call."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from twinstudy.errors import UserError
from twinstudy.run.runner import Runner, RunOptions, RunResult, check_models_ready
from twinstudy.study.spec import load_study, quickstart_path
from twinstudy.store import Store

if TYPE_CHECKING:
    from twinstudy.report.context import Analysis
    from twinstudy.scoring.judge_pass import JudgeResult
    from twinstudy.scoring.rescore import RescoreResult
    from twinstudy.study.spec import ResolvedJudge


def default_db(study_name: str) -> Path:
    return Path("twinstudy-runs") / study_name / "results.db"


def _console() -> Console:
    return Console(stderr=False, highlight=False)


def run_study(study: Path | None, *, db: Path | None = None, report_path: Path | None = None,
              write_report: bool = True, max_requests: int | None = None, max_cost: float | None = None,
              skip_unavailable: bool = False, quiet: bool = False) -> RunResult:
    from twinstudy.models.factory import create_model

    rs = load_study(study or quickstart_path())
    models, unavailable = check_models_ready(rs.models, skip_unavailable, create_model)
    if unavailable:
        for mid, why in unavailable.items():
            print(f"skipping {mid}: {why}", file=sys.stderr)
        rs = dataclasses.replace(rs, models=[m for m in rs.models if m.id in models])
        if not rs.models:
            raise UserError("no model in the study is available; set the API keys named above.")
    if max_cost is not None:
        from twinstudy.run.budget import Budget

        unpriced = Budget(max_cost=max_cost).check_priced(rs.models)
        if unpriced:
            raise UserError(f"--max-cost cannot limit {', '.join(unpriced)}: no price is known for "
                            f"{'it' if len(unpriced) == 1 else 'them'}; add `price: {{input: .., output: ..}}` "
                            "(USD per million tokens) to the model in the study, or run without --max-cost.")
    if rs.judge is not None:
        from twinstudy.models.registry import missing_key

        env = missing_key(rs.judge.info)
        if env:
            raise UserError(f"the study's judge {rs.judge.info.id} needs an API key: set {env}, or remove the "
                            "`judge:` section and judge later with `twinstudy rescore --judge MODEL`.")
    db_path = db or default_db(rs.study.name)
    store = Store(db_path)
    opts = RunOptions(max_requests=max_requests, max_cost=max_cost, quiet=quiet,
                      skip_unavailable=skip_unavailable)
    runner = Runner(rs, store, models, opts)
    try:
        result = asyncio.run(runner.run())
    except KeyboardInterrupt:
        store.close()
        print("\ninterrupted: every finished trial is saved; run the same command again to resume.",
              file=sys.stderr)
        raise SystemExit(130) from None
    con = _console()
    con.print(f"[bold]{rs.study.name}[/]: {result.planned} trials planned, {result.skipped} already done, "
              f"{result.done} run now with {result.requests} requests in {result.wall_s:.1f} s"
              + (f", costing about ${result.cost:.4f}." if result.cost else "."))
    if result.stop_reason:
        con.print(f"[yellow]stopped early: {result.stop_reason}. Re-run the same command to continue.[/]")
    for mid, why in result.stopped_models.items():
        con.print(f"[red]{mid} stopped: {why}[/]")
    con.print(f"results: {db_path}")
    if rs.judge is not None:
        jr = run_judge(store, rs.judge)
        con.print(judge_summary(rs.judge.info.id, jr))
    from twinstudy.report.context import study_analysis
    from twinstudy.report.summary import render_summary

    # One analysis serves the terminal summary and the report, so their numbers agree.
    frame = store.scored_frame()
    analysis = study_analysis(frame) if not frame.empty else None
    render_summary(store, con, analysis[0] if analysis else None)
    if write_report:
        path = write_report_for(store, report_path or db_path.parent / "report.html", analysis=analysis)
        con.print(f"report: {path}")
    store.close()
    return result


def plan_study(study: Path) -> None:
    from twinstudy.report.summary import render_plan

    render_plan(load_study(study), _console())


def _open(db: Path) -> Store:
    return Store(db, create=False)


def write_report_for(store: Store, output: Path, twins: list[tuple[str, str]] | None = None,
                     analysis: Analysis | None = None) -> Path:
    from twinstudy.report.html import build_report

    return build_report(store, output, twins=twins, analysis=analysis)


def write_report(db: Path, output: Path | None, twins: list[tuple[str, str]] | None = None) -> Path:
    store = _open(db)
    try:
        return write_report_for(store, output or db.parent / "report.html", twins)
    finally:
        store.close()


def print_summary(db: Path) -> None:
    from twinstudy.report.summary import render_summary

    store = _open(db)
    try:
        render_summary(store, _console())
    finally:
        store.close()


def analyze_db(db: Path, as_json: bool, n_boot: int, twins: list[tuple[str, str]] | None = None) -> None:
    from twinstudy.analysis import analyze, to_json

    store = _open(db)
    try:
        frame = store.scored_frame()
    finally:
        store.close()
    known = set(frame["model"])
    for pair in twins or []:
        for m in pair:
            if m not in known:
                raise UserError(f"--twins names '{m}', which is not in {db}; models there: "
                                f"{', '.join(sorted(known))}.")
    results = analyze(frame, twins=twins, n_boot=n_boot)
    if as_json:
        print(json.dumps(to_json(results), ensure_ascii=False, indent=2))
        return
    con = _console()
    for name, df in results.items():
        con.rule(name)
        con.print(df.to_string(max_rows=60))


def rescore_db(db: Path, *, judge: str | None = None, judge_prompt: Path | None = None,
               redo_judge: bool = False) -> tuple[RescoreResult, JudgeResult | None, str | None]:
    """Rescore with the registry's scorers; with ``judge``, also run that LLM judge over open replies.

    ``judge`` is a registry model id, the id of a model in the stored study file, or ``study`` for
    the stored study file's own ``judge:`` section. Returns (rescore result, judge result, judge id).
    """
    from twinstudy.scoring.rescore import rescore

    store = _open(db)
    try:
        result = rescore(store)
        if judge is None:
            return result, None, None
        rj = _judge_for_rescore(store, judge, judge_prompt)
        return result, run_judge(store, rj, redo=redo_judge), rj.info.id
    finally:
        store.close()


def _judge_for_rescore(store: Store, ref: str, prompt_path: Path | None) -> ResolvedJudge:
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
