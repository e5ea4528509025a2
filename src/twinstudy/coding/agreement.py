"""Agreement between coders, and of a coder with a gold standard.

- :func:`alpha_nominal`: Krippendorff's alpha for nominal data, any number of coders, missing
  values allowed (Krippendorff 2011, "Computing Krippendorff's alpha-reliability"). Written out
  here (thirty lines of numpy) rather than taken from a package, and checked in the tests against
  the worked example of that paper (alpha = 0.743).
- :func:`codebook_alpha`: for a single-label codebook, alpha over the category each coder
  assigned; for a multi-label codebook, one binary alpha per category (assigned or not) and their
  mean, because a reply's set of categories is not one nominal value.
- :func:`percent_agreement`, :func:`cohen_kappa`, :func:`precision_recall`: a coder against gold;
  :func:`kappa_of_labels` is the kappa itself on two label arrays, the one implementation (the
  open-reply classifier's benches resample it hundreds of times, so it is numpy).

A reply a coder marked ``uncodable`` is a missing value for that coder, not a category of its own.
All figures are point estimates over the replies given; none of them is a confidence interval.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from twinstudy.coding.codebook import Codebook

Ratings = Mapping[str, Mapping[str, Hashable | None]]  # coder -> unit -> value (None: missing)


def alpha_nominal(ratings: Ratings) -> float:
    """Krippendorff's alpha (nominal) of ``ratings``; NaN when it is undefined (fewer than two
    pairable values, or every value the same so there is no expected disagreement)."""
    units: dict[str, list[Hashable]] = {}
    for per_unit in ratings.values():
        for unit, value in per_unit.items():
            if value is not None:
                units.setdefault(unit, []).append(value)
    pairable = [vals for vals in units.values() if len(vals) >= 2]
    labels = sorted({v for vals in pairable for v in vals}, key=str)
    if not pairable or len(labels) < 2:
        return math.nan
    index = {v: i for i, v in enumerate(labels)}
    o = np.zeros((len(labels), len(labels)))  # the coincidence matrix
    for vals in pairable:
        counts = np.zeros(len(labels))
        for v in vals:
            counts[index[v]] += 1
        o += (np.outer(counts, counts) - np.diag(counts)) / (len(vals) - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    observed = (o.sum() - np.trace(o)) / n
    expected = (n * n - (n_c ** 2).sum()) / (n * (n - 1))
    return float(1.0 - observed / expected) if expected > 0 else math.nan


def codebook_alpha(codebook: Codebook,
                   codes: Mapping[str, Mapping[str, tuple[str, ...] | None]]) -> dict[str, float]:
    """Alpha between coders for ``codebook``. ``codes``: coder -> unit -> categories (None when
    the coder left the unit uncoded or marked it uncodable).

    Single-label: ``{"alpha": ...}``. Multi-label: ``{"<category>": binary alpha, ...,
    "mean": mean of the defined ones}``.
    """
    if not codebook.multi_label:
        ratings = {c: {u: (cats[0] if cats else None) for u, cats in per.items()} for c, per in codes.items()}
        return {"alpha": alpha_nominal(ratings)}
    out: dict[str, float] = {}
    for cat in codebook.category_ids:
        out[cat] = alpha_nominal({c: {u: (None if cats is None else cat in cats) for u, cats in per.items()}
                                  for c, per in codes.items()})
    defined = [v for v in out.values() if not math.isnan(v)]
    out["mean"] = float(np.mean(defined)) if defined else math.nan
    return out


def _paired(a: Mapping[str, Hashable | None], b: Mapping[str, Hashable | None]) -> list[tuple[Hashable, Hashable]]:
    return [(a[u], b[u]) for u in a if u in b and a[u] is not None and b[u] is not None]


def percent_agreement(coder: Mapping[str, Hashable | None], gold: Mapping[str, Hashable | None]) -> float:
    """Share of units coded by both on which they agree (NaN when none is)."""
    pairs = _paired(coder, gold)
    return sum(x == y for x, y in pairs) / len(pairs) if pairs else math.nan


def kappa_of_labels(a: Sequence[Hashable] | np.ndarray, b: Sequence[Hashable] | np.ndarray) -> float:
    """Cohen's kappa of two raters' labels, unit by unit (NaN with no units or when chance agreement is 1)."""
    x, y = np.asarray(a), np.asarray(b)
    if len(x) == 0:
        return math.nan
    _, codes = np.unique(np.concatenate([x, y]), return_inverse=True)
    k = int(codes.max()) + 1
    m = np.zeros((k, k))
    np.add.at(m, (codes[: len(x)], codes[len(x):]), 1)
    n = m.sum()
    po = np.trace(m) / n
    pe = float((m.sum(axis=0) * m.sum(axis=1)).sum()) / n**2
    return math.nan if pe == 1 else float((po - pe) / (1 - pe))


def cohen_kappa(coder: Mapping[str, Hashable | None], gold: Mapping[str, Hashable | None]) -> float:
    """Cohen's kappa of two raters over the units both coded (NaN when chance agreement is 1)."""
    pairs = _paired(coder, gold)
    return kappa_of_labels([x for x, _ in pairs], [y for _, y in pairs])


def precision_recall(coder: Mapping[str, Sequence[str]], gold: Mapping[str, Sequence[str]],
                     category: str) -> tuple[float, float, int]:
    """Precision and recall of ``coder`` for ``category`` against ``gold`` over the units both
    coded, and the gold count (support)."""
    units = [u for u in gold if u in coder]
    tp = sum(category in coder[u] and category in gold[u] for u in units)
    pred = sum(category in coder[u] for u in units)
    true = sum(category in gold[u] for u in units)
    return (tp / pred if pred else math.nan, tp / true if true else math.nan, true)
