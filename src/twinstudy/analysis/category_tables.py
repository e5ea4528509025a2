"""Open answers as data (issue 17): the three category tables over every codebook of a study.

- ``category_shares`` (:mod:`~twinstudy.analysis.category_shares`): the share of coded replies in
  each category per model x lang x framing;
- ``category_contrasts`` (:mod:`~twinstudy.analysis.category_contrasts`): origin, twin,
  user-culture, identity and language differences of those shares, paired over identical cells;
- ``category_headline`` (:mod:`~twinstudy.analysis.category_headline`): "does the answer follow the
  model's origin or the culture the user brought?", with a verdict per category.

Each codebook's coded frame is reduced to cells once (:func:`twinstudy.analysis.categories.prepare`)
and a codebook that fails costs only its own rows, so one bad codebook never hides the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from .categories import CodebookLike, prepare
from .category_contrasts import CONTRAST_COLUMNS, category_contrasts
from .category_headline import HEADLINE_COLUMNS, category_headline
from .category_shares import SHARE_COLUMNS, category_shares

CATEGORY_TABLES: tuple[str, ...] = ("category_shares", "category_contrasts", "category_headline")


def category_tables(coded: Mapping[str, tuple[CodebookLike, pd.DataFrame]],
                    twins: Sequence[tuple[str, str]] | None = None, n_boot: int = 1000, seed: int = 0,
                    errors: dict[str, str] | None = None) -> dict[str, pd.DataFrame]:
    """The three tables over every codebook (rows of each carry ``codebook``).

    ``coded``: codebook id -> (codebook, coded frame). A codebook whose estimator raises leaves
    ``errors["<table>[<codebook>]"]`` and costs only its own rows. No codebooks: no tables.
    """
    errs = errors if errors is not None else {}
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in CATEGORY_TABLES}
    columns = dict(zip(CATEGORY_TABLES, (SHARE_COLUMNS, CONTRAST_COLUMNS, HEADLINE_COLUMNS), strict=True))
    for cid, (book, frame) in coded.items():
        try:
            prepared = prepare(frame, book)
        except Exception as exc:  # isolation: one bad codebook costs its own rows only
            for t in CATEGORY_TABLES:
                errs[f"{t}[{cid}]"] = f"{type(exc).__name__}: {exc}"
            continue
        for t in CATEGORY_TABLES:
            try:
                if t == "category_shares":
                    parts[t].append(category_shares(frame, book, n_boot, seed, prepared))
                elif t == "category_contrasts":
                    parts[t].append(category_contrasts(frame, book, twins, n_boot, seed, prepared))
                else:
                    parts[t].append(category_headline(frame, book, n_boot, seed, prepared))
            except Exception as exc:  # isolation, as in analysis.results.run_isolated
                errs[f"{t}[{cid}]"] = f"{type(exc).__name__}: {exc}"
    if not coded:
        return {}
    return {t: (pd.concat([p for p in ps if len(p)], ignore_index=True) if any(len(p) for p in ps)
                else pd.DataFrame(columns=columns[t])) for t, ps in parts.items()}
