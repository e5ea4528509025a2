"""Choice items: which option each model picks, and how that differs by origin and language.

Choice options are shuffled per trial, so answers are counted by the option they meant (the
frame's ``choice`` column: the option's index in the instrument), never by letter.

Tables (one row per option, so an option nobody chose still appears with k = 0):

``choice_shares``
    model x lang x framing x item x option. Estimand: the probability that the model, asked this
    item in this language under this framing, picks this option, among its answered trials.
    ``k`` = trials picking it, ``n`` = answered trials; Wilson 95% interval, trials independent
    (repeated samples of one prompt are independent draws from the model).
``choice_origin``
    item x option x lang x framing. Estimand: the share among the models of the first origin minus
    the share among the models of the second (``contrast`` says which, ``CN − US`` when both are
    present), trials pooled within origin, models taken as fixed (the interval covers sampling
    noise of these models, not a population of models). Newcombe's hybrid score interval (method
    10) for a difference of independent proportions.
``choice_language``
    model x item x option x framing. Estimand: EN share minus ZH share for one model; same interval.

The coverage of both intervals at the n these tables see is printed by
``bench/choice_coverage.py``. Items are not pooled: two choice items share no options, so a
distribution is per item. (A pooled distance between option distributions was tried and dropped:
at 4-20 trials per cell it is biased upward by 0.09-0.27 and its item-cluster bootstrap covered
0-60%, see the git history of the benchmark.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .inference import wilson_ci

ORIGIN_ORDER: tuple[str, ...] = ("CN", "US")  # contrasts are first minus second: CN − US
SHARE_COLUMNS = ["model", "lang", "framing", "instrument", "item", "option", "option_text", "k", "n",
                 "estimate", "ci_low", "ci_high", "ci_kind"]
ORIGIN_COLUMNS = ["contrast", "instrument", "item", "option", "option_text", "lang", "framing",
                  "k_a", "n_a", "k_b", "n_b", "n", "estimate", "ci_low", "ci_high", "ci_kind"]
LANGUAGE_COLUMNS = ["contrast", "model", "instrument", "item", "option", "option_text", "framing",
                    "k_a", "n_a", "k_b", "n_b", "n", "estimate", "ci_low", "ci_high", "ci_kind"]
KIND_WILSON = "Wilson on trials"
KIND_NEWCOMBE = "Newcombe (hybrid Wilson) on trials"


def _answered_choices(frame: pd.DataFrame) -> pd.DataFrame:
    if "choice" not in frame.columns or frame.empty:
        return pd.DataFrame()
    sub = frame[(frame["item_type"] == "choice") & (frame["outcome"] == "answered")
                & frame["choice"].notna() & frame["n_options"].notna()]
    if sub.empty:
        return pd.DataFrame()
    sub = sub.copy()
    sub["choice"] = sub["choice"].astype(int)
    sub["n_options"] = sub["n_options"].astype(int)
    return sub


def _labels(sub: pd.DataFrame) -> dict[tuple[str, str, int], str]:
    """An option's text for display: English where a trial showed it in English."""
    out: dict[tuple[str, str, int], str] = {}
    ordered = sub.assign(_en=(sub["lang"] != "en")).sort_values("_en")
    for inst, item, opt, text in zip(ordered["instrument"], ordered["item"], ordered["choice"],
                                     ordered["choice_text"], strict=True):
        if isinstance(text, str) and (inst, item, opt) not in out:
            out[(inst, item, opt)] = text
    return out


def _counts(sub: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """k and n per keys x option, with every option of the item present."""
    if sub.empty:
        return pd.DataFrame(columns=[*keys, "option", "k", "n"])
    cells = sub.groupby(keys, observed=True).agg(n=("choice", "size"), n_options=("n_options", "max"))
    k = sub.groupby([*keys, "choice"], observed=True).size()
    rows = []
    for idx, total, n_options in zip(cells.index, cells["n"], cells["n_options"], strict=True):
        key = idx if isinstance(idx, tuple) else (idx,)
        for opt in range(int(n_options)):
            rows.append((*key, opt, int(k.get((*key, opt), 0)), int(total)))
    return pd.DataFrame(rows, columns=[*keys, "option", "k", "n"])


def choice_shares(frame: pd.DataFrame) -> pd.DataFrame:
    sub = _answered_choices(frame)
    if sub.empty:
        return pd.DataFrame(columns=SHARE_COLUMNS)
    out = _counts(sub, ["model", "lang", "framing", "instrument", "item"])
    labels = _labels(sub)
    out["option_text"] = [labels.get((i, t, o), f"option {o + 1}")
                          for i, t, o in zip(out["instrument"], out["item"], out["option"], strict=True)]
    out["estimate"] = out["k"] / out["n"]
    out["ci_low"], out["ci_high"] = wilson_ci(out["k"], out["n"])
    out["ci_kind"] = KIND_WILSON
    return out[SHARE_COLUMNS].reset_index(drop=True)


def newcombe_diff(k1: np.ndarray, n1: np.ndarray, k2: np.ndarray,
                  n2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference p1 - p2 and Newcombe's hybrid score 95% interval (Newcombe 1998, method 10)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_ci(k1, n1)
    l2, u2 = wilson_ci(k2, n2)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def _contrast(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    m = a.merge(b, on=[*keys, "option"], suffixes=("_a", "_b"))
    if m.empty:
        return m
    d, lo, hi = newcombe_diff(m["k_a"].to_numpy(float), m["n_a"].to_numpy(float),
                              m["k_b"].to_numpy(float), m["n_b"].to_numpy(float))
    m["estimate"], m["ci_low"], m["ci_high"] = d, lo, hi
    m["n"] = m["n_a"] + m["n_b"]
    m["ci_kind"] = KIND_NEWCOMBE
    return m


def origin_pair(origins: list[str]) -> tuple[str, str] | None:
    """The two origins compared, in the stated order (CN before US; others alphabetically after)."""
    present = [o for o in ORIGIN_ORDER if o in origins] + sorted(o for o in set(origins) if o not in ORIGIN_ORDER)
    return (present[0], present[1]) if len(present) >= 2 else None


def choice_origin(frame: pd.DataFrame) -> pd.DataFrame:
    sub = _answered_choices(frame)
    pair = origin_pair([str(o) for o in sub["origin"].dropna().unique()]) if not sub.empty else None
    if pair is None:
        return pd.DataFrame(columns=ORIGIN_COLUMNS)
    keys = ["instrument", "item", "lang", "framing"]
    a = _counts(sub[sub["origin"] == pair[0]], keys)
    b = _counts(sub[sub["origin"] == pair[1]], keys)
    out = _contrast(a, b, keys)
    if out.empty:
        return pd.DataFrame(columns=ORIGIN_COLUMNS)
    labels = _labels(sub)
    out["option_text"] = [labels.get((i, t, o), f"option {o + 1}")
                          for i, t, o in zip(out["instrument"], out["item"], out["option"], strict=True)]
    out["contrast"] = f"{pair[0]} − {pair[1]}"
    return out[ORIGIN_COLUMNS].reset_index(drop=True)


def choice_language(frame: pd.DataFrame) -> pd.DataFrame:
    sub = _answered_choices(frame)
    if sub.empty or not {"en", "zh"} <= set(sub["lang"]):
        return pd.DataFrame(columns=LANGUAGE_COLUMNS)
    keys = ["model", "instrument", "item", "framing"]
    out = _contrast(_counts(sub[sub["lang"] == "en"], keys), _counts(sub[sub["lang"] == "zh"], keys), keys)
    if out.empty:
        return pd.DataFrame(columns=LANGUAGE_COLUMNS)
    labels = _labels(sub)
    out["option_text"] = [labels.get((i, t, o), f"option {o + 1}")
                          for i, t, o in zip(out["instrument"], out["item"], out["option"], strict=True)]
    out["contrast"] = "EN − ZH"
    return out[LANGUAGE_COLUMNS].reset_index(drop=True)


def choice_tables(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Every choice table, for twinstudy.analysis.analyze."""
    return {"choice_shares": choice_shares(frame), "choice_origin": choice_origin(frame),
            "choice_language": choice_language(frame)}
