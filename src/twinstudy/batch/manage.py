"""``twinstudy batches``: the open provider batches of a results database, and cancelling them.

Cancelling asks the provider to stop a batch; its finished lines stay billable. A run of the study
that is going collects what finished and leaves the rest; the next run sends the lines that got no
reply again. To stop for good, cancel and do not run the study again (or run it without the model).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from twinstudy.batch.api import TAG_KEY, FindsOwnBatches
from twinstudy.errors import UserError
from twinstudy.models.base import ModelCallError, ModelInfo
from twinstudy.store import Store
from twinstudy.store import batches as sb


@dataclass(frozen=True)
class BatchView:
    """One batch as `twinstudy batches` shows it."""

    row: sb.BatchRow
    lines: dict[str, int]  # line state -> count

    @property
    def recorded(self) -> int:
        return sum(n for s, n in self.lines.items() if s != "pending" and s != "sent")

    def age(self, now: float | None = None) -> str:
        return _ago((now or time.time()) - self.row.created_at)

    def polled(self, now: float | None = None) -> str:
        """How long ago the state shown was read from the provider (by a run, or at submission)."""
        return _ago((now or time.time()) - self.row.updated_at) + " ago"


def _ago(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def open_batches(store: Store) -> list[BatchView]:
    return [BatchView(r, sb.line_counts(store.conn, r.id)) for r in sb.open_batches(store.conn)]


def closed_count(store: Store) -> int:
    return sum(1 for r in sb.all_batches(store.conn) if not r.open)


def cancel(store: Store, which: int | None) -> list[str]:
    """Ask the provider to cancel one open batch (``which``, a local id) or every open one; one
    line per batch saying what happened."""
    rows = sb.open_batches(store.conn)
    if which is not None:
        rows = [r for r in rows if r.id == which]
        if not rows:
            raise UserError(f"no open batch {which} in {store.path}; `twinstudy batches --db {store.path}` lists them.")
    return asyncio.run(_cancel_all(store, rows))


async def _cancel_all(store: Store, rows: list[sb.BatchRow]) -> list[str]:
    from twinstudy.batch import orchestrate
    from twinstudy.models.factory import create_model

    infos = store.models()
    out: list[str] = []
    for row in rows:
        if row.model not in infos:
            out.append(f"batch {row.id}: model {row.model} is not in the database; cancel it in the provider's console.")
            continue
        info = ModelInfo.model_validate(infos[row.model])
        api = orchestrate.api_factory(info, create_model(info))
        if api is None:
            out.append(f"batch {row.id}: no batch adapter for {info.provider} here; cancel {row.remote_id or 'it'} "
                       "in the provider's console.")
            continue
        try:
            remote = row.remote_id
            if remote is None and isinstance(api, FindsOwnBatches):
                found = await api.find_submitted(TAG_KEY, row.tag)
                if found is not None:
                    sb.submitted(store.conn, row.id, found.batch_id, found.input_file_id, found.state)
                    remote = found.batch_id
            if remote is None:
                sb.submit_failed(store.conn, row.id, "cancelled while it was being submitted")
                out.append(f"batch {row.id}: the provider never confirmed it; closed here, its trials are free "
                           "to be sent again.")
                continue
            status = await api.cancel(remote)
            sb.update_state(store.conn, row.id, status.state, status.done, status.failed, status.message or None)
            out.append(f"batch {row.id} ({row.model}): {status.state}. Run the study again to collect what finished.")
        except ModelCallError as err:
            out.append(f"batch {row.id}: the provider refused to cancel it: {err}")
        finally:
            await api.aclose()
    return out
