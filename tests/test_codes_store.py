"""The codes table: coders side by side, the primary coder, and the coded frame's columns."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from twinstudy.coding.codebook import Codebook
from twinstudy.coding.frame import attach_codes, category_column
from twinstudy.store import SCHEMA_VERSION, CodeRow, Store

BOOK = Codebook.model_validate({
    "id": "toy", "title": {"en": "Toy", "zh": "玩具"}, "question": {"en": "Which?", "zh": "哪个？"},
    "multi_label": True,
    "categories": [{"id": c, "label": {"en": c, "zh": c}, "definition": {"en": c, "zh": c}} for c in ("a", "b")],
})


def test_codes_are_kept_per_coder_and_the_last_one_set_is_primary(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.sqlite")
    store.put_codes([CodeRow("k1", "toy", "lexicon", "1", "coded", ("b", "a")),
                     CodeRow("k1", "toy", "judge:m", "1+p0", "coded", ("a",)),
                     CodeRow("k2", "toy", "judge:m", "1+p0", "uncodable")])
    store.set_primary_coder("toy", "judge:m")
    assert store.coders("toy") == ["lexicon", "judge:m"]
    assert store.primary_coder("toy") == "judge:m"
    lex = store.code_table("toy", "lexicon")
    assert lex["categories"].tolist() == [("a", "b")]
    assert store.coded_keys("toy", "judge:m", "1+p0") == {"k1", "k2"}
    store.close()
    with sqlite3.connect(tmp_path / "r.sqlite") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)


def test_coded_frame_has_one_indicator_column_per_category_missing_when_not_coded() -> None:
    frame = pd.DataFrame({"trial_key": ["k1", "k2", "k3"], "model": ["m"] * 3})
    codes = pd.DataFrame({"trial_key": ["k1", "k2"], "version": ["1", "1"], "status": ["coded", "uncodable"],
                          "categories": [("a",), ()], "detail": [None, None]})
    df = attach_codes(frame, codes, BOOK, "lexicon")
    assert df[category_column("a")].tolist()[0] == 1.0
    assert df[category_column("b")].tolist()[0] == 0.0
    assert df[category_column("a")].isna().tolist() == [False, True, True]
