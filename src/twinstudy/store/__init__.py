"""SQLite store: every trial, every attempt, every score. One file, WAL, one writer.

Every SQL statement on a results database belongs in this package (the report's reads are moving
to ``store/reads.py``), so a column, a table or a rule for reading them changes in one place.
People open the file with any SQLite tool, so the schema is plain and documented in place
(:mod:`.schema`); an older file is migrated when opened (:mod:`.migrations`). Secrets never reach
it: backends hand over request bodies without headers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import astuple
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from twinstudy.errors import UserError
from twinstudy.instruments.schema import Framing, Instrument
from twinstudy.scoring.precedence import pick_per_trial, sql_rank
from twinstudy.store import codes
from twinstudy.store.codes import CodeRow
from twinstudy.store.db import connect, transaction
from twinstudy.store.frames import ResultTables, build_scored_frame
from twinstudy.store.migrations import open_schema
from twinstudy.store.records import TRIAL_COLUMNS, AttemptRow, ScoreRow, StoredReply, TrialRecord
from twinstudy.store.schema import SCHEMA, SCHEMA_VERSION
from twinstudy.vocab import ALL_OUTCOMES, FINAL_OUTCOMES

if TYPE_CHECKING:
    import sqlite3

    from twinstudy.models.base import ModelInfo

__all__ = ["ALL_OUTCOMES", "FINAL_OUTCOMES", "SCHEMA", "SCHEMA_VERSION", "AttemptRow", "CodeRow", "ResultTables", "ScoreRow",
           "Store", "StoredReply", "TrialRecord"]

# Tables a caller may read whole with Store.table() (the chat tables have their own reader).
TABLES = ("runs", "models", "trials", "attempts", "scores")

#: Replies shorter than this (a digit, "1. I") cannot be told apart by script and get no language.
_MIN_LANG_CHARS = 40


def _reply_lang(text: str | None, lang: str) -> str | None:
    """The script a reply is written in ("en"/"zh"), for the wrong-language check; None when too
    short to tell."""
    if text is None or len(text.strip()) < _MIN_LANG_CHARS:
        return None
    from twinstudy.scoring.refusal import reply_script

    return reply_script(text, lang)


def _framings_file(spec_text: str, source: str) -> str | None:
    """A stored study's ``framings_file``, resolved against the folder the study was run from
    (None when it names none or the file is gone)."""
    import yaml

    try:
        data = yaml.safe_load(spec_text) or {}
    except yaml.YAMLError:
        return None
    path = data.get("framings_file") if isinstance(data, dict) else None
    if not isinstance(path, str) or not path:
        return None
    p = Path(path).expanduser()
    p = p if p.is_absolute() else Path(source).parent / p
    return str(p) if p.is_file() else None


# meta keys of the definitions a run or an import kept (put_definitions)
_INSTRUMENT = "instrument:"
_JUDGE = "judge"  # meta key: the primary judge's model id
_FRAMING = "framing:"
_SCORE_COLUMNS = ("trial_key", "scorer", "version", "turn", "status", "value", "agreement", "score", "correct",
                  "distribution", "detail", "distribution_mass")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class Store:
    """Owns one SQLite connection. Only one task writes; readers may open their own."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise UserError(f"no results database at {self.path}; run `twinstudy run` first or pass --db.")
        self.conn: sqlite3.Connection = connect(self.path)
        try:
            #: Schema version the file had before this open (the current one for a new file).
            self.opened_version = open_schema(self.conn, self.path)
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside commit together or not at all."""
        with transaction(self.conn):
            yield

    # -- runs and models -------------------------------------------------------------------
    def start_run(self, study: str, spec_text: str, source: str, version: str, n_planned: int) -> int:
        cur = self.conn.execute(
            "INSERT INTO runs (study, spec_text, source, twinstudy_version, started_at, n_planned) "
            "VALUES (?,?,?,?,?,?)", (study, spec_text, source, version, time.time(), n_planned))
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, status: str, reason: str | None = None) -> None:
        self.conn.execute("UPDATE runs SET finished_at=?, status=?, stop_reason=? WHERE id=?",
                          (time.time(), status, reason, run_id))

    # -- what was asked: instruments and framings as the study defined them ---------------------
    def put_definitions(self, instruments: Iterable[Instrument], framings: Iterable[Framing]) -> None:
        """Keep the instruments and framings a run asked (user files included) in the database, so
        rescoring and the report use exactly what was asked, from any directory, even after the
        files moved or changed."""
        rows = [(_INSTRUMENT + i.id, i.model_dump_json()) for i in instruments]
        rows += [(_FRAMING + f.id, f.model_dump_json()) for f in framings]
        self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)

    def stored_instruments(self) -> dict[str, Instrument]:
        """Instruments kept by runs and imports (id -> instrument); a damaged entry is passed over."""
        return {k: v for k, v in self._definitions(_INSTRUMENT, Instrument).items() if isinstance(v, Instrument)}

    def stored_framings(self) -> dict[str, Framing]:
        """Framings kept by runs (id -> framing)."""
        return {k: v for k, v in self._definitions(_FRAMING, Framing).items() if isinstance(v, Framing)}

    # -- the LLM judge's pass (twinstudy.scoring.judge_pass) ------------------------------------------
    def primary_judge(self) -> str | None:
        """The model id of the judge whose verdicts count (the one asked last), or None."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (_JUDGE,)).fetchone()
        return str(row[0]) if row else None

    def set_primary_judge(self, model_id: str) -> None:
        with transaction(self.conn):
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_JUDGE, model_id))

    def judged_keys(self, scorer: str, version: str) -> set[str]:
        """Trials whose first turn ``scorer`` at ``version`` already judged."""
        return {r[0] for r in self.conn.execute(
            "SELECT trial_key FROM scores WHERE scorer = ? AND version = ? AND turn = 0", (scorer, version))}

    def open_replies(self) -> list[tuple[str, str, str, str]]:
        """(key, conversation JSON, reply, outcome) of every open trial with a reply to judge."""
        return [(str(k), str(m), str(t), str(o)) for k, m, t, o in self.conn.execute(
            "SELECT key, messages_json, answer_text, outcome FROM trials WHERE item_type = 'open' "
            "AND answer_text IS NOT NULL AND outcome NOT IN ('blocked', 'error') ORDER BY key")]

    def verdicts_of(self, scorer: str) -> list[tuple[str, str, str]]:
        """(trial key, verdict, current outcome) of ``scorer``'s first-turn rows, for trials whose
        outcome a verdict may set (not truncated, blocked or errored)."""
        return [(str(k), str(s), str(o)) for k, s, o in self.conn.execute(
            "SELECT s.trial_key, s.status, t.outcome FROM scores s JOIN trials t ON t.key = s.trial_key "
            "WHERE s.scorer = ? AND s.turn = 0 AND t.outcome NOT IN ('truncated', 'blocked', 'error')",
            (scorer,))]

    def framing_definitions(self) -> dict[str, Framing]:
        """Every framing a reader of this database should know: the bundled ones, then (for files
        written before runs kept their framings) the last study's ``framings_file`` if it is still on
        disk, then the framings the runs kept, which win: they are exactly what was asked."""
        from twinstudy.instruments.loader import load_framings

        defs = dict(load_framings(None))
        spec = self.latest_spec()
        path = _framings_file(*spec) if spec else None
        if path is not None:
            with suppress(UserError):  # an edited, now invalid file: the kept and bundled definitions stand
                defs.update(load_framings(path))
        defs.update(self.stored_framings())
        return defs

    def _definitions(self, prefix: str, cls: type[Instrument] | type[Framing]) -> dict[str, Instrument | Framing]:
        out: dict[str, Instrument | Framing] = {}
        for key, value in self.conn.execute("SELECT key, value FROM meta WHERE key LIKE ?", (prefix + "%",)):
            try:
                out[key.removeprefix(prefix)] = cls.model_validate_json(value)
            except ValueError:
                continue
        return out

    def upsert_models(self, infos: Iterable[ModelInfo]) -> None:
        rows = [(m.id, m.model_dump_json(exclude_none=True)) for m in infos]
        self.conn.executemany("INSERT OR REPLACE INTO models VALUES (?, ?)", rows)

    # -- writing trials and scores -----------------------------------------------------------
    def final_keys(self) -> set[str]:
        q = f"SELECT key FROM trials WHERE outcome IN ({','.join('?' * len(FINAL_OUTCOMES))})"
        return {r[0] for r in self.conn.execute(q, FINAL_OUTCOMES)}

    def write_batch(self, attempts: list[AttemptRow], trials: list[TrialRecord], scores: list[ScoreRow],
                    run_id: int | None = None, also: Callable[[sqlite3.Connection], None] | None = None) -> None:
        """Write one batch in a single transaction, so a crash leaves whole results or none.

        ``run_id`` is the run the attempts were made in (default: the latest run in the file);
        ``also`` writes more in the same transaction (provider batch lines these trials finish)."""
        c = self.conn
        with transaction(c):
            if attempts:
                run = run_id if run_id is not None else c.execute("SELECT max(id) FROM runs").fetchone()[0]
                self._insert_attempts(attempts, run)
            if trials:
                c.executemany(
                    f"INSERT OR REPLACE INTO trials ({','.join(TRIAL_COLUMNS)}) "
                    f"VALUES ({','.join('?' * len(TRIAL_COLUMNS))})", [astuple(t) for t in trials])
            self._insert_scores(scores)
            if also is not None:
                also(c)

    def _insert_attempts(self, attempts: list[AttemptRow], run_id: int) -> None:
        self.conn.executemany(
            "INSERT INTO attempts (trial_key, run_id, turn, attempt, started_at, latency_ms, "
            "request_json, http_status, provider_code, finish_reason, raw, text, reasoning, "
            "tokens_in, tokens_out, error, blocked) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(a.trial_key, run_id, a.turn, a.attempt, a.started_at, a.latency_ms,
              _dumps(a.request) if a.request is not None else None, a.http_status,
              a.provider_code, a.finish_reason, a.raw, a.text, a.reasoning, a.tokens_in,
              a.tokens_out, a.error, a.blocked) for a in attempts])

    def _insert_scores(self, scores: list[ScoreRow]) -> None:
        if not scores:
            return
        self.conn.executemany(
            f"INSERT OR REPLACE INTO scores ({','.join(_SCORE_COLUMNS)}) VALUES ({','.join('?' * len(_SCORE_COLUMNS))})",
            [(s.trial_key, s.scorer, s.version, s.turn, s.status, s.value, s.agreement, s.score, s.correct,
              _dumps(s.distribution) if s.distribution is not None else None, s.detail, s.distribution_mass)
             for s in scores])

    # -- codes of open replies (twinstudy.coding; the SQL is in store/codes.py) ------------------
    def put_codes(self, rows: Iterable[CodeRow]) -> None:
        codes.put_codes(self.conn, rows)

    def code_table(self, codebook: str, coder: str | None = None) -> pd.DataFrame:
        return codes.code_table(self.conn, codebook, coder)

    def coders(self, codebook: str) -> list[str]:
        return codes.coders(self.conn, codebook)

    def codebooks(self) -> list[str]:
        """Ids of the codebooks with codes stored, sorted."""
        return codes.codebooks(self.conn)

    def coded_keys(self, codebook: str, coder: str, version: str) -> set[str]:
        return codes.coded_keys(self.conn, codebook, coder, version)

    def primary_coder(self, codebook: str) -> str | None:
        """The coder set as primary for ``codebook`` (the machine coder run last), or None;
        :func:`twinstudy.coding.frame.counting_coder` decides whose codes count."""
        return codes.primary_coder(self.conn, codebook)

    def set_primary_coder(self, codebook: str, coder: str) -> None:
        codes.set_primary_coder(self.conn, codebook, coder)

    def replies_to_code(self) -> list[tuple[str, str, str, str, int, str, str]]:
        return codes.replies_to_code(self.conn)

    def put_codebook(self, codebook: str, definition_json: str) -> None:
        codes.put_codebook(self.conn, codebook, definition_json)

    def stored_codebooks(self) -> dict[str, str]:
        return codes.stored_codebooks(self.conn)

    def put_scores(self, scores: list[ScoreRow]) -> None:
        with transaction(self.conn):
            self._insert_scores(scores)

    def set_outcomes(self, updates: list[tuple[str, str]]) -> None:
        """``updates`` holds (trial key, new outcome) pairs."""
        with transaction(self.conn):
            self.conn.executemany("UPDATE trials SET outcome=? WHERE key=?", [(o, k) for k, o in updates])

    def apply_rescore(self, scores: list[ScoreRow], outcomes: list[tuple[str, str]]) -> None:
        """New scores and the outcomes that follow from them, in one transaction: a crash half way
        never leaves a trial whose outcome disagrees with its score."""
        with transaction(self.conn):
            self._insert_scores(scores)
            self.conn.executemany("UPDATE trials SET outcome=? WHERE key=?", [(o, k) for k, o in outcomes])

    # -- reading -----------------------------------------------------------------------------
    def models(self) -> dict[str, dict[str, Any]]:
        return {r[0]: json.loads(r[1]) for r in self.conn.execute("SELECT id, info_json FROM models")}

    def runs(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM runs ORDER BY id", self.conn)

    def latest_spec(self) -> tuple[str, str] | None:
        row = self.conn.execute("SELECT spec_text, source FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else None

    def run_sources(self) -> list[str]:
        """Study file paths the runs were started from, newest run first, each once."""
        seen: dict[str, None] = {}
        for (source,) in self.conn.execute("SELECT source FROM runs ORDER BY id DESC"):
            seen.setdefault(source, None)
        return list(seen)

    def counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT outcome, count(*) FROM trials GROUP BY outcome").fetchall())

    def n_attempts(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM attempts").fetchone()[0])

    def integrity(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    def trial_table(self, design: str | None = None) -> pd.DataFrame:
        """The design columns and outcome of every trial of one design (``trial_key`` for ``key``;
        ``design`` as in :func:`twinstudy.store.designs.resolve`, default the current one), with
        the option order and, for choice trials, the prompt that showed the options."""
        from twinstudy.store.designs import resolve

        chosen = resolve(self.conn, design)
        where = " WHERE key IN (SELECT trial_key FROM design_trials WHERE design = ?)" if chosen else ""
        self.conn.create_function("reply_lang", 2, _reply_lang, deterministic=True)
        return pd.read_sql_query(
            "SELECT key AS trial_key, model, instrument, item, theme, item_type, reverse, lang, framing, "
            "paraphrase, sample, outcome, correct_letter, option_order, "
            "CASE WHEN option_order IS NOT NULL THEN messages_json END AS choice_messages, "
            "reply_lang(answer_text, lang) AS reply_lang FROM trials" + where,
            self.conn, params=(chosen.fingerprint,) if chosen else None)

    def model_order(self) -> dict[str, int]:
        """Each model's place in the study (runs write models in study order), for the sign
        convention of :mod:`twinstudy.analysis.order`."""
        return {r[0]: i for i, r in enumerate(self.conn.execute("SELECT id FROM models ORDER BY rowid"))}

    def score_table(self, turn: int, scorer: str | None = None) -> pd.DataFrame:
        """Every score of one turn (``scorer`` given: that scorer's only), as stored."""
        where = "WHERE turn = ?" + (" AND scorer = ?" if scorer else "")
        args: list[str | int] = [turn, scorer] if scorer else [turn]
        return pd.read_sql_query(
            f"SELECT trial_key, scorer, version, status, value, agreement, score, correct, distribution_mass "
            f"FROM scores {where}", self.conn, params=args)

    def chosen_scores(self, turn: int, scorer: str | None = None) -> pd.DataFrame:
        """One score per trial for one turn: the scorer that ranks first in
        :data:`twinstudy.scoring.precedence.SCORER_PRECEDENCE` (or only ``scorer``'s)."""
        return pick_per_trial(self.score_table(turn, scorer)).reset_index(drop=True)

    def stored_replies(self) -> list[StoredReply]:
        """Every trial with what rescoring needs: its replies, the last finish reason of its first
        turn, and the answer distribution read from logits when the run stored one (the embedded
        model's logits are gone after the call, so it cannot be recomputed)."""
        dist = ("(SELECT s.{col} FROM scores s WHERE s.trial_key = t.key AND s.turn = 0 "
                f"AND s.distribution IS NOT NULL ORDER BY {sql_rank('s.scorer')}, s.scorer LIMIT 1)")
        rows = self.conn.execute(
            "SELECT t.key, t.instrument, t.item, t.lang, t.option_order, t.correct_letter, t.outcome, "
            "t.answer_text, t.followup_text, "
            "(SELECT finish_reason FROM attempts a WHERE a.trial_key = t.key AND a.turn = 0 "
            " ORDER BY a.id DESC LIMIT 1), "
            f"{dist.format(col='distribution')}, {dist.format(col='distribution_mass')} FROM trials t").fetchall()
        return [StoredReply(key=r[0], instrument=r[1], item=r[2], lang=r[3],
                            option_order=json.loads(r[4]) if r[4] else None, correct_letter=r[5], outcome=r[6],
                            answer_text=r[7], followup_text=r[8], finish_reason=r[9],
                            distribution=json.loads(r[10]) if r[10] else None, distribution_mass=r[11])
                for r in rows]

    def scored_frame(self, scorer: str | None = None, design: str | None = None) -> pd.DataFrame:
        """One row per trial of one design (default: the current) with its chosen score: the frame
        twinstudy.analysis expects."""
        return build_scored_frame(self.trial_table(design), self.models(), self.chosen_scores(0, scorer),
                                  self.chosen_scores(1, scorer), self.model_order(), self.framing_definitions())

    def table(self, name: str) -> pd.DataFrame:
        """One of :data:`TABLES`, whole and as stored, ordered as written."""
        if name not in TABLES:
            raise ValueError(f"unknown results table {name!r}; one of {', '.join(TABLES)}")
        return pd.read_sql_query(f"SELECT * FROM {name} ORDER BY rowid", self.conn)

    def result_tables(self) -> ResultTables:
        """Every table as a frame, with the scored frame next to them (see :class:`ResultTables`).

        Trials, attempts, scores and models come in the one documented export schema
        (:mod:`twinstudy.store.export`), so a notebook and an exported Parquet file agree."""
        from twinstudy.store.export import read_table

        return ResultTables(trials=read_table(self.conn, "trials"), attempts=read_table(self.conn, "attempts"),
                            scores=read_table(self.conn, "scores"), runs=self.table("runs"),
                            models=read_table(self.conn, "models"), scored=self.scored_frame(),
                            codes=read_table(self.conn, "codes"))
