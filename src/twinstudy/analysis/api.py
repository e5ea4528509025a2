"""Entry points: ``analyze(frame) -> dict of tables`` and ``to_json(results) -> dict``.

Tables (pandas DataFrames; every estimate row has ``estimate``, ``ci_low``, ``ci_high``, ``n``):

=================  ==========================================================  ===============
table              one row per                                                 n counts
=================  ==========================================================  ===============
profiles           model x theme x lang ("all" pools languages)                items
origin_contrast    origin pair (CN - US first) x theme                         models
paired             model pair (A - B) x framing x theme; p_adj: BH, all rows   items
sycophancy         model x lang: (agree - disagree agreement) / 2               items
identity           model x lang: score identity-cn - identity-us               items
flips              model x lang x framing x measure (flip, abandon, net)      trials
language_gap       model: score EN - ZH                                        items
mcnemar            model x measure (refused, blocked, complete): EN vs ZH      trials
variance           component: share of score variance                          items
variance_headline  model_side, user_side, model_share = model/(model + user)  items
missing_cells      model x lang: Likert cells with no answered trial           cells
rates              model x lang x instrument x theme x outcome                 trials
open_outcomes      model x lang x instrument x theme x open outcome            trials
=================  ==========================================================  ===============

Every row with an interval names it in ``ci_kind`` (item bootstrap, t on item means for fewer
than 10 items, design-effect Wilson for rates, two-stage t for origins, or "none"). All bootstrap
intervals resample items (clusters), with samples and paraphrases nested inside
items; see :mod:`twinstudy.analysis.bootstrap` for the interval. Item ids are taken as unique
within an instrument; when two instruments share an item id they are told apart internally.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .cells import likert_cells
from .frame import validate_frame
from .framings import with_roles
from .language import language_gap, mcnemar_table
from .paired import paired_differences
from .profiles import origin_contrast, profiles
from .rates import open_outcome_rates, outcome_rates
from .sycophancy import flip_rates, identity_effect, sycophancy_index
from .variance import decompose, missing_cells

SCHEMA_ID = "twinstudy.analysis/1"
TABLES: tuple[str, ...] = (
    "profiles", "origin_contrast", "paired", "sycophancy", "identity", "flips", "language_gap", "mcnemar",
    "variance", "variance_headline", "rates", "open_outcomes", "missing_cells",
)


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    validate_frame(frame)
    frame = with_roles(frame)
    pairs = frame[["instrument", "item"]].drop_duplicates()
    if pairs["item"].duplicated().any():
        frame = frame.copy()
        frame["item"] = frame["instrument"].astype(str) + "/" + frame["item"].astype(str)
    return frame


def analyze(
    frame: pd.DataFrame,
    twins: list[tuple[str, str]] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Run every estimator on a scored frame (see :mod:`twinstudy.analysis.frame`).

    ``twins``: model pairs for the paired differences (default: every pair of models).
    ``n_boot``: bootstrap draws per interval (0 = point estimates only). Same seed, same output.
    """
    df = _prepare(frame)
    var, head = decompose(df, n_boot=n_boot, seed=seed)
    cells = likert_cells(df)
    return {
        "profiles": profiles(df, n_boot=n_boot, seed=seed, cells=cells),
        "origin_contrast": origin_contrast(df, cells=cells),
        "paired": paired_differences(df, twins=twins, n_boot=n_boot, seed=seed, cells=cells),
        "sycophancy": sycophancy_index(df, n_boot=n_boot, seed=seed, cells=cells),
        "identity": identity_effect(df, n_boot=n_boot, seed=seed, cells=cells),
        "flips": flip_rates(df, n_boot=n_boot, seed=seed),
        "language_gap": language_gap(df, n_boot=n_boot, seed=seed, cells=cells),
        "mcnemar": mcnemar_table(df, n_boot=n_boot, seed=seed),
        "variance": var,
        "variance_headline": head,
        "rates": outcome_rates(df),
        "open_outcomes": open_outcome_rates(df),
        "missing_cells": missing_cells(df),
    }


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def to_json(results: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """JSON-serialisable form of ``analyze`` output: NaN and infinities become null.

    ``{"schema": "twinstudy.analysis/1", "tables": {name: [{column: value, ...}, ...]}}``;
    validated by ``schema.json`` next to this module.
    """
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, table in results.items():
        cols = [str(c) for c in table.columns]
        records = []
        for row in table.itertuples(index=False, name=None):
            records.append({c: _clean(v) for c, v in zip(cols, row, strict=True)})
        tables[name] = records
    return {"schema": SCHEMA_ID, "tables": tables}
