"""Build the scored frame (one row per trial) that the analysis layer consumes.

The columns are documented in twinstudy.analysis.frame; this module only reads the store. Beyond
them: ``choice`` / ``n_options`` / ``choice_text`` (a choice answer as the option it meant, read by
twinstudy.analysis.choice) and ``model_order`` (the study's model order, for the sign convention
of twinstudy.analysis.order). Only the trials of one design are read (see store.designs).
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
    # Several scorers may have scored a trial (rules, a judge); keep one row per trial, preferring
    # the closed-item parser and then the most recent version.
    df = df.sort_values(["trial_key", "scorer", "version"]).drop_duplicates("trial_key", keep="last")
    return df


def _add_choice_columns(df: pd.DataFrame) -> None:
    """Choice answers as the option they meant: ``choice`` (the option's index in the instrument,
    not the shuffled letter), ``n_options`` and ``choice_text`` (as shown, in the trial's language).
    Options are shuffled per trial, so a letter alone means different options in different trials."""
    import json
    import re

    from twinstudy.study.prompts import LETTERS

    line = re.compile(r"^([A-H])\. (.+)$", re.M)
    choice: list[float] = []
    n_opts: list[float] = []
    texts: list[str | None] = []
    for order_json, answer, msgs in zip(df["option_order"], df["answer"], df["choice_messages"], strict=True):
        if not isinstance(order_json, str):
            choice.append(np.nan)
            n_opts.append(np.nan)
            texts.append(None)
            continue
        order = json.loads(order_json)
        n_opts.append(float(len(order)))
        pos = LETTERS.find(answer) if isinstance(answer, str) and len(answer) == 1 else -1
        if 0 <= pos < len(order):
            choice.append(float(order[pos]))
            prompt = next((m[1] for m in json.loads(msgs or "[]") if m[0] == "user"), "")
            shown = dict(line.findall(prompt))
            texts.append(shown.get(answer))
        else:
            choice.append(np.nan)
            texts.append(None)
    df["choice"] = pd.array([None if np.isnan(c) else int(c) for c in choice], dtype="Int64")
    df["n_options"] = pd.array([None if np.isnan(c) else int(c) for c in n_opts], dtype="Int64")
    df["choice_text"] = texts


def build_scored_frame(store: Store, scorer: str | None = None, design: str | None = None) -> pd.DataFrame:
    """``design``: which recorded design's trials (None = the current one; see store.designs)."""
    from twinstudy.store.designs import resolve

    chosen = resolve(store.conn, design)
    where = " WHERE key IN (SELECT trial_key FROM design_trials WHERE design = ?)" if chosen else ""
    trials = pd.read_sql_query(
        "SELECT key AS trial_key, model, instrument, item, theme, item_type, reverse, lang, framing, "
        "paraphrase, sample, outcome, correct_letter, option_order, "
        "CASE WHEN option_order IS NOT NULL THEN messages_json END AS choice_messages FROM trials" + where,
        store.conn,
        params=(chosen.fingerprint,) if chosen else None)
    models = store.models()
    meta = pd.DataFrame([
        {"model": mid, "origin": info.get("origin", "UNKNOWN"), "company": info.get("company", "unknown"),
         "tier": info.get("tier", "unknown"), "open_weights": info.get("open_weights")}
        for mid, info in models.items()
    ], columns=["model", "origin", "company", "tier", "open_weights"])
    first = _latest_scores(store, 0, scorer)
    follow = _latest_scores(store, 1, scorer)[["trial_key", "value", "correct"]].rename(
        columns={"value": "final_answer", "correct": "final_correct"})
    # The study's model order (models are re-inserted in study order by each run), for the sign
    # convention of paired differences (twinstudy.analysis.order).
    ranks = {r[0]: i for i, r in enumerate(store.conn.execute("SELECT id FROM models ORDER BY rowid"))}
    meta["model_order"] = [ranks.get(m, len(ranks)) for m in meta["model"]]
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
    _add_choice_columns(df)
    cols = ["trial_key", "model", "origin", "company", "tier", "open_weights", "instrument", "item", "theme",
            "item_type", "reverse", "lang", "framing", "paraphrase", "sample", "outcome", "answer",
            "agreement", "score", "correct", "final_answer", "final_correct", "flipped", "open_outcome",
            "choice", "n_options", "choice_text", "model_order"]
    return df[cols].reset_index(drop=True)
