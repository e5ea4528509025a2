"""Crash safety of `twinstudy run --batch`: the real command (``python -m twinstudy run --batch``)
with the real adapters of two batch-capable models (OpenAI files+batches and Anthropic message batches), against the loopback batch server (tests/batchserver.py,
the study's models pointing their ``base_url`` at it), killed with SIGKILL at random moments while
it submits, polls and collects (once exactly while the server holds a batch whose id the run has
not yet recorded), with one line in seven expiring once, then run again: every trial ends with
exactly one final outcome, no line the server already got is submitted again except the expired
ones, once (the server counts every custom_id it receives), and the database is intact."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from batchserver import BatchServer

from twinstudy.store import FINAL_OUTCOMES
from twinstudy.study.design import count_trials
from twinstudy.study.spec import load_study

pytestmark = pytest.mark.slow  # about 10 s: four subprocess runs (like test_kill_resume.py)

STUDY = """\
name: batchkill
models:
  - {{id: openai/gpt-4.1, provider: openai, model: gpt-4.1, base_url: {url}, batch: true}}
  - {{id: twin-b, provider: anthropic, model: claude-sonnet-4-5, base_url: {anthropic_url}, origin: US, batch: true}}
instruments:
  - {{id: ai-futures, limit: 12}}
languages: [en, zh]
framings: [neutral, user-agrees]
params: {{temperature: 0.0, max_tokens: 8}}
"""


def _start(study: Path, db: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key", "ANTHROPIC_API_KEY": "sk-ant-test-not-real", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "twinstudy", "run", str(study), "--db", str(db), "--batch",
                             "-q", "--no-report", "--batch-poll", "0.05", "--batch-size", "8"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _query(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=10)
    try:
        return int(con.execute(sql).fetchone()[0] or 0)
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        con.close()


def _kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], extra_s: float) -> bool:
    """SIGKILL ``proc`` ``extra_s`` after ``ready()`` first holds; False when it ended first."""
    deadline = time.monotonic() + 30
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(extra_s)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # reaps it and closes its stderr pipe
    return killed


def test_batch_run_killed_while_submitting_polling_and_collecting_then_resumed(tmp_path: Path) -> None:
    rng = random.Random(18)
    with BatchServer(wait_s=0.4, hold_creates=1, hold_s=2.0, expire_mod=7) as srv:
        study = tmp_path / "kill.yaml"
        study.write_text(STUDY.format(url=srv.base + "/v1", anthropic_url=srv.base), encoding="utf-8")
        planned = count_trials(load_study(study))
        db = tmp_path / "results.db"
        phases: list[tuple[str, Callable[[], bool], float]] = [
            # the server created the first batch and has not answered yet: the row is still `submitting`
            ("create", lambda: srv.counts["batches.create"] + srv.counts["anthropic.create"] >= 1, rng.uniform(0.0, 0.5)),
            ("submit", lambda: _query(db, "select count(*) from batches") >= 2, rng.uniform(0.0, 0.03)),
            ("poll", lambda: _query(db, "select count(*) from batches where remote_id is not null "
                                        "and collected_at is null") >= 2, rng.uniform(0.0, 0.2)),
            ("collect", lambda: _query(db, "select count(*) from trials") >= 1, rng.uniform(0.0, 0.01)),
        ]
        killed = []
        for name, ready, extra in phases:
            proc = _start(study, db)
            if _kill_when(proc, ready, extra):
                killed.append(name)
        assert "create" in killed and len(killed) >= 3, f"the run finished before it could be killed ({killed})"
        final = _start(study, db)
        _, err = final.communicate(timeout=60)
        assert final.returncode == 0, err.decode()

        con = sqlite3.connect(db)
        try:
            rows = con.execute("select key, outcome from trials").fetchall()
            keys = {r[0] for r in rows}
            assert len(rows) == planned == len(keys), "a trial is missing or stored twice"
            assert {r[1] for r in rows} <= set(FINAL_OUTCOMES)
            assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
            # each trial's result recorded from exactly one batch line
            done = con.execute("select trial_key, count(*) from batch_lines where state = 'done' "
                               "group by trial_key").fetchall()
            assert len(done) == planned and {n for _, n in done} == {1}
            expired = {r[0] for r in con.execute("select trial_key from batch_lines where state = 'expired'")}
            assert expired == srv.expired  # each expired line recorded as such, then sent again
            assert con.execute("select count(*) from batches where collected_at is null").fetchone()[0] == 0
        finally:
            con.close()
        # the server got every trial's line once, and once more only when it expired the line: none
        # lost, none submitted twice
        assert set(srv.lines) == keys and srv.expired
        # both protocols took part: OpenAI files+batches and Anthropic message batches
        assert srv.counts["batches.create"] >= 1 and srv.counts["anthropic.create"] >= 1
        dupes = {k: n for k, n in srv.lines.items() if n != 1 + (k in srv.expired)}
        assert not dupes, f"{len(dupes)} lines reached the server more often than needed (kills: {killed})"
