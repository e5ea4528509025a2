"""Getting a run going, shared by ``twinstudy run`` and :func:`twinstudy.run`: which models can
run, whether a cost limit can be kept, and running the event loop (also from inside a notebook)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
from collections.abc import Callable

from twinstudy.errors import UserError
from twinstudy.models.base import Model, ModelInfo
from twinstudy.run.budget import Budget
from twinstudy.run.readiness import check_models_ready
from twinstudy.run.runner import Runner, RunOptions, RunResult
from twinstudy.store import Store
from twinstudy.study.spec import ResolvedStudy


def ready_models(rs: ResolvedStudy, *, skip_unavailable: bool, max_cost: float | None,
                 factory: Callable[[ModelInfo], Model]) -> tuple[ResolvedStudy, dict[str, Model], dict[str, str]]:
    """Build every backend before any call. Returns the study without the models that are not
    available (only when ``skip_unavailable``), the backends, and why each missing one is missing.

    Raises :class:`UserError` when no model is left, or when ``max_cost`` cannot be kept because
    a model has no known price."""
    models, unavailable = check_models_ready(rs.models, skip_unavailable, factory)
    if unavailable:
        rs = dataclasses.replace(rs, models=[m for m in rs.models if m.id in models])
        if not rs.models:
            raise UserError("no model in the study is available; set the API keys named above.")
    if max_cost is not None:
        unpriced = Budget(max_cost=max_cost).check_priced(rs.models)
        if unpriced:
            raise UserError(f"--max-cost cannot limit {', '.join(unpriced)}: no price is known for "
                            f"{'it' if len(unpriced) == 1 else 'them'}; add `price: {{input: .., output: ..}}` "
                            "(USD per million tokens) to the model in the study, or run without --max-cost.")
    return rs, models, unavailable


def run_to_end(rs: ResolvedStudy, store: Store, models: dict[str, Model], options: RunOptions,
               design: ResolvedStudy | None = None, runner: Runner | None = None) -> RunResult:
    """Run on a fresh event loop; inside a running loop (a notebook) on a thread of its own.

    ``design``: the study as written, before unavailable models were set aside (what the design
    fingerprint records); default ``rs``. ``runner``: one built already (a batch run's)."""
    runner = runner or Runner(rs, store, models, options, design=design)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(runner.run())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, runner.run()).result()
