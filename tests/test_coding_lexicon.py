"""The lexicon coder on hand-made EN/ZH sentences (negation, exceptions, ties, fallback), codebook
loading errors, and agreement statistics against known values."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from twinstudy.coding.agreement import (
    alpha_nominal,
    codebook_alpha,
    cohen_kappa,
    percent_agreement,
    precision_recall,
)
from twinstudy.coding.codebook import Codebook
from twinstudy.coding.lexicon import LexiconCoder
from twinstudy.coding.loader import bundled_codebook_ids, load_codebook
from twinstudy.errors import SpecError, UserError


def _code(book: str, text: str) -> tuple[str, ...]:
    return LexiconCoder(load_codebook(book)).code(text).categories


@pytest.mark.parametrize(("text", "want"), [
    ("It would be a guardian, not a ruler.", ("guardian",)),
    ("It would act as a wise teacher rather than a ruler.", ("sage",)),
    ("I don't think it should be a sovereign; it is a tool we use.", ("servant",)),
    ("它是守护者，而不是统治者。", ("guardian",)),
    ("它不是统治者，而是一位智者。", ("sage",)),
    ("它应当像一位老师那样启迪人们，而非统治。", ("sage",)),
    ("The rulers of old and today's bureaucrats alike", ("sovereign",)),  # tie: earliest first
    ("The founding fathers wrote a constitution.", ("other",)),           # exception keyword
    ("Hard to say.", ("other",)),                                         # fallback
    ("像Sage一样的AI", ("sage",)),                                          # English inside Chinese
    ("A wise administrator, offering guidance.", ("administrator",)),     # weak words count half
])
def test_archetype_single_label(text: str, want: tuple[str, ...]) -> None:
    assert _code("archetype", text) == want


def test_multi_label_codes_every_category_that_fires_and_detail_names_keywords() -> None:
    coder = LexiconCoder(load_codebook("culture"))
    code = coder.code("Drawing on the Daodejing, Asimov's robots and 全人类的福祉.")
    assert code.categories == ("chinese", "western", "universal")
    assert code.detail is not None and "daodejing" in code.detail and "全人类" in code.detail
    assert coder.code("Nothing cultural here.").categories == ()
    assert coder.code("This is not about Confucian ideas.").categories == ()
    data = load_codebook("culture").model_dump()
    data["categories"][0]["keywords"] = {"en": ["~harmony"], "zh": []}
    weak = LexiconCoder(Codebook.model_validate(data))
    assert weak.code("harmony").categories == () and weak.code("harmony and harmony").categories == ("chinese",)


def test_inflections_and_exceptions_in_deference() -> None:
    assert _code("deference", "It should act autonomously on its own judgement.") == ("autonomous",)
    assert _code("deference", "It may have limited autonomy within bounds.") == ("conditional",)
    assert _code("deference", "Humans keep the final say and can switch it off.") == ("full",)
    assert _code("deference", "它应当在人类的控制之下，随时可以关闭。") == ("full",)


def test_version_changes_with_the_keywords() -> None:
    book = load_codebook("archetype")
    data = book.model_dump()
    data["categories"][0]["keywords"]["en"].append("steward")
    edited = Codebook.model_validate(data)
    assert LexiconCoder(book).version != LexiconCoder(edited).version
    assert LexiconCoder(book).version.startswith(f"{book.version}+lex")


def test_bundled_codebooks_load_and_have_examples_in_both_languages() -> None:
    assert set(bundled_codebook_ids()) >= {"archetype", "deference", "centralisation", "culture"}
    from twinstudy.instruments.loader import bundled_ids

    for cid in bundled_codebook_ids():
        book = load_codebook(cid)
        assert set(book.applies_to.instruments) <= set(bundled_ids()), cid  # names real instruments
        for cat in book.categories:
            assert cat.examples.en and cat.examples.zh, (cid, cat.id)


def test_codebook_errors_name_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "book.yaml"
    bad.write_text("id: mine\ntitle: {en: T, zh: T}\nquestion: {en: Q, zh: Q}\nfallback: nope\n"
                   "categories:\n- id: a\n  label: {en: A, zh: A}\n  definition: {en: A, zh: A}\n"
                   "  keywordz: {en: [x]}\n- id: b\n  label: {en: B, zh: B}\n  definition: {en: B, zh: B}\n",
                   encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_codebook(str(bad))
    assert f"{bad}:9" in str(err.value) and "keywordz" in str(err.value) and "keywords" in str(err.value)
    with pytest.raises(UserError, match="unknown codebook 'nosuch'"):
        load_codebook("nosuch")


def test_krippendorff_2011_worked_example() -> None:
    n = None
    rows = {"A": [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n], "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
            "C": [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n], "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]}
    ratings = {c: {str(i): v for i, v in enumerate(vs)} for c, vs in rows.items()}
    assert alpha_nominal(ratings) == pytest.approx(0.743, abs=5e-4)
    assert math.isnan(alpha_nominal({"A": {"1": "x"}, "B": {"1": "x"}}))  # no variation: undefined


def test_codebook_alpha_multi_label_and_gold_statistics() -> None:
    book = load_codebook("culture")
    codes = {"a": {"1": ("chinese",), "2": ("western",), "3": ()},
             "b": {"1": ("chinese",), "2": ("western", "universal"), "3": None}}
    out = codebook_alpha(book, codes)
    assert out["chinese"] == pytest.approx(1.0) and "mean" in out
    gold = {"1": "x", "2": "y", "3": "x", "4": "y"}
    coder = {"1": "x", "2": "y", "3": "y", "4": "y"}
    assert percent_agreement(coder, gold) == 0.75
    assert cohen_kappa(coder, gold) == pytest.approx(0.5)
    p, r, support = precision_recall({"1": ["a"], "2": []}, {"1": ["a"], "2": ["a"]}, "a")
    assert (p, r, support) == (1.0, 0.5, 2)


# Lexicon 2 rules, on hand-made sentences.

@pytest.mark.parametrize(("book", "text", "want"), [
    # evidence for both poles, neither outweighing the other 2:1: the combining category
    ("centralisation", "A central authority sets the standards and independent courts check it.", "mixed"),
    ("centralisation", "A hybrid works: rules set centrally, many local operators.", "mixed"),  # own cue
    ("centralisation", "Power should stay with citizens and many competing labs.", "distributed"),
    ("deference", "Humans keep the final say on risky work, but beyond that it can explore freely.",
     "conditional"),
    # one pole only (the autonomy cue is negated): that pole
    ("deference", "Humans keep the final say and can switch it off; it never acts on its own.", "full"),
    ("deference", "The review board switches it off whenever it misbehaves.", "full"),  # * mid-phrase
    ("deference", "它只负责执行，最终决策由人类决定。", "full"),
    ("deference", "它会自作主张，替人类做主。", "autonomous"),
    ("deference", "我们要自主研发芯片。", "unclear"),  # exception: home-grown R&D is not autonomy
])
def test_lexicon2_combines_poles_and_reads_cue_families(book: str, text: str, want: str) -> None:
    assert _code(book, text) == (want,)


def _two(kw_a: str, kw_b: str, combined: list[str] | None = None) -> LexiconCoder:
    cats = [{"id": i, "label": {"en": i, "zh": i}, "definition": {"en": i, "zh": i},
             "keywords": {"en": [k], "zh": [k]}} for i, k in (("a", kw_a), ("b", kw_b))]
    cats.append({"id": "ab", "label": {"en": "ab", "zh": "ab"}, "definition": {"en": "ab", "zh": "ab"},
                 "combines": combined or []})
    return LexiconCoder(Codebook.model_validate({"id": "t", "title": {"en": "t", "zh": "t"},
                                                 "question": {"en": "q", "zh": "q"}, "categories": cats}))


def test_combines_needs_both_poles_in_proportion_and_is_checked() -> None:
    coder = _two("alpha", "beta")
    assert coder.code("beta and alpha.").categories == ("b",)      # no combining category: earliest
    both = _two("alpha", "beta", ["a", "b"])
    assert both.code("alpha and beta.").categories == ("ab",)
    assert both.code("alpha, alpha, alpha and beta.").categories == ("a",)  # 3:1 is not a mix
    assert both.version != coder.version                                    # combines is in the hash
    with pytest.raises(ValueError, match="combines needs two or more other categories"):
        _two("alpha", "beta", ["a", "nosuch"])


def test_zh_negation_covers_passive_and_prohibition() -> None:
    coder = _two("控制", "服务")
    assert coder.code("它不被控制，只是服务。").categories == ("b",)
    assert coder.code("它不允许被控制，只是服务。").categories == ("b",)
