"""The SQL of the ``codes`` table: open replies coded into a codebook's categories, per coder.

Which coder's codes count for a codebook is recorded in ``meta`` as ``coder:<codebook>`` (the coder
asked last, like the primary judge); an analysis may name another one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from twinstudy.store.db import transaction


@dataclass(frozen=True)
class CodeRow:
    """One coder's codes for one reply (one row of ``codes``)."""

    trial_key: str
    codebook: str
    coder: str
    version: str
    status: str  # coded | uncodable
    categories: tuple[str, ...] = ()
    detail: str | None = None
    turn: int = 0


def _meta_key(codebook: str) -> str:
    return f"coder:{codebook}"


def put_codes(conn: sqlite3.Connection, rows: Iterable[CodeRow]) -> None:
    now = time.time()
    with transaction(conn):
        conn.executemany(
            "INSERT OR REPLACE INTO codes (trial_key, turn, codebook, coder, version, status, categories, "
            "detail, coded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.trial_key, r.turn, r.codebook, r.coder, r.version, r.status,
              json.dumps(sorted(r.categories)), r.detail, now) for r in rows])


def coded_keys(conn: sqlite3.Connection, codebook: str, coder: str, version: str) -> set[str]:
    """Replies this coder already coded with this version (not coded again unless asked)."""
    return {r[0] for r in conn.execute(
        "SELECT trial_key FROM codes WHERE codebook = ? AND coder = ? AND version = ? AND turn = 0",
        (codebook, coder, version))}


def coders(conn: sqlite3.Connection, codebook: str) -> list[str]:
    """Every coder with codes stored for ``codebook``, in the order first written."""
    return [r[0] for r in conn.execute(
        "SELECT coder FROM codes WHERE codebook = ? GROUP BY coder ORDER BY min(rowid)", (codebook,))]


def codebooks(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT codebook FROM codes ORDER BY codebook")]


def primary_coder(conn: sqlite3.Connection, codebook: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_meta_key(codebook),)).fetchone()
    return str(row[0]) if row else None


def set_primary_coder(conn: sqlite3.Connection, codebook: str, coder: str) -> None:
    with transaction(conn):
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_meta_key(codebook), coder))


def code_table(conn: sqlite3.Connection, codebook: str, coder: str | None = None) -> pd.DataFrame:
    """Codes of turn 0 as stored (``coder`` given: that coder's only); ``categories`` decoded to
    tuples."""
    where = "WHERE codebook = ? AND turn = 0" + (" AND coder = ?" if coder else "")
    args = (codebook, coder) if coder else (codebook,)
    df = pd.read_sql_query(
        f"SELECT trial_key, coder, version, status, categories, detail FROM codes {where}", conn, params=args)
    df["categories"] = [tuple(json.loads(c)) if c else () for c in df["categories"]]
    return df


#: Outcomes of the open trials a coder reads: replies with substance. Refusals, filter blocks,
#: errors and unreadable replies are left uncoded, so category shares are shares of answers.
CODE_OUTCOMES = ("answered", "evasive", "truncated")


def replies_to_code(conn: sqlite3.Connection) -> list[tuple[str, str, str, str, int, str, str]]:
    """(key, instrument, item, lang, paraphrase, conversation JSON, reply) of every open trial
    whose first-turn reply a coder should read (outcome in :data:`CODE_OUTCOMES`), in key order."""
    marks = ",".join("?" * len(CODE_OUTCOMES))
    return [(str(k), str(i), str(it), str(la), int(p), str(m), str(t)) for k, i, it, la, p, m, t in conn.execute(
        "SELECT key, instrument, item, lang, paraphrase, messages_json, answer_text FROM trials "
        f"WHERE item_type = 'open' AND answer_text IS NOT NULL AND outcome IN ({marks}) ORDER BY key",
        CODE_OUTCOMES)]


def _book_key(codebook: str) -> str:
    return f"codebook:{codebook}"


def put_codebook(conn: sqlite3.Connection, codebook: str, definition_json: str) -> None:
    """Keep the codebook a coder used (user files included), so readers of the database know its
    categories even when the file is gone."""
    with transaction(conn):
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_book_key(codebook), definition_json))


def stored_codebooks(conn: sqlite3.Connection) -> dict[str, str]:
    """Codebook id -> the definition (JSON) kept by the last coding pass."""
    return {str(k).removeprefix("codebook:"): str(v)
            for k, v in conn.execute("SELECT key, value FROM meta WHERE key LIKE 'codebook:%'")}
