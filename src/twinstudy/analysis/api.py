"""Entry points: ``analyze(frame) -> Results`` (a mapping of tables) and ``to_json(results) -> dict``.

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
framing_split      sub-study (opinion, identity): framing share of variance    items
missing_cells      model x lang: Likert cells with no answered trial           cells
rates              model x lang x instrument x theme x outcome                 trials
open_outcomes      model x lang x instrument x theme x open outcome            trials
lineage            descendant x base x set x lang x measure (D - B)            items
quality            model (and model x lang): data-quality checks, no intervals  trials
category_shares    codebook x model x lang x framing x category                items
category_contrasts codebook x contrast x model x lang x framing x category     items
category_headline  codebook x category: origin vs user-culture effect, verdict items
=================  ==========================================================  ===============

The three ``category_*`` tables (:mod:`twinstudy.analysis.category_tables`) come from the coded open
answers passed as ``coded`` (one coded frame per codebook); without codes they are absent.

Every row with an interval names it in ``ci_kind`` (item bootstrap, t on item means for fewer
than 10 items, design-effect Wilson for rates, two-stage t for origins, or "none"). All bootstrap
intervals resample items (clusters), with samples and paraphrases nested inside
items; see :mod:`twinstudy.analysis.bootstrap` for the interval. Item ids are taken as unique
within an instrument; when two instruments share an item id they are told apart internally.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .categories import CodebookLike
from .category_tables import CATEGORY_TABLES, category_tables
from .cells import likert_cells
from .choice import choice_tables
from .frame import validate_frame
from .framings import with_roles
from .language import language_gap, mcnemar_table
from .lineage import lineage_twins
from .paired import paired_differences
from .profiles import origin_contrast, profiles
from .quality import data_quality
from .rates import open_outcome_rates, outcome_rates
from .results import DEFAULT_SEED, Results, Settings, empty_results, fingerprint, n_boot_for, run_isolated
from .substudies import framing_split
from .sycophancy import flip_rates, identity_effect, sycophancy_index
from .variance import decompose, missing_cells

SCHEMA_ID = "twinstudy.analysis/1"
TABLES: tuple[str, ...] = (
    "profiles", "origin_contrast", "paired", "sycophancy", "identity", "flips", "language_gap", "mcnemar",
    "variance", "variance_headline", "framing_split", "rates", "open_outcomes", "lineage", "quality", "missing_cells",
    "choice_shares", "choice_origin", "choice_language", *CATEGORY_TABLES,
)
#: Estimators that return several tables, and the names of those tables.
SPLIT: dict[str, tuple[str, ...]] = {"variance": ("variance", "variance_headline"),
                                     "choice": ("choice_shares", "choice_origin", "choice_language")}


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
    n_boot: int | None = None,
    seed: int = DEFAULT_SEED,
    coded: Mapping[str, tuple[CodebookLike, pd.DataFrame]] | None = None,
) -> Results:
    """Run every estimator on a scored frame (see :mod:`twinstudy.analysis.frame`).

    ``twins``: model pairs for the paired differences (default: every pair of models).
    ``n_boot``: bootstrap draws per interval (0 = point estimates only; None = the one policy,
    :func:`~twinstudy.analysis.results.n_boot_for`). Same frame and seed, same output.
    An estimator that raises leaves an entry in ``Results.errors``; the others still run.
    ``coded``: codebook id -> (codebook, coded frame of its open answers,
    :func:`twinstudy.coding.frame.coded_frame`), for the ``category_*`` tables.
    """
    nb = n_boot_for(len(frame)) if n_boot is None else n_boot
    errors: dict[str, str] = {}
    try:
        df = _prepare(frame)
    except Exception as exc:  # an invalid frame costs every table; say why
        out = empty_results(frame, nb, seed)
        out.errors["frame"] = f"{type(exc).__name__}: {exc}"
        return out
    try:
        cells: pd.DataFrame | None = likert_cells(df)
    except Exception as exc:  # each estimator then builds its own cells (and fails on its own)
        errors["cells"] = f"{type(exc).__name__}: {exc}"
        cells = None
    # The estimator call list: table name -> call (decompose returns two tables, see SPLIT).
    steps: dict[str, Callable[[], Any]] = {
        "profiles": lambda: profiles(df, n_boot=nb, seed=seed, cells=cells),
        "origin_contrast": lambda: origin_contrast(df, cells=cells),
        "paired": lambda: paired_differences(df, twins=twins, n_boot=nb, seed=seed, cells=cells),
        "sycophancy": lambda: sycophancy_index(df, n_boot=nb, seed=seed, cells=cells),
        "identity": lambda: identity_effect(df, n_boot=nb, seed=seed, cells=cells),
        "flips": lambda: flip_rates(df, n_boot=nb, seed=seed),
        "language_gap": lambda: language_gap(df, n_boot=nb, seed=seed, cells=cells),
        "mcnemar": lambda: mcnemar_table(df, n_boot=nb, seed=seed),
        "variance": lambda: decompose(df, n_boot=nb, seed=seed),
        "framing_split": lambda: framing_split(df, n_boot=nb, seed=seed),
        "rates": lambda: outcome_rates(df),
        "open_outcomes": lambda: open_outcome_rates(df),
        "lineage": lambda: lineage_twins(df, n_boot=nb, seed=seed),
        "missing_cells": lambda: missing_cells(df),
        "quality": lambda: data_quality(df),
        "choice": lambda: tuple(choice_tables(df).values()),
    }
    tables = run_isolated(steps, SPLIT, errors)
    if coded:
        tables.update(category_tables(coded, twins=twins, n_boot=nb, seed=seed, errors=errors))
    return Results(tables, Settings(nb, seed, int(len(frame)), fingerprint(frame)), errors)


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


def to_json(results: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """JSON-serialisable form of ``analyze`` output: NaN and infinities become null.

    ``{"schema": "twinstudy.analysis/1", "tables": {name: [{column: value, ...}, ...]},
    "settings": {...}, "errors": {...}}`` (settings and errors when given a :class:`Results`);
    validated by ``schema.json`` next to this module.
    """
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, table in results.items():
        cols = [str(c) for c in table.columns]
        records = []
        for row in table.itertuples(index=False, name=None):
            records.append({c: _clean(v) for c, v in zip(cols, row, strict=True)})
        tables[name] = records
    out: dict[str, Any] = {"schema": SCHEMA_ID, "tables": tables}
    if isinstance(results, Results):
        out["settings"] = results.settings.as_dict()
        out["errors"] = dict(results.errors)
    return out
