"""Provider batches in the results database: what was submitted, for which trials, and how far each got.

The orchestrator (:mod:`twinstudy.batch.orchestrate`) writes a batch row and one line per trial in
one transaction *before* it sends anything (state ``submitting``, lines ``pending``), then records
the provider's batch id once the provider answered (lines ``sent``). A crash in between leaves a
``submitting`` row: the next run asks the provider whether it has a batch carrying the row's
``tag`` and sends the lines again only when it has none. Result lines are recorded in the same
transaction as the trials they finish (see ``Store.write_batch``'s ``also``), so a line is ``done``
exactly when its trial is written. A batch is open until ``collected_at`` is set.

The tables are part of the results schema (version 6, :mod:`twinstudy.store.schema`).
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

from twinstudy.store.db import transaction

#: Line states: ``pending`` (written, not yet accepted by the provider), ``sent``, ``done`` (result
#: recorded), ``expired`` (the batch ended without it: to be asked again), ``failed`` (never sent).
LINE_STATES = ("pending", "sent", "done", "expired", "failed")
_COLUMNS = ("id", "tag", "provider", "model", "remote_id", "input_file_id", "state", "created_at", "updated_at",
            "collected_at", "run_id", "n_lines", "n_done", "n_failed", "cost", "error")


@dataclass(frozen=True)
class BatchRow:
    id: int
    tag: str
    provider: str
    model: str
    remote_id: str | None
    input_file_id: str | None
    state: str
    created_at: float
    updated_at: float
    collected_at: float | None
    run_id: int | None
    n_lines: int
    n_done: int | None
    n_failed: int | None
    cost: float | None
    error: str | None

    @property
    def open(self) -> bool:
        return self.collected_at is None


def _rows(conn: sqlite3.Connection, where: str = "", args: tuple[object, ...] = ()) -> list[BatchRow]:
    q = f"SELECT {','.join(_COLUMNS)} FROM batches {where} ORDER BY id"
    return [BatchRow(*r) for r in conn.execute(q, args)]


def create(conn: sqlite3.Connection, provider: str, model: str, keys: list[str], run_id: int | None,
           turn: int = 0) -> BatchRow:
    """A new batch in state ``submitting`` with its lines ``pending``, committed before any call.

    The tag is random, so two databases on one provider account never take each other's batch."""
    now = time.time()
    tag = f"twinstudy-{secrets.token_hex(8)}"
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO batches (tag, provider, model, state, created_at, updated_at, run_id, n_lines) "
            "VALUES (?,?,?,?,?,?,?,?)", (tag, provider, model, "submitting", now, now, run_id, len(keys)))
        batch_id = int(cur.lastrowid or 0)
        conn.executemany("INSERT INTO batch_lines (batch_id, trial_key, turn, state) VALUES (?,?,?,?)",
                         [(batch_id, k, turn, "pending") for k in keys])
    return get(conn, batch_id)


def get(conn: sqlite3.Connection, batch_id: int) -> BatchRow:
    rows = _rows(conn, "WHERE id = ?", (batch_id,))
    if not rows:
        raise KeyError(batch_id)
    return rows[0]


def submitted(conn: sqlite3.Connection, batch_id: int, remote_id: str, input_file_id: str | None,
              state: str) -> None:
    """The provider accepted the batch: record its id and mark the lines sent, together."""
    with transaction(conn):
        conn.execute("UPDATE batches SET remote_id = ?, input_file_id = ?, state = ?, updated_at = ? WHERE id = ?",
                     (remote_id, input_file_id, state, time.time(), batch_id))
        conn.execute("UPDATE batch_lines SET state = 'sent' WHERE batch_id = ? AND state = 'pending'", (batch_id,))


def submit_failed(conn: sqlite3.Connection, batch_id: int, error: str) -> None:
    """The provider refused the batch (nothing was created): it is closed and its lines failed,
    so their trials are free to be asked again."""
    now = time.time()
    with transaction(conn):
        conn.execute("UPDATE batches SET state = 'failed', error = ?, updated_at = ?, collected_at = ? WHERE id = ?",
                     (error, now, now, batch_id))
        conn.execute("UPDATE batch_lines SET state = 'failed', recorded_at = ? WHERE batch_id = ? "
                     "AND state IN ('pending', 'sent')", (now, batch_id))


def update_state(conn: sqlite3.Connection, batch_id: int, state: str, n_done: int | None, n_failed: int | None,
                 error: str | None = None) -> None:
    conn.execute("UPDATE batches SET state = ?, n_done = ?, n_failed = ?, error = coalesce(?, error), "
                 "updated_at = ? WHERE id = ?", (state, n_done, n_failed, error or None, time.time(), batch_id))


def record_lines(conn: sqlite3.Connection, batch_id: int, updates: Iterable[tuple[str, str]], cost: float) -> None:
    """Line results (trial key, new state) and their cost. Opens no transaction of its own: it is
    run inside the transaction that writes the trials those lines finish."""
    now = time.time()
    conn.executemany("UPDATE batch_lines SET state = ?, recorded_at = ? WHERE batch_id = ? AND trial_key = ?",
                     [(state, now, batch_id, key) for key, state in updates])
    if cost:
        conn.execute("UPDATE batches SET cost = coalesce(cost, 0) + ? WHERE id = ?", (cost, batch_id))


def mark_collected(conn: sqlite3.Connection, batch_id: int) -> None:
    """Every line of an ended batch is recorded; lines still ``sent`` had no result and are expired."""
    now = time.time()
    with transaction(conn):
        conn.execute("UPDATE batch_lines SET state = 'expired', recorded_at = ? WHERE batch_id = ? "
                     "AND state IN ('pending', 'sent')", (now, batch_id))
        conn.execute("UPDATE batches SET collected_at = ?, updated_at = ? WHERE id = ?", (now, now, batch_id))


def open_batches(conn: sqlite3.Connection, model: str | None = None) -> list[BatchRow]:
    """Batches not yet collected (of one model, or of all), oldest first."""
    if model is None:
        return _rows(conn, "WHERE collected_at IS NULL")
    return _rows(conn, "WHERE collected_at IS NULL AND model = ?", (model,))


def all_batches(conn: sqlite3.Connection) -> list[BatchRow]:
    return _rows(conn)


def line_states(conn: sqlite3.Connection, batch_id: int) -> dict[str, str]:
    """Trial key -> line state, for one batch."""
    return {str(k): str(s) for k, s in conn.execute(
        "SELECT trial_key, state FROM batch_lines WHERE batch_id = ?", (batch_id,))}


def in_flight(conn: sqlite3.Connection, model: str) -> set[str]:
    """Trial keys of ``model`` with a line in an open batch that may still bring a result."""
    return {str(r[0]) for r in conn.execute(
        "SELECT l.trial_key FROM batch_lines l JOIN batches b ON b.id = l.batch_id "
        "WHERE b.collected_at IS NULL AND b.model = ? AND l.state IN ('pending', 'sent')", (model,))}


def rounds_used(conn: sqlite3.Connection, model: str) -> dict[str, int]:
    """Trial key -> how many batch lines of ``model`` ended for it without a result (expired or
    failed): a trial is not sent in a batch again once it used up its rounds."""
    return {str(k): int(n) for k, n in conn.execute(
        "SELECT l.trial_key, count(*) FROM batch_lines l JOIN batches b ON b.id = l.batch_id "
        "WHERE b.model = ? AND l.state IN ('expired', 'failed') GROUP BY l.trial_key", (model,))}


def line_counts(conn: sqlite3.Connection, batch_id: int) -> dict[str, int]:
    """Line state -> number of lines, for one batch (what `twinstudy batches` shows)."""
    return {str(s): int(n) for s, n in conn.execute(
        "SELECT state, count(*) FROM batch_lines WHERE batch_id = ? GROUP BY state", (batch_id,))}
