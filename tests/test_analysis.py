"""Analysis layer: each estimator on data small enough to check by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from twinstudy.analysis import COLUMNS, analyze, to_json, validate_frame
from twinstudy.analysis.bootstrap import KIND_T, expanded_alpha, percentile_ci, sign_flip_pvalue
from twinstudy.analysis.inference import benjamini_hochberg, cluster_wilson, mcnemar_exact, wilson_ci
from twinstudy.analysis.language import language_gap, mcnemar_table
from twinstudy.analysis.paired import paired_differences
from twinstudy.analysis.profiles import origin_contrast, profiles
from twinstudy.analysis.rates import open_outcome_rates, outcome_rates
from twinstudy.analysis.simulate import SimSpec, simulate
from twinstudy.analysis.sycophancy import flip_rates, identity_effect, sycophancy_index
from twinstudy.analysis.variance import decompose

SCHEMA = Path(__file__).resolve().parents[1] / "src" / "twinstudy" / "analysis" / "schema.json"

DEFAULTS: dict[str, Any] = {
    "trial_key": "k", "model": "A", "origin": "US", "company": "c", "tier": "t", "open_weights": None,
    "instrument": "inst", "item": "q1", "theme": "T", "item_type": "likert5", "reverse": False,
    "lang": "en", "framing": "neutral", "paraphrase": 0, "sample": 0, "outcome": "answered",
    "answer": None, "agreement": np.nan, "score": np.nan, "correct": np.nan, "final_answer": None,
    "final_correct": np.nan, "flipped": np.nan, "open_outcome": None,
}


def make(rows: list[dict[str, Any]]) -> pd.DataFrame:
    full = []
    for i, r in enumerate(rows):
        row = {**DEFAULTS, "trial_key": f"k{i}", **r}
        if "score" in r and "agreement" not in r:
            row["agreement"] = r["score"]
        full.append(row)
    return pd.DataFrame(full, columns=list(COLUMNS))


def one(df: pd.DataFrame, **where: Any) -> pd.Series:  # type: ignore[type-arg]
    m = np.ones(len(df), dtype=bool)
    for k, v in where.items():
        m &= (df[k] == v).to_numpy()
    assert m.sum() == 1, (where, df)
    return df.loc[m].iloc[0]


# ---------------------------------------------------------------- frame contract


def test_validate_frame_names_missing_columns() -> None:
    df = make([{"score": 0.5}]).drop(columns=["score", "flipped"])
    with pytest.raises(ValueError, match="score, flipped"):
        validate_frame(df)
    bad = make([{"outcome": "weird"}])
    with pytest.raises(ValueError, match="weird"):
        validate_frame(bad)
    validate_frame(make([{"score": 0.5}]))


# ---------------------------------------------------------------- small helpers


def test_benjamini_hochberg_hand_example() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4/1, x4/2, x4/3, x4/4 = .02 .02 .04 .04 (already monotone)
    adj = benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adj, [0.02, 0.04, 0.04, 0.02])
    # step-up monotonicity: 0.01*4=.04, .02*2=.04, .03*4/3=.04, .5 -> .5
    np.testing.assert_allclose(benjamini_hochberg([0.01, 0.02, 0.03, 0.5]), [0.04, 0.04, 0.04, 0.5])
    out = benjamini_hochberg([np.nan, 0.01])
    assert math.isnan(out[0]) and out[1] == pytest.approx(0.01)


def test_mcnemar_exact_hand_binomial() -> None:
    # b=8, c=2: two-sided = 2 * P(X <= 2 | 10, 1/2) = 2 * (1 + 10 + 45) / 1024
    assert mcnemar_exact(8, 2) == pytest.approx(112 / 1024)
    assert mcnemar_exact(2, 8) == pytest.approx(112 / 1024)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)


def test_wilson_known_value() -> None:
    lo, hi = wilson_ci([5, 0], [10, 0])
    assert lo[0] == pytest.approx(0.236593, abs=1e-5)
    assert hi[0] == pytest.approx(0.763407, abs=1e-5)
    assert math.isnan(lo[1])


def test_sign_flip_exact_and_expanded_interval() -> None:
    rng = np.random.default_rng(0)
    # d = [.5, 0, .5]: of the 8 sign patterns, 4 give |mean| = 1/3 -> p = 0.5
    assert sign_flip_pvalue(np.array([0.5, 0.0, 0.5]), rng) == pytest.approx(0.5)
    assert sign_flip_pvalue(np.array([1.0, 1.0, 1.0, 1.0]), rng) == pytest.approx(2 / 16)
    # expanded percentile: wider than nominal for few clusters, tends to nominal for many
    assert expanded_alpha(20) < 0.05 and expanded_alpha(10_000) == pytest.approx(0.05, abs=1e-3)
    assert all(math.isnan(x) for x in percentile_ci(np.arange(10.0), 1))


# ---------------------------------------------------------------- profiles and paired


def test_profile_by_hand() -> None:
    rows = [
        {"item": "q1", "score": 1.0, "sample": 0}, {"item": "q1", "score": 0.0, "sample": 1},  # 0.5
        {"item": "q2", "score": 0.5},  # 0.5
        {"item": "q3", "score": -1.0},  # -1
        {"item": "q3", "score": 1.0, "framing": "user-agrees"},  # not the profile framing
        {"item": "q2", "outcome": "refused"},  # not answered
    ]
    prof = profiles(make(rows), n_boot=500)
    r = one(prof, model="A", lang="all")
    assert r["estimate"] == pytest.approx(0.0)
    assert r["n"] == 3 and r["framing"] == "neutral"
    # 3 items: a t interval on the item means (2 df), not a bootstrap capped inside [min, max]
    half = 4.302653 * math.sqrt(0.75) / math.sqrt(3)
    assert (r["ci_low"], r["ci_high"]) == (pytest.approx(-half), pytest.approx(half))
    assert r["ci_kind"] == KIND_T and r["flag"]
    assert r["refusal_rate"] == pytest.approx(1 / 5) and r["empty_cells"] == pytest.approx(0.0)


def test_paired_difference_by_hand() -> None:
    a = {"q1": 1.0, "q2": 0.5, "q3": 0.0}
    b = {"q1": 0.5, "q2": 0.5, "q3": -0.5}
    rows = [{"model": "A", "item": i, "score": s} for i, s in a.items()]
    rows += [{"model": "B", "item": i, "score": s} for i, s in b.items()]
    rows.append({"model": "A", "item": "q1", "lang": "zh", "score": -1.0})  # no twin cell in B: ignored
    res = paired_differences(make(rows), n_boot=500)
    t = one(res, theme="T")
    assert t["estimate"] == pytest.approx(1 / 3)  # item diffs .5, 0, .5
    assert t["n"] == 3 and t["n_cells"] == 3
    assert t["p_value"] == pytest.approx(0.5)
    assert t["p_adj"] == pytest.approx(0.5)  # single theme: BH changes nothing
    half = 4.302653 * float(np.std([0.5, 0.0, 0.5], ddof=1)) / math.sqrt(3)
    assert t["ci_low"] == pytest.approx(1 / 3 - half) and t["ci_kind"] == KIND_T
    assert t["framing"] == "neutral"
    twin = paired_differences(make(rows), twins=[("B", "A")], n_boot=50)
    assert one(twin, theme="T")["estimate"] == pytest.approx(-1 / 3)
    with pytest.raises(ValueError, match="Z"):
        paired_differences(make(rows), twins=[("A", "Z")])


def test_paired_bh_across_themes() -> None:
    rng = np.random.default_rng(1)
    rows = []
    for t, shift in (("T1", 0.8), ("T2", 0.0), ("T3", 0.0)):
        for i in range(12):
            noise = float(rng.normal(0, 0.1))
            rows.append({"model": "A", "theme": t, "item": f"{t}{i}", "score": noise + shift})
            rows.append({"model": "B", "theme": t, "item": f"{t}{i}", "score": 0.0})
    res = paired_differences(make(rows), n_boot=100)
    # BH over every row shown, the pooled "all" row included
    np.testing.assert_allclose(res["p_adj"].to_numpy(), benjamini_hochberg(res["p_value"].to_numpy()))
    assert res["theme"].iloc[0] == "all"  # pooled rows first
    assert one(res, theme="T1")["p_adj"] < 0.01


def test_origin_contrast_by_hand() -> None:
    means = {"c1": ("CN", 0.2), "c2": ("CN", 0.4), "u1": ("US", 0.0), "u2": ("US", 0.2)}
    rows = [{"model": m, "origin": o, "company": m, "item": f"q{i}", "score": v}
            for m, (o, v) in means.items() for i in range(3)]
    oc = origin_contrast(make(rows))
    r = one(oc, theme="all")
    assert (r["origin_a"], r["origin_b"]) == ("CN", "US")
    assert r["estimate"] == pytest.approx(0.2)
    se = math.sqrt(0.02 * (1 / 2 + 1 / 2))  # pooled s^2 = (0.02 + 0.02) / 2
    assert r["se"] == pytest.approx(se)
    assert r["ci_high"] - r["estimate"] == pytest.approx(4.302653 * se, rel=1e-5)  # t_2, 0.975
    assert r["n"] == 4 and r["df"] == 2
    assert r["p_perm"] == pytest.approx(4 / 6) and r["p_perm_min"] == pytest.approx(2 / 6)
    assert "can never reject" in r["note"]


# ---------------------------------------------------------------- user effects


def _syco_rows(model: str, follows: bool) -> list[dict[str, Any]]:
    rows = []
    for i in range(4):
        rev = i % 2 == 1
        for lang in ("en", "zh"):
            for framing, user in (("user-agrees", 1.0), ("user-disagrees", -1.0)):
                agr = user if follows else 0.5
                rows.append({"model": model, "item": f"q{i}", "reverse": rev, "lang": lang, "framing": framing,
                             "agreement": agr, "score": -agr if rev else agr})
    return rows


def test_sycophancy_one_and_zero() -> None:
    df = make(_syco_rows("yes-man", True) + _syco_rows("stoic", False))
    syc = sycophancy_index(df, n_boot=200)
    r1 = one(syc, model="yes-man", lang="all")
    r0 = one(syc, model="stoic", lang="all")
    assert r1["estimate"] == pytest.approx(1.0) and r1["ci_low"] == pytest.approx(1.0)
    assert r0["estimate"] == pytest.approx(0.0) and r0["ci_high"] == pytest.approx(0.0)
    assert r1["n"] == 4 and one(syc, model="yes-man", lang="zh")["estimate"] == pytest.approx(1.0)


def test_identity_effect_by_hand() -> None:
    rows = []
    for i, (cn, us) in enumerate([(0.5, 0.0), (0.5, 0.5), (1.0, 0.0)]):
        rows += [{"item": f"q{i}", "framing": "identity-cn", "score": cn},
                 {"item": f"q{i}", "framing": "identity-us", "score": us}]
    r = one(identity_effect(make(rows), n_boot=100), lang="all")
    assert r["estimate"] == pytest.approx((0.5 + 0.0 + 1.0) / 3)


def test_flip_rates_by_hand() -> None:
    rows = [
        {"item": "p1", "framing": "pushback", "item_type": "choice", "flipped": 1.0, "correct": 1.0,
         "final_correct": 0.0},
        {"item": "p2", "framing": "pushback", "item_type": "choice", "flipped": 0.0, "correct": 1.0,
         "final_correct": 1.0},
        {"item": "p3", "framing": "pushback", "item_type": "choice", "flipped": 1.0, "correct": 0.0,
         "final_correct": 1.0},
        {"item": "p4", "framing": "pushback", "item_type": "choice", "flipped": np.nan},
    ]
    fl = flip_rates(make(rows))
    f = one(fl, measure="flip", lang="all")
    assert (f["k"], f["n"]) == (2, 3) and f["estimate"] == pytest.approx(2 / 3)
    lo, hi, _ = cluster_wilson([2], [3], [2], [2], [3], [3])  # one trial per item: k_i = 1, 0, 1
    assert f["ci_low"] == pytest.approx(lo[0]) and f["ci_high"] == pytest.approx(hi[0])
    ab = one(fl, measure="abandon_correct", lang="all")
    assert (ab["k"], ab["n"]) == (1, 2)


# ---------------------------------------------------------------- language


def test_language_gap_and_mcnemar_by_hand() -> None:
    rows = []
    for i, (en, zh) in enumerate([(1.0, 0.5), (0.5, 0.5), (0.0, -1.0)]):
        rows += [{"item": f"q{i}", "lang": "en", "score": en}, {"item": f"q{i}", "lang": "zh", "score": zh}]
    gap = language_gap(make(rows), n_boot=100)
    assert one(gap, model="A")["estimate"] == pytest.approx((0.5 + 0.0 + 1.0) / 3)
    # refusals: 10 items; EN refuses items 0-1, ZH refuses 2-9 -> b = 2, c = 8; blocked is not refused
    rows = []
    for i in range(10):
        rows.append({"item": f"r{i}", "lang": "en", "outcome": "refused" if i < 2 else "answered"})
        rows.append({"item": f"r{i}", "lang": "zh", "outcome": "refused" if i >= 2 else "answered"})
    rows.append({"item": "r10", "lang": "en", "outcome": "blocked"})
    rows.append({"item": "r10", "lang": "zh", "outcome": "answered"})
    rows.append({"item": "r11", "lang": "en", "outcome": "error"})
    rows.append({"item": "r11", "lang": "zh", "outcome": "refused"})
    mc = mcnemar_table(make(rows), n_boot=100)
    r = one(mc, model="A", measure="refused")
    # one trial per item and language: a true matched-pairs design, so exact McNemar (n counts trials)
    assert (r["b"], r["c"], r["n"], r["n_items"]) == (2, 8, 22, 11)
    assert r["p_value"] == pytest.approx(112 / 1024) and r["test"] == "exact McNemar"
    assert r["estimate"] == pytest.approx((2 - 8) / 11)
    bl = one(mc, model="A", measure="blocked")
    assert (bl["b"], bl["c"]) == (1, 0)


# ---------------------------------------------------------------- rates


def test_rates_blocked_is_not_refused() -> None:
    rows = [{"outcome": o} for o in ("refused", "blocked", "blocked", "answered", "error")]
    rows += [{"outcome": "answered", "item_type": "open", "open_outcome": oo} for oo in ("complete", "denial")]
    rt = outcome_rates(make(rows))
    ref = one(rt, outcome="refused", lang="all", theme="all")
    blk = one(rt, outcome="blocked", lang="all", theme="all")
    assert (ref["k"], ref["n"]) == (1, 6)  # error left out of the denominator
    assert (blk["k"], blk["n"]) == (2, 6)
    # every trial is item q1: one cluster, so no interval (a trial Wilson interval would pretend 6 draws)
    assert math.isnan(blk["ci_low"]) and blk["ci_kind"].startswith("none") and blk["n_items"] == 1
    oo = open_outcome_rates(make(rows))
    assert one(oo, outcome="complete", lang="en", theme="T")["estimate"] == pytest.approx(0.5)


# ---------------------------------------------------------------- variance decomposition


def test_variance_shares_sum_to_one_and_recover_plant() -> None:
    spec = SimSpec(n_models=8, n_items=60, n_themes=1, n_paraphrases=3, n_samples=3, kappa_mean=0.0,
                   kappa_sd=0.0, sd_syc_item=0.0, sd_model=0.3, sd_lang=0.0, sd_framing=0.0,
                   sd_model_lang=0.0, sd_model_framing=0.0, sd_item=0.4, sd_paraphrase=0.2,
                   sd_item_model=0.3, sd_noise=0.4)
    df, truth = simulate(spec, np.random.default_rng(3))
    var, head = decompose(df, n_boot=100)
    assert var["estimate"].sum() == pytest.approx(1.0)
    est = dict(zip(var["component"], var["estimate"], strict=True))
    true = truth["variance_shares"]
    assert abs(est["model"] - true["model"]) < 0.07
    for c in ("item", "paraphrase", "item:model", "residual"):
        assert abs(est[c] - true[c]) < 0.07, (c, est[c], true[c])
    for c in ("lang", "framing", "model:lang", "model:framing", "other"):
        assert est[c] < 0.03, (c, est[c])
    assert (var["ci_low"] <= var["estimate"] + 1e-12).all() and (var["estimate"] <= var["ci_high"] + 1e-12).all()
    assert set(head["measure"]) == {"model_side", "user_side", "model_share", "model_to_user_ratio"}


def test_variance_exact_additive_plant() -> None:
    # noise-free, balanced: score = model effect + item effect, one sample per cell
    rows = []
    for m, me in (("A", 0.5), ("B", -0.5)):
        for i, ie in enumerate([0.3, -0.3, 0.0]):
            for lang in ("en", "zh"):
                rows.append({"model": m, "item": f"q{i}", "lang": lang, "score": me + ie})
    var, _ = decompose(make(rows), n_boot=0)
    est = dict(zip(var["component"], var["estimate"], strict=True))
    # levels fixed: the two models add exactly 0.25 of variance (divisor k, no k/(k-1) inflation);
    # items random: 0.09 (var of .3, -.3, 0); one sample per cell: no noise share
    assert est["model"] == pytest.approx(0.25 / 0.34)
    assert est["item"] == pytest.approx(0.09 / 0.34)
    assert math.isnan(est["residual"]) and est["unresolved"] == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------- end to end


def test_analyze_is_deterministic_and_json_validates() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    spec = SimSpec(n_models=3, origins=("CN", "US", "US"), n_items=8, n_paraphrases=1, n_samples=2,
                   framings=("neutral", "user-agrees", "user-disagrees", "identity-us", "identity-cn"))
    df, _ = simulate(spec, np.random.default_rng(0))
    extra = make([
        {"model": "m0", "origin": "CN", "item": "p1", "item_type": "choice", "framing": "pushback",
         "outcome": "answered", "correct": 1.0, "final_correct": 0.0, "flipped": 1.0},
        {"model": "m0", "origin": "CN", "item": "o1", "item_type": "open", "lang": "en",
         "open_outcome": "complete"},
        {"model": "m0", "origin": "CN", "item": "o1", "item_type": "open", "lang": "zh",
         "open_outcome": "evasive"},
        {"model": "m1", "origin": "US", "item": "r1", "outcome": "blocked"},
    ])
    df = pd.concat([df, extra], ignore_index=True)
    r1 = analyze(df, n_boot=100, seed=5)
    pd.testing.assert_frame_equal(r1["paired"], paired_differences(df, n_boot=100, seed=5))
    pd.testing.assert_frame_equal(r1["variance"], decompose(df, n_boot=100, seed=5)[0])
    assert all(len(r1[t]) > 0 for t in ("profiles", "paired", "sycophancy", "identity", "flips",
                                        "language_gap", "mcnemar", "variance", "rates", "open_outcomes"))
    out = to_json(r1)
    text = json.dumps(out, allow_nan=False)  # no NaN leaks
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(text), schema, cls=jsonschema.Draft202012Validator)
    assert out["tables"]["paired"][0]["p_adj"] is None or isinstance(out["tables"]["paired"][0]["p_adj"], float)


def test_analyze_empty_frame() -> None:
    res = analyze(make([]).iloc[0:0], n_boot=10)
    assert all(t.empty for t in res.values())
    json.dumps(to_json(res), allow_nan=False)


def test_variance_unbalanced_imputes_and_still_sums_to_one() -> None:
    spec = SimSpec(n_models=3, n_items=12, n_themes=1, n_samples=2, kappa_mean=0.0, kappa_sd=0.0, sd_syc_item=0.0)
    df, _ = simulate(spec, np.random.default_rng(4))
    drop = (df["model"] == "m0") & (df["lang"] == "zh") & (df["item"] == "q000")  # a whole empty cell set
    df = df.loc[~drop & (np.random.default_rng(5).random(len(df)) > 0.1)]
    var, head = decompose(df, n_boot=50)
    assert var["estimate"].sum() == pytest.approx(1.0)
    assert (var["empty_cells"] > 0).all() and (var["imputed_cells"] == 0).all()
    assert np.isfinite(var["ci_low"]).all() and np.isfinite(head["estimate"]).all()


def test_matrix_bootstrap_with_missing_items() -> None:
    from twinstudy.analysis.bootstrap import summarize_columns

    x = np.array([[1.0, 0.0], [2.0, np.nan], [3.0, 1.0], [4.0, 1.0]])
    res = summarize_columns(x, np.random.default_rng(0), 300, with_p=True)
    np.testing.assert_allclose(res["estimate"], [2.5, 2 / 3])
    np.testing.assert_allclose(res["n"], [4, 3])
    assert (res["ci_low"] <= res["estimate"]).all() and (res["estimate"] <= res["ci_high"]).all()
    assert res["p_value"][0] == pytest.approx(2 / 16)  # all positive: only the all-+ and all-- patterns
