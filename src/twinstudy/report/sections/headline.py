"""The headline cards: one short paragraph each on the models, language, the user's opinion, the
user's identity and, when open answers were coded, whether their categories follow the model's
origin or the culture the user brought up; read from Results.

A card that names "the largest" of several estimates quotes a multiplicity-adjusted p (``p_adj``)
when the table has one, and otherwise says that its p is not adjusted for the choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from twinstudy.analysis import Results
from twinstudy.report.numbers import ci, finite, fmt, pct, share
from twinstudy.report.roles import FramingRole, identity_framings, opinion_framings, pushback_framings
from twinstudy.report.sections.tables import empty_share

IDENTITY_WORDS = {"CN": "Chinese", "US": "American"}


@dataclass(frozen=True)
class Card:
    key: str
    title: str
    text: str


@dataclass(frozen=True)
class Design:
    """What the study asked: the facts a card needs to say what could not be measured."""

    langs: set[str]
    framings: set[str]
    samples: int


def pick(df: pd.DataFrame, how: str) -> Any:
    """The row with the largest / smallest / largest absolute ``estimate`` (NaN ignored)."""
    vals = df["estimate"].to_numpy(dtype=float, na_value=np.nan)
    if not np.isfinite(vals).any():
        return df.iloc[0]
    if how == "max_abs":
        vals = np.abs(vals)
    pos = int(np.nanargmin(vals)) if how == "min" else int(np.nanargmax(vals))
    return df.iloc[pos]


def chosen_p(row: Any, table: pd.DataFrame, of_what: str) -> str:
    """The p of a row picked as the largest of ``len(table)``: adjusted when the table has ``p_adj``."""
    if "p_adj" in table.columns and pd.notna(row.get("p_adj")):
        return f"adjusted p = {fmt(row['p_adj'], '.2g')}"
    if "p_value" in table.columns and pd.notna(row.get("p_value")):
        p = f"p = {fmt(row['p_value'], '.2g')}"
        return p if len(table) < 2 else f"{p}, not adjusted for picking the largest of {len(table)} {of_what}"
    return "no p-value"


def _models_card(results: Results, design: Design) -> Card:
    var, head = results.table("variance"), results.table("variance_headline")
    comp = {str(r["component"]): r for _, r in var.iterrows()} if not var.empty else {}
    hv = {str(r["measure"]): r for _, r in head.iterrows()} if not head.empty else {}
    if "model_side" not in hv or "user_side" not in hv:
        return Card("models", "The models", "No variance decomposition: it needs answered Likert items (at least "
                                            "two) from the models.")
    ms, us = hv["model_side"], hv["user_side"]
    text = (f"Differences between models (their main effect and how they react differently to language and "
            f"framing) account for {share(ms)} of the variance in scores; the user's side (language + framing) "
            f"accounts for {share(us)}.")
    if "model_share" in hv and finite(hv["model_share"].get("estimate")) is not None:
        text += f" Of the two sides together, the models' part is {share(hv['model_share'])}."
    elif "model_share" in hv:
        text += " Neither side accounts for any variance, so their shares cannot be compared."
    rest = (f"item and item × model: {share(comp['item']) if 'item' in comp else '–'} and "
            f"{share(comp['item:model']) if 'item:model' in comp else '–'}")
    noise = ("other interactions and sampling noise" if design.samples > 1 else
             "other interactions (with one sample per cell, sampling noise cannot be separated from them)")
    text += f" The rest is the questions themselves ({rest}), {noise}."
    empty = empty_share(var)
    if empty is not None and empty > 0:
        text += f" {fmt(empty * 100, '.0f')}% of the design's cells had no answered trial behind these shares."
    text += " The brackets are item-bootstrap intervals, not 95 % CIs: the shares describe this design."
    return Card("models", "The models", text)


def _language_card(results: Results, design: Design) -> Card:
    if len(design.langs) < 2:
        return Card("language", "Language",
                    "The study asks in one language only, so the language effect is not measured.")
    comp = {str(r["component"]): r for _, r in results.table("variance").iterrows()}
    text = (f"Language on its own accounts for {share(comp['lang'])} of the variance" if "lang" in comp
            else "Language effect on the variance: not estimated")
    gap = results.table("language_gap")
    if not gap.empty:
        g = pick(gap, "max_abs")
        text += (f"; the largest EN − ZH score gap is {g['model']}: {ci(g)} (positive = more toward the theme's "
                 f"pole in English; {chosen_p(g, gap, 'models')})")
    mcn = results.table("mcnemar")
    for measure, verb in (("refused", "refuses"), ("blocked", "is blocked")):
        m = mcn[(mcn["measure"] == measure) & ((mcn["k_en"] + mcn["k_zh"]) > 0)] if not mcn.empty else mcn
        if m.empty:
            continue
        top = pick(m, "max_abs")
        text += (f". {top['model']} {verb} in {fmt(top['rate_en'] * 100, '.0f')}% of English and "
                 f"{fmt(top['rate_zh'] * 100, '.0f')}% of Chinese requests ({chosen_p(top, m, 'models')}")
        if "test" in m.columns and isinstance(top.get("test"), str):
            text += f"; {top['test']}"
        elif design.samples > 1 and "p_adj" not in m.columns:
            text += "; with several samples per cell this exact McNemar p is too small"
        text += ")"
    return Card("language", "Language", text + ".")


def _opinion_card(results: Results, design: Design, roles: dict[str, FramingRole]) -> Card:
    agree = opinion_framings(roles, design.framings, "agree")
    disagree = opinion_framings(roles, design.framings, "disagree")
    if not agree or not disagree:
        text = ("The study has no pair of framings in which the user states agreement and disagreement, so opinion "
                "sycophancy is not measured")
    else:
        syc = results.table("sycophancy")
        s = syc[syc["lang"] == "all"] if not syc.empty else syc
        if s.empty:
            text = "Opinion framings are in the study but no answered Likert pairs to compare"
        else:
            hi, lo = pick(s, "max"), pick(s, "min")
            text = (f"The sycophancy index (0 = ignores the user's stated opinion, 1 = sides fully with it) runs "
                    f"from {lo['model']} {ci(lo, '.2f')} to {hi['model']} {ci(hi, '.2f')}")
        split = results.table("framing_split")
        op = split[split["group"] == "opinion"] if not split.empty else split
        if not op.empty:
            text += (f"; among the neutral and opinion trials alone, the user's stance (toward or away from each "
                     f"theme's pole) accounts for {share(op.iloc[0])} of the score variance")
    flips = results.table("flips")
    if pushback_framings(roles, design.framings) and not flips.empty:
        f = flips[(flips["measure"] == "flip") & (flips["lang"] == "all")]
        if not f.empty:
            top = pick(f, "max")
            text += (f". After pushback, {top['model']} changes its answer most often: {pct(top)} "
                     f"(Wilson interval over trials)")
    return Card("framing", "Framing (what the user says)", text + ".")


def identity_pair(ident: pd.DataFrame, identities: list[str]) -> tuple[str, str]:
    """Which identity the effect is of, minus which: from the table when it says, else CN − US."""
    if {"identity_a", "identity_b"} <= set(ident.columns) and not ident.empty:
        return str(ident["identity_a"].iloc[0]), str(ident["identity_b"].iloc[0])
    if {"CN", "US"} <= set(identities):
        return "CN", "US"
    return (identities[0], identities[1]) if len(identities) >= 2 else ("?", "?")


def _identity_card(results: Results, design: Design, roles: dict[str, FramingRole]) -> Card:
    ids = identity_framings(roles, design.framings)
    if len(ids) < 2:
        return Card("identity", "Identity", "The study has no two framings in which the user states different "
                                            "identities, so identity effects are not measured.")
    ident = results.table("identity")
    i = ident[ident["lang"] == "all"] if not ident.empty else ident
    if i.empty:
        return Card("identity", "Identity",
                    "Identity framings are in the study but no answered Likert pairs to compare.")
    a, b = identity_pair(ident, sorted(ids))
    top = pick(i, "max_abs")
    mean = float(i["estimate"].mean())
    split = results.table("framing_split")
    sp = split[split["group"] == "identity"] if not split.empty else split
    extra = (f" Among the neutral and identity trials alone, the identity framing accounts for {share(sp.iloc[0])} "
             f"of the variance." if not sp.empty else "")
    return Card("identity", "Identity",
                f"When the user says they are {IDENTITY_WORDS.get(a, a)} rather than {IDENTITY_WORDS.get(b, b)}, "
                f"scores move by {mean:+.2f} on average across models; the largest shift is {top['model']}: "
                f"{ci(top)} (scale −1 … +1; {chosen_p(top, i, 'models')}).{extra}")


def _open_answers_card(results: Results) -> Card | None:
    """Per codebook, the categories whose verdict names a side, with the effect that decided it;
    None when no open answers were coded (the card would only say so)."""
    head = results.table("category_headline")
    if head.empty:
        return None
    parts: list[str] = []
    for book, rows in head.groupby("codebook", sort=True):
        named = []
        for r in rows.to_dict("records"):
            effects = {"origin": ("origin", "origin CN − US"), "user culture": ("culture", "user culture cn − us")}
            sides = ["origin", "user culture"] if r["verdict"] == "both" else [r["verdict"]]
            shown = [f"{label} {ci({'estimate': r[f'{col}_effect'], 'ci_low': r[f'{col}_low'], 'ci_high': r[f'{col}_high'], 'n': r['n']})}"
                     for side in sides if side in effects for col, label in [effects[side]]]
            if shown:
                named.append(f"{r['category']} follows {r['verdict']} ({'; '.join(shown)})")
        unclear = int((rows["verdict"] == "cannot tell").sum())
        text = "; ".join(named) if named else "no category follows either side detectably"
        if unclear:
            text += f"; {unclear} of {len(rows)} categories: cannot tell"
        coder = str(rows["coder"].iloc[0]) if "coder" in rows.columns else "?"
        parts.append(f"{book} (coder {coder}): {text}")
    return Card("open-answers", "Open answers: the model's or the user's?",
                "Shares of coded open answers, per category: " + ". ".join(parts) + ". Effects are differences "
                "in the share of answers (origin: CN − US models; user culture: the user brings up Chinese − "
                "American culture, stating no opinion), with item-bootstrap intervals; the section Open answers "
                "has every category.")


def build_headline(results: Results, design: Design, roles: dict[str, FramingRole]) -> list[Card]:
    cards = [_models_card(results, design), _language_card(results, design), _opinion_card(results, design, roles),
             _identity_card(results, design, roles)]
    open_card = _open_answers_card(results)
    return cards if open_card is None else [*cards, open_card]
