"""What each command does, as plain functions the CLI and tests can both call."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from twinstudy.errors import UserError
from twinstudy.run.runner import RunOptions, RunResult
from twinstudy.run.start import ready_models, run_to_end
from twinstudy.store import Store
from twinstudy.study.spec import ResolvedStudy, load_study, quickstart_path, study_warnings

if TYPE_CHECKING:
    from twinstudy.analysis import Results
    from twinstudy.scoring.rescore import RescoreResult


#: Exit codes of `twinstudy run` besides 0 (done), 2 (bad input) and 130 (interrupted).
EXIT_ALL_FAILED = 1  # every trial of some model ended in an error
EXIT_BUDGET = 3  # --max-requests or --max-cost stopped the run cleanly; re-run to continue


def default_db(study_name: str) -> Path:
    return Path("twinstudy-runs") / study_name / "results.db"


def _console() -> Console:
    return Console(stderr=False, highlight=False)


def run_study(study: Path | None, *, db: Path | None = None, report_path: Path | None = None,
              write_report: bool = True, max_requests: int | None = None, max_cost: float | None = None,
              skip_unavailable: bool = False, quiet: bool = False,
              request_timeout: float | None = None, batch: bool = False, batch_fallback: str = "batch",
              batch_poll: float | None = None, batch_size: int | None = None) -> RunResult:
    """``batch``: send every model whose provider has a batch API in batches (models marked
    ``batch: true`` in the study always are); see :mod:`twinstudy.batch.orchestrate`."""

    from twinstudy.models.factory import create_model

    rs = design = load_study(study or quickstart_path())
    _warn(rs)
    rs, models, unavailable = ready_models(rs, skip_unavailable=skip_unavailable, max_cost=max_cost,
                                           factory=functools.partial(create_model, timeout=request_timeout))
    for mid, why in unavailable.items():
        print(f"skipping {mid}: {why}", file=sys.stderr)
    if rs.judge is not None:
        from twinstudy.models.registry import missing_key

        env = missing_key(rs.judge.info)
        if env:
            raise UserError(f"the study's judge {rs.judge.info.id} needs an API key: set {env}, or remove the "
                            "`judge:` section and judge later with `twinstudy rescore --judge MODEL`.")
    if rs.coding is not None:
        from twinstudy.cli.coding import check_coder_keys

        check_coder_keys(rs.coding)
    from twinstudy.run.preflight import preflight

    unreachable = preflight(rs.models)
    if unreachable and not skip_unavailable:
        raise UserError("; ".join(unreachable.values()) + ". Fix it (or pass --skip-unavailable to run the others); "
                        "nothing was created.")
    for why in unreachable.values():
        print(f"skipping {why}", file=sys.stderr)
    if unreachable:
        rs = dataclasses.replace(rs, models=[m for m in rs.models if m.id not in unreachable])
        models = {k: v for k, v in models.items() if k not in unreachable}
        if not rs.models:
            raise UserError("no model in the study can be reached; nothing was created.")
    db_path = db or default_db(rs.study.name)
    store = Store(db_path)
    opts = RunOptions(max_requests=max_requests, max_cost=max_cost, quiet=quiet,
                      skip_unavailable=skip_unavailable)
    if request_timeout is not None:
        opts.request_timeout = request_timeout
    from twinstudy.batch.start import batch_runner

    runner = batch_runner(rs, store, models, opts, design, every=batch, fallback=batch_fallback, poll=batch_poll,
                          max_lines=batch_size)
    try:
        result = run_to_end(rs, store, models, opts, design=design, runner=runner)
    except KeyboardInterrupt:
        store.close()
        print("\ninterrupted: every finished trial is saved; run the same command again to resume.",
              file=sys.stderr)
        raise SystemExit(130) from None
    con = _console()
    con.print(f"[bold]{rs.study.name}[/]: {result.planned} trials planned, {result.skipped} already done, "
              f"{result.done} run now with {result.requests} requests in {result.wall_s:.1f} s"
              + (f", costing about ${result.cost:.4f}" if result.cost else "")
              + (f" (cost unknown for {', '.join(result.unpriced)}: no price known)." if result.unpriced else "."))
    if result.stop_reason:
        con.print(f"[yellow]stopped early: {result.stop_reason}. Re-run the same command to continue.[/]")
    for mid, why in result.stopped_models.items():
        con.print(f"[red]{mid} stopped: {why}[/]")
    for mid, why in result.first_errors.items():
        if mid not in result.stopped_models:
            con.print(f"[red]{mid}: first error: {why}[/]")
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
    if runner is not None:
        from twinstudy.batch.orchestrate import BatchRunner

        if isinstance(runner, BatchRunner):
            con.print(f"batches: {runner.batches_submitted} submitted and {runner.batches_collected} collected now; "
                      f"`twinstudy batches --db {db_path}` lists any still open.")
    con.print(f"results: {db_path}")
    if rs.judge is not None:
        from twinstudy.cli.judging import judge_summary, run_judge

        con.print(judge_summary(rs.judge.info.id, run_judge(store, rs.judge)))
    if rs.coding is not None:
        from twinstudy.cli.coding import run_study_coding

        for line in run_study_coding(store, rs.coding, quiet=quiet):
            con.print(escape(line))
    from twinstudy.report.roles import analyze_store
    from twinstudy.report.summary import render_summary

    # One analysis serves the terminal summary and the report, so their numbers agree.
    results = analyze_store(store) if store.counts() else None
    render_summary(store, con, results)
    if write_report:
        path = write_report_for(store, report_path or db_path.parent / "report.html", results=results)
        con.print(f"report: {path}")
    store.close()
    failed = result.all_failed()
    if failed:
        print(f"every trial of {', '.join(failed)} failed; fix the endpoint or key shown above and run the "
              "same command again (finished trials are kept).", file=sys.stderr)
        raise SystemExit(EXIT_ALL_FAILED)
    if result.stop_reason:
        raise SystemExit(EXIT_BUDGET)
    return result


def plan_study(study: Path, batch: bool = False) -> None:
    from twinstudy.report.summary import render_plan

    rs = load_study(study)
    _warn(rs)
    render_plan(rs, _console(), batch=batch or any(m.batch for m in rs.models))


def _warn(rs: ResolvedStudy) -> None:
    for line in study_warnings(rs):
        print(f"warning: {line}", file=sys.stderr)


def _open(db: Path) -> Store:
    return Store(db, create=False)


def write_report_for(store: Store, output: Path, twins: list[tuple[str, str]] | None = None,
                     results: Results | None = None) -> Path:
    from twinstudy.report.build import build_report

    return build_report(store, output, twins=twins, results=results)


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


def analyze_db(db: Path, as_json: bool, n_boot: int | None = None,
               twins: list[tuple[str, str]] | None = None, design: str | None = None) -> None:
    """Print every table; ``n_boot`` None applies the same draw policy as ``report`` and ``summary``.
    ``design``: which design of the study when its file changed between runs (default: current)."""
    from twinstudy.analysis import to_json
    from twinstudy.report.roles import analyze_store, study_frame
    from twinstudy.store.designs import describe_designs
    from twinstudy.store.reads import chat_only_note

    store = _open(db)
    try:
        frame, _roles = study_frame(store, design)  # read once: checked here, analysed below
        known = set(frame["model"])
        for pair in twins or []:
            for m in pair:
                if m not in known:
                    raise UserError(f"--twins names '{m}', which is not in {db}; models there: "
                                    f"{', '.join(sorted(known))}.")
        notes = [n for n in (describe_designs(store.conn, design), chat_only_note(store)) if n]
        results = analyze_store(store, twins=twins, n_boot=n_boot, design=design, frame=frame)
    finally:
        store.close()
    for note in notes:
        print(note, file=sys.stderr)
    if as_json:
        print(json.dumps(to_json(results), ensure_ascii=False, indent=2))
        return
    from twinstudy.analysis.order import SIGNS

    con = _console()
    s = results.settings
    con.print(f"{s.n_rows:,} trials, {s.n_boot} bootstrap draws, seed {s.seed}, data fingerprint {s.fingerprint}")
    for name, df in results.items():
        con.rule(name)
        if name in SIGNS:
            con.print(f"sign: {SIGNS[name]}")
        con.print(_readable(df, _SHOWN.get(name)) if not df.empty else "no rows: this study has nothing for this table.")
    con.print("Every column of every table: `twinstudy analyze --json` (schema: twinstudy/analysis/schema.json).")
    for line in results.error_lines():
        con.print(f"[yellow]not computed: {line}[/]")


_ROWS_SHOWN = 40
_SKIP = {"estimate", "ci_low", "ci_high", "n", "p_value", "p_adj", "ci_kind", "note", "estimand", "detail",
         "message", "option_text"}


#: Naming columns shown for tables whose first four text columns do not name a row.
_SHOWN: dict[str, list[str]] = {
    "category_shares": ["codebook", "model", "lang", "framing", "category"],
    "category_contrasts": ["codebook", "contrast", "model", "lang", "framing", "category"],
}


def _readable(df: Any, shown: list[str] | None = None) -> Any:
    """One analysis table as a terminal table: its naming columns, the estimate with its interval,
    n and the (adjusted) p, at most ``_ROWS_SHOWN`` rows (``--json`` has everything)."""

    from rich.markup import escape
    from rich.table import Table

    from twinstudy.report.numbers import ci, fmt

    names = shown or [c for c in df.columns if c not in _SKIP and df[c].dtype == object][:4]
    if "verdict" in df.columns:  # the category headline: three intervals per row
        return _headline_table(df)
    has_est = "estimate" in df.columns
    p_col = "p_adj" if "p_adj" in df.columns else ("p_value" if "p_value" in df.columns else None)
    cols = names + (["estimate [interval]"] if has_est else []) + (["n"] if "n" in df.columns else []) \
        + ([p_col] if p_col else [])
    if not has_est:  # a table without estimates: its first columns as they are
        cols = [str(c) for c in df.columns[:6]]
    t = Table(show_lines=False)
    for c in cols:
        t.add_column(c, overflow="fold", justify="left" if c in names or not has_est else "right")

    for row in df.head(_ROWS_SHOWN).to_dict("records"):
        if not has_est:
            t.add_row(*(escape(str(row[c])) for c in cols))
            continue
        extra = ([str(row["n"])] if "n" in df.columns else []) + ([fmt(row[p_col], ".3g")] if p_col else [])
        t.add_row(*(escape(str(row[c])) for c in names), ci(row), *extra)
    if len(df) > _ROWS_SHOWN:
        t.caption = f"{len(df) - _ROWS_SHOWN} more rows: see --json"
    return t


def _headline_table(df: Any) -> Any:
    from rich.markup import escape
    from rich.table import Table

    from twinstudy.report.numbers import ci

    t = Table(show_lines=False)
    for c in ("codebook", "category", "origin CN − US", "user culture cn − us", "|origin| − |culture|", "n",
              "verdict"):
        t.add_column(c, overflow="fold")
    for row in df.head(_ROWS_SHOWN).to_dict("records"):
        cells = [ci({"estimate": row[f"{p}"], "ci_low": row[f"{q}_low"], "ci_high": row[f"{q}_high"]})
                 for p, q in (("origin_effect", "origin"), ("culture_effect", "culture"),
                              ("difference", "difference"))]
        t.add_row(escape(str(row["codebook"])), escape(str(row["category"])), *cells, str(row["n"]),
                  escape(str(row["verdict"])))
    if len(df) > _ROWS_SHOWN:
        t.caption = f"{len(df) - _ROWS_SHOWN} more rows: see --json"
    return t


def rescore_db(db: Path, *, judge: str | None = None, judge_prompt: Path | None = None,
               redo_judge: bool = False) -> RescoreResult:
    """Rescore with the registry's scorers and print what was done (on stderr which trials were left
    as they were and why); with ``judge``, also run that LLM judge over open replies: a registry
    model id, the id of a model in the stored study file, or ``study`` for the stored study file's
    own ``judge:`` section. Only the judge is called, never the study's models."""
    from twinstudy.scoring.rescore import rescore

    store = _open(db)
    try:
        result = rescore(store)
        from twinstudy.coding.run import recode_lexicon, summary

        recoded = [summary(r) for r in recode_lexicon(store)]
        judged = None
        if judge is not None:
            from twinstudy.cli.judging import judge_for_rescore, judge_summary, run_judge

            rj = judge_for_rescore(store, judge, judge_prompt)
            judged = judge_summary(rj.info.id, run_judge(store, rj, redo=redo_judge))
    finally:
        store.close()
    print(f"rescored {result.rescored} trials")
    for line in recoded:
        print(f"recoded with the current lexicon: {line}")
    if result.skipped:
        print(f"left {result.skipped} trials as they were: their instruments ({', '.join(sorted(result.missing))}) "
              "are neither bundled nor found through the study file recorded in the database; put the study "
              "file back where it was run from and rescore again.", file=sys.stderr)
    if judged is not None:
        print(judged)
    return result


def parse_twins(twins: tuple[str, ...]) -> list[tuple[str, str]] | None:
    """``--twins A:B`` options as pairs (a model id may itself contain colons)."""
    pairs = []
    for t in twins:
        a, sep, b = t.rpartition(":") if t.count(":") > 1 else t.partition(":")
        if not sep or not a or not b:
            raise UserError(f"--twins takes MODEL_A:MODEL_B, not '{t}'.")
        pairs.append((a, b))
    return pairs or None
