"""Live progress for long runs: per model done/total, rate, errors, blocks, ETA.

Rich draws a live display on a terminal. Without a TTY (a log file, CI, nohup) it prints one plain
line every few seconds instead — done/total, rate, errors, blocks and ETA — so a long run in the
background still says how far it is; ``quiet`` prints nothing.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

from twinstudy.study.design import count_trials
from twinstudy.study.spec import ResolvedStudy

LINE_EVERY_S = 10.0


class Progress:
    def __init__(self, rs: ResolvedStudy, quiet: bool = False, line_every_s: float = LINE_EVERY_S) -> None:
        tty = sys.stderr.isatty()
        self.quiet = quiet or not tty
        self.lines = not quiet and not tty
        self.line_every_s = line_every_s
        self._t0 = time.monotonic()
        self._last_line = self._t0
        self._done = 0
        per_model = count_trials(rs) // max(1, len(rs.models))
        self.totals = {m.id: per_model for m in rs.models}
        self.errors: dict[str, int] = {m.id: 0 for m in rs.models}
        self.blocks: dict[str, int] = {m.id: 0 for m in rs.models}
        self.skipped: dict[str, int] = {m.id: 0 for m in rs.models}
        self.costs: dict[str, float] = {m.id: 0.0 for m in rs.models}
        self._bar: RichProgress | None = None
        self._tasks: dict[str, TaskID] = {}

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def __enter__(self) -> Progress:
        if not self.quiet:
            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TextColumn("[red]{task.fields[err]}"),
                TextColumn("[magenta]{task.fields[blk]}"), TextColumn("{task.fields[cost]}"),
                TimeRemainingColumn(),
                console=Console(stderr=True), refresh_per_second=4)
            self._bar.__enter__()
            for mid, total in self.totals.items():
                self._tasks[mid] = self._bar.add_task(mid, total=total, rate="", err="", blk="", cost="")
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.__exit__(et, ev, tb)
        if self._done and self._last_line > self._t0:  # close a plain log with where it ended
            self._line(force=True)

    def _update(self, model: str) -> None:
        if self._bar is None:
            return
        task = self._bar.tasks[self._tasks[model]]
        speed = task.speed
        self._bar.update(self._tasks[model], rate=f"{speed:.1f}/s" if speed else "",
                         err=f"{self.errors[model]} err" if self.errors[model] else "",
                         blk=f"{self.blocks[model]} blocked" if self.blocks[model] else "",
                         cost=f"${self.costs[model]:.4f}" if self.costs[model] else "")

    def _line(self, force: bool = False) -> None:
        """One plain progress line on stderr, at most every ``line_every_s`` seconds."""
        now = time.monotonic()
        if not self.lines or (not force and now - self._last_line < self.line_every_s):
            return
        self._last_line = now
        total = sum(self.totals.values())
        done = self._done + self.skipped_total
        rate = self._done / max(now - self._t0, 1e-9)
        left = total - done
        eta = f"{left / rate:.0f} s" if rate > 0 else "unknown"
        errors, blocks = sum(self.errors.values()), sum(self.blocks.values())
        print(f"progress: {done}/{total} trials ({done / max(total, 1):.0%}), {rate:.1f}/s, "
              f"ETA {eta}, {errors} errors, {blocks} blocked", file=sys.stderr, flush=True)

    def advance(self, model: str, outcome: str) -> None:
        if outcome == "blocked":
            self.blocks[model] += 1
        self._done += 1
        self._line()
        if self._bar is not None:
            self._bar.advance(self._tasks[model])
            self._update(model)

    def skip(self, model: str) -> None:
        self.skipped[model] += 1
        if self._bar is not None:
            self._bar.update(self._tasks[model], completed=self.skipped[model], refresh=False)

    def note(self, model: str, text: str) -> None:
        """A short status after the model's name (e.g. its provider batch's state); on a terminal only."""
        if self._bar is not None:
            self._bar.update(self._tasks[model], description=f"{model} {text}".rstrip())

    def add_cost(self, model: str, cost: float) -> None:
        self.costs[model] += cost

    def error(self, model: str) -> None:
        self.errors[model] += 1
        self._update(model)
