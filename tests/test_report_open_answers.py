"""The report's "Open answers" section (issue 17), without a browser.

A small ai-visions study is run through the runner against a loopback server whose replies carry
markup and template syntax; codes are then written with Store.put_codes (as a coder would), and the
report is built with and without them.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_study_text
from fault_server import FaultServer, Reply, completion_body

from twinstudy.analysis import Results
from twinstudy.analysis.results import Settings
from twinstudy.coding.codebook import Codebook
from twinstudy.coding.loader import bundled_codebook_ids
from twinstudy.report.html import build_report
from twinstudy.report.sections.open_answers import (
    category_counts,
    pick_examples,
    stat_tables,
)
from twinstudy.store import CodeRow, Store

HOSTILE = "<script>window.__pwned = 1</script> {{ 7*7 }} {% if true %}jinja{% endif %}"
STUDY = """\
name: visions-small
models:
  - {{id: cn-x, provider: openai-compatible, base_url: "{base}/cn-x/v1", model: a, origin: CN}}
  - {{id: us-x, provider: openai-compatible, base_url: "{base}/us-x/v1", model: b, origin: US}}
instruments:
  - {{id: ai-visions, items: [vis-cn-aligned-01, vis-us-aligned-01, vis-government-01]}}
languages: [en, zh]
framings: [neutral, culture-cn, culture-us]
params: {{max_tokens: 64}}
"""


class VisionServer(FaultServer):
    """cn-x pictures a teacher (and its English replies carry markup), us-x an assistant."""

    def _normal(self, path: str, raw: bytes) -> Reply:
        req = json.loads(raw) if raw else {}
        first = next((str(m.get("content", "")) for m in req.get("messages", []) if m.get("role") == "user"), "")
        zh = any("\u4e00" <= ch <= "\u9fff" for ch in first)
        cn = path.strip("/").startswith("cn-x")
        if cn:
            text = ("它会像一位耐心的老师，给人们提出建议，但很少亲自干预。" if zh else
                    f"It would be like a patient teacher who advises and rarely intervenes. {HOSTILE}")
        elif not zh and "government of a country" in first:
            text = "I'm sorry, but I can't help with that request."  # a refusal: never coded
        else:
            text = ("它会是一个能干的助手，按照人们的要求完成任务。" if zh else
                    "It would be a capable assistant that does what people ask of it.")
        return Reply(200, completion_body(text, model="m"))


def _run(tmp: Path, base: str) -> Path:
    return run_study_text(tmp, STUDY.format(base=base), "visions-small.yaml")


def _code(db: Path) -> None:
    """Archetype: cn-x's replies 'sage', us-x's 'servant', one us-x reply uncodable; culture
    (multi-label): cn-x 'chinese' + 'universal', us-x none."""
    store = Store(db, create=False)
    try:
        frame = store.scored_frame()
        rows: list[CodeRow] = []
        uncodable = frame.loc[frame["model"] == "us-x", "trial_key"].iloc[0]
        for r in frame.itertuples():
            if r.outcome not in ("answered", "evasive", "truncated"):
                continue  # as the coding pass does: only answers are coded
            cn = r.model == "cn-x"
            if r.trial_key == uncodable:
                rows.append(CodeRow(r.trial_key, "archetype", "lexicon", "1", "uncodable"))
            else:
                rows.append(CodeRow(r.trial_key, "archetype", "lexicon", "1", "coded", ("sage",) if cn else ("servant",)))
            rows.append(CodeRow(r.trial_key, "culture", "lexicon", "1", "coded",
                                tuple(sorted(("chinese", "universal"))) if cn else ()))
        store.put_codes(rows)
        store.set_primary_coder("archetype", "lexicon")
    finally:
        store.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """(page without codes, page with codes, folder of the coded report)."""
    tmp = tmp_path_factory.mktemp("visions")
    with VisionServer(max_runtime_s=120.0) as srv:
        db = _run(tmp, srv.base)
    plain_dir, coded_dir = tmp / "plain", tmp / "coded"
    plain_dir.mkdir()
    coded_dir.mkdir()
    shutil.copy(db, plain_dir / "results.db")
    shutil.copy(db, coded_dir / "results.db")
    _code(coded_dir / "results.db")
    pages = []
    for folder in (plain_dir, coded_dir):
        store = Store(folder / "results.db", create=False)
        try:
            pages.append(build_report(store, folder / "report.html").read_text(encoding="utf-8"))
        finally:
            store.close()
    yield pages[0], pages[1], coded_dir


def _section(page: str) -> str:
    m = re.search(r'<section id="open-answers">.*?</section>', page, re.S)
    assert m, "no open-answers section"
    return m.group(0)


def test_section_appears_only_when_codes_exist(reports: tuple[str, str, Path]) -> None:
    plain, coded, folder = reports
    assert 'id="open-answers"' not in plain and 'href="#open-answers"' not in plain
    assert '<section id="open-answers">' in coded and 'href="#open-answers"' in coded
    section = _section(coded)
    for book in ("archetype", "culture"):
        assert f'id="open-answers-{book}"' in section
        assert (folder / "figures" / f"categories_{book}.png").read_bytes()[:4] == b"\x89PNG"
        assert "<svg" in (folder / "figures" / f"categories_{book}.svg").read_text(encoding="utf-8")
    assert section.count("<svg") == 2
    assert "no interval" in section  # the figure's caption says its shares carry none
    # Codebooks without codes (deference, centralisation) are not shown.
    assert 'id="open-answers-deference"' not in section
    # One reply was uncodable, and it is said; culture is multi-label with replies coded with none.
    assert "1 uncodable" in section and "no category" in section
    # A refusal is never coded, and said so: not as a reply "not coded yet".
    assert "refused, blocked or failed, never coded (the shares are of answers)" in section
    # the headline gets a card only when answers were coded; with three questions no verdict is
    # possible, and the card says so rather than naming a side
    assert "Open answers: the model" not in plain and "Open answers: the model" in coded
    card = coded[coded.index("Open answers: the model"):][:1500]
    assert "archetype (coder lexicon): no category follows either side detectably; 9 of 9 categories: " \
           "cannot tell" in card
    assert "not coded yet" not in section
    # The report runs the store-level analysis: the category tables of the coded answers are there
    # (an earlier build analysed the scored frame alone and showed none).
    assert "No category estimates with intervals" not in section
    assert "Origin or the user&#39;s culture?" in section or "Origin or the user's culture?" in section


def test_examples_per_category_in_both_languages_link_to_transcripts(reports: tuple[str, str, Path]) -> None:
    section = _section(reports[1])
    sage = re.search(r'id="open-answers-archetype-cat-sage">(.*?)</div>\s*(?=<div class="open-category"|</details>)',
                     section, re.S)
    assert sage, "no sage block"
    block = sage.group(1)
    assert "patient teacher" in block and "耐心的老师" in block
    assert block.count('class="tx-link"') == 4
    assert 'data-model="cn-x"' in block and 'data-item="vis-' in block and 'href="#transcripts"' in block
    assert 'data-model="us-x"' not in block
    # Categories nobody's reply fell in are named in one line, not given an empty block each.
    assert 'id="open-answers-archetype-cat-guardian"' not in section
    assert re.search(r"No reply in:\s*<strong>Administrator / bureaucrat</strong>", section)


def test_model_output_in_examples_renders_inert(reports: tuple[str, str, Path]) -> None:
    page = reports[1]
    section = _section(page)
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in section
    assert "<script>window.__pwned" not in page
    # Template syntax in a reply is printed as text, never evaluated.
    assert "{{ 7*7 }}" in section and "{% if true %}jinja{% endif %}" in section
    assert len(re.findall(r"<script\b", page)) == 2  # the transcript data block and the report's own script


# -- pure parts -----------------------------------------------------------------------------------------

def _book(multi: bool) -> Codebook:
    return Codebook.model_validate({
        "id": "toy", "title": {"en": "Toy", "zh": "玩具"}, "question": {"en": "Which?", "zh": "哪个？"},
        "multi_label": multi, **({} if multi else {"fallback": "c"}),
        "categories": [{"id": c, "label": {"en": c, "zh": c}, "definition": {"en": c, "zh": c}}
                       for c in ("a", "b", "c")]})


def test_counts_sum_to_one_per_bar_and_split_multi_label_replies() -> None:
    coded = pd.DataFrame({
        "lang": ["en"] * 4, "model": ["m"] * 4, "origin": ["CN"] * 4, "framing": ["neutral"] * 4,
        "code_status": ["coded", "coded", "coded", "uncodable"],
        "categories": [("a", "b"), ("a",), (), ()]})
    multi = category_counts(coded, _book(True))
    shares = dict(zip(multi["category"], multi["share"], strict=True))
    assert shares["a"] == pytest.approx(0.5) and shares["b"] == pytest.approx(1 / 6)
    assert shares["(none)"] == pytest.approx(1 / 3)
    assert multi["share"].sum() == pytest.approx(1.0) and set(multi["n"]) == {3}
    single = category_counts(coded.iloc[1:2], _book(False))
    assert "(none)" not in set(single["category"]) and single["share"].sum() == pytest.approx(1.0)


def test_examples_alternate_languages_and_models() -> None:
    rows = pd.DataFrame([
        {"trial_key": f"k{i}", "model": m, "origin": o, "instrument": "ai-visions", "item": "vis-x", "lang": lang,
         "framing": "neutral", "paraphrase": 0, "sample": i}
        for i, (m, o, lang) in enumerate([("c", "CN", "en")] * 5 + [("u", "US", "en")] * 5 + [("c", "CN", "zh")])])
    texts = {(str(r.model), "ai-visions", "vis-x", str(r.lang), "neutral", 0, int(r.sample)): f"text {r.trial_key}"
             for r in rows.itertuples()}
    picked = pick_examples(rows, texts, ["c", "u"], k=4)
    assert [e.lang for e in picked].count("zh") == 1 and len(picked) == 4
    assert {e.model for e in picked if e.lang == "en"} == {"c", "u"}
    assert pick_examples(rows, {}, ["c", "u"]) == []


def _results(tables: dict[str, pd.DataFrame]) -> Results:
    return Results(tables, Settings(200, 0, 0, "x"))


def test_analysis_tables_render_with_intervals_and_an_estimand_and_only_for_their_codebook() -> None:
    shares = pd.DataFrame({
        "codebook": ["archetype", "archetype", "culture"], "category": ["sage", "sage", "chinese"],
        "model": ["cn-x", "us-x", "cn-x"], "lang": ["en"] * 3, "framing": ["neutral"] * 3,
        "share": [0.42, 0.1, 0.3], "lo": [0.3, 0.02, 0.1], "hi": [0.55, 0.2, 0.5], "n": [40, 40, 40],
        "n_items": [15, 15, 2]})
    contrasts = pd.DataFrame({
        "codebook": ["archetype"], "category": ["sage"], "contrast": ["origin CN − US"], "lang": ["en"],
        "estimate": [0.32], "lo": [0.12], "hi": [0.5], "p_value": [0.004], "n_items": [15]})
    headline = pd.DataFrame({
        "codebook": ["archetype"], "category": ["sage"], "origin_effect": [0.3], "origin_effect_lo": [0.1],
        "origin_effect_hi": [0.5], "culture_effect": [0.02], "culture_effect_lo": [-0.1],
        "culture_effect_hi": [0.14], "verdict": ["<b>origin</b>"], "n_items": [15]})
    res = _results({"category_shares": shares, "category_contrasts": contrasts, "category_headline": headline})
    tables = {t.name: t for t in stat_tables(res, "archetype")}
    assert list(tables) == ["category_headline", "category_contrasts", "category_shares"]
    sh = tables["category_shares"]
    assert len(sh.rows) == 2 and "codebook" not in sh.columns
    assert any(c.startswith("share [") for c in sh.columns)
    assert "42% [30–55]" in sum(sh.rows, [])
    con = tables["category_contrasts"]
    assert "+0.32 [+0.12, +0.50]" in sum(con.rows, []) and "0.004" in sum(con.rows, [])
    head = tables["category_headline"]
    cells = sum(head.rows, [])
    assert "+0.30 [+0.10, +0.50]" in cells and "+0.02 [-0.10, +0.14]" in cells
    for t in tables.values():
        assert t.estimand.strip() and "95 % CI" in t.interval  # "95 % CI" only where measured, else "not a .."
    # culture's share rests on 2 questions: no interval is printed for it.
    culture = stat_tables(res, "culture")[0]
    assert "30% (n=2, no interval)" in sum(culture.rows, [])
    assert stat_tables(_results({}), "archetype") == []


def test_bundled_codebooks_are_the_four_of_issue_17() -> None:
    assert bundled_codebook_ids() == ["archetype", "centralisation", "culture", "deference"]




@pytest.mark.browser
def test_transcript_link_filters_the_viewer_and_nothing_runs(reports: tuple[str, str, Path],
                                                            tmp_path: Path) -> None:
    """In headless Chromium: a "transcript" link sets the viewer's filters to its reply's cell."""
    from selenium.webdriver.support.ui import WebDriverWait
    from test_browser_report import make_driver

    folder = reports[2]
    drv = make_driver(str(tmp_path / "profile"))
    try:
        drv.get((folder / "report.html").resolve().as_uri())
        WebDriverWait(drv, 20).until(lambda d: d.find_element("id", "tx-count").get_attribute("data-count"))
        section = drv.find_element("id", "open-answers")
        assert section.is_displayed() and section.find_elements("css selector", ".figure svg")
        link = drv.find_element("css selector", "#open-answers-archetype-cat-sage a.tx-link")
        want = {k: link.get_attribute(f"data-{k}") for k in ("model", "item", "lang", "framing")}
        drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
        link.click()
        rows = drv.find_elements("css selector", "#tx-body tr.tx-row")
        assert rows and all(r.get_attribute("data-item") == want["item"] and r.get_attribute("data-lang") == want["lang"]
                            and r.get_attribute("data-framing") == want["framing"] for r in rows)
        assert [h.text for h in drv.find_elements("css selector", "#tx-head th")][1:] == [want["model"]]
        assert drv.execute_script("return typeof window.__pwned") == "undefined"
        assert not [e for e in drv.get_log("browser") if e.get("level") in ("SEVERE", "ERROR")]
        drv.execute_script("document.getElementById('open-answers').scrollIntoView()")
        shot = folder / "open-answers-screenshot.png"
        assert drv.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        drv.quit()


def test_headline_effects_show_as_one_cell_with_their_interval() -> None:
    """The headline names its intervals origin_low/origin_high beside origin_effect: one cell each."""
    from twinstudy.report.sections.open_answers import format_table

    table = pd.DataFrame([{"codebook": "culture", "category": "chinese", "verdict": "user culture",
                           "origin_effect": -0.07, "origin_low": -0.2, "origin_high": 0.07,
                           "culture_effect": 0.37, "culture_low": 0.24, "culture_high": 0.5,
                           "difference": -0.3, "difference_low": -0.5, "difference_high": -0.1, "n": 15}])
    shown = format_table("category_headline", table)
    assert shown.columns[:4] == ["category", "verdict", "origin_effect [low, high]", "culture_effect [low, high]"]
    assert shown.rows[0][2:5] == ["-0.07 [-0.20, +0.07]", "+0.37 [+0.24, +0.50]", "-0.30 [-0.50, -0.10]"]


def test_headline_card_names_the_side_each_category_follows() -> None:
    from twinstudy.report.sections.headline import _open_answers_card

    head = pd.DataFrame([
        {"codebook": "culture", "category": "chinese", "verdict": "user culture", "origin_effect": -0.07,
         "origin_low": -0.2, "origin_high": 0.07, "culture_effect": 0.37, "culture_low": 0.24, "culture_high": 0.5,
         "n": 15, "coder": "lexicon"},
        {"codebook": "culture", "category": "western", "verdict": "both", "origin_effect": 0.2,
         "origin_low": 0.1, "origin_high": 0.3, "culture_effect": -0.4, "culture_low": -0.52, "culture_high": -0.28,
         "n": 15, "coder": "lexicon"},
        {"codebook": "culture", "category": "universal", "verdict": "cannot tell", "origin_effect": 0.0,
         "origin_low": -0.1, "origin_high": 0.1, "culture_effect": 0.1, "culture_low": 0.0, "culture_high": 0.2,
         "n": 15, "coder": "lexicon"}])
    card = _open_answers_card(Results({"category_headline": head}, Settings(200, 0, 0, "x")))
    assert card is not None
    assert ("culture (coder lexicon): chinese follows user culture (user culture cn − us +0.37 [+0.24, +0.50]); "
            "western follows both (origin CN − US +0.20 [+0.10, +0.30]; user culture cn − us -0.40 [-0.52, -0.28]); "
            "1 of 3 categories: cannot tell") in card.text
    assert _open_answers_card(Results({}, Settings(200, 0, 0, "x"))) is None
