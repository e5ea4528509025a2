"""Choosing a batch run from the command line's flags (``run --batch``, ``--batch-fallback``)."""

from __future__ import annotations

import sys
from typing import cast

from twinstudy.batch.orchestrate import BatchOptions, BatchRunner, Fallback, choose_batch_models
from twinstudy.models.base import Model
from twinstudy.run.runner import Runner, RunOptions
from twinstudy.store import Store
from twinstudy.study.spec import ResolvedStudy


def batch_runner(rs: ResolvedStudy, store: Store, models: dict[str, Model], options: RunOptions,
                 design: ResolvedStudy | None, *, every: bool, fallback: str = "batch",
                 poll: float | None = None, max_lines: int | None = None) -> Runner | None:
    """A :class:`BatchRunner` when some model goes out in batches (``every``, its study entry's
    ``batch: true``, or batches of it still open in the database), else None: a plain live run.
    Says on stderr which models wanted batches and run live."""
    opts = BatchOptions(every=every, fallback=cast(Fallback, fallback), max_lines=max_lines)
    if poll is not None:
        opts.poll_interval = poll
        opts.poll_max = max(poll, min(opts.poll_max, 20 * poll)) if poll > 0 else 0.0
    apis, notes = choose_batch_models(rs, models, store, opts)
    for note in notes:
        print(note, file=sys.stderr)
    if not apis:
        return None
    return BatchRunner(rs, store, models, options, design=design, apis=apis, batch=opts)
