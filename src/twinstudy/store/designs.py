"""Which trials belong to which design of a study, so the analysis never pools two designs.

Trials are stored by key and kept forever. When the study file changes (``max_tokens`` 24 → 32),
the new trials sit next to the old ones; without this table the analysis read both as replicates
of one cell. Each run records the design it ran (its fingerprint and trial keys); the analysis
reads the trials of the latest design only, and earlier designs stay available on request.

The tables are part of the results schema (version 4, store.schema); a database without any
recorded design is analysed as before (every trial).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from twinstudy.store.schema import DESIGNS_DDL as DDL  # one owner of the DDL: store.schema


@dataclass(frozen=True)
class Design:
    fingerprint: str
    study: str
    first_run: int
    last_run: int
    n_trials: int
    summary: dict[str, Any]


def ensure(conn: sqlite3.Connection) -> None:
    conn.executescript(DDL)


def _has_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='designs'").fetchone()
    return bool(row[0])


def designs(conn: sqlite3.Connection) -> list[Design]:
    """Every recorded design, the current (most recently run) one first."""
    if not _has_tables(conn):
        return []
    rows = conn.execute("SELECT fingerprint, study, first_run, last_run, n_trials, summary_json FROM designs "
                        "ORDER BY last_run DESC").fetchall()
    return [Design(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), json.loads(r[5])) for r in rows]


def record(conn: sqlite3.Connection, run_id: int, study: str, fingerprint: str, keys: list[str],
           summary: dict[str, Any]) -> Design | None:
    """Record that ``run_id`` runs this design; return the design that was current before, if any."""
    ensure(conn)
    known = designs(conn)
    previous = known[0] if known else None
    conn.execute("BEGIN IMMEDIATE")
    try:
        if any(d.fingerprint == fingerprint for d in known):
            conn.execute("UPDATE designs SET last_run=? WHERE fingerprint=?", (run_id, fingerprint))
        else:
            conn.execute("INSERT INTO designs VALUES (?,?,?,?,?,?)",
                         (fingerprint, study, run_id, run_id, len(keys),
                          json.dumps(summary, ensure_ascii=False, sort_keys=True)))
            conn.executemany("INSERT OR IGNORE INTO design_trials VALUES (?, ?)",
                             [(fingerprint, k) for k in keys])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return previous if previous is not None and previous.fingerprint != fingerprint else None


def resolve(conn: sqlite3.Connection, which: str | None) -> Design | None:
    """The design named by ``which``: None or "current" (latest), "previous", "all" (None: no
    filter), or a fingerprint prefix. Raises UserError for a name that matches none."""
    from twinstudy.errors import UserError

    known = designs(conn)
    if which == "all" or not known:
        if which not in (None, "current", "all"):
            raise UserError(f"--design {which}: this database records no designs; leave --design out.")
        return None
    if which in (None, "current"):
        return known[0]
    if which == "previous":
        if len(known) < 2:
            raise UserError("--design previous: the study has only one design in this database.")
        return known[1]
    matches = [d for d in known if d.fingerprint.startswith(which)]
    if len(matches) != 1:
        names = ", ".join(d.fingerprint for d in known)
        raise UserError(f"--design {which} matches {len(matches)} designs; recorded designs are {names} "
                        "(or use current, previous, all).")
    return matches[0]


def describe_designs(conn: sqlite3.Connection, which: str | None) -> str | None:
    """One paragraph saying which design is analysed and which others the database holds."""
    known = designs(conn)
    if len(known) < 2:
        return None
    chosen = resolve(conn, which)
    if chosen is None:
        return f"analysing every trial of all {len(known)} designs of the study pooled together."
    others = [d for d in known if d.fingerprint != chosen.fingerprint]
    from twinstudy.study.fingerprint import describe_changes

    lines = [f"analysing design {chosen.fingerprint} ({'current' if chosen is known[0] else 'earlier'}, "
             f"runs {chosen.first_run}-{chosen.last_run}, {chosen.n_trials} trials). Other designs in "
             "this database (pass --design FINGERPRINT to analyse one):"]
    for d in others:
        diff = "; ".join(describe_changes(d.summary, chosen.summary, limit=4)) or "different text sent"
        lines.append(f"  {d.fingerprint}: runs {d.first_run}-{d.last_run}, {d.n_trials} trials; "
                     f"differs by {diff}")
    return "\n".join(lines)
