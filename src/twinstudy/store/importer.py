"""Write an import into a results database in one transaction, and read back what it stored.

An import is recorded as a finished run (its ``spec_text`` a short YAML describing the source), so
the report, the summary and ``runs()`` show it like any run. The instrument the imported replies
answer is kept in ``meta`` under ``instrument:<id>`` (JSON), because it comes from the user's files
rather than from a bundled bank or a study file: ``twinstudy rescore`` finds it there.

Importing the same source again replaces its trials, attempts and imported scores (same keys), so
a re-import after fixing a file does not duplicate anything.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from twinstudy.instruments.schema import Instrument

if TYPE_CHECKING:
    from twinstudy.imports.convert import Converted
    from twinstudy.imports.records import ImportBatch
    from twinstudy.store import Store

INSTRUMENT_KEY = "instrument:"
IMPORTED_VERSION_PREFIX = "imported"


def write_import(store: Store, batch: ImportBatch, converted: Converted, version: str) -> int:
    """Write everything or nothing; return the new run id."""
    from twinstudy.store import _dumps

    c = store.conn
    now = time.time()
    keys = [(t["key"],) for t in converted.trials]
    c.execute("BEGIN IMMEDIATE")
    try:
        cur = c.execute(
            "INSERT INTO runs (study, spec_text, source, twinstudy_version, started_at, finished_at, status, "
            "n_planned) VALUES (?,?,?,?,?,?,'finished',?)",
            (batch.study, batch.spec_text(), batch.source, version, now, now, len(converted.trials)))
        run_id = int(cur.lastrowid or 0)
        c.executemany("DELETE FROM attempts WHERE trial_key = ?", keys)
        c.executemany(f"DELETE FROM scores WHERE trial_key = ? AND version LIKE '{IMPORTED_VERSION_PREFIX}%'", keys)
        cols = list(converted.trials[0].keys())
        c.executemany(f"INSERT OR REPLACE INTO trials ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                      [tuple(t[k] for k in cols) for t in converted.trials])
        c.executemany(
            "INSERT INTO attempts (trial_key, run_id, turn, attempt, started_at, latency_ms, request_json, "
            "http_status, provider_code, finish_reason, raw, text, reasoning, tokens_in, tokens_out, error, "
            "blocked) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(a.trial_key, run_id, a.turn, a.attempt, a.started_at, a.latency_ms,
              _dumps(a.request) if a.request is not None else None, a.http_status, a.provider_code,
              a.finish_reason, a.raw, a.text, a.reasoning, a.tokens_in, a.tokens_out, a.error, a.blocked)
             for a in converted.attempts])
        store.put_scores(converted.scores, transaction=False)
        c.executemany("INSERT OR REPLACE INTO models VALUES (?, ?)",
                      [(mid, _dumps(info)) for mid, info in batch.models.items()])
        c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                  (INSTRUMENT_KEY + batch.instrument.id, batch.instrument.model_dump_json()))
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise
    return run_id


def stored_instruments(store: Store) -> dict[str, Instrument]:
    """Instruments that imports saved in the database (id -> instrument)."""
    rows = store.conn.execute("SELECT key, value FROM meta WHERE key LIKE ?", (INSTRUMENT_KEY + "%",)).fetchall()
    out: dict[str, Instrument] = {}
    for key, value in rows:
        try:
            out[key.removeprefix(INSTRUMENT_KEY)] = Instrument.model_validate(json.loads(value))
        except ValueError:  # a damaged entry costs rescoring of that instrument only
            continue
    return out


def imported_keys(store: Store) -> set[str]:
    """Trials whose outcome an imported label decided (rescoring adds scores but keeps the outcome)."""
    return {r[0] for r in store.conn.execute(
        f"SELECT DISTINCT trial_key FROM scores WHERE version LIKE '{IMPORTED_VERSION_PREFIX}%'")}
