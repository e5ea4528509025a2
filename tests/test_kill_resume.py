"""Crash safety: a run killed with SIGKILL at random moments, then resumed, ends with exactly one
final outcome per trial, no repeated request for an answered trial, and an intact database."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fault_server import FaultServer, Reply

from twinstudy.store import FINAL_OUTCOMES
from twinstudy.study.design import count_trials
from twinstudy.study.spec import load_study

pytestmark = pytest.mark.slow

STUDY = """\
name: killme
models:
  - id: remote
    provider: openai-compatible
    base_url: {url}
    model: m
    origin: US
    max_concurrency: 4
instruments:
  - {{id: us-china, limit: 20}}
languages: [en, zh]
framings: [neutral, user-agrees, user-disagrees]
samples: 2
params: {{temperature: 0.7, max_tokens: 8}}
"""


class SeedLog(FaultServer):
    """Records when each request (identified by its per-trial seed) arrived."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.arrivals: list[tuple[float, int]] = []
        self._arr_lock = threading.Lock()

    def _normal(self, path: str, raw: bytes) -> Reply:
        body = json.loads(raw)
        with self._arr_lock:
            self.arrivals.append((time.time(), int(body["seed"])))
        return super()._normal(path, raw)


def _run(study: Path, db: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "twinstudy", "run", str(study), "--db", str(db), "-q",
                             "--no-report"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _n_trials(db: Path) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=10)
    try:
        return int(con.execute("select count(*) from trials").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    rng = random.Random(7)
    with SeedLog(latency_s=0.08) as srv:
        study = tmp_path / "kill.yaml"
        study.write_text(STUDY.format(url=srv.url("kill")), encoding="utf-8")
        planned = count_trials(load_study(study))
        db = tmp_path / "results.db"
        kills = 0
        for _ in range(4):
            before = _n_trials(db)
            proc = _run(study, db)
            # wait until this run has written something, then kill at a random moment after it
            deadline = time.monotonic() + 90
            while _n_trials(db) <= before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 1.5))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(30)
        assert kills >= 2, "the run finished before it could be killed; make the study larger"
        assert 0 < _n_trials(db) < planned
        final = _run(study, db)
        _, err = final.communicate(timeout=300)
        assert final.returncode == 0, err.decode()

        con = sqlite3.connect(db)
        rows = con.execute("select key, seed, outcome, finished_at from trials").fetchall()
        assert len(rows) == planned == len({r[0] for r in rows})
        assert {r[2] for r in rows} <= set(FINAL_OUTCOMES)
        assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
        # no request for a trial after it was answered and committed
        finished = {r[1]: r[3] for r in rows}
        late = [(t, seed) for t, seed in srv.arrivals if t > finished[seed] + 1e-3]
        assert not late, f"{len(late)} requests repeated an already answered trial"
        # every request that produced a stored answer is accounted for by an attempt row
        n_attempts = con.execute("select count(*) from attempts").fetchone()[0]
        assert n_attempts <= len(srv.arrivals)
        con.close()
