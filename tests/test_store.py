"""The store package: schema migrations on open, typed records, one transaction per rescore, and
the one rule that picks "the" score of a trial."""

from __future__ import annotations

import io
import shutil
import sqlite3
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pytest

from twinstudy.errors import UserError
from twinstudy.scoring.precedence import SCORER_PRECEDENCE, pick, pick_per_trial, rank, sql_rank
from twinstudy.scoring.rescore import rescore
from twinstudy.store import SCHEMA_VERSION, ScoreRow, Store, TrialRecord
from twinstudy.store.migrations import MIGRATIONS

DATA = Path(__file__).parent / "data"


@pytest.fixture
def schema1_db(tmp_path: Path) -> Path:
    """A copy of the database twinstudy wrote with results schema 1 (tests/data/make_schema1_fixture.py)."""
    db = tmp_path / "old.db"
    shutil.copy(DATA / "schema1.sqlite", db)
    return db


def _columns(conn: sqlite3.Connection) -> dict[str, list[tuple[str, str, int]]]:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {t: [(r[1], r[2], r[3]) for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}


def _csv_roundtrip(df: pd.DataFrame) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(df.to_csv(index=False)))


def test_schema1_database_opens_migrates_and_gives_the_same_scored_frame(schema1_db: Path) -> None:
    raw = sqlite3.connect(schema1_db)
    assert raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    n_mass = raw.execute("SELECT count(*) FROM scores WHERE detail LIKE '%label-mass=%'").fetchone()[0]
    raw.close()
    assert n_mass > 0, "the fixture should hold distributions whose mass schema 1 kept as text"

    store = Store(schema1_db, create=False)
    try:
        assert store.opened_version == 1
        frame = store.scored_frame()
        conn = store.conn
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert [r[0] for r in conn.execute("SELECT version FROM migrations ORDER BY version")] == \
            [m[0] for m in MIGRATIONS]
        masses = conn.execute("SELECT distribution_mass, detail FROM scores WHERE distribution IS NOT NULL").fetchall()
        assert len(masses) == n_mass
        assert all(m == pytest.approx(0.8125, abs=1e-3) and "label-mass" not in (d or "") for m, d in masses)
    finally:
        store.close()
    expected = pd.read_csv(DATA / "schema1_frame.csv")
    # Columns added to the frame since (base_model, choice columns, model_order) are derived from what
    # the old file holds or empty; the columns the old frame had are unchanged.
    added = [c for c in frame.columns if c not in expected.columns]
    assert frame["base_model"].isna().all()
    pd.testing.assert_frame_equal(_csv_roundtrip(frame.drop(columns=added)), expected)

    again = Store(schema1_db, create=False)  # a second open finds nothing to do
    try:
        assert again.opened_version == SCHEMA_VERSION
    finally:
        again.close()


def test_a_migrated_database_has_exactly_the_schema_of_a_new_one(schema1_db: Path, tmp_path: Path) -> None:
    old, new = Store(schema1_db), Store(tmp_path / "new.db")
    try:
        assert _columns(old.conn) == _columns(new.conn)
    finally:
        old.close()
        new.close()


def test_a_database_from_a_newer_twinstudy_is_refused_with_a_sentence(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match=r"newer twinstudy .* upgrade twinstudy"):
        Store(db, create=False)


def test_trial_record_fields_are_the_trials_columns(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    try:
        cols = [r[1] for r in store.conn.execute("PRAGMA table_info(trials)")]
        score_cols = {r[1] for r in store.conn.execute("PRAGMA table_info(scores)")}
    finally:
        store.close()
    assert [f.name for f in fields(TrialRecord)] == cols
    assert {f.name for f in fields(ScoreRow)} == score_cols


def test_rescore_keeps_distribution_mass_and_writes_scores_and_outcomes_together(schema1_db: Path) -> None:
    store = Store(schema1_db)
    try:
        result = rescore(store)
        assert result.rescored > 0 and result.skipped == 0
        masses = [r[0] for r in store.conn.execute("SELECT distribution_mass FROM scores WHERE distribution "
                                                   "IS NOT NULL")]
        assert masses and all(m == pytest.approx(0.8125, abs=1e-3) for m in masses)

        before_scores = store.conn.execute("SELECT * FROM scores ORDER BY trial_key, scorer, turn").fetchall()
        before_outcomes = store.conn.execute("SELECT key, outcome FROM trials ORDER BY key").fetchall()
        key = before_outcomes[0][0]
        # The outcome update fails after the scores were written: neither may be kept.
        with pytest.raises(sqlite3.IntegrityError):
            store.apply_rescore([ScoreRow(key, "rules-parse", "99", "answered", value="1")], [(key, None)])  # type: ignore[list-item]
        assert store.conn.execute("SELECT * FROM scores ORDER BY trial_key, scorer, turn").fetchall() == before_scores
        assert store.conn.execute("SELECT key, outcome FROM trials ORDER BY key").fetchall() == before_outcomes
    finally:
        store.close()


def test_precedence_not_alphabetical_order_picks_the_score() -> None:
    # The judge wins over the rules; an unlisted scorer loses to every listed one, whatever its name.
    rows = pd.DataFrame({"trial_key": ["a", "a", "b", "b", "c"],
                         "scorer": ["rules-open", "judge:some/model", "zz-custom", "rules-parse", "zz-custom"],
                         "value": ["r", "j", "z", "p", "only"]})
    chosen = pick_per_trial(rows).set_index("trial_key")["value"].to_dict()
    assert chosen == {"a": "j", "b": "p", "c": "only"}
    assert pick(["rules-open", "aaa-unknown", "rules-parse"], str, None) == "rules-open"  # open rules come first
    assert rank("aaa-unknown") > rank(SCORER_PRECEDENCE[-1])
    assert pick([], str) is None


def test_sql_rank_orders_like_the_python_rule() -> None:
    conn = sqlite3.connect(":memory:")
    names = ["zz-custom", "rules-open", "rules-parse", "llm-judge-open"]
    got = [r[0] for r in conn.execute(
        f"SELECT s FROM (SELECT column1 AS s FROM (VALUES {', '.join(f'({n!r})' for n in names)})) "
        f"ORDER BY {sql_rank('s')}, s")]
    assert got == sorted(names, key=rank)


def test_the_scored_frame_uses_the_precedence_rule(tmp_path: Path, schema1_db: Path) -> None:
    store = Store(schema1_db)
    try:
        key, value = store.conn.execute(
            "SELECT trial_key, value FROM scores WHERE scorer = 'rules-parse' AND turn = 0 AND value IS NOT NULL "
            "LIMIT 1").fetchone()
        # A scorer that sorts after "rules-parse" alphabetically but is unknown: it must not win.
        store.put_scores([ScoreRow(key, "zzz-other", "1", "answered", value="not this")])
        frame = store.scored_frame().set_index("trial_key")
        assert frame.loc[key, "answer"] == value
    finally:
        store.close()


def test_attempts_belong_to_the_run_the_runner_names(tmp_path: Path) -> None:
    from twinstudy.store import AttemptRow

    store = Store(tmp_path / "r.db")
    try:
        first = store.start_run("s", "spec", "s.yaml", "0", 1)
        store.start_run("s", "spec", "s.yaml", "0", 1)  # a later run started meanwhile
        store.write_batch([AttemptRow("k", 0, 0, 0.0)], [], [], first)
        assert store.conn.execute("SELECT run_id FROM attempts").fetchall() == [(first,)]
    finally:
        store.close()
