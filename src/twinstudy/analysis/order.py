"""One sign convention for every difference the analysis reports, stated where it is shown.

Differences between origins are first minus second in ``ORIGIN_ORDER`` (CN − US; other origins
after these, alphabetically). Differences between two models follow the same rule, so that a
paired difference and the origin contrast never point opposite ways for the same data: model A is
the one whose origin comes first; between models of one origin, A is the one listed first in the
study (the frame's ``model_order`` column; alphabetical when it is absent).
"""

from __future__ import annotations

from itertools import combinations

import pandas as pd

ORIGIN_ORDER: tuple[str, ...] = ("CN", "US")

PAIRED_SIGN = ("A − B, where A is the model whose origin comes first in CN, US order (then "
               "others alphabetically) and, within one origin, the model listed first in the study")

#: What the sign of each table's estimate means; printed with every table and axis.
SIGNS: dict[str, str] = {
    "paired": f"estimate = model_a − model_b ({PAIRED_SIGN})",
    "origin_contrast": "estimate = origin_a − origin_b (CN − US when both are present)",
    "sycophancy": "estimate = (agreement when the user agrees − when the user disagrees) / 2",
    "identity": "estimate = score when the user says they are Chinese − American (identity-cn − identity-us)",
    "language_gap": "estimate = EN − ZH",
    "mcnemar": "estimate = rate in EN − rate in ZH",
    "choice_origin": "estimate = share of the first origin − the second (see contrast; CN − US)",
    "choice_language": "estimate = share in EN − share in ZH",
    "category_contrasts": ("estimate = share at level_a − at level_b: origin CN − US, user culture cn − us, "
                           "identity cn − us, language EN − ZH, twin model_a − model_b"),
    "category_headline": ("origin_effect = CN − US, culture_effect = culture cn − us (the culture the user "
                          "brings up), difference = |origin_effect| − |culture_effect|"),
}


def origin_rank(origin: str) -> tuple[int, str]:
    return (ORIGIN_ORDER.index(origin), "") if origin in ORIGIN_ORDER else (len(ORIGIN_ORDER), origin)


def ordered_models(frame: pd.DataFrame) -> list[str]:
    """The frame's models in convention order: origin first, then the study's order."""
    cols = ["model", "origin"] + (["model_order"] if "model_order" in frame.columns else [])
    info = frame[cols].dropna(subset=["model"]).drop_duplicates("model")
    order = {str(m): (origin_rank(str(o)),
                      int(r) if "model_order" in cols and pd.notna(r) else 10**9, str(m))
             for m, o, r in zip(info["model"], info["origin"],
                                info["model_order"] if "model_order" in cols else [None] * len(info), strict=True)}
    return sorted(order, key=lambda m: order[m])


def default_pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Every pair of models, each as (A, B) in convention order."""
    return list(combinations(ordered_models(frame), 2))
