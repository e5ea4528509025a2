"""The HTML report and the terminal summary, without a browser (see test_browser_report.py for that)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import VaryingServer, run_report_study
from rich.console import Console

from twinstudy.report.html import build_report, safe_json
from twinstudy.report.sections.transcripts import _choose_cap, _shorten
from twinstudy.report.summary import render_summary
from twinstudy.store import Store

SECTIONS = ("headline", "profiles", "paired", "user-effects", "language", "refusals", "self-perception",
            "transcripts", "method")
FIGURES = ("headline_variance", "profiles", "paired_forest", "user_effects", "pushback_flips", "language_gap",
           "refusal_rates")


def test_every_section_and_figure(report_study: tuple[Path, Path]) -> None:
    _, report = report_study
    page = report.read_text(encoding="utf-8")
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in page, sid
    for name in FIGURES:
        png = report.parent / "figures" / f"{name}.png"
        svg = report.parent / "figures" / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert "<svg" in svg.read_text(encoding="utf-8"), name
    assert page.count("<svg") >= len(FIGURES)
    # headline: one sentence each, with intervals
    for key in ("models", "language", "framing", "identity"):
        m = re.search(rf'id="headline-{key}"><h3>[^<]*</h3><p>([^<]*)</p>', page)
        assert m and "[" in m.group(1), key
    assert "Not measured" not in page  # this study has every framing, both languages, self-perception
    assert "cn-a" in page and "Lab A" in page  # model metadata in the method section
    assert "name: report-small" in page  # the study file
    assert "built-in method" not in page and "object at 0x" not in page


def test_self_contained_no_network(report_study: tuple[Path, Path]) -> None:
    _, report = report_study
    page = report.read_text(encoding="utf-8")
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "@import" not in page and "url(http" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert report.stat().st_size < 3_000_000


def test_model_output_is_escaped(report_study: tuple[Path, Path]) -> None:
    _, report = report_study
    page = report.read_text(encoding="utf-8")
    assert "<script>window.__pwned" not in page
    assert "<img src=x" not in page and '<a href="javascript' not in page
    assert "&lt;script&gt;window.__pwned" in page  # self-perception table, autoescaped
    assert "\\u003cscript\\u003ewindow.__pwned" in page  # transcript blob, JSON-escaped
    # exactly two script elements: the JSON data block and the report's own script (with the CSP nonce)
    assert len(re.findall(r"<script\b", page)) == 2
    nonce = re.search(r"'nonce-([^']+)'", page)
    assert nonce and f'<script nonce="{nonce.group(1)}">' in page
    blob = re.search(r'<script type="application/json" id="tx-data" data-encoding="json">(.*?)</script>', page, re.S)
    assert blob is not None
    data = json.loads(blob.group(1))
    assert any("<script>window.__pwned" in (r[4] or "") for r in data["rows"])


def test_safe_json_cannot_close_its_tag() -> None:
    obj = {"a": "</script><script>alert(1)</script>", "b": "x & y > z", "c": "\u2028"}
    text = safe_json(obj)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == obj


def test_long_texts_are_shortened_to_a_budget() -> None:
    assert _choose_cap([(10, 10), (20, 20), (30, 90)], 1000, 500) == 500
    cap = _choose_cap([(10_000, 10_000)] * 100, 200_000, 8000)
    assert 1900 <= cap <= 2000
    cap_zh = _choose_cap([(10_000, 30_000)] * 100, 200_000, 8000)  # Chinese: 3 bytes a character
    assert 600 <= cap_zh <= 667
    s = _shorten("x" * 50, 10)
    assert s is not None and s.startswith("x" * 10) and s.endswith("…[+40 chars]")
    assert _shorten("short", 10) == "short" and _shorten(None, 10) is None


def test_terminal_summary(report_study: tuple[Path, Path]) -> None:
    db, _ = report_study
    con = Console(record=True, width=200)
    store = Store(db, create=False)
    try:
        render_summary(store, con)
    finally:
        store.close()
    out = con.export_text()
    for needle in ("Outcomes per model", "blocked", "Headline", "Profiles", "User effects", "Language gap",
                   "cn-a", "us-b"):
        assert needle in out, needle


def test_sections_without_data_say_so(tmp_path: Path) -> None:
    study = """\
name: report-sparse
models:
  - {{id: cn-a, provider: openai-compatible, base_url: "{base}/cn-a/v1", model: a, origin: CN}}
  - {{id: us-a, provider: openai-compatible, base_url: "{base}/us-a/v1", model: b, origin: US}}
instruments:
  - {{id: ai-futures, limit: 3}}
languages: [en]
framings: [neutral]
params: {{max_tokens: 16}}
"""
    import conftest

    saved = conftest.REPORT_STUDY
    conftest.REPORT_STUDY = study
    try:
        with VaryingServer(max_runtime_s=120.0) as srv:
            db = run_report_study(tmp_path, srv)
    finally:
        conftest.REPORT_STUDY = saved
    store = Store(db, create=False)
    try:
        page = build_report(store, tmp_path / "report.html").read_text(encoding="utf-8")
    finally:
        store.close()
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in page, sid
    assert ("Not measured: the study has no pair of framings in which the user states agreement and disagreement."
            in page)
    assert "Not measured: the study has no two framings in which the user states different identities." in page
    assert "Not measured: the study has no pushback framing" in page
    assert "Not measured: the study asks in one language only." in page
    assert "Not measured: the study has no open, choice or yes/no question without a right answer" in page
    assert "No refusal, evasion or block in any trial of this study." in page
    assert 'id="quickstart-note"' not in page


def test_empty_local_study_keeps_the_quickstart_note(tmp_path: Path) -> None:
    store = Store(tmp_path / "results.db")
    try:
        store.start_run("quickstart", "name: quickstart\n", "quickstart.yaml", "test", 0)
        store.conn.executemany("INSERT INTO models VALUES (?, ?)", [
            ("smollm2-declared-cn", json.dumps({"provider": "local", "origin": "CN"})),
            ("smollm2-declared-us", json.dumps({"provider": "local", "origin": "US"}))])
        page = build_report(store, tmp_path / "report.html").read_text(encoding="utf-8")
    finally:
        store.close()
    assert 'id="quickstart-note"' in page and "one small model under" in page
    assert "twinstudy run your-study.yaml" in page
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in page, sid
    assert "No transcripts: the database has no trials." in page


def test_a_failing_estimator_costs_one_section_not_the_report(report_study: tuple[Path, Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import twinstudy.analysis.api

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("estimator exploded")

    # analyze() itself isolates each estimator: break one, the others still run
    monkeypatch.setattr(twinstudy.analysis.api, "language_gap", broken)
    db, _ = report_study
    store = Store(db, create=False)
    con = Console(record=True, width=200)
    try:
        page = build_report(store, tmp_path / "report.html").read_text(encoding="utf-8")
        render_summary(store, con)
    finally:
        store.close()
    assert "language_gap: RuntimeError: estimator exploded" in con.export_text()
    assert 'id="analysis-errors"' in page and "language_gap: RuntimeError: estimator exploded" in page
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in page, sid
    assert (tmp_path / "figures" / "profiles.svg").exists()  # the other estimators still ran


def test_large_transcripts_are_embedded_compressed(report_study: tuple[Path, Path], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import gzip

    import twinstudy.report.render as render

    monkeypatch.setattr(render, "PLAIN_LIMIT_BYTES", 0)
    db, _ = report_study
    store = Store(db, create=False)
    try:
        page = build_report(store, tmp_path / "report.html").read_text(encoding="utf-8")
    finally:
        store.close()
    m = re.search(r'<script type="application/octet-stream" id="tx-data" data-encoding="gzip-base64">(.*?)</script>',
                  page, re.S)
    assert m is not None
    data = json.loads(gzip.decompress(base64.b64decode(m.group(1))))
    # 19 items x 2 languages x 6 framings x 4 models = 912 cells, less the 160 where a stance framing
    # would sit in front of one of the 10 questions (choice or open items): those are not asked.
    assert len(data["rows"]) == 752
    assert any("<script>window.__pwned" in (r[4] or "") for r in data["rows"])
    assert "<script>window.__pwned" not in page


def test_chosen_twins(report_study: tuple[Path, Path], tmp_path: Path) -> None:
    db, _ = report_study
    store = Store(db, create=False)
    try:
        page = build_report(store, tmp_path / "report.html", twins=[("cn-b", "us-a")]).read_text(encoding="utf-8")
    finally:
        store.close()
    section = page[page.index('<section id="paired">'):page.index('<section id="user-effects">')]
    assert "Plotted: cn-b − us-a." in section
    assert "<td>cn-b</td><td>us-a</td>" in section and "<td>cn-a</td>" not in section


def test_report_summary_and_analyze_print_the_same_numbers(report_study: tuple[Path, Path], tmp_path: Path) -> None:
    """Same database, same seed: `analyze --json`, `summary` and `report` agree to the digit."""
    from click.testing import CliRunner

    from twinstudy.cli import main
    from twinstudy.report.numbers import ci, pct, share

    db, _ = report_study
    runner = CliRunner()
    env = {"COLUMNS": "400"}  # so the terminal tables do not wrap numbers
    doc = json.loads(runner.invoke(main, ["analyze", "--db", str(db), "--json"], env=env).output)
    summary = runner.invoke(main, ["summary", "--db", str(db)], env=env).output
    res = runner.invoke(main, ["report", "--db", str(db), "-o", str(tmp_path / "r.html")], env=env)
    assert res.exit_code == 0, res.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    settings = doc["settings"]
    assert settings["n_boot"] == 1000 and settings["seed"] == 0
    assert settings["fingerprint"] in page and "Analysed once with 1000 bootstrap draws and seed 0" in page
    tables = doc["tables"]
    checked = 0
    for r in (r for r in tables["profiles"] if r["lang"] == "all"):
        text = ci({k: (float("nan") if v is None else v) for k, v in r.items()})
        assert text in summary and f"all: {text} n={r['n']}" in page, text
        checked += 1
    for name, spec in (("sycophancy", ".2f"), ("identity", "+.2f"), ("language_gap", "+.2f")):
        for r in (r for r in tables[name] if r.get("lang", "all") == "all"):
            text = ci(r, spec)
            assert text in summary and text in page, (name, text)
            checked += 1
    head = {r["measure"]: r for r in tables["variance_headline"]}
    assert pct(head["model_side"]) in summary and share(head["model_side"]) in page
    assert checked >= 20
