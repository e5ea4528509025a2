"""Bring a results database written by an older twinstudy up to the current schema, on open.

Each migration is a function that takes the file from one schema version to the next; they run in
order, inside one transaction together with the version bump, and each is recorded in the
``migrations`` table. A database written by a *newer* twinstudy is refused with a sentence saying
so, rather than being read wrongly.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from twinstudy.errors import UserError
from twinstudy.store.db import transaction
from twinstudy.store.schema import (
    BATCHES_DDL,
    CODES_DDL,
    DESIGNS_DDL,
    MIGRATIONS_TABLE,
    SCHEMA,
    SCHEMA_VERSION,
)

Migration = tuple[int, str, Callable[[sqlite3.Connection], None]]


def _v2_distribution_mass(conn: sqlite3.Connection) -> None:
    """Schema 1 kept the logprob label mass as ``label-mass=0.123`` inside ``scores.detail``."""
    conn.execute("ALTER TABLE scores ADD COLUMN distribution_mass REAL")
    rows = conn.execute("SELECT rowid, detail FROM scores WHERE detail LIKE '%label-mass=%'").fetchall()
    updates = []
    for rowid, detail in rows:
        mass: float | None = None
        kept = []
        for part in str(detail).split(";"):
            if part.startswith("label-mass="):
                try:
                    mass = float(part.partition("=")[2])
                except ValueError:
                    kept.append(part)
            else:
                kept.append(part)
        updates.append((mass, ";".join(kept) or None, rowid))
    conn.executemany("UPDATE scores SET distribution_mass = ?, detail = ? WHERE rowid = ?", updates)


def _v3_sent_params(conn: sqlite3.Connection) -> None:
    """What each trial's request sent, and the parameters self-healing changed after a 400."""
    conn.execute("ALTER TABLE trials ADD COLUMN sent_params TEXT")
    conn.execute("ALTER TABLE trials ADD COLUMN adjusted_params TEXT")


def _run_ddl(conn: sqlite3.Connection, ddl: str) -> None:
    """Statement by statement: ``executescript`` would commit the migration's transaction first."""
    for statement in ddl.split(";"):
        if statement.strip() and not all(ln.strip().startswith("--") for ln in statement.strip().splitlines()):
            conn.execute(statement)


def _v4_designs(conn: sqlite3.Connection) -> None:
    """The designs tables; trials run before them belong to no recorded design (read as one)."""
    _run_ddl(conn, DESIGNS_DDL)


def _v5_codes(conn: sqlite3.Connection) -> None:
    """The codes table of open-answer coding; older files simply have no codes yet."""
    _run_ddl(conn, CODES_DDL)


def _v6_batches(conn: sqlite3.Connection) -> None:
    """The batch tables (``twinstudy run --batch``); an older file has no batches to carry over."""
    _run_ddl(conn, BATCHES_DDL)


MIGRATIONS: tuple[Migration, ...] = (
    (2, "scores.distribution_mass (was label-mass= text in scores.detail)", _v2_distribution_mass),
    (3, "trials.sent_params and trials.adjusted_params (what was sent; self-healed parameters)", _v3_sent_params),
    (4, "designs and design_trials (which trials belong to which design of a study)", _v4_designs),
    (5, "codes (open replies coded into a codebook's categories, per coder)", _v5_codes),
    (6, "batches and batch_lines (provider batch jobs and the trials they ask)", _v6_batches),
)
assert [m[0] for m in MIGRATIONS] == list(range(2, SCHEMA_VERSION + 1)), "one migration per version"


def stored_version(conn: sqlite3.Connection) -> int | None:
    """The schema version recorded in the file, or None for a file twinstudy never wrote to."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:  # no meta table
        return None
    return int(row[0]) if row else None


def open_schema(conn: sqlite3.Connection, path: Path) -> int:
    """Create the tables of a new file, or migrate an older one; return the old version (or the
    current one for a new file)."""
    found = stored_version(conn)
    if found is not None and found > SCHEMA_VERSION:
        raise UserError(f"{path} was written by a newer twinstudy (results schema {found}; this version reads "
                        f"schema {SCHEMA_VERSION} and older); upgrade twinstudy to open it.")
    if found is None:  # a new file (or one only chat ever wrote to): the current schema as written
        conn.executescript(SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        return SCHEMA_VERSION
    conn.executescript(MIGRATIONS_TABLE)
    if found < SCHEMA_VERSION:
        with transaction(conn):
            found = stored_version(conn) or found  # again, under the write lock: another process may have
            for version, name, step in MIGRATIONS:  # migrated meanwhile
                if version > found:
                    step(conn)
                    conn.execute("INSERT INTO migrations VALUES (?, ?, ?)", (version, name, time.time()))
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
    conn.executescript(SCHEMA)  # tables and indexes a later version added without touching old ones
    return found
