"""Choice items are shown and analysed by the option each trial meant, not by its letter.

Issue 19: options are shuffled per trial but the transcripts showed one order, so a parsed "C" sat
next to the wrong option text; and choice items were never analysed at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from fault_server import FaultServer, Reply, completion_body

from twinstudy.analysis.choice import choice_origin, choice_shares, newcombe_diff
from twinstudy.cli import main
from twinstudy.report.sections.transcripts import build_blob, load_source
from twinstudy.store import Store

STUDY = """\
name: choices
models:
  - {{id: says-us, provider: openai-compatible, base_url: "{us}", model: m, origin: US}}
  - {{id: says-cn, provider: openai-compatible, base_url: "{cn}", model: m, origin: CN}}
instruments:
  - {{id: us-china, items: [usc-lead-2030]}}
languages: [en, zh]
framings: [neutral]
samples: 4
params: {{max_tokens: 16}}
"""


@pytest.fixture(scope="module")
def choice_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("choices")
    with FaultServer() as srv:
        us = srv.script("us", Reply(200, completion_body("The United States")))
        cn = srv.script("cn", Reply(200, completion_body("China")))
        study = tmp / "s.yaml"
        study.write_text(STUDY.format(us=us, cn=cn), encoding="utf-8")
        res = CliRunner().invoke(main, ["run", str(study), "--db", str(tmp / "r.db"), "-q", "--no-report"])
        assert res.exit_code == 0, res.output
    return tmp / "r.db"


def test_transcripts_show_each_trials_option_order_and_the_chosen_option(choice_db: Path) -> None:
    store = Store(choice_db, create=False)
    try:
        blob, _ = build_blob(load_source(store, store.models()), 10_000_000)
        orders = {o for (o,) in store.conn.execute("SELECT option_order FROM trials")}
    finally:
        store.close()
    assert len(orders) > 1, "the options were shuffled per trial"
    en = {"The United States", "China", "They will be about equal", "Another country"}
    zh = {"美国", "中国", "两国大致相当", "其他国家"}
    for row in blob["rows"]:
        model, shown, chosen = blob["models"][row[2]], row[10], row[11]
        lines = shown.splitlines()
        assert [ln[:3] for ln in lines] == ["A. ", "B. ", "C. ", "D. "]
        assert {ln[3:] for ln in lines} in (en, zh)
        letter = row[8]
        assert chosen == next(ln for ln in lines if ln.startswith(letter + ". "))
        assert chosen[3:] in (("The United States", "美国") if model == "says-us" else ("China", "中国"))


def test_choice_distributions_and_contrasts(choice_db: Path) -> None:
    store = Store(choice_db, create=False)
    try:
        frame = store.scored_frame()
    finally:
        store.close()
    shares = choice_shares(frame)
    cn = shares[(shares["model"] == "says-cn") & (shares["lang"] == "en")].set_index("option")
    assert cn.loc[1, "option_text"] == "China" and cn.loc[1, "estimate"] == 1.0 and cn.loc[1, "n"] == 4
    assert cn.loc[0, "k"] == 0 and cn.loc[0, "ci_low"] == 0.0 and 0 < cn.loc[0, "ci_high"] < 1
    origin = choice_origin(frame)
    assert set(origin["contrast"]) == {"CN − US"}
    china = origin[(origin["option"] == 1) & (origin["lang"] == "zh")].iloc[0]
    assert china["estimate"] == 1.0 and china["ci_low"] > 0.3
    res = CliRunner().invoke(main, ["analyze", "--db", str(choice_db), "--json", "--boot", "100"])
    assert res.exit_code == 0, res.output
    tables = json.loads(res.stdout)["tables"]
    assert any(r["item"] == "usc-lead-2030" for r in tables["choice_shares"])
    assert {r["contrast"] for r in tables["choice_language"]} == {"EN − ZH"}
    report = choice_db.parent / "choices.html"
    assert CliRunner().invoke(main, ["report", "--db", str(choice_db), "-o", str(report)]).exit_code == 0
    html = report.read_text(encoding="utf-8")
    assert 'id="choices"' in html and "The United States" in html and "中国" in html


def test_newcombe_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Table II, example (a): 56/70 vs 48/80 -> 0.2000, 95% CI 0.0524 to 0.3339.
    d, lo, hi = newcombe_diff(pd.Series([56.0]).to_numpy(), pd.Series([70.0]).to_numpy(),
                              pd.Series([48.0]).to_numpy(), pd.Series([80.0]).to_numpy())
    assert d[0] == pytest.approx(0.2) and lo[0] == pytest.approx(0.0524, abs=1e-4)
    assert hi[0] == pytest.approx(0.3339, abs=1e-4)
