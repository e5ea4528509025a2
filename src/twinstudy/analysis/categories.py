"""Open answers as data (issue 17): a coded frame reduced to the cells every category estimator
starts from.

Input: a *coded frame* (:func:`twinstudy.coding.frame.coded_frame`): one row per open trial with a
``cat:<id>`` indicator column per category of the codebook (1.0 assigned, 0.0 not, NaN when the
reply was not coded) and ``code_status``. Only replies with ``code_status == "coded"`` enter the
shares; refused, blocked or uncodable replies are counted in ``coded_share`` beside every share
(coded replies / open trials of the items the coder took up), because which replies get coded is
rarely ignorable.

Unit of inference: items, as everywhere in the analysis. A *cell* is item x lang x framing x
paraphrase for one model; samples are averaged inside a cell, cells inside an item, and every
interval resamples items (all trials of an item travel together), with the expanded percentile
interval, a t interval on item means below 10 items and none below 3
(:mod:`twinstudy.analysis.bootstrap`). Because every category column of an item is resampled
together, single-label shares sum to one in the estimate and in every draw; multi-label categories
are separate proportions (an answer may have several or none).

The preparation lives apart from the estimators so that
:func:`twinstudy.analysis.category_tables.category_tables` prepares each codebook once and hands
the result to all three (:mod:`~twinstudy.analysis.category_shares`,
:mod:`~twinstudy.analysis.category_contrasts`, :mod:`~twinstudy.analysis.category_headline`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from .framings import with_roles
from .order import ordered_models

#: Prefix of the indicator columns; the same as :data:`twinstudy.coding.frame.CAT_PREFIX` (repeated
#: here because the analysis never imports what opens a database; a test checks they agree).
CAT_PREFIX = "cat:"
NONE = "none"
ALL = "all"


class CodebookLike(Protocol):
    """What the analysis needs of a codebook (:class:`twinstudy.coding.codebook.Codebook`)."""

    @property
    def id(self) -> str: ...

    @property
    def multi_label(self) -> bool: ...

    @property
    def category_ids(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Coded:
    """A coded frame reduced to cells: what every category estimator starts from."""

    cells: pd.DataFrame       # model, item, lang, framing, paraphrase, culture, identity, cat columns, n
    trials: pd.DataFrame      # model, lang, framing, coded (bool): every non-error open trial
    cols: list[str]           # the cat: columns, in codebook order
    categories: list[str]
    models: list[str]         # convention order (origin, then study order)
    origin: dict[str, str]
    company: dict[str, str]   # model -> company key (origin-scoped; a model without one is its own)
    coder: str
    codebook: str


def _lower_or_none(values: pd.Series) -> pd.Series:
    out = values.astype(object).where(values.notna(), None)
    return out.map(lambda v: NONE if v is None or str(v).strip() == "" else str(v).strip().lower())


def _culture(frame: pd.DataFrame) -> pd.Series:
    """The ``culture`` column, or, for frames built without it, the bundled framings' ``culture``."""
    if "culture" in frame.columns:
        return _lower_or_none(frame["culture"])
    try:
        from twinstudy.instruments.loader import load_framings

        defs = {fid: getattr(f, "culture", None) for fid, f in load_framings().items()}
    except Exception:  # noqa: BLE001 - the analysis must not depend on the instrument files loading
        defs = {}
    return _lower_or_none(frame["framing"].astype(str).map(lambda f: defs.get(f)))


def _company_keys(frame: pd.DataFrame) -> dict[str, str]:
    cols = ["model", "origin"] + (["company"] if "company" in frame.columns else [])
    info = frame[cols].drop_duplicates("model")
    out: dict[str, str] = {}
    for row in info.itertuples(index=False):
        m, o = str(row[0]), str(row[1])
        c = row[2] if len(row) > 2 else None
        known = c is not None and c == c and str(c).strip() and str(c).lower() not in ("unknown", "none")
        out[m] = f"{o}/{c}" if known else f"model:{m}"
    return out


def prepare(frame: pd.DataFrame, book: CodebookLike) -> Coded:
    """Reduce a coded frame to cells (coded replies only; samples averaged)."""
    cats = list(book.category_ids)
    cols = [f"{CAT_PREFIX}{c}" for c in cats]
    missing = [c for c in ["model", "origin", "item", "lang", "framing", "paraphrase", "code_status", *cols]
               if c not in frame.columns]
    if missing:
        raise ValueError(f"the coded frame for codebook '{book.id}' lacks column(s) {', '.join(missing)}; build it "
                         "with twinstudy.coding.frame.coded_frame (or attach_codes)")
    df = frame
    if "instrument" in df.columns and len(df):
        pairs = df[["instrument", "item"]].drop_duplicates()
        if pairs["item"].duplicated().any():
            df = df.assign(item=df["instrument"].astype(str) + "/" + df["item"].astype(str))
    culture = _culture(df).to_numpy(dtype=object)
    identity = with_roles(df[["framing"] + (["identity"] if "identity" in df.columns else [])])["identity"]
    coder = ""
    if "coder" in df.columns and df["coder"].notna().any():
        coder = str(df["coder"].dropna().iloc[0])
    base = pd.DataFrame({
        "model": df["model"].astype(str).to_numpy(), "item": df["item"].astype(str).to_numpy(),
        "lang": df["lang"].astype(str).to_numpy(), "framing": df["framing"].astype(str).to_numpy(),
        "paraphrase": df["paraphrase"].to_numpy(), "culture": culture,
        "identity": _lower_or_none(identity).to_numpy(dtype=object),
        "coded": (df["code_status"] == "coded").to_numpy(),
        "error": (df["outcome"] == "error").to_numpy() if "outcome" in df.columns else np.zeros(len(df), bool),
    })
    for c in cols:
        base[c] = df[c].to_numpy(dtype=np.float64, na_value=np.nan)
    # coded_share's denominator: open trials of the items the coder took up at all (a codebook applies
    # to some instruments only; the other open items are not "uncoded", just not its business)
    taken_up = set(base.loc[df["code_status"].notna().to_numpy(), "item"])
    in_scope = ~base["error"].to_numpy() & base["item"].isin(taken_up).to_numpy()
    trials = base.loc[in_scope, ["model", "lang", "framing", "coded"]]
    coded = base.loc[base["coded"].to_numpy()]
    keys = ["model", "item", "lang", "framing", "paraphrase"]
    if coded.empty:
        cells = pd.DataFrame(columns=[*keys, "culture", "identity", *cols, "n"])
    else:
        g = coded.groupby(keys, sort=True, observed=True)
        cells = g[cols].mean()
        cells["n"] = g.size()
        cells = cells.reset_index()
        roles = coded.drop_duplicates("framing").set_index("framing")
        cells["culture"] = cells["framing"].map(roles["culture"]).to_numpy(dtype=object)
        cells["identity"] = cells["framing"].map(roles["identity"]).to_numpy(dtype=object)
    present = df if coded.empty else df.loc[base["coded"].to_numpy()]
    models = [m for m in ordered_models(present) if m in set(cells["model"])] if len(present) else []
    origin = {str(m): str(o) for m, o in present[["model", "origin"]].drop_duplicates("model").to_numpy()}
    return Coded(cells, trials, cols, cats, models, origin, _company_keys(present) if len(present) else {},
                 coder, str(book.id))

