"""Write an import into a results database in one transaction, and read back what it stored.

An import is recorded as a finished run (its ``spec_text`` a short YAML describing the source), so
the report, the summary and ``runs()`` show it like any run. The instrument the imported replies
answer is kept in ``meta`` under ``instrument:<id>`` (JSON), because it comes from the user's files
rather than from a bundled bank or a study file: ``twinstudy rescore`` finds it there.

Importing the same source again replaces its trials, attempts and imported scores (same keys), so
a re-import after fixing a file does not duplicate anything.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from twinstudy.scoring.precedence import IMPORTED

if TYPE_CHECKING:
    from twinstudy.imports.convert import Converted
    from twinstudy.imports.records import ImportBatch
    from twinstudy.store import Store



def write_import(store: Store, batch: ImportBatch, converted: Converted, version: str) -> int:
    """Write everything or nothing; return the new run id."""
    from twinstudy.store import _dumps

    c = store.conn
    now = time.time()
    keys = [(t["key"],) for t in converted.trials]
    with store.transaction():
        cur = c.execute(
            "INSERT INTO runs (study, spec_text, source, twinstudy_version, started_at, finished_at, status, "
            "n_planned) VALUES (?,?,?,?,?,?,'finished',?)",
            (batch.study, batch.spec_text(), batch.source, version, now, now, len(converted.trials)))
        run_id = int(cur.lastrowid or 0)
        c.executemany("DELETE FROM attempts WHERE trial_key = ?", keys)
        c.executemany(f"DELETE FROM scores WHERE trial_key = ? AND version LIKE '{IMPORTED}%'", keys)
        cols = list(converted.trials[0].keys())
        c.executemany(f"INSERT OR REPLACE INTO trials ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                      [tuple(t[k] for k in cols) for t in converted.trials])
        store._insert_attempts(converted.attempts, run_id)
        store._insert_scores(converted.scores)
        c.executemany("INSERT OR REPLACE INTO models VALUES (?, ?)",
                      [(mid, _dumps(info)) for mid, info in batch.models.items()])
        store.put_definitions([batch.instrument], [])
    return run_id


def imported_keys(store: Store) -> set[str]:
    """Trials whose outcome an imported label decided (rescoring adds scores but keeps the outcome)."""
    return {r[0] for r in store.conn.execute(
        f"SELECT DISTINCT trial_key FROM scores WHERE version LIKE '{IMPORTED}%'")}
