"""Gather what the report shows from the store and the analysis layer."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from twinstudy.report.figures import profile_heatmap
from twinstudy.store import Store

MAX_TRANSCRIPTS = 3000


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(df.to_json(orient="records", force_ascii=False))
    return out


def report_context(store: Store, output: Path) -> dict[str, Any]:
    from twinstudy.analysis.profiles import profiles
    from twinstudy.analysis.sycophancy import sycophancy_index as sycophancy

    frame = store.scored_frame()
    models = store.models()
    runs = store.runs()
    spec = store.latest_spec()
    local_only = bool(models) and all(m.get("provider") == "local" for m in models.values())
    prof = profiles(frame, n_boot=1000) if frame["score"].notna().any() else pd.DataFrame()
    framings = set(frame["framing"]) if not frame.empty else set()
    syc = (sycophancy(frame, n_boot=1000)
           if {"user-agrees", "user-disagrees"} <= framings and frame["agreement"].notna().any()
           else pd.DataFrame())
    fig_dir = output.parent / "figures"
    figures: dict[str, str] = {}
    if not prof.empty:
        fig = profile_heatmap(prof, models)
        fig_dir.mkdir(parents=True, exist_ok=True)
        fig.savefig(fig_dir / "profiles.png", dpi=200, bbox_inches="tight")
        fig.savefig(fig_dir / "profiles.svg", bbox_inches="tight")
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight")
        figures["profiles"] = buf.getvalue()
    outcomes = (frame.groupby(["model", "outcome"]).size().unstack(fill_value=0).reset_index()
                if not frame.empty else pd.DataFrame())
    transcripts = pd.read_sql_query(
        f"SELECT model, item, lang, framing, paraphrase, sample, outcome, messages_json, answer_text, "
        f"reasoning, followup_text FROM trials ORDER BY item, lang, framing, model LIMIT {MAX_TRANSCRIPTS}",
        store.conn)
    return {
        "study_name": runs["study"].iloc[-1] if not runs.empty else "study",
        "spec_text": spec[0] if spec else "",
        "local_only": local_only,
        "models": [{"id": k, **v} for k, v in sorted(models.items())],
        "n_trials": int(len(frame)),
        "n_attempts": store.n_attempts(),
        "profiles": _records(prof) if not prof.empty else [],
        "sycophancy": _records(syc) if not syc.empty else [],
        "outcomes": _records(outcomes) if not outcomes.empty else [],
        "outcome_cols": [c for c in outcomes.columns if c != "model"] if not outcomes.empty else [],
        "figures": figures,
        "transcripts": _records(transcripts),
        "runs": _records(runs),
    }
