"""One writer per database, with real processes; a run killed with -9 shows as interrupted.

Issue 19: two runs of one database each asked every trial (double spend), and a run killed with
``kill -9`` stayed "running" in the report forever.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_server import FaultServer

from twinstudy.store import Store

pytestmark = pytest.mark.slow

STUDY = """\
name: lockme
models:
  - id: remote
    provider: openai-compatible
    base_url: {url}
    model: m
    origin: US
    max_concurrency: 2
instruments:
  - {{id: us-china, limit: 30}}
languages: [en, zh]
framings: [neutral]
params: {{max_tokens: 8}}
"""


def _run(study: Path, db: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "twinstudy", "run", str(study), "--db", str(db), "-q",
                             "--no-report"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def _wait_for(cond: object, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


def test_second_run_stops_at_once_and_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    with FaultServer(latency_s=0.4) as srv:
        study = tmp_path / "lock.yaml"
        study.write_text(STUDY.format(url=srv.url("lock")), encoding="utf-8")
        db = tmp_path / "results.db"
        first = _run(study, db)
        try:
            _wait_for(lambda: len(_rows(db, "select key from trials")) > 0)
            assert first.poll() is None, "the first run ended too soon; make the study larger"
            t0 = time.monotonic()
            second = _run(study, db)
            _, err = second.communicate(timeout=60)
            assert second.returncode == 2, err
            assert f"another run (pid {first.pid}) is using {db}" in err
            assert time.monotonic() - t0 < 30
            assert len(_rows(db, "select id from runs")) == 1  # the second run never started one

            first.send_signal(signal.SIGKILL)
            first.wait(30)
        finally:
            if first.poll() is None:
                first.kill()
        # The dead run's row still says running; everything that shows it says interrupted.
        assert _rows(db, "select status from runs") == [("running",)]
        store = Store(db, create=False)
        try:
            from twinstudy.analysis import analyze
            from twinstudy.report.sections.method import build_method

            runs = build_method(store, store.models(), analyze(store.scored_frame(), n_boot=0)).runs
        finally:
            store.close()
        assert [r.status for r in runs] == ["interrupted"]

        # The next run takes the stale lock over, says so, and finishes the study.
        third = _run(study, db)
        _, err = third.communicate(timeout=120)
        assert third.returncode == 0, err
        assert f"an earlier run (pid {first.pid}) ended without finishing" in err
        assert _rows(db, "select status from runs order by id") == [("interrupted",), ("finished",)]
        assert len(_rows(db, "select key from trials")) == 60
