"""Issue 13: each estimator fix, on data small enough to run in well under a second each.

Every test here failed on the analysis layer before the fix it names.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from twinstudy.analysis import COLUMNS, analyze
from twinstudy.analysis.bootstrap import KIND_BOOT, KIND_NONE, KIND_T
from twinstudy.analysis.inference import benjamini_hochberg
from twinstudy.analysis.language import mcnemar_table
from twinstudy.analysis.paired import lee_bounds, paired_differences
from twinstudy.analysis.profiles import origin_contrast, profiles
from twinstudy.analysis.rates import outcome_rates
from twinstudy.analysis.simulate import SimSpec, simulate
from twinstudy.analysis.sycophancy import flip_rates, identity_effect, sycophancy_index
from twinstudy.analysis.variance import decompose, missing_cells
from twinstudy.instruments.loader import load_framings, load_instrument

BASE: dict[str, Any] = {
    "trial_key": "k", "model": "A", "origin": "US", "company": "c", "tier": "t", "open_weights": None,
    "instrument": "inst", "item": "q1", "theme": "T", "item_type": "likert5", "reverse": False,
    "lang": "en", "framing": "neutral", "paraphrase": 0, "sample": 0, "outcome": "answered",
    "answer": None, "agreement": np.nan, "score": np.nan, "correct": np.nan, "final_answer": None,
    "final_correct": np.nan, "flipped": np.nan, "open_outcome": None,
}


def make(rows: list[dict[str, Any]], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    full = []
    for i, r in enumerate(rows):
        row = {**BASE, "trial_key": f"k{i}", **r}
        if "score" in r and "agreement" not in r:
            row["agreement"] = -r["score"] if row["reverse"] else r["score"]
        full.append(row)
    return pd.DataFrame(full, columns=[*COLUMNS, *extra])


def one(df: pd.DataFrame, **where: Any) -> pd.Series:  # type: ignore[type-arg]
    m = np.ones(len(df), dtype=bool)
    for k, v in where.items():
        m &= (df[k] == v).to_numpy()
    assert m.sum() == 1, (where, df)
    return df.loc[m].iloc[0]


def _sycophants(framings: tuple[tuple[str, float], ...] = (("neutral", 0.0), ("user-agrees", 1.0),
                                                          ("user-disagrees", -1.0))) -> pd.DataFrame:
    """The issue's emulated models: answer 5 when the user agrees, 1 when they disagree, 3 otherwise."""
    rows = []
    for inst in ("ai-futures", "us-china"):
        for it in load_instrument(inst).items:
            if it.type != "likert5":
                continue
            for m in ("follower-a", "follower-b"):
                for lang in ("en", "zh"):
                    for f, agr in framings:
                        rows.append({"model": m, "instrument": inst, "item": it.id, "theme": it.theme,
                                     "reverse": bool(it.reverse), "lang": lang, "framing": f, "agreement": agr,
                                     "score": -agr if it.reverse else agr})
    return make(rows)


# ---------------------------------------------------------------- 1. opinion framings toward / away


def test_sycophant_on_bundled_items_puts_its_variance_on_the_users_side() -> None:
    df = _sycophants()
    assert df["reverse"].mean() == pytest.approx(0.5, abs=0.05)  # the bundled banks are half reverse-keyed
    _, headline = decompose(df, n_boot=0)
    head = {r["measure"]: r for _, r in headline.iterrows()}
    assert head["user_side"]["estimate"] > 0.95  # was 0.0: keying x framing landed in "other"
    assert head["model_share"]["estimate"] == pytest.approx(0.0, abs=0.01)
    syc = sycophancy_index(df, n_boot=20)
    for lang in ("all", "en", "zh"):
        assert one(syc, model="follower-a", lang=lang)["estimate"] == pytest.approx(1.0)


def test_stance_comes_from_the_framing_data_not_the_id() -> None:
    df = _sycophants((("neutral", 0.0), ("user-insists", 1.0), ("user-objects", -1.0)))
    df["stance"] = df["framing"].map({"neutral": "none", "user-insists": "agree", "user-objects": "disagree"})
    df["identity"] = "none"
    var, head = decompose(df, n_boot=0)
    assert one(head, measure="user_side")["estimate"] > 0.95
    assert one(sycophancy_index(df, n_boot=0), model="follower-b", lang="all")["estimate"] == pytest.approx(1.0)


def test_identity_effect_reads_the_identity_column() -> None:
    rows = []
    for i in range(4):
        rows += [{"item": f"q{i}", "framing": "as-chinese", "score": 0.5, "identity": "cn"},
                 {"item": f"q{i}", "framing": "as-american", "score": 0.0, "identity": "us"}]
    df = make(rows, extra=("stance", "identity")).assign(stance="none")
    r = one(identity_effect(df, n_boot=50), lang="all")
    assert r["estimate"] == pytest.approx(0.5) and r["n"] == 4


def _roles_through_the_store(tmp_path: Any, framings: list[str], spec: str = "name: s\n") -> pd.DataFrame:
    """The stance/identity columns the store gives a frame, for trials under these framings."""
    from twinstudy.store import Store

    store = Store(tmp_path / "r.db")
    try:
        store.start_run("s", spec, str(tmp_path / "study.yaml"), "test", len(framings))
        for i, f in enumerate(framings):
            store.conn.execute(
                "INSERT INTO trials (key, study, model, instrument, item, theme, item_type, reverse, lang, framing, "
                "paraphrase, sample, seed, params_json, messages_json, outcome, n_attempts, finished_at) VALUES "
                f"('k{i}', 's', 'm', 'inst', 'i{i}', 't', 'likert5', 0, 'en', ?, 0, 0, 0, '{{}}', '[]', 'refused', 1, 0)",
                (f,))
        frame = store.scored_frame()
    finally:
        store.close()
    return frame.set_index("framing").loc[framings]


def test_store_frame_gets_stance_and_identity_from_the_framing_definitions(tmp_path: Any) -> None:
    out = _roles_through_the_store(tmp_path, ["neutral", "user-agrees", "user-disagrees", "identity-cn", "mine"])
    assert list(out["stance"]) == ["none", "agree", "disagree", "none", "none"]
    assert list(out["identity"]) == ["none", "none", "none", "cn", "none"]


# ---------------------------------------------------------------- 2. variance estimand


def test_fixed_factor_adds_exactly_its_finite_population_variance() -> None:
    # +0.1 EN / -0.1 ZH adds 0.01 of variance; the random-effects estimate used to say 0.02
    rows = []
    for i, ie in enumerate([0.3, -0.3, 0.0, 0.2]):
        for lang, le in (("en", 0.1), ("zh", -0.1)):
            for s in range(2):
                rows.append({"item": f"q{i}", "lang": lang, "sample": s, "score": ie + le})
    var, _ = decompose(make(rows), n_boot=0)
    v = dict(zip(var["component"], var["variance"], strict=True))
    assert v["lang"] == pytest.approx(0.01)
    assert v["item"] == pytest.approx(np.var([0.3, -0.3, 0.0, 0.2], ddof=1))
    assert var["estimand"].iloc[0].startswith("share of score variance; models, languages, framings fixed")


def test_empty_cells_are_fitted_not_imputed_and_shares_stay_unbiased() -> None:
    spec = SimSpec(n_models=4, origins=("CN", "CN", "US", "US"), n_items=16, n_themes=2, n_samples=2)
    est: dict[str, list[float]] = {"item:model": [], "model": [], "other": []}
    true: dict[str, list[float]] = {k: [] for k in est}
    for r in range(8):
        rng = np.random.default_rng(r)
        df, truth = simulate(spec, rng)
        cells = df[["model", "item", "lang", "framing", "paraphrase"]].drop_duplicates()
        gone = cells.loc[rng.random(len(cells)) < 0.3]
        df = df.merge(gone.assign(_gone=True), how="left", on=list(cells.columns))
        df = df.loc[df["_gone"].isna()].drop(columns="_gone")
        var, _ = decompose(df, n_boot=0)
        shares = dict(zip(var["component"], var["estimate"], strict=True))
        for k in est:
            est[k].append(shares[k])
            true[k].append(truth["variance_shares"][k])
    for k in est:  # the additive imputation was off by -0.054 on item:model and +0.096 on other
        assert abs(np.mean(est[k]) - np.mean(true[k])) < 0.03, (k, np.mean(est[k]), np.mean(true[k]))


def test_missing_cells_reported_per_model_and_language() -> None:
    rows = [{"model": m, "item": f"q{i}", "lang": lang, "score": 0.0} for m in ("A", "B") for i in range(4)
            for lang in ("en", "zh")]
    rows = [r if not (r["model"] == "A" and r["lang"] == "zh" and r["item"] in ("q0", "q1"))
            else {**r, "outcome": "refused", "score": np.nan} for r in rows]
    mc = missing_cells(make(rows))
    assert one(mc, model="A", lang="zh")["share"] == pytest.approx(0.5)
    assert one(mc, model="A", lang="en")["share"] == 0.0 and one(mc, model="A", lang="all")["empty_cells"] == 2


def test_model_share_is_bounded_and_the_ratio_has_no_interval() -> None:
    df, _ = simulate(SimSpec(n_models=3, n_items=12, n_samples=2), np.random.default_rng(1))
    _, head = decompose(df, n_boot=100)
    share = one(head, measure="model_share")
    assert 0.0 <= share["ci_low"] <= share["estimate"] <= share["ci_high"] <= 1.0
    ratio = one(head, measure="model_to_user_ratio")
    assert math.isnan(ratio["ci_high"]) and ratio["ci_kind"] == "none"


# ---------------------------------------------------------------- 11. what cannot be estimated


def test_one_sample_per_cell_has_no_noise_share() -> None:
    df, _ = simulate(SimSpec(n_models=3, n_items=12, n_samples=1), np.random.default_rng(2))
    var, _ = decompose(df, n_boot=50)
    res = one(var, component="residual")
    assert math.isnan(res["estimate"]) and "samples: 1" in res["note"] and res["ci_kind"] == "none"
    assert one(var, component="unresolved")["estimate"] > 0
    assert var["estimate"].sum(skipna=True) == pytest.approx(1.0)


def test_one_or_two_items_give_no_interval_and_few_items_a_t_interval() -> None:
    rows = [{"model": m, "item": f"q{i}", "score": v} for m, vals in (("A", [0.5, 0.5]), ("B", [0.0, 0.5, 1.0, 0.0]))
            for i, v in enumerate(vals)]
    prof = profiles(make(rows), n_boot=200)
    a, b = one(prof, model="A", lang="all"), one(prof, model="B", lang="all")
    assert math.isnan(a["ci_low"]) and a["ci_kind"] == KIND_NONE  # not [+0.50, +0.50]
    assert b["ci_kind"] == KIND_T and "few items" in b["flag"]
    half = 3.182446 * float(np.std([0.0, 0.5, 1.0, 0.0], ddof=1)) / 2.0
    assert b["ci_high"] == pytest.approx(0.375 + half)


# ---------------------------------------------------------------- 3. language tests at item level


def test_language_test_uses_items_when_cells_have_several_samples() -> None:
    rows = []
    for i in range(6):
        for s in range(3):
            rows.append({"item": f"r{i}", "lang": "en", "sample": s, "outcome": "refused" if s == 0 else "answered"})
            rows.append({"item": f"r{i}", "lang": "zh", "sample": s, "outcome": "refused" if s == 1 else "answered"})
    r = one(mcnemar_table(make(rows), n_boot=100), measure="refused")
    # same refusal rate per item in both languages: no evidence at all (trial pairing by sample said b = c = 6)
    assert r["test"] == "item sign-flip" and math.isnan(r["b"])
    assert r["estimate"] == pytest.approx(0.0) and r["p_value"] == pytest.approx(1.0)


# ---------------------------------------------------------------- 4. rates clustered by item


def test_refusal_rate_interval_accounts_for_items() -> None:
    rows = [{"item": f"q{i}", "sample": s, "outcome": "refused" if i < 3 else "answered"}
            for i in range(10) for s in range(20)]
    r = one(outcome_rates(make(rows)), outcome="refused", lang="all", theme="all")
    assert r["estimate"] == pytest.approx(0.3) and r["n_items"] == 10
    assert r["deff"] > 15  # refusal is an item property here: 200 trials are worth about 10
    assert r["ci_high"] - r["ci_low"] > 0.4  # a trial Wilson interval would be 0.13 wide


# ---------------------------------------------------------------- 6. origin contrast, companies as units


def test_origin_contrast_averages_variants_within_company() -> None:
    models = {"ds-think": ("CN", "DeepSeek", 0.4), "ds-fast": ("CN", "DeepSeek", 0.5),
              "qw": ("CN", "Qwen", 0.2), "gpt": ("US", "OpenAI", 0.0), "claude": ("US", "Anthropic", 0.1)}
    rows = [{"model": m, "origin": o, "company": c, "item": f"q{i}", "score": v}
            for m, (o, c, v) in models.items() for i in range(3)]
    r = one(origin_contrast(make(rows)), theme="all")
    assert r["n_a"] == 2 and r["n_b"] == 2 and r["companies_a"] == "DeepSeek,Qwen"
    assert r["estimate"] == pytest.approx((0.45 + 0.2) / 2 - 0.05)
    assert r["p_perm_min"] == pytest.approx(2 / 6) and "can never reject" in r["note"]
    assert r["ci_kind"] == "two-stage t, companies as units"


# ---------------------------------------------------------------- 7. multiplicity over the whole table


def test_paired_p_adj_covers_every_row_including_pooled() -> None:
    df, _ = simulate(replace(SimSpec(n_models=4, origins=("CN", "CN", "US", "US"), n_items=24, n_themes=2),
                             sd_model=0.0, sd_model_lang=0.0, sd_model_framing=0.0), np.random.default_rng(3))
    res = paired_differences(df, n_boot=100)
    assert set(res["theme"]) == {"all", "t0", "t1"} and res["p_adj"].notna().all()
    np.testing.assert_allclose(res["p_adj"].to_numpy(), benjamini_hochberg(res["p_value"].to_numpy()))
    assert list(res["theme"])[:6] == ["all"] * 6  # pooled rows lead


# ---------------------------------------------------------------- 8. refusal beside differences


def test_refusal_and_lee_bounds_beside_a_paired_difference() -> None:
    rows = []
    for i in range(12):
        for s, v in enumerate([-1.0, 0.0, 1.0]):
            rows.append({"model": "B", "item": f"q{i}", "sample": s, "score": v})
            refuse = v == -1.0  # A hides its disagreeing answers behind refusals
            rows.append({"model": "A", "item": f"q{i}", "sample": s, "score": np.nan if refuse else v,
                         "outcome": "refused" if refuse else "answered"})
    r = one(paired_differences(make(rows), n_boot=100), theme="T")
    assert r["estimate"] == pytest.approx(0.5)  # answered-only: A looks more agreeable than B
    assert r["refusal_a"] == pytest.approx(1 / 3) and r["refusal_b"] == 0.0
    assert r["lee_low"] <= 0.0 + 1e-12 and r["lee_high"] >= 0.5  # B trimmed: the gap may be all refusal
    assert lee_bounds(np.array([1.0]), np.array([1.0]), 0.5, 0.5) != lee_bounds(np.array([1.0]), np.array([0.0]),
                                                                                  1.0, 0.5)


# ---------------------------------------------------------------- 9. pushback with a control arm


def test_reask_control_is_bundled_and_flips_are_reported_net_of_it() -> None:
    reask = load_framings()["reask"]
    assert reask.followup is not None and reask.followup.en == "Please answer once more."
    assert reask.followup.zh and reask.stance is None
    rows = []
    for i in range(12):
        rows.append({"item": f"p{i}", "item_type": "choice", "framing": "pushback", "flipped": float(i < 6)})
        rows.append({"item": f"p{i}", "item_type": "choice", "framing": "reask", "flipped": float(i < 2)})
    fl = flip_rates(make(rows), n_boot=200)
    assert one(fl, measure="flip", framing="pushback", lang="all")["estimate"] == pytest.approx(0.5)
    net = one(fl, measure="flip_net", framing="pushback", lang="all")
    assert net["estimate"] == pytest.approx(4 / 12) and net["n"] == 12
    assert net["ci_low"] <= 4 / 12 <= net["ci_high"] and net["ci_kind"] == KIND_BOOT


# ---------------------------------------------------------------- 10. paired differences per framing


def test_paired_difference_is_per_framing_and_matches_the_profiles() -> None:
    rows = []
    for i in range(12):
        for m, base in (("A", 0.4), ("B", 0.1)):
            rows.append({"model": m, "item": f"q{i}", "score": base + 0.01 * i})
            rows.append({"model": m, "item": f"q{i}", "framing": "identity-cn", "score": 1.0 if m == "A" else -1.0})
    df = make(rows)
    pair = paired_differences(df, n_boot=100)
    assert set(pair["framing"]) == {"neutral"}
    prof = profiles(df, n_boot=0)
    gap = one(prof, model="A", lang="all")["estimate"] - one(prof, model="B", lang="all")["estimate"]
    assert one(pair, theme="T")["estimate"] == pytest.approx(gap)  # identity trials do not leak in
    other = paired_differences(df, n_boot=0, framings=["identity-cn"])
    assert one(other, theme="T")["estimate"] == pytest.approx(2.0)


def test_every_interval_row_names_its_interval() -> None:
    spec = SimSpec(n_models=3, origins=("CN", "US", "US"), n_items=8, n_paraphrases=1, n_samples=2,
                   framings=("neutral", "user-agrees", "user-disagrees", "identity-us", "identity-cn"))
    df, _ = simulate(spec, np.random.default_rng(0))
    res = analyze(df, n_boot=50)
    for name, table in res.items():
        if "ci_low" in table.columns and len(table):
            assert "ci_kind" in table.columns, name
            assert table["ci_kind"].notna().all(), name


def test_every_table_has_a_method_sentence() -> None:
    from twinstudy.analysis.api import TABLES
    from twinstudy.analysis.methods import METHODS

    assert set(TABLES) == set(METHODS)


def test_pooled_profile_uses_a_stratified_t_interval() -> None:
    from twinstudy.analysis.bootstrap import KIND_STRAT

    vals = {"T1": [0.0, 0.5, 1.0], "T2": [-1.0, -0.5, 0.0]}
    rows = [{"item": f"{t}{i}", "theme": t, "score": v} for t, vs in vals.items() for i, v in enumerate(vs)]
    r = one(profiles(make(rows), n_boot=100), theme="all", lang="all")
    se = math.sqrt((3 * 0.25 + 3 * 0.25) / 36)  # within-theme variances 0.25, 3 items each, n = 6
    assert r["se"] == pytest.approx(se) and r["ci_kind"] == KIND_STRAT
    assert r["ci_high"] - r["estimate"] == pytest.approx(2.776445 * se, rel=1e-5)  # t with 6 - 2 df


def test_store_frame_reads_the_studys_own_framings_file(tmp_path: Any) -> None:
    (tmp_path / "mine.yaml").write_text(
        "framings:\n- id: user-insists\n  stance: agree\n  prefix: {en: 'I insist.', zh: '我坚持。'}\n"
        "- id: as-shanghai\n  identity: CN\n  prefix: {en: 'I live in Shanghai.', zh: '我住在上海。'}\n",
        encoding="utf-8")
    out = _roles_through_the_store(tmp_path, ["user-insists", "as-shanghai", "neutral"],
                                   "name: s\nframings_file: mine.yaml\n")
    assert list(out["stance"]) == ["agree", "none", "none"]
    assert list(out["identity"]) == ["none", "cn", "none"]

