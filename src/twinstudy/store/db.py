"""One way to open a twinstudy SQLite file and one way to write to it atomically.

The results database and the chat tables are the same kind of file (WAL, one writer, readers
alongside), so both open their connection here and get the same settings.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# WAL lets readers (a report, a notebook) open the file while a run writes; NORMAL sync is safe
# under WAL (a power cut may lose the last transactions, never corrupt the file); a writer waits
# up to 10 s for another one instead of failing at once.
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=10000")


def connect(path: str | Path, *, rows: bool = False) -> sqlite3.Connection:
    """Open (creating folders as needed) in autocommit mode; transactions are explicit.

    ``rows=True`` returns rows as :class:`sqlite3.Row` (access by column name).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(p), isolation_level=None, check_same_thread=False)
    if rows:
        conn.row_factory = sqlite3.Row
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Everything inside commits together or not at all (also on Ctrl-C).

    ``BEGIN IMMEDIATE`` takes the write lock up front, so two writers wait for each other rather
    than failing half way with "database is locked".
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
