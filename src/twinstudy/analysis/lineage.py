"""Lineage twins: a model against its own base, post-trained by a company of another origin.

Two models from the same base weights, one post-trained in China and one in the West (DeepSeek-R1
by DeepSeek; R1-1776 by Perplexity, MAI-DS-R1 by Microsoft; DeepSeek-R1T-Chimera merged by TNG in
Germany), differ in what was done to them after pre-training, not in the pre-training itself. That
makes their paired difference the closest thing these data offer to twins raised apart.

The frame may carry an optional ``base_model`` column (the scored frame built from a store does,
from the model metadata; see :mod:`twinstudy.store.frames`). A *lineage pair* is a model D whose
``base_model`` B is also in the frame, where both origins are known (not UNKNOWN) and differ.

For each pair, prompt set (instrument x theme) and language, the estimand is the mean over items
of D's item mean minus B's item mean, over the cells (item x framing x paraphrase x sample) both
models have:

* ``complete``: open items with a judged ``open_outcome``: 1 if ``complete`` else 0 (a reply
  blocked by the provider has no judged outcome and drops out of the pair, as in ``mcnemar``);
* ``score``: answered Likert items, the score toward the theme's pole.

CI: cluster bootstrap over items (expanded percentile, :mod:`twinstudy.analysis.bootstrap`);
``p_value``: sign-flip test over items. For ``complete`` with one cell per item, ``b`` / ``c`` count
the items complete for D only / for B only and ``p_mcnemar`` is the exact McNemar p-value.
``n`` = items; ``rate_descendant`` / ``rate_base`` = the two means over the same items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bootstrap import summarize_columns
from .inference import mcnemar_exact

LINEAGE_COLUMNS = [
    "descendant", "base_model", "origin_descendant", "origin_base", "instrument", "theme", "lang", "measure",
    "estimate", "ci_low", "ci_high", "se", "p_value", "n", "rate_descendant", "rate_base", "b", "c", "p_mcnemar",
    "ci_kind",
]
KIND = "item bootstrap"
CELL = ["item", "framing", "paraphrase", "sample"]
UNKNOWN = ("", "UNKNOWN", "unknown", "?", "None", "nan")


def lineage_pairs(frame: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    """(descendant, base, origin of descendant, origin of base) for every cross-origin lineage pair."""
    if "base_model" not in frame.columns or frame.empty:
        return []
    per_model = frame.drop_duplicates("model").set_index("model")
    origin = per_model["origin"].astype(str).to_dict()
    pairs = []
    for d, base in per_model["base_model"].items():
        if base is None or (isinstance(base, float) and np.isnan(base)):
            continue
        b = str(base)
        od, ob = origin.get(str(d), ""), origin.get(b, "")
        if b in origin and od not in UNKNOWN and ob not in UNKNOWN and od != ob:
            pairs.append((str(d), b, od, ob))
    return sorted(pairs)


def _measure_rows(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    open_rows = frame.loc[frame["open_outcome"].notna()].copy()
    open_rows["x"] = (open_rows["open_outcome"].astype(str) == "complete").astype(np.float64)
    likert = frame.loc[frame["score"].notna() & (frame["outcome"] == "answered")].copy()
    likert["x"] = likert["score"].astype(np.float64)
    return {"complete": open_rows, "score": likert}


def lineage_twins(frame: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per lineage pair x prompt set x language x measure (see the module docstring)."""
    pairs = lineage_pairs(frame)
    if not pairs:
        return pd.DataFrame(columns=LINEAGE_COLUMNS)
    rng = np.random.default_rng([seed, 11])
    rows: list[dict[str, object]] = []
    keys = ["instrument", "theme", "lang", *CELL]
    for measure, sub in _measure_rows(frame).items():
        if sub.empty:
            continue
        for d, b, od, ob in pairs:
            a = sub.loc[sub["model"] == d, [*keys, "x"]].groupby(keys, observed=True)["x"].mean()
            z = sub.loc[sub["model"] == b, [*keys, "x"]].groupby(keys, observed=True)["x"].mean()
            both = pd.concat([a.rename("d"), z.rename("b")], axis=1, join="inner").reset_index()
            if both.empty:
                continue
            for (inst, theme, lang), g in both.groupby(["instrument", "theme", "lang"], observed=True, sort=True):
                per_item = g.groupby("item", observed=True)[["d", "b"]].mean()
                diff = (per_item["d"] - per_item["b"]).to_numpy(dtype=np.float64)
                res = summarize_columns(diff[:, None], rng, n_boot, with_p=True)
                row: dict[str, object] = {
                    "descendant": d, "base_model": b, "origin_descendant": od, "origin_base": ob,
                    "instrument": str(inst), "theme": str(theme), "lang": str(lang), "measure": measure,
                    **{k: float(v[0]) for k, v in res.items()},
                    "rate_descendant": float(per_item["d"].mean()), "rate_base": float(per_item["b"].mean()),
                    "b": None, "c": None, "p_mcnemar": None,
                }
                if measure == "complete" and len(g) == len(per_item):
                    bb = int(((g["d"] >= 0.5) & (g["b"] < 0.5)).sum())
                    cc = int(((g["d"] < 0.5) & (g["b"] >= 0.5)).sum())
                    row.update(b=bb, c=cc, p_mcnemar=mcnemar_exact(bb, cc))
                rows.append(row)
    out = pd.DataFrame(rows, columns=LINEAGE_COLUMNS)
    out["ci_kind"] = KIND
    out["n"] = out["n"].astype(int)
    return out.sort_values(["base_model", "descendant", "measure", "instrument", "theme", "lang"],
                           kind="stable").reset_index(drop=True)
