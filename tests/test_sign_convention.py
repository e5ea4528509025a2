"""One sign convention: paired differences and the origin contrast point the same way, and every
table and figure says which way.

Issue 19: the origin contrast was CN − US while paired differences took models alphabetically
(``anthropic/… − zai/…``, i.e. US − CN), so two positive numbers meant opposite things.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from fault_server import FaultServer, Reply, completion_body

from twinstudy.analysis import analyze
from twinstudy.cli import main
from twinstudy.store import Store

STUDY = """\
name: signs
models:
  - {{id: b-us, provider: openai-compatible, base_url: "{low}", model: m, origin: US}}
  - {{id: a-us, provider: openai-compatible, base_url: "{low}", model: m, origin: US}}
  - {{id: z-cn, provider: openai-compatible, base_url: "{high}", model: m, origin: CN}}
instruments:
  - {{id: us-china, items: [usc-race-01, usc-race-02, usc-race-03]}}
languages: [en]
framings: [neutral]
params: {{max_tokens: 8}}
"""


def test_pairs_follow_origin_then_study_order_and_signs_are_printed(tmp_path: Path) -> None:
    with FaultServer() as srv:
        low = srv.script("low", Reply(200, completion_body("2")))
        high = srv.script("high", Reply(200, completion_body("5")))
        study = tmp_path / "s.yaml"
        study.write_text(STUDY.format(low=low, high=high), encoding="utf-8")
        res = CliRunner().invoke(main, ["run", str(study), "--db", str(tmp_path / "r.db"), "-q"])
        assert res.exit_code == 0, res.output
    store = Store(tmp_path / "r.db", create=False)
    try:
        frame = store.scored_frame()
    finally:
        store.close()
    results = analyze(frame, n_boot=200)
    paired = results["paired"]
    pairs = list(dict.fromkeys(zip(paired["model_a"], paired["model_b"], strict=True)))
    # CN before US; within US, the study's order (b-us is listed before a-us), not the alphabet.
    assert pairs == [("z-cn", "b-us"), ("z-cn", "a-us"), ("b-us", "a-us")]
    origin = results["origin_contrast"]
    row = origin[origin["theme"] == "all"].iloc[0]
    assert (row["origin_a"], row["origin_b"]) == ("CN", "US")
    cross = paired[(paired["model_a"] == "z-cn") & (paired["theme"] == "all")]
    assert (cross["estimate"] * row["estimate"] > 0).all(), "paired and origin differences disagree in sign"

    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Sign: estimate = model_a − model_b (A − B, where A is the model whose origin comes first" in page
    assert "Sign: estimate = origin_a − origin_b (CN − US" in page
    out = CliRunner().invoke(main, ["analyze", "--db", str(tmp_path / "r.db"), "--boot", "100"],
                             env={"COLUMNS": "200"}).output
    assert "sign: estimate = model_a − model_b" in out and "sign: estimate = EN − ZH" in out
