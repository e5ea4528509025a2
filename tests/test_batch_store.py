"""The batch tables (schema 6): migration from an older file, and the life of a batch row and its lines."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from twinstudy.store import SCHEMA_VERSION, Store
from twinstudy.store import batches as sb


def test_a_schema4_database_gains_the_batch_tables_on_open(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    Store(db).close()
    raw = sqlite3.connect(db)  # make it look like a file written before batches existed
    raw.executescript("DROP TABLE batches; DROP TABLE batch_lines; DELETE FROM migrations WHERE version > 4;"
                      "UPDATE meta SET value = '4' WHERE key = 'schema_version';")
    raw.commit()
    raw.close()
    store = Store(db, create=False)
    try:
        assert store.opened_version == 4
        conn = store.conn
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"batches", "batch_lines"} <= names
        assert [r[0] for r in conn.execute("SELECT version FROM migrations WHERE version > 4 ORDER BY version")] \
            == list(range(5, SCHEMA_VERSION + 1))
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert store.integrity() == "ok"
    finally:
        store.close()


def test_a_batch_is_written_before_sending_and_closed_when_collected(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    conn = store.conn
    try:
        row = sb.create(conn, "openai", "m", ["k1", "k2", "k3"], run_id=None)
        assert row.state == "submitting" and row.remote_id is None and row.open and row.tag.startswith("twinstudy-")
        assert sb.line_states(conn, row.id) == {"k1": "pending", "k2": "pending", "k3": "pending"}
        assert sb.in_flight(conn, "m") == {"k1", "k2", "k3"}  # a pending line may have reached the provider
        sb.submitted(conn, row.id, "batch_abc", "file_1", "validating")
        row = sb.get(conn, row.id)
        assert (row.remote_id, row.input_file_id, row.state) == ("batch_abc", "file_1", "validating")
        assert set(sb.line_states(conn, row.id).values()) == {"sent"}
        sb.update_state(conn, row.id, "completed", 2, 0)
        # results recorded with the trials they finish (here: no trials, just the lines)
        store.write_batch([], [], [], also=lambda c: sb.record_lines(c, row.id, [("k1", "done"), ("k2", "done")],
                                                                      0.25))
        sb.mark_collected(conn, row.id)
        row = sb.get(conn, row.id)
        assert not row.open and row.cost == 0.25
        assert sb.line_states(conn, row.id) == {"k1": "done", "k2": "done", "k3": "expired"}  # k3 had no result
        assert sb.in_flight(conn, "m") == set()
        assert sb.rounds_used(conn, "m") == {"k3": 1}
        assert sb.open_batches(conn) == []
    finally:
        store.close()


def test_a_refused_submission_frees_its_trials(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    try:
        row = sb.create(store.conn, "openai", "m", ["k1"], run_id=None)
        sb.submit_failed(store.conn, row.id, "HTTP 400: bad file")
        row = sb.get(store.conn, row.id)
        assert not row.open and row.state == "failed" and row.error == "HTTP 400: bad file"
        assert sb.in_flight(store.conn, "m") == set() and sb.rounds_used(store.conn, "m") == {"k1": 1}
    finally:
        store.close()
