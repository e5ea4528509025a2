"""The method section: models and their cost, parameters, scorers, runs, the design, the settings of
the analysis, and what each estimate means (see :mod:`twinstudy.report.sections.estimands`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from twinstudy.analysis import Results
from twinstudy.report import figures as figs
from twinstudy.report.sections.estimands import Estimand, estimands
from twinstudy.store import ALL_OUTCOMES, Store, reads


@dataclass
class ModelRow:
    id: str
    trials: int
    requests: int
    tokens_in: int
    tokens_out: int
    cost: str
    cost_how: str
    outcomes: list[int]
    meta: dict[str, Any]
    system: Any


@dataclass
class RunRow:
    id: int
    source: str
    version: str
    started: str
    finished: str
    status: str
    stop_reason: str
    planned: int | None


@dataclass
class Method:
    models: list[ModelRow]
    outcome_cols: list[str]
    total_cost: str
    params: list[Any]
    scorers: list[reads.ScorerCount]
    runs: list[RunRow]
    design: reads.DesignCounts
    estimands: list[Estimand]
    n_boot: int
    seed: int
    fingerprint: str
    cannot_estimate: list[str]


def _ts(x: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(x)) if x else "–"


def cannot_estimate(results: Results, design: reads.DesignCounts) -> list[str]:
    """Plain sentences on what this design cannot tell, shown beside the estimates."""
    out: list[str] = []
    if design.samples == 1 and not results.table("variance").empty:
        out.append("With one sample per cell, sampling noise cannot be told apart from the highest-order "
                   "interaction, so no sampling-noise share is shown.")
    if design.languages == 2 and not results.table("variance").empty:
        out.append("With two languages the language share rests on one degree of freedom; the EN − ZH gap per "
                   "model is the better-founded figure.")
    contrast = results.table("origin_contrast")
    if not contrast.empty and {"n_a", "n_b"} <= set(contrast.columns):
        small = contrast[(contrast["n_a"] < 4) | (contrast["n_b"] < 4)]
        if not small.empty:
            out.append("With fewer than four models per origin the origin contrast can show little: its interval "
                       "rests on a handful of model means.")
    return out


def build_method(store: Store, meta: dict[str, dict[str, Any]], results: Results) -> Method:
    from twinstudy.run.costs import cost_of

    oc = reads.outcome_counts(store)
    present: list[str] = [o for o in ALL_OUTCOMES if any(o in v for v in oc.values())]
    models: list[ModelRow] = []
    total_cost: float | None = 0.0
    usage = {u.model: u for u in reads.model_usage(store)}
    healed = reads.self_healed(store)
    for m in figs.ordered_models(sorted(usage), meta):
        u, info = usage[m], meta.get(m, {})
        if u.cost is not None:
            cst: float | None = u.cost
            how = "recorded"
        else:
            cst = cost_of(m, info.get("api_model") or info.get("model"), u.tokens_in, u.tokens_out)
            how = "from tokens × list price" if cst is not None else "unknown"
        if cst is None:
            total_cost = None
        elif total_cost is not None:
            total_cost += cst
        models.append(ModelRow(m, u.trials, u.requests, u.tokens_in, u.tokens_out,
                               "–" if cst is None else f"${cst:,.4f}", how, [oc.get(m, {}).get(o, 0) for o in present],
                               {**{k: v for k, v in sorted(info.items())
                                   if k not in ("id", "system") and v not in (None, "", [], {})},
                                **({"parameters changed after a 400": healed[m]} if m in healed else {})},
                               info.get("system")))
    from twinstudy.run.lock import INTERRUPTED_REASON, shown_status

    runs = []
    for r in reads.run_records(store):
        status = shown_status(r.status, store.path)  # a "running" run no process holds was killed
        reason = (r.stop_reason or "") if status == r.status else INTERRUPTED_REASON
        runs.append(RunRow(r.id, r.source, r.version, _ts(r.started_at), _ts(r.finished_at), status, reason,
                           r.planned))
    design = reads.design_counts(store)
    s = results.settings
    return Method(models, present, "unknown for some models" if total_cost is None else f"${total_cost:,.4f}",
                  reads.distinct_params(store), reads.scorer_counts(store), runs, design, estimands(results),
                  s.n_boot, s.seed, s.fingerprint, cannot_estimate(results, design))
