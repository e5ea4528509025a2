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
    # Several scorers may have scored a trial (rules, a judge); keep one row per trial, preferring
    # the closed-item parser and then the most recent version.
    df = df.sort_values(["trial_key", "scorer", "version"]).drop_duplicates("trial_key", keep="last")
    return df


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
    out = df[cols].reset_index(drop=True)
    return _with_framing_roles(out, store)


# --- framing roles (stance, identity): a self-contained addition, see twinstudy.analysis.framings ---


def _study_framings_file(store: Store) -> str | None:
    """The framings_file of the last stored study, resolved against the study file's folder."""
    from pathlib import Path

    import yaml

    spec = store.latest_spec()
    if spec is None:
        return None
    try:
        data = yaml.safe_load(spec[0])
    except yaml.YAMLError:
        return None
    path = data.get("framings_file") if isinstance(data, dict) else None
    if not isinstance(path, str) or not path:
        return None
    p = Path(path)
    if not p.is_absolute():
        p = Path(spec[1]).parent / p
    return str(p) if p.is_file() else None


def _with_framing_roles(df: pd.DataFrame, store: Store) -> pd.DataFrame:
    """Add ``stance`` and ``identity`` from the framing definitions the study used (bundled + its file)."""
    from twinstudy.instruments.loader import load_framings

    try:
        defs = load_framings(_study_framings_file(store))
    except Exception:  # noqa: BLE001 - a moved or broken framings file: fall back to the bundled ones
        defs = load_framings()
    ids = df["framing"].astype(str)
    df["stance"] = ids.map(lambda f: (defs[f].stance or "none") if f in defs else "none")
    df["identity"] = ids.map(lambda f: (defs[f].identity or "none").lower() if f in defs else "none")
    return df
