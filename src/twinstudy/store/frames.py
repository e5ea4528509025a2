"""Build the scored frame (one row per trial) that the analysis layer consumes.

Pure pandas over what :class:`twinstudy.store.Store` reads: the trial table, the models' metadata
and the chosen score of each turn (chosen by :mod:`twinstudy.scoring.precedence`). The columns are
documented in :mod:`twinstudy.analysis.frame`. Beyond them: ``choice`` / ``n_options`` /
``choice_text`` (a choice answer as the option it meant, read by :mod:`twinstudy.analysis.choice`),
``model_order`` (the study's model order, for the sign convention of
:mod:`twinstudy.analysis.order`) and ``base_model`` (lineage, :mod:`twinstudy.analysis.lineage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from twinstudy.instruments.schema import Framing

FRAME_COLUMNS = ["trial_key", "model", "origin", "company", "tier", "open_weights", "instrument", "item", "theme",
                 "item_type", "reverse", "lang", "framing", "paraphrase", "sample", "outcome", "answer",
                 "agreement", "score", "correct", "final_answer", "final_correct", "flipped", "open_outcome",
                 "base_model", "choice", "n_options", "choice_text", "model_order", "stance", "identity", "culture",
                 "reply_lang"]


def model_table(models: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The model metadata columns of the frame, one row per model."""
    return pd.DataFrame([
        {"model": mid, "origin": info.get("origin", "UNKNOWN"), "company": info.get("company", "unknown"),
         "tier": info.get("tier", "unknown"), "open_weights": info.get("open_weights"),
         "base_model": info.get("base_model")}
        for mid, info in models.items()
    ], columns=["model", "origin", "company", "tier", "open_weights", "base_model"])


def _add_choice_columns(df: pd.DataFrame) -> None:
    """Choice answers as the option they meant: ``choice`` (the option's index in the instrument,
    not the shuffled letter), ``n_options`` and ``choice_text`` (as shown, in the trial's language).
    Options are shuffled per trial, so a letter alone means different options in different trials."""
    import json
    import re

    from twinstudy.vocab import LETTERS

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


def build_scored_frame(trials: pd.DataFrame, models: dict[str, dict[str, Any]], first: pd.DataFrame,
                       follow: pd.DataFrame, model_order: dict[str, int] | None = None,
                       framings: Mapping[str, Framing] | None = None) -> pd.DataFrame:
    """Join trials, model metadata, the first turn's score and the follow-up turn's answer.

    ``first`` and ``follow`` hold at most one score per trial (see ``Store.chosen_scores``);
    ``trials`` carries ``option_order`` and ``choice_messages`` (the prompt of choice trials);
    ``model_order``: each model's place in the study (``Store.model_order``); ``framings``: the
    framing definitions the study ran with (``Store.framing_definitions``), whose ``stance``,
    ``identity`` and ``culture`` become the columns of the same names (``none`` where a framing states neither), so
    the analysis reads roles from the data, never from framing ids.
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
    _add_choice_columns(df)
    ranks = model_order or {}
    df["model_order"] = [ranks.get(m, len(ranks)) for m in df["model"]]
    defs = framings or {}
    ids = df["framing"].astype(str)
    df["stance"] = ids.map(lambda f: (defs[f].stance or "none") if f in defs else "none")
    df["identity"] = ids.map(lambda f: (defs[f].identity or "none").lower() if f in defs else "none")
    df["culture"] = ids.map(lambda f: (defs[f].culture or "none").lower() if f in defs else "none")
    return df[FRAME_COLUMNS].reset_index(drop=True)


@dataclass(frozen=True)
class ResultTables:
    """A results database as pandas frames: what :func:`twinstudy.open_results` returns.

    ``trials``, ``attempts``, ``scores`` and ``runs`` are the tables as stored (see
    :mod:`twinstudy.store.schema`); ``models`` has one row per model with its metadata; ``scored``
    is the one-row-per-trial frame the analysis takes (:func:`twinstudy.analyze`); ``codes`` holds
    every coder's codes of open replies (:mod:`twinstudy.coding`; empty when nothing was coded).
    """

    trials: pd.DataFrame
    attempts: pd.DataFrame
    scores: pd.DataFrame
    runs: pd.DataFrame
    models: pd.DataFrame
    scored: pd.DataFrame
    codes: pd.DataFrame
