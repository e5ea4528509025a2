"""The open-answers figure: category shares as stacked bars per model × framing, one panel per language.

Drawn with the report's matplotlib settings (:mod:`twinstudy.report.figures`). Conventions shared
with the other figures: models ordered CN first then US (the sign convention's order, so a bar
above is the first term of every CN − US contrast), model names coloured by origin, languages
labelled in words. Category colours are a fixed qualitative palette that avoids the two origin
colours, so a red or blue segment is never read as "Chinese" or "American"; the fallback category
(a reply that fits none of the others) and ``(none)`` are grey. Text in the figure comes from the
study and the codebook (model ids, framing ids, category labels), never from model output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from twinstudy.coding.codebook import Codebook
from twinstudy.report import figures as figs  # also sets matplotlib's backend and the report's styles
from twinstudy.report.figures import LANG_LABELS, origin_colour

#: Qualitative colours for categories, none of them the CN red or the US blue.
CATEGORY_COLOURS = ("#4c9f70", "#e0a030", "#8e6cbf", "#3aa6a6", "#b5651d", "#d17fb0", "#7a8b2e", "#c9b458",
                    "#6d4c41", "#9fb8a0", "#e7c6a0", "#5b6e7a")
GREY = "#b9bcc0"
NONE_LABEL = "(none)"


def category_colours(book: Codebook) -> dict[str, str]:
    out: dict[str, str] = {}
    palette = iter(CATEGORY_COLOURS * 2)
    for c in book.categories:
        out[c.id] = GREY if c.id == book.fallback else next(palette)
    out[NONE_LABEL] = "#e3e5e8"
    return out


def category_bars(counts: pd.DataFrame, book: Codebook, meta: figs.Meta, models: Sequence[str],
                  framings: Sequence[str]) -> Any:
    """Stacked horizontal bars: one bar per model × framing (models in convention order, framings
    within each model), a segment per category, one panel per language; ``n`` at the bar's end.

    ``counts``: :func:`twinstudy.report.sections.open_answers.category_counts` (shares of coded
    replies, no interval)."""
    if counts.empty:
        raise ValueError("no coded replies to draw")
    langs = [lang for lang in ("en", "zh") if lang in set(counts["lang"])] + sorted(
        set(counts["lang"].astype(str)) - {"en", "zh"})
    present = set(zip(counts["model"].astype(str), counts["framing"].astype(str), strict=True))
    bars = [(m, f) for m in models for f in framings if (m, f) in present]
    cats = [c for c in [*book.category_ids, NONE_LABEL] if c in set(counts["category"])]
    labels = {c.id: c.label.en for c in book.categories} | {NONE_LABEL: "no category"}
    colours = category_colours(book)
    height = max(2.4, 0.34 * len(bars) + 1.6)
    fig, axes = plt.subplots(1, len(langs), figsize=(4.6 * len(langs) + 2.2, height), sharey=True, squeeze=False)
    ys = list(range(len(bars)))[::-1]  # first bar on top
    for ax, lang in zip(axes[0], langs, strict=True):
        sub = counts[counts["lang"] == lang]
        cell = {(str(m), str(f), str(c)): (float(v), int(n)) for m, f, c, v, n in
                zip(sub["model"], sub["framing"], sub["category"], sub["share"], sub["n"], strict=True)}
        left = [0.0] * len(bars)
        for c in cats:
            widths = [cell.get((m, f, c), (0.0, 0))[0] for m, f in bars]
            ax.barh(ys, widths, left=left, color=colours[c], edgecolor="white", linewidth=0.5,
                    label=labels.get(c, c), height=0.78)
            left = [a + b for a, b in zip(left, widths, strict=True)]
        for y, (m, f) in zip(ys, bars, strict=True):
            n = max((v[1] for k, v in cell.items() if k[0] == m and k[1] == f), default=0)
            ax.text(1.01, y, f"n={n}" if n else "–", va="center", ha="left", fontsize=7.5, color="#5d6166")
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
        ax.set_title(LANG_LABELS.get(lang, lang))
        ax.set_xlabel("share of coded replies (no interval)")
    first = axes[0][0]
    first.set_yticks(ys, [f"{m} · {f}" for m, f in bars])
    for tick, (m, _f) in zip(first.get_yticklabels(), bars, strict=True):
        tick.set_color(origin_colour(m, meta))
    handles, names = first.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(5, len(names)), frameon=False,
               bbox_to_anchor=(0.5, -0.02 - 0.035 * ((len(names) - 1) // 5)))
    how = "a reply with k categories counts 1/k toward each" if book.multi_label else "one category per reply"
    fig.suptitle(f"{book.title.en} ({how})", fontsize=11)
    fig.tight_layout(rect=(0, 0.06 + 0.035 * ((len(names) - 1) // 5), 1, 1))
    return fig
