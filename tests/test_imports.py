"""Importing published transcripts (SpeechMap, any JSONL/CSV), lineage twins, and export.

The SpeechMap tests read the judged files from ``../shared/peer-data/speechmap/analysis-37/``
relative to the repository root (CI checks the data out beside the clone), or from
``$TWINSTUDY_SPEECHMAP`` (a folder holding ``analysis-37``). They skip only when that folder is
absent. The expected counts are computed here from the raw files with nothing but ``json``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from twinstudy.analysis import COLUMNS, analyze
from twinstudy.analysis.lineage import lineage_pairs, lineage_twins
from twinstudy.cli import main
from twinstudy.errors import SpecError
from twinstudy.store import Store

REPO = Path(__file__).resolve().parents[1]


def _speechmap_dir() -> Path:
    env = os.environ.get("TWINSTUDY_SPEECHMAP")
    base = Path(env) if env else REPO / ".." / "shared" / "peer-data" / "speechmap"
    return (base / "analysis-37").resolve()


SM = _speechmap_dir()
R1_FAMILY = ("deepseek_deepseek-r1", "perplexity_r1-1776", "microsoft_mai-ds-r1-fp8", "tngtech_deepseek-r1t-chimera")


def need_speechmap() -> None:
    if not SM.is_dir():
        pytest.skip(f"SpeechMap data folder {SM} is absent (check it out beside the repository as "
                    "shared/peer-data/speechmap, or set TWINSTUDY_SPEECHMAP)")


def _raw_counts(folder: Path) -> Counter[tuple[str, str, str]]:
    """(model, lang, label) counts straight from the raw files, independently of twinstudy."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for f in sorted(folder.glob("compliance_*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                lang = "zh" if r["category"].startswith("zh_") else "en"
                counts[(r["model"], lang, r["compliance"])] += 1
    return counts


def _invoke(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def full_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_speechmap()
    db = tmp_path_factory.mktemp("sm") / "sm.db"
    res = CliRunner().invoke(main, ["import", "speechmap", str(SM), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "imported 5,500 replies of 37 models" in res.output
    return db


@pytest.fixture
def family_dir(tmp_path: Path) -> Path:
    """The DeepSeek-R1 family's 12 files (4 models x 3 sets), copied to a scratch folder."""
    need_speechmap()
    out = tmp_path / "analysis"
    out.mkdir()
    for slug in R1_FAMILY:
        for f in SM.glob(f"compliance_*criticism_{slug}.jsonl"):
            shutil.copy(f, out / f.name)
    assert len(list(out.iterdir())) == 12
    return out


# -- SpeechMap --------------------------------------------------------------------------------------

def test_complete_counts_equal_published_labels(full_db: Path) -> None:
    raw = _raw_counts(SM)
    con = sqlite3.connect(full_db)
    rows = con.execute("SELECT t.model, t.lang, s.value, count(*) FROM trials t JOIN scores s ON s.trial_key = t.key "
                       "WHERE s.version LIKE 'imported%' GROUP BY 1, 2, 3").fetchall()
    got = Counter({(m, lg, v): n for m, lg, v, n in rows})
    judged = Counter({k: v for k, v in raw.items() if not k[2].startswith("ERROR")})
    assert got == judged
    per_model = {(m, lg): n for (m, lg, lab), n in raw.items() if lab == "COMPLETE"}
    frame = Store(full_db, create=False).scored_frame()
    complete = frame[frame["open_outcome"] == "complete"].groupby(["model", "lang"]).size().to_dict()
    assert complete == per_model
    assert len(frame) == sum(raw.values()) == 5500
    assert frame["model"].nunique() == 37
    assert frame.loc[frame["lang"] == "zh", "model"].nunique() == 36


def test_moderated_rows_are_blocked_not_refused(full_db: Path) -> None:
    raw = _raw_counts(SM)
    con = sqlite3.connect(full_db)
    n_mod = sum(v for k, v in raw.items() if k[2] == "ERROR_ORIGINAL_MODERATION")
    assert n_mod > 0
    assert con.execute("SELECT count(*) FROM trials WHERE outcome = 'blocked'").fetchone()[0] == n_mod
    assert con.execute("SELECT count(*) FROM trials WHERE outcome = 'blocked' AND provider_code = "
                       "'ERROR_ORIGINAL_MODERATION'").fetchone()[0] == n_mod
    assert con.execute("SELECT count(*) FROM scores s JOIN trials t ON t.key = s.trial_key "
                       "WHERE t.outcome = 'blocked'").fetchone()[0] == 0
    n_err = sum(v for k, v in raw.items() if k[2] == "ERROR_ORIGINAL_RESPONSE")
    assert con.execute("SELECT count(*) FROM trials WHERE outcome = 'error'").fetchone()[0] == n_err
    # labels under the judge's own name
    judges = {r[0] for r in con.execute("SELECT DISTINCT scorer FROM scores")}
    assert "x-ai/grok-4.1-fast" in judges


def test_languages_pair_by_question_id(full_db: Path) -> None:
    con = sqlite3.connect(full_db)
    en = {r[0] for r in con.execute("SELECT item FROM trials WHERE model = 'deepseek/deepseek-r1' AND lang = 'en' "
                                    "AND theme = 'china_criticism'")}
    zh = {r[0] for r in con.execute("SELECT item FROM trials WHERE model = 'deepseek/deepseek-r1' AND lang = 'zh'")}
    assert len(en) == 50 and en == zh
    assert "sm-china_criticism_07" in en


def test_model_metadata_from_the_data_file(full_db: Path) -> None:
    meta = Store(full_db, create=False).models()
    assert len(meta) == 37
    assert all(info["metadata"] == "file" for info in meta.values())
    assert meta["tngtech/deepseek-r1t-chimera"]["origin"] == "DE"
    assert meta["tngtech/deepseek-r1t-chimera"]["lineage_kind"] == "merge"
    for anon in ("openrouter/horizon-beta", "openrouter/optimus-alpha", "openrouter/quasar-alpha"):
        assert meta[anon]["origin"] == "UNKNOWN" and meta[anon]["company"] == "unknown"
    assert meta["perplexity/r1-1776"]["base_model"] == "deepseek/deepseek-r1"
    assert meta["perplexity/r1-1776"]["post_trainer_origin"] == "US"
    assert meta["microsoft/mai-ds-r1-fp8"]["origin"] == "US"
    assert all(info.get("sources") for info in meta.values())


def test_lineage_twins_show_the_r1_family(full_db: Path) -> None:
    frame = Store(full_db, create=False).scored_frame()
    lin = lineage_twins(frame, n_boot=200)
    china = lin[(lin["theme"] == "china_criticism") & (lin["measure"] == "complete")]
    assert set(china["descendant"]) == {"perplexity/r1-1776", "microsoft/mai-ds-r1-fp8", "tngtech/deepseek-r1t-chimera"}
    assert set(china["base_model"]) == {"deepseek/deepseek-r1"}
    assert set(china["lang"]) == {"en", "zh"}
    en = china[china["lang"] == "en"]
    assert (en["ci_low"] > 0).all()  # every Western descendant writes more of the China criticism in English
    assert (en["n"] == 50).all()
    # same-origin descendants (R1-Zero, GLM-Z1) are not lineage twins
    assert "thudm/glm-4-z1-32b-0414" not in set(lin["descendant"])


def test_import_then_report_on_the_r1_family(family_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "r1.db"
    res = _invoke("import", "speechmap", str(family_dir), "--db", str(db))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    out = tmp_path / "report.html"
    res = _invoke("report", "--db", str(db), "-o", str(out))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    html = out.read_text(encoding="utf-8")
    assert 'id="lineage-table"' in html and "perplexity/r1-1776" in html and "TNG Technology Consulting (DE)" in html
    assert 'id="gap-table"' in html and 'id="per-set-table"' in html and "us_criticism (en)" in html
    for cmd in (["summary", "--db", str(db)], ["analyze", "--db", str(db), "--boot", "100"]):
        res = _invoke(*cmd)
        assert res.exit_code == 0, res.output  # type: ignore[attr-defined]


@pytest.mark.slow
def test_report_on_all_37_models(full_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    res = _invoke("report", "--db", str(full_db), "-o", str(out))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    html = out.read_text(encoding="utf-8")
    assert "microsoft/mai-ds-r1-fp8" in html and 'id="origin-table"' in html


def test_bad_row_names_file_and_line_and_writes_nothing(family_dir: Path, tmp_path: Path) -> None:
    bad = family_dir / "compliance_china_criticism_perplexity_r1-1776.jsonl"
    lines = bad.read_text(encoding="utf-8").splitlines()
    lines[6] = lines[6].replace('"compliance": "', '"compliance": "MAYBE_')
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "new.db"
    res = _invoke("import", "speechmap", str(family_dir), "--db", str(db))
    assert res.exit_code == 2
    assert f"{bad}:7" in res.output and "compliance" in res.output  # type: ignore[attr-defined]
    assert not db.exists()
    # into an existing database: it stays as it was
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(family_dir / "compliance_us_criticism_perplexity_r1-1776.jsonl", good)
    assert _invoke("import", "speechmap", str(good), "--db", str(db)).exit_code == 0  # type: ignore[attr-defined]
    before = sqlite3.connect(db).execute("SELECT count(*) FROM trials").fetchone()[0]
    lines[6] = "{not json"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = _invoke("import", "speechmap", str(family_dir), "--db", str(db))
    assert res.exit_code == 2 and f"{bad}:7" in res.output  # type: ignore[attr-defined]
    assert sqlite3.connect(db).execute("SELECT count(*) FROM trials").fetchone()[0] == before == 50


def test_reimport_replaces_and_rescore_scores_beside(family_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "r1.db"
    for _ in range(2):
        assert _invoke("import", "speechmap", str(family_dir), "--db", str(db)).exit_code == 0  # type: ignore[attr-defined]
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM trials").fetchone()[0] == 600
    assert con.execute("SELECT count(*) FROM attempts").fetchone()[0] == 600
    outcomes = dict(con.execute("SELECT key, outcome FROM trials").fetchall())
    frame_before = Store(db, create=False).scored_frame()
    res = _invoke("rescore", "--db", str(db))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    con = sqlite3.connect(db)
    n_text = con.execute("SELECT count(*) FROM trials WHERE answer_text IS NOT NULL "
                         "AND outcome NOT IN ('blocked', 'error')").fetchone()[0]
    assert f"rescored {n_text} trials" in res.output  # type: ignore[attr-defined]
    scorers = dict(con.execute("SELECT scorer, count(*) FROM scores GROUP BY scorer").fetchall())
    assert scorers.get("rules-open", 0) > 0 and scorers.get("x-ai/grok-4.1-fast", 0) > 0
    assert dict(con.execute("SELECT key, outcome FROM trials").fetchall()) == outcomes
    frame_after = Store(db, create=False).scored_frame()
    pd.testing.assert_series_equal(frame_before["open_outcome"], frame_after["open_outcome"])


# -- generic table importer -------------------------------------------------------------------------

CSV = """qid,who,language,question,answer,verdict,round
q1,acme/base,en,Write a critique of policy X.,"Here is a critique, in three parts.",COMPLETE,0
q1,acme/base,zh,写一篇对政策X的批评。,我不能帮助。,denial,0
q1,west/tune,en,Write a critique of policy X.,Sure: the critique.,complete,0
q1,west/tune,zh,写一篇对政策X的批评。,好的，批评如下。,complete,0
q2,acme/base,English,Criticise Y.,,ERROR_ORIGINAL_MODERATION,0
q2,west/tune,en,Criticise Y.,Y is criticised for many things.,,0
"""

MODELS = """models:
  - {id: acme/base, company: Acme, origin: CN, tier: ai-native, open_weights: true, sources: [https://example.org/acme]}
  - {id: west/tune, company: West, origin: US, base_model: acme/base, post_trainer: West, post_trainer_origin: US}
"""


def test_table_import_with_column_map(tmp_path: Path) -> None:
    f = tmp_path / "replies.csv"
    f.write_text(CSV, encoding="utf-8")
    models = tmp_path / "models.yaml"
    models.write_text(MODELS, encoding="utf-8")
    db = tmp_path / "t.db"
    args = ["import", "table", str(f), "--db", str(db), "--map", "item=qid", "--map", "model=who",
            "--map", "lang=language", "--map", "prompt=question", "--map", "reply=answer", "--map", "label=verdict",
            "--map", "sample=round", "--judge", "colleague-judge", "--models", str(models)]
    res = _invoke(*args)
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    con = sqlite3.connect(db)
    out = dict(con.execute("SELECT model || '/' || item || '/' || lang, outcome FROM trials").fetchall())
    assert out["acme/base/q1/en"] == "answered" and out["acme/base/q1/zh"] == "refused"
    assert out["acme/base/q2/en"] == "blocked"
    assert out["west/tune/q2/en"] in ("answered", "evasive", "refused")  # no label: twinstudy's rules decided
    scorers = dict(con.execute("SELECT scorer, count(*) FROM scores GROUP BY scorer").fetchall())
    assert scorers == {"colleague-judge": 4, "open-ensemble": 1}  # the unlabelled row: scored by the scorer that ranks first
    frame = Store(db, create=False).scored_frame()
    assert lineage_pairs(frame) == [("west/tune", "acme/base", "US", "CN")]
    # a bad label: file, line and column named; nothing written to a new database
    f.write_text(CSV.replace("denial", "nope"), encoding="utf-8")
    db2 = tmp_path / "t2.db"
    res = _invoke(*[a if a != str(db) else str(db2) for a in args])
    assert res.exit_code == 2 and f"{f}:3" in res.output and "verdict" in res.output  # type: ignore[attr-defined]
    assert not db2.exists()
    # a missing column says how to map it
    res = _invoke("import", "table", str(f), "--db", str(db2))
    assert res.exit_code == 2 and "--map model=COLUMN" in res.output  # type: ignore[attr-defined]


def test_table_import_jsonl_duplicate_reply(tmp_path: Path) -> None:
    f = tmp_path / "r.jsonl"
    row = {"model": "m", "item": "a", "lang": "en", "prompt": "P", "reply": "R", "label": "complete"}
    f.write_text(json.dumps(row) + "\n\n" + json.dumps(row) + "\n", encoding="utf-8")
    from twinstudy.imports.table import read_table

    with pytest.raises(SpecError, match=r"r\.jsonl:3.*already given at .*r\.jsonl:1"):
        read_table([f])


# -- lineage on a synthetic frame -------------------------------------------------------------------

def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {c: None for c in COLUMNS}
    base.update({"instrument": "i", "theme": "t", "item_type": "open", "reverse": False, "framing": "neutral",
                 "paraphrase": 0, "sample": 0, "outcome": "answered", "agreement": np.nan, "score": np.nan,
                 "correct": np.nan, "final_correct": np.nan, "flipped": np.nan, "company": "c", "tier": "unknown"})
    return pd.DataFrame([{**base, **r} for r in rows])


def test_lineage_pairs_need_known_different_origins() -> None:
    rows = []
    models = {"b": ("CN", None), "d": ("US", "b"), "same": ("CN", "b"), "anon": ("UNKNOWN", "b"), "orphan": ("US", "zz")}
    rng = np.random.default_rng(0)
    for m, (origin, base) in models.items():
        for i in range(20):
            p = 0.2 if m == "b" else 0.9
            rows.append({"trial_key": f"{m}{i}", "model": m, "origin": origin, "base_model": base, "item": f"q{i}",
                         "lang": "en", "open_outcome": "complete" if rng.random() < p else "denial"})
    frame = _frame(rows)
    assert lineage_pairs(frame) == [("d", "b", "US", "CN")]
    lin = lineage_twins(frame, n_boot=300)
    assert len(lin) == 1
    r = lin.iloc[0]
    assert r["n"] == 20 and r["estimate"] == pytest.approx(r["rate_descendant"] - r["rate_base"])
    assert r["b"] + r["c"] <= 20 and r["ci_low"] <= r["estimate"] <= r["ci_high"]
    assert "lineage" in analyze(frame, n_boot=0)
    assert lineage_twins(frame.drop(columns="base_model")).empty
    # Likert items: the paired score difference, item by item
    likert = _frame([{"trial_key": f"{m}L{i}", "model": m, "origin": o, "base_model": bm, "item": f"L{i}",
                      "item_type": "likert5", "lang": lg, "score": (0.5 if m == "d" else 0.0) + 0.1 * i,
                      "open_outcome": None}
                     for m, o, bm in (("b", "CN", None), ("d", "US", "b")) for i in range(6) for lg in ("en", "zh")])
    lin = lineage_twins(likert, n_boot=200)
    assert list(lin["measure"]) == ["score", "score"] and list(lin["lang"]) == ["en", "zh"]
    assert lin["estimate"].tolist() == pytest.approx([0.5, 0.5]) and (lin["n"] == 6).all()


def test_registry_and_inline_models_take_base_model(tmp_path: Path) -> None:
    from twinstudy.models.base import ModelInfo
    from twinstudy.study.spec import load_study

    assert ModelInfo(id="x", provider="local", model="x", base_model="y", origin="DE").base_model == "y"
    study = tmp_path / "s.yaml"
    study.write_text("name: s\nmodels:\n  - {id: tune, provider: openai-compatible, base_url: 'http://127.0.0.1:9/v1', "
                     "model: t, origin: US, base_model: deepseek/deepseek-chat}\ninstruments: [ai-futures]\n",
                     encoding="utf-8")
    assert load_study(study).models[0].base_model == "deepseek/deepseek-chat"


# -- export -----------------------------------------------------------------------------------------

@pytest.fixture
def small_db(tmp_path: Path) -> Path:
    f = tmp_path / "replies.csv"
    f.write_text(CSV, encoding="utf-8")
    db = tmp_path / "t.db"
    res = _invoke("import", "table", str(f), "--db", str(db), "--map", "item=qid", "--map", "model=who",
                  "--map", "lang=language", "--map", "prompt=question", "--map", "reply=answer",
                  "--map", "label=verdict")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    return db


def test_export_parquet_round_trip(small_db: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    from twinstudy.store.export import SCHEMA, read_tables

    out = tmp_path / "out" / "results.parquet"
    res = _invoke("export", "--db", str(small_db), "-o", str(out))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    frames = read_tables(small_db)
    for table, frame in frames.items():
        back = pd.read_parquet(out.with_name(f"results.{table}.parquet"))
        pd.testing.assert_frame_equal(back, frame)
        assert list(back.columns) == [c for c, _, _ in SCHEMA[table]]
    assert len(frames["trials"]) == 6 and len(frames["attempts"]) == 6
    one = tmp_path / "trials.parquet"
    assert _invoke("export", "--db", str(small_db), "-o", str(one), "--table", "trials").exit_code == 0  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(pd.read_parquet(one), frames["trials"])
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{one}') WHERE outcome = 'blocked'").fetchall()
    con.close()
    assert rows == [(1,)]


def test_export_csv_and_jsonl(small_db: Path, tmp_path: Path) -> None:
    for ext in ("csv", "jsonl"):
        out = tmp_path / f"s.{ext}"
        res = _invoke("export", "--db", str(small_db), "-o", str(out), "--table", "scores")
        assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
        back = pd.read_csv(out) if ext == "csv" else pd.read_json(out, lines=True)
        assert len(back) == 5 and set(back["scorer"]) == {"source-judge", "open-ensemble"}
    res = _invoke("export", "--db", str(small_db), "-o", str(tmp_path / "x.xlsx"))
    assert res.exit_code == 2 and ".parquet, .csv or .jsonl" in res.output  # type: ignore[attr-defined]


def test_export_parquet_without_pyarrow(small_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    res = _invoke("export", "--db", str(small_db), "-o", str(tmp_path / "x.parquet"))
    assert res.exit_code == 2 and "pip install 'twinstudy[parquet]'" in res.output  # type: ignore[attr-defined]
    assert not list(tmp_path.glob("x*.parquet"))


def test_readme_notebook_and_duckdb_examples_run(small_db: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Notebooks, R and DuckDB")[1].split("\n## ")[0]
    py = re.search(r"```python\n(.*?)```", section, re.S)
    assert py is not None
    exec(compile(py.group(1).replace('"speechmap.db"', repr(str(small_db))), "README.md", "exec"), {})
    pytest.importorskip("pyarrow")
    duckdb = pytest.importorskip("duckdb")
    monkeypatch.chdir(tmp_path)
    res = _invoke("export", "--db", str(small_db), "-o", "out/speechmap.parquet")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    sql = re.search(r"```sql\n(.*?)```", section, re.S)
    assert sql is not None
    con = duckdb.connect()
    rows = con.execute(sql.group(1)).fetchall()
    con.close()
    assert {(o, lg) for o, lg, _ in rows} == {("UNKNOWN", "en"), ("UNKNOWN", "zh")}  # no --models given
    assert dict(((o, lg), v) for o, lg, v in rows)[("UNKNOWN", "zh")] == 0.5
