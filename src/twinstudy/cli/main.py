"""Command line: thin wrappers that parse flags, call the library and print.

Every user error is one sentence on stderr and exit code 2; never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import click

from twinstudy import __version__
from twinstudy.cli._errors import FriendlyGroup
from twinstudy.errors import UserError


@click.group(cls=FriendlyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="twinstudy")
def main() -> None:
    """Twin studies on language models.

    Ask the same questions of several models (Chinese and American, hosted or local), in English
    and Chinese, under controlled user framings; keep every transcript; and separate what comes
    from the model from what comes from the person asking, with error bars.

    \b
    Start here:
      twinstudy run                 the bundled quickstart on the embedded model (offline)
      twinstudy plan STUDY.yaml     trial count and cost estimate, nothing sent
      twinstudy run STUDY.yaml      run a study (re-run the same command to resume)
      twinstudy report --db PATH    write the HTML report
      twinstudy models              known models and whether their API keys are set
      twinstudy instruments         the bundled question banks
      twinstudy framings            the user framings a study can name
      twinstudy reference           every field of a study file (also docs/study-format.md)
    """


@main.command()
@click.argument("study", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              help="Results database (default: twinstudy-runs/<study name>/results.db).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the HTML report (default: next to the database).")
@click.option("--no-report", is_flag=True, help="Skip writing the report at the end.")
@click.option("--max-requests", type=click.IntRange(min=1), help="Stop cleanly after this many requests.")
@click.option("--max-cost", type=click.FloatRange(min=0), help="Stop cleanly before spending more than this (USD).")
@click.option("--skip-unavailable", is_flag=True, help="Run the other models when one has no API key.")
@click.option("--request-timeout", type=click.FloatRange(min=1, max=3600), metavar="SECONDS",
              help="Give up on a request after this long and retry it (default 300; a model's "
                   "`timeout` in the study wins).")
@click.option("-q", "--quiet", is_flag=True, help="No live progress display (also off when not on a terminal).")
@click.option("--batch", is_flag=True, help="Send trials through the providers' batch APIs (about half price, "
              "results within a day) where the provider has one; the others run live. Re-run to resume.")
@click.option("--batch-fallback", type=click.Choice(["batch", "live"]), default="batch", show_default=True,
              help="Where lines a batch returned no reply for go next: a new batch, or live requests.")
@click.option("--batch-poll", type=click.FloatRange(min=0), metavar="SECONDS",
              help="First wait between polls of an open batch (default 30; grows to 10 minutes).")
@click.option("--batch-size", type=click.IntRange(min=1), metavar="LINES",
              help="At most this many trials per batch (default: the provider's limit).")
def run(study: Path | None, db: Path | None, report_path: Path | None, no_report: bool,
        max_requests: int | None, max_cost: float | None, skip_unavailable: bool,
        request_timeout: float | None, quiet: bool, batch: bool, batch_fallback: str,
        batch_poll: float | None, batch_size: int | None) -> None:
    """Run STUDY.yaml (default: the bundled quickstart); re-running resumes where it stopped."""
    from twinstudy.cli.commands import run_study

    run_study(study, db=db, report_path=report_path, write_report=not no_report, max_requests=max_requests,
              max_cost=max_cost, skip_unavailable=skip_unavailable, quiet=quiet,
              request_timeout=request_timeout, batch=batch, batch_fallback=batch_fallback, batch_poll=batch_poll,
              batch_size=batch_size)


@main.command()
@click.argument("study", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--batch", is_flag=True, help="Also show the cost with `run --batch` (batch prices).")
def plan(study: Path, batch: bool) -> None:
    """Show trial counts per model and estimated tokens and cost; nothing is sent."""
    from twinstudy.cli.commands import plan_study

    plan_study(study, batch=batch)


@main.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Results database.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="HTML file to write (default: report.html next to the database).")
@click.option("--twins", multiple=True, metavar="A:B", help="Model pairs for the paired-differences section.")
def report(db: Path, output: Path | None, twins: tuple[str, ...]) -> None:
    """Write the self-contained HTML report (figures also as PNG and SVG in figures/)."""
    from twinstudy.cli.commands import parse_twins, write_report

    path = write_report(db, output, twins=parse_twins(twins))
    click.echo(f"report written to {path}")


@main.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Results database.")
def summary(db: Path) -> None:
    """Print the terminal summary of a results database."""
    from twinstudy.cli.commands import print_summary

    print_summary(db)


@main.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Results database.")
@click.option("--json", "as_json", is_flag=True, help="Print every estimate as JSON (see analysis/schema.json).")
@click.option("--boot", type=click.IntRange(min=100),
              help="Bootstrap draws (default: the policy report and summary use, 1000, or 400 above 20,000 trials).")
@click.option("--twins", multiple=True, metavar="A:B",
              help="Model pairs to compare (repeatable), e.g. --twins zai/glm-4.6:anthropic/claude-sonnet-4-5; "
                   "default: every pair.")
@click.option("--design", metavar="FINGERPRINT",
              help="Which design of the study to analyse when its file changed between runs: current "
                   "(default), previous, all (pooled), or a fingerprint the run printed.")
def analyze(db: Path, as_json: bool, boot: int | None, twins: tuple[str, ...], design: str | None) -> None:
    """Compute profiles, paired differences, sycophancy, language gaps, variance shares, rates."""
    from twinstudy.cli.commands import analyze_db, parse_twins

    analyze_db(db, as_json=as_json, n_boot=boot, twins=parse_twins(twins), design=design)


@main.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Results database.")
@click.option("--judge", metavar="MODEL", help="Also judge open replies with this model (a registry id, a model "
              "of the study, or 'study' for the study file's judge section). Only the judge is called.")
@click.option("--judge-prompt", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Judge prompt file with {request} and {reply} (default: twinstudy's published prompt).")
@click.option("--redo-judge", is_flag=True, help="Ask the judge again where it already gave a verdict.")
def rescore(db: Path, judge: str | None, judge_prompt: Path | None, redo_judge: bool) -> None:
    """Recompute every score from stored text with the current scorers; no study model is called."""
    from twinstudy.cli.commands import rescore_db

    if judge_prompt is not None and judge is None:
        raise UserError("--judge-prompt needs --judge MODEL (which model should read the prompt?).")
    rescore_db(db, judge=judge, judge_prompt=judge_prompt, redo_judge=redo_judge)


def _register() -> None:
    from twinstudy.cli.batches import batches_command
    from twinstudy.cli.chat import chat_group, replay_command
    from twinstudy.cli.instruments import framings_command, instruments_command, reference_command
    from twinstudy.cli.models import models_command

    for name, cmd in (("models", models_command), ("instruments", instruments_command), ("chat", chat_group),
                      ("replay", replay_command), ("framings", framings_command),
                      ("reference", reference_command)):
        main.add_command(cmd, name)
    from twinstudy.cli.export import export_command
    from twinstudy.cli.importx import import_group

    main.add_command(import_group, "import")
    main.add_command(batches_command, "batches")
    main.add_command(export_command, "export")
    from twinstudy.cli.coding import code_agreement_command, code_command, codebooks_command

    for name, cmd in (("code", code_command), ("code-agreement", code_agreement_command),
                      ("codebooks", codebooks_command)):
        main.add_command(cmd, name)


_register()
