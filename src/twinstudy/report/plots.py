"""Which figures the report draws, from Results; a figure that fails costs that figure only.

The drawing itself is in :mod:`twinstudy.report.figures`; this module decides what to draw and saves
each figure as PNG and SVG under the report's ``figures/`` folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from twinstudy.analysis import Results
from twinstudy.report import figures as figs

Meta = dict[str, dict[str, Any]]
PLOTTED_PAIRS = 6


@dataclass
class Figures:
    svgs: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    plot_pairs: list[tuple[str, str]] = field(default_factory=list)


def pairs_for_plot(paired: pd.DataFrame, meta: Meta, limit: int = PLOTTED_PAIRS) -> list[tuple[str, str]]:
    """Model pairs for the forest plot: cross-origin pairs first (they are the study's question)."""
    pairs = list(dict.fromkeys(zip(paired["model_a"].astype(str), paired["model_b"].astype(str), strict=True)))

    def origin(m: str) -> str:
        return str(meta.get(m, {}).get("origin", "?"))

    cross = [(a, b) for a, b in pairs if origin(a) != origin(b)]
    return (cross or pairs)[:limit]


def draw_figures(results: Results, meta: Meta, fig_dir: Path, *, twins: list[tuple[str, str]] | None,
                 rate_view: pd.DataFrame, residual_estimable: bool) -> Figures:
    out = Figures()

    def fig(key: str, draw: Callable[[], Any], name: str) -> None:
        try:
            out.svgs[key] = figs.save(draw(), fig_dir, name)
        except Exception as exc:  # a figure that cannot be drawn costs that figure only
            out.errors.append(f"figure {name}: {type(exc).__name__}: {exc}")
        finally:
            figs.close_all()

    var, head, split = results.table("variance"), results.table("variance_headline"), results.table("framing_split")
    if not var.empty:
        groups = {str(r["group"]): r for _, r in split.iterrows()} if not split.empty else {}
        shown = var if residual_estimable else var[var["component"] != "residual"]
        fig("headline", lambda: figs.variance_figure(shown, head, groups), "headline_variance")
    prof = results.table("profiles")
    if not prof.empty:
        fig("profiles", lambda: figs.profile_heatmap(prof, meta), "profiles")
    paired = results.table("paired")
    if not paired.empty:
        out.plot_pairs = twins[:8] if twins else pairs_for_plot(paired, meta)
        if out.plot_pairs:
            fig("paired", lambda: figs.forest_plot(paired, out.plot_pairs, meta), "paired_forest")
    syc, ident, flips = results.table("sycophancy"), results.table("identity"), results.table("flips")
    if not syc.empty or not ident.empty:
        fig("user_effects", lambda: figs.user_effects_figure(syc, ident, meta), "user_effects")
    if not flips.empty:
        fig("flips", lambda: figs.flips_figure(flips, meta), "pushback_flips")
    gap, mcn = results.table("language_gap"), results.table("mcnemar")
    if not gap.empty or (not mcn.empty and (mcn["k_en"] + mcn["k_zh"]).sum() > 0):
        fig("language", lambda: figs.language_figure(gap, mcn, meta), "language_gap")
    if not rate_view.empty:
        fig("rates", lambda: figs.rates_figure(rate_view, meta), "refusal_rates")
    return out
