"""``twinstudy batches``: open provider batches, their progress and cost so far; ``--cancel``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twinstudy.errors import UserError


def _databases(db: Path | None) -> list[Path]:
    if db is not None:
        return [db]
    found = sorted(Path("twinstudy-runs").glob("*/results.db"))
    if not found:
        raise UserError("no results database under twinstudy-runs/ here; pass --db PATH.")
    return found


@click.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              help="Results database (default: every twinstudy-runs/*/results.db here).")
@click.option("--cancel", "cancel_id", is_flag=False, flag_value="all", default=None, metavar="[ID]",
              help="Ask the provider to cancel open batch ID (default: every open batch).")
def batches_command(db: Path | None, cancel_id: str | None) -> None:
    """Open provider batches of `run --batch`: state, progress, cost so far; --cancel stops them."""
    from twinstudy.batch.manage import cancel, closed_count, open_batches
    from twinstudy.store import Store

    which: int | None = None
    if cancel_id not in (None, "all"):
        try:
            which = int(str(cancel_id))
        except ValueError:
            raise UserError(f"--cancel takes a batch id (a number `twinstudy batches` shows), not '{cancel_id}'.") \
                from None
    con = Console(highlight=False)
    for path in _databases(db):
        store = Store(path, create=False)
        try:
            if cancel_id is not None:
                for line in cancel(store, which):
                    con.print(escape(line))
            views = open_batches(store)
            n_closed = closed_count(store)
        finally:
            store.close()
        if not views:
            con.print(f"{path}: no open batches ({n_closed} collected).")
            continue
        t = Table(title=f"{path}: open batches ({n_closed} collected)", title_justify="left")
        for c in ("id", "model", "provider batch", "state", "as of", "lines recorded", "provider done",
                  "cost so far (USD)", "age"):
            t.add_column(c, justify="right" if c in ("id", "lines recorded", "provider done") else "left")
        for v in views:
            r = v.row
            t.add_row(str(r.id), escape(r.model), escape(r.remote_id or "(submitting)"), escape(r.state), v.polled(),
                      f"{v.recorded:,}/{r.n_lines:,}", "" if r.n_done is None else f"{r.n_done:,}",
                      "" if r.cost is None else f"{r.cost:,.4f}", v.age())
        con.print(t)
        errors = [v.row for v in views if v.row.error]
        for r in errors:
            con.print(f"batch {r.id}: {escape(r.error or '')}")
        con.print("State and counts are as of the last poll by a run (cost: lines collected so far). Run the study "
                  "again to poll and collect them; `twinstudy batches --cancel [ID]` stops them.")
