"""twinstudy: twin studies on language models.

Ask the same questions of several models, in English and Chinese, under controlled user framings,
and separate what comes from the model from what comes from the person asking.

The public API is the names in ``__all__`` (see "Python API" in the README); everything else may
change between versions. The functions import their machinery when called, so that importing
twinstudy (and ``twinstudy --help``) stays fast.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinstudy.errors import UserError

# The subpackage twinstudy.run (the engine) shares its name with the function run() below. Python
# sets a package attribute when a subpackage is first imported, which would replace the function;
# importing the (tiny) subpackage now, before the function is defined, means it never does later.
importlib.import_module("twinstudy.run")

if TYPE_CHECKING:
    import pandas as pd

    from twinstudy.run.costs import Plan
    from twinstudy.run.runner import RunResult
    from twinstudy.store.frames import ResultTables
    from twinstudy.study.spec import ResolvedStudy

__version__ = "0.1.0"

__all__ = ["UserError", "__version__", "analyze", "build_report", "load_study", "open_results", "plan", "run"]


def load_study(path: str | Path) -> ResolvedStudy:
    """Read, validate and resolve a study file (models, instruments, framings); a problem is a
    :class:`UserError` naming the file, line and field."""
    from twinstudy.study.spec import load_study as _load

    return _load(path)


def _resolved(study: str | Path | ResolvedStudy) -> ResolvedStudy:
    return load_study(study) if isinstance(study, str | Path) else study


def plan(study: str | Path | ResolvedStudy) -> Plan:
    """Trials, requests, estimated tokens and cost per model; nothing is sent. A model without a
    known price has cost None (unknown), never 0."""
    from twinstudy.run.costs import estimate_plan

    return estimate_plan(_resolved(study))


def run(study: str | Path | ResolvedStudy, db: str | Path, *, max_requests: int | None = None,
        max_cost: float | None = None, skip_unavailable: bool = False, quiet: bool = True,
        batch: bool = False) -> RunResult:
    """Run a study into the results database ``db`` (resumes: finished trials are not sent again).

    Unlike ``twinstudy run`` it prints nothing (unless ``quiet=False``) and writes no report. Works
    inside a running event loop too (a notebook): the run then gets a thread of its own. ``batch``:
    as ``twinstudy run --batch`` (models marked ``batch: true``, and models with open batches in
    ``db``, go out in provider batches either way).
    """
    from twinstudy.batch.start import batch_runner
    from twinstudy.models.factory import create_model
    from twinstudy.run.runner import RunOptions
    from twinstudy.run.start import ready_models, run_to_end
    from twinstudy.store import Store

    rs, models, _ = ready_models(_resolved(study), skip_unavailable=skip_unavailable, max_cost=max_cost,
                                 factory=create_model)
    store = Store(db)
    try:
        opts = RunOptions(max_requests=max_requests, max_cost=max_cost, quiet=quiet, skip_unavailable=skip_unavailable)
        runner = batch_runner(rs, store, models, opts, None, every=batch)
        return run_to_end(rs, store, models, opts, runner=runner)
    finally:
        store.close()


def open_results(db: str | Path) -> ResultTables:
    """A results database as pandas frames: ``trials``, ``attempts``, ``scores``, ``runs``,
    ``models``, and ``scored`` (one row per trial, the input of :func:`analyze`)."""
    from twinstudy.store import Store

    store = Store(db, create=False)
    try:
        return store.result_tables()
    finally:
        store.close()


def analyze(scored: pd.DataFrame, **options: Any) -> Any:
    """Every estimate for a scored frame (``open_results(db).scored``); the options are those of
    :func:`twinstudy.analysis.analyze` (``twins``, ``n_boot``, ``seed``)."""
    from twinstudy.analysis import analyze as _analyze

    return _analyze(scored, **options)


def build_report(db: str | Path, output: str | Path | None = None, *,
                 twins: list[tuple[str, str]] | None = None) -> Path:
    """Write the self-contained HTML report of a results database (default: report.html next to
    it) and return its path."""
    from twinstudy.report.html import build_report as _build
    from twinstudy.store import Store

    db = Path(db)
    store = Store(db, create=False)
    try:
        return _build(store, Path(output) if output else db.parent / "report.html", twins=twins)
    finally:
        store.close()
