"""Build the scored frame (one row per trial) that the analysis layer consumes.

Pure pandas over what :class:`twinstudy.store.Store` reads: the trial table, the models' metadata
and the chosen score of each turn (chosen by :mod:`twinstudy.scoring.precedence`). The columns are
documented in :mod:`twinstudy.analysis.frame`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

FRAME_COLUMNS = ["trial_key", "model", "origin", "company", "tier", "open_weights", "instrument", "item", "theme",
                 "item_type", "reverse", "lang", "framing", "paraphrase", "sample", "outcome", "answer",
                 "agreement", "score", "correct", "final_answer", "final_correct", "flipped", "open_outcome",
                 "base_model"]


def model_table(models: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The model metadata columns of the frame, one row per model."""
    return pd.DataFrame([
        {"model": mid, "origin": info.get("origin", "UNKNOWN"), "company": info.get("company", "unknown"),
         "tier": info.get("tier", "unknown"), "open_weights": info.get("open_weights"),
         "base_model": info.get("base_model")}
        for mid, info in models.items()
    ], columns=["model", "origin", "company", "tier", "open_weights", "base_model"])


def build_scored_frame(trials: pd.DataFrame, models: dict[str, dict[str, Any]], first: pd.DataFrame,
                       follow: pd.DataFrame) -> pd.DataFrame:
    """Join trials, model metadata, the first turn's score and the follow-up turn's answer.

    ``first`` and ``follow`` hold at most one score per trial (see ``Store.chosen_scores``).
    """
    first = first[["trial_key", "status", "value", "agreement", "score", "correct"]]
    follow = follow[["trial_key", "value", "correct"]].rename(
        columns={"value": "final_answer", "correct": "final_correct"})
    df = trials.merge(model_table(models), on="model", how="left").merge(first, on="trial_key", how="left")
    df = df.merge(follow, on="trial_key", how="left")
    df["reverse"] = df["reverse"].astype(bool)
    df["answer"] = df["value"].where(df["status"] == "answered")
    df["open_outcome"] = df["status"].where(df["item_type"] == "open")
    closed = df["item_type"] != "open"
    df["agreement"] = df["agreement"].where(closed & (df["outcome"] == "answered"))
    df["score"] = df["score"].where(closed & (df["outcome"] == "answered"))
    both = df["answer"].notna() & df["final_answer"].notna()
    df["flipped"] = np.where(both, (df["answer"] != df["final_answer"]).astype(float), np.nan)
    return df[FRAME_COLUMNS].reset_index(drop=True)


@dataclass(frozen=True)
class ResultTables:
    """A results database as pandas frames: what :func:`twinstudy.open_results` returns.

    ``trials``, ``attempts``, ``scores`` and ``runs`` are the tables as stored (see
    :mod:`twinstudy.store.schema`); ``models`` has one row per model with its metadata; ``scored``
    is the one-row-per-trial frame the analysis takes (:func:`twinstudy.analyze`).
    """

    trials: pd.DataFrame
    attempts: pd.DataFrame
    scores: pd.DataFrame
    runs: pd.DataFrame
    models: pd.DataFrame
    scored: pd.DataFrame
