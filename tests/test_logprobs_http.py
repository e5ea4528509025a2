"""Logprob answers read over HTTP the way the embedded model reads them.

Issue 19: through ``python -m llama_cpp.server`` with the quickstart's parameters, 102 of 120
trials were labelled ``truncated`` although the server returned ``top_logprobs``: the reading
demanded half of the top-20 mass on the labels. Now the label tokens are renormalised whenever they
are present, and the label mass is recorded.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest

from twinstudy.cli.commands import run_study
from twinstudy.scoring.logprobs import label_distribution

STUDY = """\
name: lp
models:
  - id: smol-http
    provider: openai-compatible
    base_url: {url}
    model: smollm2
    origin: CN
    max_concurrency: 2
instruments:
  - {{id: ai-futures, tags: [quickstart], limit: 6}}
languages: [en, zh]
framings: [neutral]
samples: 1
params:
  temperature: 0.7
  max_tokens: 5
  seed: 0
  logprobs: true
"""


def test_label_tokens_are_read_even_when_they_hold_little_mass() -> None:
    position = {"I": math.log(0.6), " **": math.log(0.2), "4": math.log(0.06), "2": math.log(0.02)}
    reading = label_distribution([position], "likert5")
    assert reading is not None
    dist, mass = reading
    assert dist == pytest.approx({"2": 0.25, "4": 0.75}) and mass == pytest.approx(0.08)
    assert label_distribution([{"I": -0.1, "think": -2.0}], "likert5") is None


@pytest.mark.slow
def test_quickstart_parameters_through_llama_cpp_server(llama_server: str, tmp_path: Path) -> None:
    study = tmp_path / "lp.yaml"
    study.write_text(STUDY.format(url=llama_server), encoding="utf-8")
    db = tmp_path / "r.db"
    result = run_study(study, db=db, write_report=False, quiet=True)
    assert result.done == result.planned == 12 and result.outcomes.get("error", 0) == 0
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT t.outcome, s.distribution, s.distribution_mass, "
        " (SELECT a.finish_reason FROM attempts a WHERE a.trial_key = t.key AND a.turn = 0 "
        "  ORDER BY a.id DESC LIMIT 1) "
        "FROM trials t LEFT JOIN scores s ON s.trial_key = t.key AND s.turn = 0").fetchall()
    con.close()
    read = [r for r in rows if r[1] is not None]
    # The server returns top logprobs for every trial; the labels are among them almost always.
    assert len(read) >= 10, rows
    for _outcome, dist, mass, _finish in read:
        assert math.isclose(sum(json.loads(dist).values()), 1.0, abs_tol=1e-6)
        assert mass is not None and 0.0 < mass <= 1.0  # the label mass before renormalising, recorded
    assert sum(r[0] == "answered" for r in rows) >= 10
    for outcome, _dist, _detail, finish in rows:
        if outcome == "truncated":
            assert finish == "length"
