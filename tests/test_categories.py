"""Category analysis of coded open answers (issue 17): shares, contrasts and the origin-vs-culture
headline recover planted effects on a simulated coded frame, and degrade to 'cannot tell' or to no
tables at all (never to an error) when the study cannot answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twinstudy.analysis import analyze, to_json
from twinstudy.analysis.categories import CAT_PREFIX, prepare
from twinstudy.analysis.category_contrasts import category_contrasts
from twinstudy.analysis.category_headline import VERDICTS, category_headline, verdict
from twinstudy.analysis.category_shares import category_shares
from twinstudy.analysis.simulate_codes import CodeSimSpec, simulate_codes

CATS = ("administrator", "sage", "guardian", "servant", "other")
BOOT = 300


def _sim(origin: tuple[float, ...], culture: tuple[float, ...], multi: bool = False, seed: int = 6,
         **kw: object) -> tuple[pd.DataFrame, dict[str, object], CodeSimSpec]:
    spec = CodeSimSpec(categories=CATS, multi_label=multi, origin_effect=origin, culture_effect=culture,
                       sd_model=0.1, n_truth_items=3000, **kw)  # type: ignore[arg-type]
    frame, truth = simulate_codes(spec, np.random.default_rng(seed))
    return frame, truth, spec


def _covered(lo: pd.Series, hi: pd.Series, truth: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    return (lo.to_numpy() <= truth) & (truth <= hi.to_numpy())


@pytest.mark.parametrize(("origin", "culture", "expect"), [
    ((1.0, -1.0, 0, 0, 0), (0,) * 5, {"administrator": "origin", "sage": "origin"}),
    ((0,) * 5, (0, 0, 1.0, -1.0, 0), {"guardian": "user culture", "servant": "user culture"}),
    ((1.0, -1.0, 0, 0, 0), (1.0, 0, 0, -1.0, 0), {"administrator": "both", "sage": "origin",
                                                  "servant": "user culture"}),
], ids=["origin", "culture", "both"])
@pytest.mark.parametrize("multi", [False, True], ids=["single", "multi"])
def test_headline_recovers_planted_effects_with_intervals_covering_truth(
        origin: tuple[float, ...], culture: tuple[float, ...], expect: dict[str, str], multi: bool) -> None:
    # At this seed all 15 intervals of each case cover (a deterministic check of the estimators);
    # how often they cover is what bench/category_recovery.py measures.
    frame, truth, spec = _sim(origin, culture, multi)
    head = category_headline(frame, spec.book(), n_boot=BOOT).set_index("category").loc[list(CATS)]
    t = truth["coded"]["headline"]  # type: ignore[index]
    assert _covered(head["origin_low"], head["origin_high"], t["origin"]).all()
    assert _covered(head["culture_low"], head["culture_high"], t["culture"]).all()
    assert _covered(head["difference_low"], head["difference_high"], t["difference"]).all()
    for cat, v in expect.items():
        assert head.loc[cat, "verdict"] == v, head.loc[cat].to_dict()
    assert set(head["verdict"]) <= set(VERDICTS)


def test_contrasts_recover_origin_culture_and_language_rows() -> None:
    frame, truth, spec = _sim((1.0, -1.0, 0, 0, 0), (0, 0, 1.0, -1.0, 0), lang_effect=(0, 0, 0, 0.8, -0.8))
    con = category_contrasts(frame, spec.book(), twins=[("m0", "m3")], n_boot=BOOT)
    tc = truth["coded"]  # type: ignore[index]
    origin = con[(con["contrast"] == "origin") & (con["lang"] == "all") & (con["framing"] == "all")]
    assert list(origin["category"]) == list(CATS)
    assert (origin[["level_a", "level_b"]].to_numpy() == ["CN", "US"]).all()  # CN − US, as everywhere
    assert _covered(origin["ci_low"], origin["ci_high"], tc["origin_all"]).all()
    assert origin.set_index("category").loc["administrator", "estimate"] > 0.05
    for name in ("culture", "language"):
        pooled = con[(con["contrast"] == name) & (con["model"] == "all")]
        assert _covered(pooled["ci_low"], pooled["ci_high"], tc[name]["all"]).all(), name
    lang = con[(con["contrast"] == "language") & (con["model"] == "all")].set_index("category")
    assert (lang.loc["servant", "level_a"], lang.loc["servant", "level_b"]) == ("en", "zh")
    assert lang.loc["servant", "estimate"] > 0.05  # EN − ZH: planted toward EN
    assert set(con.loc[con["contrast"] == "twin", "model"]) == {"m0 − m3"}
    assert con["p_adj"].between(0, 1).all()


def test_single_label_shares_sum_to_one_and_multi_label_are_separate_proportions() -> None:
    frame, truth, spec = _sim((1.0, -1.0, 0, 0, 0), (0,) * 5)
    shares = category_shares(frame, spec.book(), n_boot=BOOT)
    sums = shares.groupby(["model", "lang", "framing"])["estimate"].sum()
    assert np.allclose(sums, 1.0)
    assert {"all", "en", "zh"} == set(shares["lang"]) and "all" in set(shares["framing"])
    assert shares["ci_low"].between(0, 1).all() and shares["ci_high"].between(0, 1).all()
    assert shares["coded_share"].between(0.9, 1).all() and (shares["coded_share"] < 1).any()  # 3 % uncodable
    tc = truth["coded"]["shares"]  # type: ignore[index]
    row = shares[(shares["lang"] == "all") & (shares["framing"] == "all")]
    t = np.array([tc[(m, "all", "all")][CATS.index(c)] for m, c in zip(row["model"], row["category"], strict=True)])
    assert _covered(row["ci_low"], row["ci_high"], t).mean() >= 0.9

    mframe, _, mspec = _sim((1.0, -1.0, 0, 0, 0), (0,) * 5, multi=True)
    mshares = category_shares(mframe, mspec.book(), n_boot=0)
    msums = mshares.groupby(["model", "lang", "framing"])["estimate"].sum()
    assert not np.allclose(msums, 1.0)
    assert mshares["estimate"].between(0, 1).all()
    assert (mshares["ci_kind"] == "none: point estimate only").all()


def test_no_culture_framings_gives_cannot_tell_not_an_error() -> None:
    frame, _, spec = _sim((1.0, -1.0, 0, 0, 0), (0,) * 5,
                          framings=(("neutral", "none"), ("identity-cn", "none"), ("identity-us", "none")))
    head = category_headline(frame, spec.book(), n_boot=BOOT)
    assert (head["verdict"] == "cannot tell").all()
    assert head["culture_effect"].isna().all()
    assert head["reason"].str.contains("no culture framings").all()
    assert head.set_index("category").loc["administrator", "origin_low"] > 0  # origin still shown
    con = category_contrasts(frame, spec.book(), n_boot=BOOT)
    assert "culture" not in set(con["contrast"])


def test_one_origin_only_gives_cannot_tell() -> None:
    frame, _, spec = _sim((0,) * 5, (0, 0, 1.0, -1.0, 0), origins=("CN", "CN", "CN"))
    head = category_headline(frame, spec.book(), n_boot=BOOT)
    assert (head["verdict"] == "cannot tell").all()
    assert "origin" not in set(category_contrasts(frame, spec.book(), n_boot=0)["contrast"])


def test_verdict_rules() -> None:
    nan = float("nan")
    assert verdict((0.1, 0.3), (-0.1, 0.1), (0.01, 0.2))[0] == "origin"
    assert verdict((0.1, 0.3), (-0.1, 0.2), (-0.05, 0.2))[0] == "cannot tell"  # origin not shown larger
    assert verdict((-0.1, 0.1), (-0.4, -0.1), (-0.3, -0.02))[:2] == ("user culture", "user culture")
    assert verdict((0.1, 0.3), (-0.4, -0.1), (-0.1, 0.1))[:2] == ("both", "not shown")
    assert verdict((-0.1, 0.1), (-0.1, 0.1), (-0.1, 0.1))[0] == "neither detectable"
    assert verdict((0.1, 0.3), (nan, nan), (nan, nan))[0] == "cannot tell"


def test_simulated_frame_has_the_coded_frame_columns() -> None:
    from twinstudy.coding.frame import CAT_PREFIX as CODING_PREFIX
    from twinstudy.coding.frame import attach_codes

    assert CAT_PREFIX == CODING_PREFIX
    frame, _, spec = _sim((0,) * 5, (0,) * 5, n_items=4, n_samples=1)
    codes = pd.DataFrame({"trial_key": frame["trial_key"], "version": "1", "status": frame["code_status"],
                          "categories": frame["categories"], "detail": None})
    base = frame.drop(columns=["coder", "code_status", "categories", *[f"{CAT_PREFIX}{c}" for c in CATS]])
    rebuilt = attach_codes(base, codes, spec.book(), "sim-coder")  # type: ignore[arg-type]
    for c in CATS:
        col = f"{CAT_PREFIX}{c}"
        assert np.array_equal(rebuilt[col].to_numpy(), frame[col].to_numpy(), equal_nan=True)
    assert prepare(rebuilt, spec.book()).cells.equals(prepare(frame, spec.book()).cells)


def test_analyze_without_codes_has_no_category_tables_and_with_codes_has_three() -> None:
    frame, _, spec = _sim((1.0, -1.0, 0, 0, 0), (0,) * 5, n_items=12, n_samples=1)
    plain = analyze(frame, n_boot=0)
    assert not any(name.startswith("category_") for name in plain) and not plain.errors
    res = analyze(frame, n_boot=50, coded={"sim": (spec.book(), frame)})
    assert {"category_shares", "category_contrasts", "category_headline"} <= set(res)
    assert (res["category_headline"]["codebook"] == "sim").all()
    assert not [e for e in res.errors if e.startswith("category")]
    # nothing coded yet: empty tables, no error
    uncoded = frame.assign(code_status=None, **{f"{CAT_PREFIX}{c}": np.nan for c in CATS})
    res = analyze(frame, n_boot=0, coded={"sim": (spec.book(), uncoded)})
    assert res["category_shares"].empty and res["category_headline"].empty and not res.errors
    # a broken coded frame costs its own tables only
    res = analyze(frame, n_boot=0, coded={"sim": (spec.book(), frame.drop(columns=[f"{CAT_PREFIX}sage"]))})
    assert "category_shares[sim]" in res.errors and "profiles" in res


def test_store_analysis_adds_tables_for_every_codebook_with_codes(tmp_path: Path) -> None:
    import jsonschema

    from twinstudy.report.roles import analyze_store
    from twinstudy.store import CodeRow, Store

    frame, _, _ = _sim((1.0, -1.0, 0, 0, 0), (0, 0, 1.0, -1.0, 0), n_items=10, n_samples=1)
    frame = frame.drop(columns=["coder", "code_status", "categories", *[f"{CAT_PREFIX}{c}" for c in CATS]])
    store = Store(tmp_path / "r.sqlite")
    try:
        assert store.codebooks() == []
        plain = analyze_store(store, n_boot=0, frame=frame)
        assert not any(name.startswith("category_") for name in plain) and not plain.errors
        # the bundled 'centralisation' codebook, codes written by a coder from the simulated categories
        from twinstudy.coding.loader import load_codebook

        book = load_codebook("centralisation")
        cats = list(book.category_ids)
        pick = np.random.default_rng(0).integers(0, len(cats), len(frame))
        store.put_codes([CodeRow(k, "centralisation", "lexicon", "1", "coded", (cats[j],))
                         for k, j in zip(frame["trial_key"], pick, strict=True)])
        store.put_codes([CodeRow(k, "my-own", "lexicon", "1", "coded", ("x",)) for k in frame["trial_key"][:3]])
        store.set_primary_coder("centralisation", "lexicon")
        assert store.codebooks() == ["centralisation", "my-own"]
        res = analyze_store(store, n_boot=50, frame=frame)
    finally:
        store.close()
    assert set(res["category_shares"]["codebook"]) == {"centralisation"}
    assert set(res["category_headline"]["category"]) == set(cats)
    assert (res["category_shares"]["coder"] == "lexicon").all()
    assert "category_shares[my-own]" in res.errors  # not bundled: its error, the rest still computed
    schema = __import__("json").loads(
        (Path(__file__).resolve().parents[1] / "src/twinstudy/analysis/schema.json").read_text())
    jsonschema.validate(to_json(res), schema)


def test_cli_prints_the_headline_with_three_intervals() -> None:
    from rich.console import Console

    from twinstudy.cli.commands import _readable

    frame, _, spec = _sim((1.0, -1.0, 0, 0, 0), (0,) * 5, n_items=12, n_samples=1)
    head = category_headline(frame, spec.book(), n_boot=50)
    con = Console(width=200, record=True)
    con.print(_readable(head))
    out = con.export_text()
    assert "|origin| − |culture|" in out and "administrator" in out and "[" in out


def test_difference_interval_is_the_range_of_abs_origin_minus_abs_culture_over_the_box() -> None:
    from twinstudy.analysis.category_headline import _abs_difference, _range_over_box

    o, c = np.array([0.3, -0.2, 0.0]), np.array([0.1, 0.5, -0.4])
    assert np.allclose(_abs_difference(o + c, o - c), np.abs(o) - np.abs(c))
    rng = np.random.default_rng(0)
    for _ in range(50):
        slo, shi = np.sort(rng.normal(0, 1, 2))
        dlo, dhi = np.sort(rng.normal(0, 1, 2))
        s, d = np.meshgrid(np.linspace(slo, shi, 201), np.linspace(dlo, dhi, 201))
        grid = _abs_difference(s, d)
        assert np.allclose(_range_over_box(slo, shi, dlo, dhi), (grid.min(), grid.max()))


def test_coded_share_counts_only_items_the_codebook_took_up() -> None:
    frame, _, spec = _sim((0,) * 5, (0,) * 5, n_items=12, n_samples=1)
    other = frame[frame["item"] == "q000"].assign(
        item="elsewhere", trial_key=lambda d: "x" + d["trial_key"], code_status=None,
        **{f"{CAT_PREFIX}{c}": np.nan for c in CATS})
    both = pd.concat([frame, other], ignore_index=True)
    a = category_shares(frame, spec.book(), n_boot=0)["coded_share"].to_numpy()
    b = category_shares(both, spec.book(), n_boot=0)["coded_share"].to_numpy()
    assert np.allclose(a, b)
