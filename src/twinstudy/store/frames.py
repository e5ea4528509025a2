"""Build the scored frame (one row per trial) that the analysis layer consumes.

The columns are documented in twinstudy.analysis.frame; this module only reads the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from twinstudy.store import Store



def _latest_scores(store: Store, turn: int, scorer: str | None) -> pd.DataFrame:
    where = "WHERE turn = ?" + (" AND scorer = ?" if scorer else "")
    args: list[str | int] = [turn, scorer] if scorer else [turn]
    df = pd.read_sql_query(
        f"SELECT trial_key, scorer, version, status, value, agreement, score, correct FROM scores {where}",
        store.conn, params=args)
    # Several scorers may have scored a trial (rules, classifier, judges); keep the one that
    # twinstudy.scoring.precedence puts first.
    from twinstudy.scoring.judge_pass import primary_judge
    from twinstudy.scoring.precedence import rank, usable

    judge = primary_judge(store)
    df = df[np.asarray([usable(s, st) for s, st in zip(df["scorer"], df["status"], strict=True)], dtype=bool)]
    df = df.assign(_rank=[rank(s, judge) for s in df["scorer"]])
    df = df.sort_values(["trial_key", "_rank"], kind="stable").drop_duplicates("trial_key", keep="first")
    return df.drop(columns="_rank")


def build_scored_frame(store: Store, scorer: str | None = None) -> pd.DataFrame:
    trials = pd.read_sql_query(
        "SELECT key AS trial_key, model, instrument, item, theme, item_type, reverse, lang, framing, "
        "paraphrase, sample, outcome, correct_letter FROM trials", store.conn)
    models = store.models()
    meta = pd.DataFrame([
        {"model": mid, "origin": info.get("origin", "UNKNOWN"), "company": info.get("company", "unknown"),
         "tier": info.get("tier", "unknown"), "open_weights": info.get("open_weights")}
        for mid, info in models.items()
    ], columns=["model", "origin", "company", "tier", "open_weights"])
    first = _latest_scores(store, 0, scorer)
    follow = _latest_scores(store, 1, scorer)[["trial_key", "value", "correct"]].rename(
        columns={"value": "final_answer", "correct": "final_correct"})
    df = trials.merge(meta, on="model", how="left").merge(first, on="trial_key", how="left")
    df = df.merge(follow, on="trial_key", how="left")
    df["reverse"] = df["reverse"].astype(bool)
    df["answer"] = df["value"].where(df["status"] == "answered")
    df["open_outcome"] = df["status"].where(df["item_type"] == "open")
    closed = df["item_type"] != "open"
    df["agreement"] = df["agreement"].where(closed & (df["outcome"] == "answered"))
    df["score"] = df["score"].where(closed & (df["outcome"] == "answered"))
    both = df["answer"].notna() & df["final_answer"].notna()
    df["flipped"] = np.where(both, (df["answer"] != df["final_answer"]).astype(float), np.nan)
    cols = ["trial_key", "model", "origin", "company", "tier", "open_weights", "instrument", "item", "theme",
            "item_type", "reverse", "lang", "framing", "paraphrase", "sample", "outcome", "answer",
            "agreement", "score", "correct", "final_answer", "final_correct", "flipped", "open_outcome"]
    return df[cols].reset_index(drop=True)
