"""The framing share of score variance within the opinion and the identity sub-studies.

The full decomposition has one framing factor, which mixes what the user says they think with who
they say they are. To tell them apart, the decomposition is repeated on the trials of the neutral
framing plus one group of framings alone:

* ``opinion``: neutral and every framing with a ``stance`` (the user agrees / disagrees);
* ``identity``: neutral and every framing with an ``identity`` (the user says who they are).

Which framing belongs to which group comes from the frame's optional ``stance`` and ``identity``
columns (filled from the framing definitions), never from framing ids, so a user framing with
``stance: agree`` under any id counts. Without those columns the table is empty.

In the opinion sub-study the framing factor is coded in score space: a stated stance pushes the
score toward the theme's pole on a forward item and away from it on a reverse-keyed one, so the
levels are ``toward-pole`` / ``away-from-pole`` (plus neutral), not the framing ids. Coded by id, a
model that simply follows the user would put its whole effect into the keying x framing interaction
on instruments that are half reverse-keyed, and the framing share would read about 0.

Columns: ``group``, ``component`` ("framing"), ``estimate``, ``ci_low``, ``ci_high``, ``n`` (items).
The interval is the decomposition's item bootstrap (see :mod:`twinstudy.analysis.variance`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .variance import decompose

SPLIT_COLUMNS = ["group", "component", "estimate", "ci_low", "ci_high", "n", "ci_kind"]
NEUTRAL = "neutral"


def _has_role(frame: pd.DataFrame, column: str) -> pd.Series:
    values = frame[column]
    text = values.astype(str).str.lower()
    return values.notna() & (text.str.len() > 0) & ~text.isin(("none", "nan"))  # "none": states no role


def framing_groups(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Framing ids per sub-study (neutral included), from the ``stance`` / ``identity`` columns."""
    groups: dict[str, list[str]] = {}
    framings = frame["framing"].astype(str)
    for group, column in (("opinion", "stance"), ("identity", "identity")):
        if column not in frame.columns:
            continue
        members = sorted(set(framings[_has_role(frame, column)]))
        if members:
            groups[group] = [NEUTRAL, *members] if (framings == NEUTRAL).any() else members
    return groups


def toward_pole(sub: pd.DataFrame) -> pd.DataFrame:
    """Opinion framings relabelled by the direction they push the score: toward or away from the pole.

    The stance column is cleared on the result, so the coding is applied once.
    """
    stance = sub["stance"].astype(str)
    push = np.where(stance == "agree", 1, np.where(stance == "disagree", -1, 0))
    push = push * np.where(sub["reverse"].astype(bool), -1, 1)
    out = sub.copy()
    out["framing"] = np.where(push > 0, "toward-pole", np.where(push < 0, "away-from-pole",
                                                                  sub["framing"].astype(str)))
    out["stance"] = None
    return out


def framing_split(frame: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    for group, levels in framing_groups(frame).items():
        sub = frame.loc[frame["framing"].astype(str).isin(levels)]
        if group == "opinion":
            sub = toward_pole(sub)
        if sub["framing"].nunique() < 2:
            continue
        var, _ = decompose(sub, n_boot=n_boot, seed=seed)
        row = var.loc[var["component"] == "framing"] if not var.empty else var
        if not row.empty:
            r = row.iloc[0]
            rows.append({"group": group, "component": "framing", "estimate": float(r["estimate"]),
                         "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"]), "n": int(r["n"]),
                         "ci_kind": str(r["ci_kind"]) if "ci_kind" in row.columns else "item bootstrap"})
    return pd.DataFrame(rows, columns=SPLIT_COLUMNS)
