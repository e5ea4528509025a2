"""The coded frame: one row per open trial of a design, with one coder's codes of its reply.

This is what the category analysis (:mod:`twinstudy.analysis.categories`) and the report read.
It is the scored frame (:meth:`twinstudy.store.Store.scored_frame`: model, origin, language,
framing, item, paraphrase, sample, outcome, stance, identity, ...) restricted to open items, plus:

- ``coder``: whose codes these are (the codebook's primary coder unless one is named);
- ``code_status``: ``coded``, ``uncodable``, or missing when that coder has not coded the reply;
- ``categories``: the tuple of category ids assigned (empty for a multi-label reply with none);
- ``cat:<id>``: 1.0 when the category was assigned, 0.0 when not, NaN when the reply is not coded,
  one column per category of the codebook, so a share is a plain mean and multi-label codebooks
  need nothing special.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twinstudy.coding.codebook import Codebook
from twinstudy.store import Store

CAT_PREFIX = "cat:"


def category_column(category: str) -> str:
    return f"{CAT_PREFIX}{category}"


def counting_coder(store: Store, codebook_id: str) -> str | None:
    """Whose codes count for a codebook (the analysis, the report and ``coded_frame`` all ask
    here): the primary coder, else the coder written last; None when nothing is coded."""
    coders = store.coders(codebook_id)
    return store.primary_coder(codebook_id) or (coders[-1] if coders else None)


def coded_frame(store: Store, codebook: Codebook, coder: str | None = None,
                design: str | None = None) -> pd.DataFrame:
    """Open trials of ``design`` (default: the current one) with ``coder``'s codes (default: the
    coder that counts, :func:`counting_coder`; with no codes stored, every code column is missing)."""
    chosen = coder or counting_coder(store, codebook.id)
    frame = store.scored_frame(design=design)
    frame = frame[frame["item_type"] == "open"].reset_index(drop=True)
    codes = store.code_table(codebook.id, chosen) if chosen else pd.DataFrame(
        columns=["trial_key", "coder", "version", "status", "categories", "detail"])
    return attach_codes(frame, codes, codebook, chosen)


def attach_codes(frame: pd.DataFrame, codes: pd.DataFrame, codebook: Codebook,
                 coder: str | None) -> pd.DataFrame:
    """``frame`` with the code columns described in the module docstring (pure; the simulator
    and tests build coded frames with it too)."""
    codes = codes.rename(columns={"status": "code_status", "detail": "code_detail", "version": "code_version"})
    keep = ["trial_key", "code_status", "categories", "code_detail", "code_version"]
    df = frame.merge(codes[keep], on="trial_key", how="left")
    df["coder"] = coder
    coded = (df["code_status"] == "coded").to_numpy()
    cats = [c if isinstance(c, tuple) else () for c in df["categories"]]
    df["categories"] = cats
    for cat in codebook.category_ids:
        has = np.array([cat in c for c in cats], dtype=float)
        df[category_column(cat)] = np.where(coded, has, np.nan)
    return df
