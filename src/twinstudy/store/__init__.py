"""SQLite store: every trial, every attempt, every score. One file, WAL, one writer.

People open this file with any SQLite tool, so the schema is plain and documented in place.
Secrets never reach it: backends hand over request bodies without headers.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

SCHEMA_VERSION = 1

# Outcomes after which a trial is never requested again. `error` (transport failure after
# retries) is recorded too but retried on the next run.
FINAL_OUTCOMES = ("answered", "refused", "evasive", "blocked", "truncated", "unparseable")
ALL_OUTCOMES = (*FINAL_OUTCOMES, "error")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    study TEXT NOT NULL,
    spec_text TEXT NOT NULL,           -- the study file as given
    source TEXT NOT NULL,
    twinstudy_version TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL DEFAULT 'running',   -- running | finished | interrupted | stopped
    stop_reason TEXT,
    n_planned INTEGER
);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    info_json TEXT NOT NULL            -- provider, company, origin, tier, ... (never a key)
);
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,              -- hash of the cell: see twinstudy.study.design
    study TEXT NOT NULL,
    model TEXT NOT NULL,
    instrument TEXT NOT NULL,
    item TEXT NOT NULL,
    theme TEXT NOT NULL,
    item_type TEXT NOT NULL,
    reverse INTEGER NOT NULL,
    lang TEXT NOT NULL,
    framing TEXT NOT NULL,
    paraphrase INTEGER NOT NULL,
    sample INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    params_json TEXT NOT NULL,
    option_order TEXT,                 -- JSON list: shown position -> original option index
    correct_letter TEXT,
    messages_json TEXT NOT NULL,       -- the conversation as sent, turn by turn
    outcome TEXT NOT NULL,
    answer_text TEXT,                  -- the scored reply (reasoning removed)
    reasoning TEXT,
    followup_text TEXT,                -- reply after a follow-up turn (pushback), if any
    provider_code TEXT,
    omitted_params TEXT,
    n_attempts INTEGER NOT NULL,
    tokens_in INTEGER,
    tokens_out INTEGER,
    cost REAL,
    finished_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS trials_model ON trials(model, outcome);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    trial_key TEXT NOT NULL,
    run_id INTEGER,
    turn INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    started_at REAL NOT NULL,
    latency_ms REAL,
    request_json TEXT,                 -- body only: no headers, no keys
    http_status INTEGER,
    provider_code TEXT,
    finish_reason TEXT,
    raw TEXT,
    text TEXT,
    reasoning TEXT,
    tokens_in INTEGER,
    tokens_out INTEGER,
    error TEXT,
    blocked TEXT                       -- input | output | unknown, when a provider filter fired
);
CREATE INDEX IF NOT EXISTS attempts_trial ON attempts(trial_key);
CREATE TABLE IF NOT EXISTS scores (
    trial_key TEXT NOT NULL,
    scorer TEXT NOT NULL,
    version TEXT NOT NULL,
    turn INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,              -- answered | refused | unparseable | complete | evasive | denial
    value TEXT,                        -- parsed answer: '4', 'B', 'yes'
    agreement REAL,                    -- Likert mapped to [-1, 1] as worded
    score REAL,                        -- toward the theme's pole (reverse items flipped)
    correct REAL,
    distribution TEXT,                 -- JSON {option: probability} from logprobs, when read
    detail TEXT,
    PRIMARY KEY (trial_key, scorer, turn)
);
"""


@dataclass
class AttemptRow:
    trial_key: str
    turn: int
    attempt: int
    started_at: float
    latency_ms: float | None = None
    request: dict[str, Any] | None = None
    http_status: int | None = None
    provider_code: str | None = None
    finish_reason: str | None = None
    raw: str | None = None
    text: str | None = None
    reasoning: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    error: str | None = None
    blocked: str | None = None


@dataclass
class ScoreRow:
    trial_key: str
    scorer: str
    version: str
    status: str
    turn: int = 0
    value: str | None = None
    agreement: float | None = None
    score: float | None = None
    correct: float | None = None
    distribution: dict[str, float] | None = None
    detail: str | None = None


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class Store:
    """Owns one SQLite connection. Only one task writes; readers may open their own."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            from twinstudy.errors import UserError

            raise UserError(f"no results database at {self.path}; run `twinstudy run` first or pass --db.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.conn.executescript(SCHEMA)
        self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.conn.close()

    # -- runs and models -------------------------------------------------------------------
    def start_run(self, study: str, spec_text: str, source: str, version: str, n_planned: int) -> int:
        cur = self.conn.execute(
            "INSERT INTO runs (study, spec_text, source, twinstudy_version, started_at, n_planned) "
            "VALUES (?,?,?,?,?,?)", (study, spec_text, source, version, time.time(), n_planned))
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, status: str, reason: str | None = None) -> None:
        self.conn.execute("UPDATE runs SET finished_at=?, status=?, stop_reason=? WHERE id=?",
                          (time.time(), status, reason, run_id))

    def upsert_models(self, infos: Iterable[Any]) -> None:
        rows = [(m.id, m.model_dump_json(exclude_none=True)) for m in infos]
        self.conn.executemany("INSERT OR REPLACE INTO models VALUES (?, ?)", rows)

    # -- trials ------------------------------------------------------------------------------
    def final_keys(self) -> set[str]:
        q = f"SELECT key FROM trials WHERE outcome IN ({','.join('?' * len(FINAL_OUTCOMES))})"
        return {r[0] for r in self.conn.execute(q, FINAL_OUTCOMES)}

    def write_batch(self, attempts: list[AttemptRow], trials: list[dict[str, Any]],
                    scores: list[ScoreRow]) -> None:
        """Write one batch in a single transaction, so a crash leaves whole results or none."""
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            if attempts:
                c.executemany(
                    "INSERT INTO attempts (trial_key, run_id, turn, attempt, started_at, latency_ms, "
                    "request_json, http_status, provider_code, finish_reason, raw, text, reasoning, "
                    "tokens_in, tokens_out, error, blocked) VALUES "
                    "(?, (SELECT max(id) FROM runs), ?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(a.trial_key, a.turn, a.attempt, a.started_at, a.latency_ms,
                      _dumps(a.request) if a.request is not None else None, a.http_status,
                      a.provider_code, a.finish_reason, a.raw, a.text, a.reasoning, a.tokens_in,
                      a.tokens_out, a.error, a.blocked) for a in attempts])
            if trials:
                cols = list(trials[0].keys())
                c.executemany(
                    f"INSERT OR REPLACE INTO trials ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                    [tuple(t[k] for k in cols) for t in trials])
            if scores:
                self.put_scores(scores, transaction=False)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def put_scores(self, scores: list[ScoreRow], transaction: bool = True) -> None:
        sql = ("INSERT OR REPLACE INTO scores (trial_key, scorer, version, turn, status, value, agreement, "
               "score, correct, distribution, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
        rows = [(s.trial_key, s.scorer, s.version, s.turn, s.status, s.value, s.agreement, s.score,
                 s.correct, _dumps(s.distribution) if s.distribution is not None else None, s.detail)
                for s in scores]
        if transaction:
            with self.conn:
                self.conn.execute("BEGIN")
                self.conn.executemany(sql, rows)
        else:
            self.conn.executemany(sql, rows)

    def set_outcomes(self, updates: list[tuple[str, str]]) -> None:
        self.conn.execute("BEGIN")
        self.conn.executemany("UPDATE trials SET outcome=? WHERE key=?", [(o, k) for k, o in updates])
        self.conn.execute("COMMIT")

    # -- reading -----------------------------------------------------------------------------
    def models(self) -> dict[str, dict[str, Any]]:
        return {r[0]: json.loads(r[1]) for r in self.conn.execute("SELECT id, info_json FROM models")}

    def runs(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM runs ORDER BY id", self.conn)

    def latest_spec(self) -> tuple[str, str] | None:
        row = self.conn.execute("SELECT spec_text, source FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else None

    def counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT outcome, count(*) FROM trials GROUP BY outcome").fetchall())

    def n_attempts(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM attempts").fetchone()[0])

    def integrity(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    def scored_frame(self, scorer: str | None = None, design: str | None = None) -> pd.DataFrame:
        """One row per trial of one design (default: the current) with its latest score: the frame
        twinstudy.analysis expects."""
        from twinstudy.store.frames import build_scored_frame

        return build_scored_frame(self, scorer, design)
