"""One analysis, rendered three ways: Results, framing roles from data, the store's read API."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twinstudy.analysis import Results, analyze, n_boot_for, to_json
from twinstudy.analysis.results import fingerprint
from twinstudy.analysis.simulate import SimSpec, simulate
from twinstudy.report.numbers import ci
from twinstudy.report.roles import FramingRole, add_role_columns
from twinstudy.report.sections.headline import Design, build_headline, chosen_p
from twinstudy.store import ScoreRow, Store
from twinstudy.store.reads import transcript_rows

SRC = Path(__file__).parents[1] / "src" / "twinstudy"
ROLES = {"neutral": FramingRole("neutral"), "i-agree": FramingRole("i-agree", stance="agree"),
         "i-disagree": FramingRole("i-disagree", stance="disagree")}


def small_frame(framings: tuple[str, ...] = ("neutral", "user-agrees", "user-disagrees")) -> pd.DataFrame:
    spec = SimSpec(n_models=3, origins=("CN", "US", "US"), n_items=8, framings=framings, n_samples=1,
                   n_paraphrases=1)
    frame, _ = simulate(spec, np.random.default_rng(5))
    return frame


def test_results_carry_settings_and_the_one_draw_policy() -> None:
    frame = small_frame()
    res = analyze(frame, n_boot=50, seed=3)
    assert isinstance(res, Results) and res.errors == {}
    assert res.settings.n_boot == 50 and res.settings.seed == 3 and res.settings.n_rows == len(frame)
    assert set(res) >= {"profiles", "variance", "variance_headline", "framing_split"}
    assert analyze(frame.iloc[:0]).settings.n_boot == n_boot_for(0) == 1000
    assert n_boot_for(20_001) == 400
    # the fingerprint names the data, not the order the store returned it in
    assert fingerprint(frame.sample(frac=1.0, random_state=1)) == res.settings.fingerprint
    doc = to_json(res)
    assert doc["settings"] == res.settings.as_dict() and doc["errors"] == {}


def test_a_failing_estimator_leaves_an_error_and_the_rest_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import twinstudy.analysis.api as api

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("estimator exploded")

    monkeypatch.setattr(api, "paired_differences", broken)
    res = analyze(small_frame(), n_boot=20)
    assert res.errors == {"paired": "RuntimeError: estimator exploded"}
    assert "paired" not in res and res.table("paired").empty
    assert not res["profiles"].empty and not res["variance"].empty
    assert res.error_lines() == ["paired: RuntimeError: estimator exploded"]


def test_opinion_framings_are_found_by_stance_not_id() -> None:
    frame = small_frame().replace({"framing": {"user-agrees": "i-agree", "user-disagrees": "i-disagree"}})
    res = analyze(add_role_columns(frame, ROLES), n_boot=20)
    split = res["framing_split"]
    assert list(split["group"]) == ["opinion"]
    cards = {c.key: c.text for c in build_headline(res, Design({"en", "zh"}, set(ROLES), 1), ROLES)}
    assert "not measured" not in cards["framing"]
    assert "among the neutral and opinion trials alone, the user's stance" in cards["framing"]
    # without roles the same framings are not counted as opinion framings
    assert analyze(frame, n_boot=20)["framing_split"].empty


def test_intervals_from_too_few_items_are_not_shown() -> None:
    assert ci({"estimate": 0.5, "ci_low": 0.5, "ci_high": 0.5, "n": 2}) == "+0.50 (n=2, no interval)"
    assert "[" not in ci({"estimate": 1.0, "ci_low": 1.0, "ci_high": 1.0, "n": 50})
    assert ci({"estimate": 0.1, "ci_low": -0.2, "ci_high": 0.3, "n": 12}) == "+0.10 [-0.20, +0.30]"


def test_the_largest_of_several_quotes_an_adjusted_p() -> None:
    table = pd.DataFrame({"estimate": [0.1, 0.4], "p_value": [0.5, 0.01], "p_adj": [0.5, 0.02]})
    assert chosen_p(table.iloc[1], table, "models") == "adjusted p = 0.02"
    raw = table.drop(columns="p_adj")
    assert chosen_p(raw.iloc[1], raw, "models") == "p = 0.01, not adjusted for picking the largest of 2 models"


def test_transcripts_show_the_score_the_frame_counts(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    try:
        store.conn.execute(
            "INSERT INTO trials (key, study, model, instrument, item, theme, item_type, reverse, lang, framing, "
            "paraphrase, sample, seed, params_json, messages_json, outcome, n_attempts, finished_at) VALUES "
            "('k1', 's', 'm', 'inst', 'i1', 't', 'likert5', 0, 'en', 'neutral', 0, 0, 0, '{}', '[]', 'answered', 1, 0)")
        store.put_scores([ScoreRow("k1", "rules-parse", "1", "answered", value="2", agreement=-0.5, score=-0.5),
                          ScoreRow("k1", "zz-custom", "9", "answered", value="5", agreement=1.0, score=1.0)])
        shown = transcript_rows(store)[0].answer
        # a listed scorer wins over an unlisted one whatever the names' order; both views agree
        assert shown == store.scored_frame()["answer"].iloc[0] == "2"
    finally:
        store.close()


def test_the_report_reads_no_sql_and_names_no_framing_id() -> None:
    for path in (SRC / "report").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bSELECT\b|\.conn\b|execute\(", text), path
        assert not re.search(r"\"(user-agrees|user-disagrees|identity-cn|identity-us|pushback|self-perception)\"",
                             text), path
    for path in (SRC / "report").rglob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path


def test_json_round_trip_has_no_nan() -> None:
    text = json.dumps(to_json(analyze(small_frame(), n_boot=20)), allow_nan=False)
    assert '"settings"' in text


def test_columns_the_estimators_may_add_are_rendered() -> None:
    from twinstudy.analysis.results import Settings
    from twinstudy.report.sections.estimands import estimands
    from twinstudy.report.sections.tables import variance_view

    var = pd.DataFrame({"component": ["model", "residual"], "estimate": [0.2, 0.1], "ci_low": [0.1, 0.0],
                        "ci_high": [0.3, 0.2], "n": [20, 20], "share_empty": [0.3, 0.3]})
    cells = pd.DataFrame({"model": ["a", "a"], "lang": ["en", "zh"], "share_empty": [0.1, 0.5]})
    prof = pd.DataFrame({"model": ["a"], "theme": ["t"], "lang": ["all"], "framing": ["neutral"], "estimate": [0.1],
                         "ci_low": [0.0], "ci_high": [0.2], "n": [4], "ci_kind": ["t interval on 4 item means"]})
    res = Results({"variance": var, "empty_cells": cells, "profiles": prof}, Settings(10, 0, 1, "x"))
    view = variance_view(res, samples=1)
    assert view.empty_share == 0.3 and [r["component"] for r in view.rows] == ["model"]  # no noise share
    assert view.empty_by_model_lang == [{"model": "a", "lang": "en", "share_empty": 0.1},
                                        {"model": "a", "lang": "zh", "share_empty": 0.5}]
    profiles = next(e for e in estimands(res) if e.table == "profiles")
    assert profiles.interval.startswith("t interval on 4 item means; measured coverage")


def test_a_model_that_follows_the_user_shows_up_on_the_users_side() -> None:
    """Half the items reverse-keyed: coded by id the opinion framing share would read about 0."""
    spec = SimSpec(n_models=3, origins=("CN", "US", "US"), n_items=16, n_samples=1, n_paraphrases=1,
                   kappa_mean=0.8, kappa_sd=0.0, sd_syc_item=0.0, reverse_share=0.5, sd_framing=0.0,
                   sd_model_framing=0.0)
    frame, _ = simulate(spec, np.random.default_rng(2))
    roles = {"neutral": FramingRole("neutral"), "user-agrees": FramingRole("user-agrees", stance="agree"),
             "user-disagrees": FramingRole("user-disagrees", stance="disagree")}
    res = analyze(add_role_columns(frame, roles), n_boot=50)
    split = res["framing_split"].set_index("group")
    assert split.loc["opinion", "estimate"] > 0.3
    assert res["sycophancy"].query("lang == 'all'")["estimate"].min() > 0.5
