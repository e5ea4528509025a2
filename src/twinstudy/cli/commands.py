"""What each command does, as plain functions the CLI and tests can both call."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from twinstudy.errors import UserError
from twinstudy.run.runner import Runner, RunOptions, RunResult, check_models_ready
from twinstudy.store import Store
from twinstudy.study.spec import load_study, quickstart_path

if TYPE_CHECKING:
    from twinstudy.report.context import Analysis
    from twinstudy.scoring.rescore import RescoreResult


def default_db(study_name: str) -> Path:
    return Path("twinstudy-runs") / study_name / "results.db"


def _console() -> Console:
    return Console(stderr=False, highlight=False)


def run_study(study: Path | None, *, db: Path | None = None, report_path: Path | None = None,
              write_report: bool = True, max_requests: int | None = None, max_cost: float | None = None,
              skip_unavailable: bool = False, quiet: bool = False) -> RunResult:
    from twinstudy.models.factory import create_model

    rs = design = load_study(study or quickstart_path())
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
    db_path = db or default_db(rs.study.name)
    store = Store(db_path)
    opts = RunOptions(max_requests=max_requests, max_cost=max_cost, quiet=quiet,
                      skip_unavailable=skip_unavailable)
    runner = Runner(rs, store, models, opts, design=design)
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
    if result.previous_design:
        con.print(f"[yellow]the study changed since the last run (design {result.previous_design} → "
                  f"{result.design}): {escape('; '.join(result.design_changes))}. The analysis uses only the trials "
                  f"of the study as now defined; {result.previous_trials} trials of the earlier design stay in "
                  f"the database (analyse them with `twinstudy analyze --db {db_path} --design "
                  f"{result.previous_design}`).[/]")
    elif result.previous_trials:
        con.print(f"[yellow]{result.previous_trials} trials in this database were asked under an earlier "
                  "version of the study file; the analysis uses only the trials of the study as now defined "
                  f"(`twinstudy analyze --db {db_path} --design all` pools everything).[/]")
    con.print(f"results: {db_path}")
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
    from twinstudy.store.designs import describe_designs

    store = _open(db)
    try:
        con = _console()
        note = describe_designs(store.conn, None)
        if note:
            con.print(f"[yellow]{escape(note)}[/]")
        render_summary(store, con)
    finally:
        store.close()


def analyze_db(db: Path, as_json: bool, n_boot: int, twins: list[tuple[str, str]] | None = None,
               design: str | None = None) -> None:
    from twinstudy.analysis import analyze, to_json
    from twinstudy.store.designs import describe_designs

    store = _open(db)
    try:
        frame = store.scored_frame(design=design)
        note = describe_designs(store.conn, design)
    finally:
        store.close()
    if note:
        print(note, file=sys.stderr)
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
    from twinstudy.analysis.order import SIGNS

    con = _console()
    for name, df in results.items():
        con.rule(name)
        if name in SIGNS:
            con.print(f"sign: {SIGNS[name]}")
        con.print(df.to_string(max_rows=60))


def rescore_db(db: Path) -> RescoreResult:
    from twinstudy.scoring.rescore import rescore

    store = _open(db)
    try:
        return rescore(store)
    finally:
        store.close()

