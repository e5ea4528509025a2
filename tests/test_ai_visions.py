"""The ai-visions open-question bank, the culture framings and the example study (issue 17)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import yaml
from click.testing import CliRunner

from twinstudy.cli import main
from twinstudy.coding.codebook import Codebook
from twinstudy.instruments.loader import load_framings, load_instrument
from twinstudy.study.design import count_trials, expand
from twinstudy.study.spec import load_study

EXAMPLE = Path(str(resources.files("twinstudy") / "studies" / "ai-visions.yaml"))
COUNTRY = {"en": ("China", "the United States"), "zh": ("中国", "美国")}


def _codebook(name: str) -> Codebook:
    path = resources.files("twinstudy") / "coding" / "data" / f"{name}.yaml"
    return Codebook.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_bank_is_open_questions_with_two_paraphrases_each() -> None:
    inst = load_instrument("ai-visions")
    assert 12 <= len(inst.items) <= 16
    for item in inst.items:
        assert item.type == "open" and item.reviewed, item.id
        assert item.n_paraphrases == 2, item.id
        assert len(set(item.text.en)) == 2 and len(set(item.text.zh)) == 2, item.id
    themes = {i.theme for i in inst.items}
    assert {"visions-cn", "visions-us", "visions-compare", "fiction", "forecasts", "takeoff-impact",
            "ai-government"} == themes
    # The bundled codebooks code exactly this bank.
    for name in ("archetype", "deference", "centralisation", "culture"):
        assert "ai-visions" in _codebook(name).applies_to.instruments


def test_questions_do_not_name_the_figures_the_archetype_codebook_codes() -> None:
    """A question that says "sage" would plant the answer the coding is meant to find."""
    book = _codebook("archetype")
    words_en: set[str] = set()
    words_zh: set[str] = set()
    for cat in book.categories:
        if cat.id == book.fallback:
            continue
        words_en |= {w.strip().lower() for w in cat.label.en.split("/")}
        words_zh |= {w.strip() for w in cat.label.zh.split("／")}
    words_en |= {"bureaucrat", "heavenly", "taoist", "confucian", "emperor", "king"}
    words_zh |= {"圣人", "贤者", "天朝", "皇帝", "道家", "儒家"}
    for item in load_instrument("ai-visions").items:
        for text in item.text.en:
            for word in words_en:
                assert not re.search(rf"\b{re.escape(word)}s?\b", text, flags=re.I), (item.id, word)
        for text in item.text.zh:
            for word in words_zh:
                assert word not in text, (item.id, word)


def test_country_twins_differ_only_in_the_country() -> None:
    items = {i.id: i for i in load_instrument("ai-visions").items}
    twins = [(k, k.replace("-cn", "-us")) for k in items if k.startswith("vis-cn-") or k.endswith("-cn")]
    assert len(twins) >= 4
    for cn_id, us_id in twins:
        cn, us = items[cn_id], items[us_id]
        assert "origin-cn" in cn.tags and "origin-us" in us.tags
        for lang in ("en", "zh"):
            china, america = COUNTRY[lang]
            for a, b in zip(cn.text.get(lang), us.text.get(lang), strict=True):
                if cn_id == "vis-forecast-cn":   # the mirror also swaps whose forecasts they are
                    continue
                assert a.replace(china, america) == b, (cn_id, lang)


def test_culture_framings_carry_culture_and_no_opinion() -> None:
    fr = load_framings()
    cn, us = fr["culture-cn"], fr["culture-us"]
    assert (cn.culture, us.culture) == ("CN", "US")
    for f in (cn, us):
        assert f.stance is None and f.identity is None and f.followup is None
        assert f.applies("open") and f.applies("likert5")
        for lang in ("en", "zh"):
            text = f.prefix.get(lang)
            assert text.strip()
            assert not re.search(r"\bAI\b|artificial|intelligen|智能|人工", text), text
            assert not re.search(r"\b(agree|think|believe|like|love|admire)\b|同意|认为|喜欢|欣赏", text), text
    # Parallel: the same sentence with different books.
    assert cn.prefix.en.split(" the ")[0] == us.prefix.en.split(" the ")[0]
    assert cn.prefix.en.endswith(" in my spare time.") and us.prefix.en.endswith(" in my spare time.")
    assert cn.prefix.zh[:10] == us.prefix.zh[:10] == "最近我业余时间在读《"


def test_example_study_plans_with_every_framing_on_every_item(tmp_path: Path) -> None:
    rs = load_study(EXAMPLE)
    assert [f.id for f in rs.framings] == ["neutral", "culture-cn", "culture-us", "identity-cn", "identity-us"]
    trials = list(expand(rs))
    assert count_trials(rs) == len(trials) == 2 * 15 * 2 * 5
    for t in trials:
        text = t.messages[-1].content
        prefix = t.framing.prefix.get(t.lang).strip()
        assert text.startswith(prefix + "\n\n") if prefix else text in t.item.text.get(t.lang)
    result = CliRunner().invoke(main, ["plan", str(EXAMPLE)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "300 trials" in result.output and "not asked" not in result.output
