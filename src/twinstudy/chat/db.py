"""Conversations in the study database: two tables of their own next to the study tables.

Every user turn and every reply is written as soon as it exists (WAL, one short transaction per
row), so a crash or Ctrl-C loses nothing already shown. Model metadata is stored without keys.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinstudy.errors import UserError
from twinstudy.store.db import connect

DEFAULT_DB = Path("twinstudy-runs/chat/results.db")

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    name TEXT UNIQUE,                  -- set with /save NAME (NULL until named)
    kind TEXT NOT NULL,                -- chat | replay
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    lang TEXT NOT NULL,                -- language at the start (each turn records its own)
    system TEXT,                       -- the --system text, if any
    models_json TEXT NOT NULL,         -- [{label, id, provider, model, company, origin, system}]; never a key
    params_json TEXT NOT NULL,         -- max_tokens, temperature, seed
    source_conversation INTEGER REFERENCES conversations(id),  -- replay: the conversation replayed
    framing TEXT,                      -- replay: framing prefixed to the first user turn
    twinstudy_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chat_turns (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    turn INTEGER NOT NULL,             -- user turn number, from 1
    role TEXT NOT NULL,                -- user | assistant
    participant TEXT,                  -- assistant: the label from --models (NULL for the user)
    model TEXT,                        -- assistant: registry id of the model
    lang TEXT NOT NULL,                -- the language of this turn
    content TEXT NOT NULL,             -- user: the text as written (no framing); assistant: the reply
    sent TEXT,                         -- user: the text actually sent (framing prefix included)
    source_turn INTEGER,               -- replay: the turn of the source conversation
    translation TEXT,                  -- replay: original | turns-file | model:<id>
    reasoning TEXT,                    -- assistant: reasoning text, kept but never shown in full
    outcome TEXT,                      -- assistant: answered | refused | evasive | blocked | truncated | error
    rules_json TEXT,                   -- assistant: refusal rule ids that fired, or the block code
    finish_reason TEXT,
    provider_code TEXT,
    error TEXT,
    latency_ms REAL,
    tokens_in INTEGER,
    tokens_out INTEGER,
    n_messages INTEGER,                -- assistant: messages sent (system + own history + this turn)
    messages_json TEXT,                -- assistant: those messages, in order
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_turns_conv ON chat_turns(conversation_id, turn);
"""


@dataclass(frozen=True)
class Conversation:
    id: int
    name: str | None
    kind: str
    lang: str
    system: str | None
    models: list[dict[str, Any]]
    source_conversation: int | None
    framing: str | None
    created_at: float

    @property
    def display(self) -> str:
        return f"#{self.id}" + (f" '{self.name}'" if self.name else "")


@dataclass(frozen=True)
class UserTurn:
    turn: int
    lang: str
    content: str
    sent: str
    source_turn: int | None
    translation: str | None


class ChatDB:
    """One connection, autocommit: each insert is its own short transaction."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise UserError(f"no chat database at {self.path}; start one with `twinstudy chat --models ...` "
                            "or pass --db.")
        self.conn = connect(self.path, rows=True)  # the results database's settings (WAL, one writer)
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # -- conversations ----------------------------------------------------------------------
    def create_conversation(self, *, kind: str, lang: str, system: str | None, models: list[dict[str, Any]],
                            params: dict[str, Any], source: int | None = None,
                            framing: str | None = None) -> int:
        from twinstudy import __version__

        now = time.time()
        cur = self.conn.execute(
            "INSERT INTO conversations (kind, created_at, updated_at, lang, system, models_json, params_json, "
            "source_conversation, framing, twinstudy_version) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (kind, now, now, lang, system, json.dumps(models, ensure_ascii=False), json.dumps(params),
             source, framing, __version__))
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    def name_conversation(self, conv_id: int, name: str) -> None:
        other = self.conn.execute("SELECT id FROM conversations WHERE name = ? AND id != ?",
                                  (name, conv_id)).fetchone()
        if other is not None:
            raise UserError(f"the name '{name}' is taken by conversation #{other['id']}; choose another.")
        self.conn.execute("UPDATE conversations SET name = ?, updated_at = ? WHERE id = ?",
                          (name, time.time(), conv_id))

    def delete_if_empty(self, conv_id: int) -> bool:
        n = self.conn.execute("SELECT count(*) FROM chat_turns WHERE conversation_id = ?", (conv_id,)).fetchone()[0]
        if n:
            return False
        self.conn.execute("DELETE FROM conversations WHERE id = ?", (conv_id,))
        return True

    def _conv(self, row: sqlite3.Row) -> Conversation:
        return Conversation(id=int(row["id"]), name=row["name"], kind=row["kind"], lang=row["lang"],
                            system=row["system"], models=json.loads(row["models_json"]),
                            source_conversation=row["source_conversation"], framing=row["framing"],
                            created_at=float(row["created_at"]))

    def find(self, ref: str) -> Conversation:
        """A conversation by id (``3`` or ``#3``) or by name."""
        ref = ref.strip()
        row = None
        if ref.lstrip("#").isdigit():
            row = self.conn.execute("SELECT * FROM conversations WHERE id = ?", (int(ref.lstrip("#")),)).fetchone()
        if row is None:
            row = self.conn.execute("SELECT * FROM conversations WHERE name = ?", (ref,)).fetchone()
        if row is None:
            known = [self._conv(r).display for r in self.conn.execute(
                "SELECT * FROM conversations ORDER BY id DESC LIMIT 8")]
            hint = f" (recent: {', '.join(known)})" if known else " (it holds no conversations yet)"
            raise UserError(f"no conversation '{ref}' in {self.path}{hint}; give an id or a name set with /save.")
        return self._conv(row)

    def replays_of(self, conv_id: int) -> list[Conversation]:
        return [self._conv(r) for r in self.conn.execute(
            "SELECT * FROM conversations WHERE source_conversation = ? ORDER BY id", (conv_id,))]

    def touch(self, conv_id: int) -> None:
        self.conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (time.time(), conv_id))

    # -- turns --------------------------------------------------------------------------------
    def add_user_turn(self, conv_id: int, turn: int, lang: str, content: str, sent: str, *,
                      source_turn: int | None = None, translation: str | None = None) -> None:
        self.conn.execute(
            "INSERT INTO chat_turns (conversation_id, turn, role, lang, content, sent, source_turn, translation, "
            "created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (conv_id, turn, "user", lang, content, sent, source_turn, translation, time.time()))

    def add_reply(self, conv_id: int, turn: int, lang: str, row: dict[str, Any]) -> None:
        cols = ("participant", "model", "content", "reasoning", "outcome", "rules_json", "finish_reason",
                "provider_code", "error", "latency_ms", "tokens_in", "tokens_out", "n_messages", "messages_json")
        values = [row.get(c) for c in cols]
        self.conn.execute(
            f"INSERT INTO chat_turns (conversation_id, turn, role, lang, created_at, {', '.join(cols)}) "
            f"VALUES (?,?,?,?,?,{','.join('?' * len(cols))})",
            (conv_id, turn, "assistant", lang, time.time(), *values))

    def user_turns(self, conv_id: int) -> list[UserTurn]:
        return [UserTurn(turn=int(r["turn"]), lang=r["lang"], content=r["content"], sent=r["sent"] or r["content"],
                         source_turn=r["source_turn"], translation=r["translation"])
                for r in self.conn.execute(
                    "SELECT * FROM chat_turns WHERE conversation_id = ? AND role = 'user' ORDER BY turn",
                    (conv_id,))]

    def replies(self, conv_id: int, turn: int | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM chat_turns WHERE conversation_id = ? AND role = 'assistant'"
        args: Sequence[Any] = (conv_id,)
        if turn is not None:
            sql += " AND turn = ?"
            args = (conv_id, turn)
        return list(self.conn.execute(sql + " ORDER BY turn, id", args))
