"""Side by side on a wide terminal, stacked on a narrow one; reasoning folded, blocks and refusals marked.

While a turn is in flight a transient live view shows every participant ("thinking…", or the text
so far for streaming backends). Columns: finished replies appear in their column at once, and the
full row is printed when the turn ends. Stacked: each reply is printed the moment it completes.
Without a terminal (pipes, logs) replies are printed as they complete, one after another.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType
from typing import Literal

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from twinstudy.chat.engine import Reply
from twinstudy.chat.participants import Participant

Layout = Literal["columns", "stacked"]
MIN_COLUMN_WIDTH = 38  # narrower columns wrap every few words; below this, stack
COLUMN_GAP = 1

BORDER = {"answered": "green", "truncated": "blue", "refused": "yellow", "evasive": "yellow",
          "blocked": "red", "error": "red"}


def choose_layout(width: int, n: int) -> Layout:
    """Columns when every participant gets at least ``MIN_COLUMN_WIDTH`` characters; else stacked."""
    if n <= 1:
        return "stacked"
    return "columns" if width >= n * MIN_COLUMN_WIDTH + (n - 1) * COLUMN_GAP else "stacked"


def outcome_mark(reply: Reply) -> Text | None:
    if reply.outcome == "blocked":
        detail = f" ({reply.provider_code})" if reply.provider_code else ""
        msg = f": {reply.block_message}" if reply.block_message else ""
        return Text(f"■ BLOCKED by the provider's filter{detail}{msg}", style="bold white on red")
    if reply.outcome == "error":
        return Text(f"✖ no reply: {reply.error}", style="bold red")
    if reply.outcome == "refused":
        return Text("⚠ refused", style="bold yellow")
    if reply.outcome == "evasive":
        return Text("~ evasive", style="yellow")
    if reply.outcome == "truncated":
        return Text("… cut off at the token limit", style="blue")
    return None


def reasoning_note(reply: Reply) -> Text | None:
    if not reply.reasoning:
        return None
    return Text(f"(reasoning hidden, {len(reply.reasoning)} chars)", style="dim italic")


def reply_panel(reply: Reply, title: str | None = None) -> Panel:
    parts: list[RenderableType] = []
    mark = outcome_mark(reply)
    if mark is not None:
        parts.append(mark)
    if reply.text.strip():
        parts.append(Text(reply.text.strip()))
    elif mark is None:
        parts.append(Text("(empty reply)", style="dim"))
    note = reasoning_note(reply)
    if note is not None:
        parts.append(note)
    return Panel(Group(*parts), title=title or reply.label, title_align="left",
                 subtitle=f"{reply.latency_ms / 1000:.1f}s", subtitle_align="right",
                 border_style=BORDER.get(reply.outcome, "white"))


def pending_panel(title: str, elapsed: float, partial: str) -> Panel:
    spinner = Spinner("dots", text=Text(f"thinking… {elapsed:.0f}s", style="dim"))
    body: RenderableType = Text(partial) if partial else spinner
    return Panel(body, title=title, title_align="left", border_style="dim")


def side_by_side(panels: Sequence[RenderableType]) -> Table:
    grid = Table.grid(expand=True, padding=(0, COLUMN_GAP))
    for _ in panels:
        grid.add_column(ratio=1)
    grid.add_row(*panels)
    return grid


def show_panels(console: Console, panels: Sequence[RenderableType]) -> None:
    """A row of panels: columns if they fit the console, else one under the other."""
    if choose_layout(console.width, len(panels)) == "columns":
        console.print(side_by_side(panels))
    else:
        for panel in panels:
            console.print(panel)


def participant_title(p: Participant) -> str:
    return f"{p.label} · {p.origin}"


class TurnDisplay:
    """Observer of one turn (see :class:`twinstudy.chat.engine.TurnObserver`)."""

    def __init__(self, console: Console, participants: Sequence[Participant], *,
                 print_replies: bool = True) -> None:
        self.console = console
        self.participants = list(participants)
        self.titles = {p.label: participant_title(p) for p in participants}
        self.print_replies = print_replies
        self.layout: Layout = choose_layout(console.width, len(participants))
        self.live_enabled = console.is_terminal
        self.started_at: dict[str, float] = {}
        self.partial: dict[str, str] = {}
        self.done: dict[str, Reply] = {}
        self.printed: list[str] = []
        self._live: Live | None = None

    # -- observer -----------------------------------------------------------------------------
    def started(self, label: str) -> None:
        self.started_at.setdefault(label, time.monotonic())

    def delta(self, label: str, text: str) -> None:
        self.partial[label] = self.partial.get(label, "") + text

    def finished(self, reply: Reply) -> None:
        self.done[reply.label] = reply
        if self.print_replies and (self.layout == "stacked" or not self.live_enabled):
            self.console.print(reply_panel(reply, self.titles.get(reply.label)))
            self.printed.append(reply.label)
        if self._live is not None:
            self._live.refresh()

    # -- live view ----------------------------------------------------------------------------
    def _elapsed(self, label: str) -> float:
        return time.monotonic() - self.started_at.get(label, time.monotonic())

    def view(self) -> RenderableType:
        if self.layout == "columns":
            cells: list[RenderableType] = []
            for p in self.participants:
                reply = self.done.get(p.label)
                cells.append(reply_panel(reply, self.titles[p.label]) if reply is not None else
                             pending_panel(self.titles[p.label], self._elapsed(p.label), self.partial.get(p.label, "")))
            return side_by_side(cells)
        lines: list[RenderableType] = []
        for p in self.participants:
            if p.label in self.done:
                continue
            partial = self.partial.get(p.label, "")
            if partial:
                tail = partial.replace("\n", " ")[-max(20, self.console.width - len(p.label) - 8):]
                lines.append(Text.assemble((f"{p.label}: ", "bold"), (tail, "dim")))
            else:
                lines.append(Spinner("dots", text=Text.assemble(
                    (p.label, "bold"), (f" thinking… {self._elapsed(p.label):.0f}s", "dim"))))
        return Group(*lines)

    def __enter__(self) -> TurnDisplay:
        if self.live_enabled:
            self._live = Live(console=self.console, transient=True, refresh_per_second=4,
                              get_renderable=self.view)
            self._live.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self.print_replies and self.layout == "columns" and self.live_enabled and self.done:
            cells: list[RenderableType] = []
            for p in self.participants:
                reply = self.done.get(p.label)
                cells.append(reply_panel(reply, self.titles[p.label]) if reply is not None else
                             Panel(Text("(no reply: interrupted)", style="dim"), title=self.titles[p.label],
                                   title_align="left", border_style="dim"))
            self.console.print(side_by_side(cells))
