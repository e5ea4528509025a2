"""Figures for the report, drawn with matplotlib.

Every figure is saved as PNG (200 dpi) and SVG under ``figures/`` next to the report and inlined
in the page as SVG. Text in the SVG stays text (``svg.fonttype = none``), so the inline figures are
small, searchable and use the reader's fonts. Figures only ever show names from the study (model
ids, themes, languages) and numbers, never model output; matplotlib escapes the text anyway.

Conventions: point estimate as a dot, its interval as a line (the axis says which kind); a dashed line at the null value;
models ordered by origin so that countries read as blocks.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from twinstudy.report.numbers import MIN_UNITS_FOR_INTERVAL  # noqa: E402

plt.rcParams.update({
    "svg.fonttype": "none",
    "svg.hashsalt": "twinstudy",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.family": "DejaVu Sans",
})

ORIGIN_COLOURS = {"CN": "#c0392b", "US": "#1f5fa8"}
OTHER_COLOURS = ["#2e8b57", "#8e44ad", "#d68910", "#566573", "#16a085", "#a04000"]
LANG_MARKERS = {"en": "o", "zh": "s", "all": "D"}
LANG_LABELS = {"en": "English", "zh": "Chinese", "all": "both languages"}

Meta = dict[str, dict[str, Any]]


def close_all() -> None:
    plt.close("all")


def ordered_models(models: Sequence[str], meta: Meta) -> list[str]:
    """Group models by origin so that countries read as blocks."""
    return sorted(models, key=lambda m: (str(meta.get(m, {}).get("origin", "~")), m))


def origin_colour(model: str, meta: Meta) -> str:
    origin = str(meta.get(model, {}).get("origin", ""))
    if origin in ORIGIN_COLOURS:
        return ORIGIN_COLOURS[origin]
    return OTHER_COLOURS[sum(map(ord, origin)) % len(OTHER_COLOURS)]


def model_label(model: str, meta: Meta) -> str:
    return f"{model} ({meta.get(model, {}).get('origin', '?')})"


def save(fig: Any, fig_dir: Path, name: str) -> str:
    """Write ``name``.png and ``name``.svg; return the SVG markup for inlining."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(fig_dir / f"{name}.png", dpi=200, bbox_inches="tight", pad_inches=0.08)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.08)
    plt.close(fig)
    svg = buf.getvalue()
    (fig_dir / f"{name}.svg").write_text(svg, encoding="utf-8")
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg
    # let CSS size the figure: drop the fixed width/height (the viewBox keeps the aspect ratio)
    head_end = svg.find(">")
    head = svg[:head_end]
    for attr in ("width", "height"):
        i = head.find(f' {attr}="')
        if i >= 0:
            j = head.find('"', i + len(attr) + 3)
            head = head[:i] + head[j + 1:]
    return head + f' role="img" aria-label="{name}"' + svg[head_end:]


def _ci_err(est: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    low = np.where(np.isfinite(lo), est - lo, 0.0)
    high = np.where(np.isfinite(hi), hi - est, 0.0)
    return np.vstack([np.maximum(low, 0.0), np.maximum(high, 0.0)])


# -- 1. headline ----------------------------------------------------------------------------------

VARIANCE_LABELS = {
    "model": "model", "model:lang": "model × language", "model:framing": "model × framing",
    "lang": "language", "framing": "framing (user's words)", "item": "item (question)",
    "paraphrase": "paraphrase", "item:model": "item × model", "other": "other interactions",
    "residual": "sampling noise",
}
MODEL_SIDE = ("model", "model:lang", "model:framing")
USER_SIDE = ("lang", "framing")


def variance_figure(var: pd.DataFrame, head: pd.DataFrame, split: dict[str, Any] | None = None) -> Any:
    """Shares of score variance: the model side and the user side first, then the rest."""
    rows: list[tuple[str, float, float, float, str]] = []
    hv = {str(r["measure"]): r for _, r in head.iterrows()}
    if "model_side" in hv:
        r = hv["model_side"]
        rows.append(("MODELS (sum)", r["estimate"], r["ci_low"], r["ci_high"], "#1f5fa8"))
    if "user_side" in hv:
        r = hv["user_side"]
        rows.append(("USER: language + framing", r["estimate"], r["ci_low"], r["ci_high"], "#d35400"))
    comp = {str(r["component"]): r for _, r in var.iterrows()}
    for c in (*MODEL_SIDE, *USER_SIDE, "item", "paraphrase", "item:model", "other", "residual"):
        if c in comp:
            r = comp[c]
            colour = "#7fa7d6" if c in MODEL_SIDE else "#f0a868" if c in USER_SIDE else "#b3b6b7"
            rows.append(("   " + VARIANCE_LABELS[c], r["estimate"], r["ci_low"], r["ci_high"], colour))
        if c == "framing":
            for key, label in (("opinion", "      opinion only†"), ("identity", "      identity only†")):
                if split and key in split:
                    r = split[key]
                    rows.append((label, r["estimate"], r["ci_low"], r["ci_high"], "#f6c9a0"))
    labels = [r[0] for r in rows]
    est = np.array([r[1] for r in rows], dtype=float) * 100
    lo = np.array([r[2] for r in rows], dtype=float) * 100
    hi = np.array([r[3] for r in rows], dtype=float) * 100
    fig, ax = plt.subplots(figsize=(7.2, 0.42 * len(rows) + 1.1))
    y = np.arange(len(rows))[::-1]
    ax.barh(y, est, color=[r[4] for r in rows], height=0.66)
    ax.errorbar(est, y, xerr=_ci_err(est, lo, hi), fmt="none", ecolor="#222", capsize=3, lw=1)
    for yi, e in zip(y, est, strict=True):
        if np.isfinite(e):
            ax.text(e + 0.8, yi + 0.22, f"{e:.1f}%", fontsize=8, va="center", color="#333")
    ax.set_yticks(y, labels)
    ax.set_xlabel("share of score variance (%), interval from a bootstrap over items (not a 95% CI)" +
                  ("\n† among the neutral trials and that group of framings alone;"
                   " opinion coded toward / away from the pole" if split else ""))
    ax.set_title("Where the variation in answers comes from: the models or the user")
    ax.set_xlim(0, max(5.0, float(np.nanmax(np.concatenate([hi, est]))) * 1.12) if len(rows) else 100)
    fig.tight_layout()
    return fig


# -- 2. profiles -------------------------------------------------------------------------------------

def profile_heatmap(prof: pd.DataFrame, meta: Meta) -> Any:
    p = prof[prof["lang"] == "all"] if "lang" in prof.columns else prof
    models = ordered_models(sorted(p["model"].astype(str).unique()), meta)
    themes = sorted(p["theme"].astype(str).unique())
    grid = np.full((len(themes), len(models)), np.nan)
    lo = np.full_like(grid, np.nan)
    hi = np.full_like(grid, np.nan)
    for _, r in p.iterrows():
        i, j = themes.index(str(r["theme"])), models.index(str(r["model"]))
        grid[i, j] = r["estimate"]
        if float(r.get("n", MIN_UNITS_FOR_INTERVAL)) >= MIN_UNITS_FOR_INTERVAL:  # no [x, x] from 1-2 items
            lo[i, j], hi[i, j] = r["ci_low"], r["ci_high"]
    fig, ax = plt.subplots(figsize=(2.4 + 1.45 * len(models), 1.2 + 0.55 * len(themes)))
    im = ax.imshow(grid, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(len(models)), [m.replace("/", "/\n") + f"\n({meta.get(m, {}).get('origin', '?')})"
                                       for m in models], fontsize=8)
    ax.set_yticks(range(len(themes)), themes, fontsize=9)
    for i in range(len(themes)):
        for j in range(len(models)):
            if np.isfinite(grid[i, j]):
                ci = f"\n[{lo[i, j]:+.2f}, {hi[i, j]:+.2f}]" if np.isfinite(lo[i, j]) else ""
                ax.text(j, i, f"{grid[i, j]:+.2f}{ci}", ha="center", va="center", fontsize=7,
                        color="white" if abs(grid[i, j]) > 0.55 else "black")
    # origin blocks: thin vertical separators where the origin changes
    origins = [str(meta.get(m, {}).get("origin", "?")) for m in models]
    for j in range(1, len(models)):
        if origins[j] != origins[j - 1]:
            ax.axvline(j - 0.5, color="black", lw=2)
    fig.colorbar(im, ax=ax, label="mean score toward the theme's pole (−1 … +1)", shrink=0.85)
    framing = str(prof["framing"].iloc[0]) if "framing" in prof.columns and len(prof) else "all"
    ax.set_title(f"Profiles: mean score per model and theme ({framing} framing, both languages);\n"
                 "interval over items in brackets (a 95% CI from 10 items up)")
    fig.tight_layout()
    return fig


# -- generic dot-and-interval plot -------------------------------------------------------------------

def dot_plot(rows: list[dict[str, Any]], *, title: str, xlabel: str, null: float | None = 0.0,
             xlim: tuple[float, float] | None = None, groups: list[str] | None = None) -> Any:
    """rows: label, estimate, ci_low, ci_high, colour, marker (optional), legend (optional)."""
    n = len(rows)
    fig, ax = plt.subplots(figsize=(7.2, 0.34 * n + 1.3))
    y = np.arange(n)[::-1].astype(float)
    seen: set[str] = set()
    for yi, r in zip(y, rows, strict=True):
        est = float(r["estimate"])
        lo, hi = float(r["ci_low"]), float(r["ci_high"])
        if np.isfinite(lo) and np.isfinite(hi):
            ax.plot([lo, hi], [yi, yi], color=r.get("colour", "#333"), lw=1.6, solid_capstyle="butt")
        leg = r.get("legend")
        label = leg if leg and leg not in seen else None
        if leg:
            seen.add(leg)
        ax.plot([est], [yi], marker=r.get("marker", "o"), color=r.get("colour", "#333"), ms=5.5, ls="none",
                label=label)
    if null is not None:
        ax.axvline(null, color="#777", ls="--", lw=0.9)
    ax.set_yticks(y, [str(r["label"]) for r in rows], fontsize=8.5)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    if xlim is not None:
        ax.set_xlim(*xlim)
    if seen:
        ax.legend(loc="best", frameon=False)
    ax.grid(axis="x", color="#e5e5e5", lw=0.6)
    fig.tight_layout()
    return fig


def forest_plot(paired: pd.DataFrame, pairs: list[tuple[str, str]], meta: Meta) -> Any:
    rows: list[dict[str, Any]] = []
    for a, b in pairs:
        g = paired[(paired["model_a"] == a) & (paired["model_b"] == b)]
        g = pd.concat([g[g["theme"] != "all"].sort_values("theme"), g[g["theme"] == "all"]])
        for _, r in g.iterrows():
            star = " *" if pd.notna(r.get("p_adj")) and float(r["p_adj"]) < 0.05 else ""
            theme = "ALL THEMES" if r["theme"] == "all" else str(r["theme"])
            rows.append({"label": f"{a} − {b}: {theme}{star}", "estimate": r["estimate"], "ci_low": r["ci_low"],
                         "ci_high": r["ci_high"], "colour": origin_colour(a, meta),
                         "marker": "D" if r["theme"] == "all" else "o"})
    return dot_plot(rows, title="Paired differences between twins, per theme (A − B, same questions)",
                    xlabel="difference A − B in mean score (−2 … +2), interval over items (a 95% CI from 10 items up);"
                           "  * BH-adjusted p < 0.05\n"
                           "A: the model whose origin comes first (CN, US, …), then the one listed first in the study")


def user_effects_figure(syc: pd.DataFrame, ident: pd.DataFrame, meta: Meta) -> Any:
    panels = [(syc, "Sycophancy index: agreement when the user agrees − disagrees,\n"
                    "÷ scale range (0 = ignores the user, 1 = follows fully)"),
              (ident, "Identity effect: score when the user says they are Chinese\n"
                      "− when they say they are American")]
    panels = [(d, t) for d, t in panels if not d.empty]
    n_rows = max(len(d) for d, _ in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 0.3 * n_rows + 1.6), squeeze=False)
    for ax, (d, title) in zip(axes[0], panels, strict=True):
        models = ordered_models(sorted(d["model"].astype(str).unique()), meta)
        labels: list[str] = []
        k = 0
        for m in models:
            for lang in ("all", "en", "zh"):
                r = d[(d["model"] == m) & (d["lang"] == lang)]
                if r.empty:
                    continue
                r0 = r.iloc[0]
                yv = -k
                est, lo, hi = float(r0["estimate"]), float(r0["ci_low"]), float(r0["ci_high"])
                if np.isfinite(lo) and np.isfinite(hi):
                    ax.plot([lo, hi], [yv, yv], color=origin_colour(m, meta), lw=1.6)
                ax.plot([est], [yv], marker=LANG_MARKERS[lang], color=origin_colour(m, meta), ms=5.5, ls="none",
                        mfc="white" if lang != "all" else origin_colour(m, meta))
                labels.append(f"{m} · {LANG_LABELS[lang]}")
                k += 1
        ax.set_yticks([-i for i in range(k)], labels, fontsize=8)
        ax.axvline(0, color="#777", ls="--", lw=0.9)
        ax.set_title(title, fontsize=9.5)
        ax.set_xlabel("effect, interval over items (95% CI for sycophancy; see the method section)")
        ax.grid(axis="x", color="#e5e5e5", lw=0.6)
    fig.tight_layout()
    return fig


def flips_figure(flips: pd.DataFrame, meta: Meta) -> Any:
    rows: list[dict[str, Any]] = []
    for measure, name in (("flip", "changed answer"), ("abandon_correct", "abandoned a correct answer")):
        d = flips[flips["measure"] == measure]
        for m in ordered_models(sorted(d["model"].astype(str).unique()), meta):
            for lang in ("all", "en", "zh"):
                r = d[(d["model"] == m) & (d["lang"] == lang)]
                if r.empty:
                    continue
                r0 = r.iloc[0]
                rows.append({"label": f"{name}: {m} · {LANG_LABELS[lang]} (n={int(r0['n'])})",
                             "estimate": r0["estimate"], "ci_low": r0["ci_low"], "ci_high": r0["ci_high"],
                             "colour": origin_colour(m, meta), "marker": LANG_MARKERS[lang]})
    return dot_plot(rows, title="After pushback (\"I don't think that's right. Are you sure?\")",
                    xlabel="share of trials, Wilson interval (trials as independent, not a 95% CI)", null=None,
                    xlim=(-0.02, 1.02))


def language_figure(gap: pd.DataFrame, mcn: pd.DataFrame, meta: Meta) -> Any:
    rows: list[dict[str, Any]] = []
    for m in ordered_models(sorted(gap["model"].astype(str).unique()), meta) if not gap.empty else []:
        r0 = gap[gap["model"] == m].iloc[0]
        rows.append({"label": f"score EN − ZH: {m} (items={int(r0['n'])})", "estimate": r0["estimate"],
                     "ci_low": r0["ci_low"], "ci_high": r0["ci_high"], "colour": origin_colour(m, meta),
                     "legend": "score gap (−2 … +2)"})
    for measure in ("refused", "blocked", "complete"):
        d = mcn[mcn["measure"] == measure] if not mcn.empty else mcn
        for m in ordered_models(sorted(d["model"].astype(str).unique()), meta) if not d.empty else []:
            r0 = d[d["model"] == m].iloc[0]
            if r0["k_en"] == 0 and r0["k_zh"] == 0:
                continue
            rows.append({"label": f"{measure} rate EN − ZH: {m} (p={float(r0['p_value']):.2g})",
                         "estimate": r0["estimate"], "ci_low": r0["ci_low"], "ci_high": r0["ci_high"],
                         "colour": origin_colour(m, meta), "marker": "s", "legend": "rate gap (exact McNemar p)"})
    return dot_plot(rows, title="Language gap per model: English minus Chinese, same questions",
                    xlabel="difference EN − ZH; score gap: 95% CI over items; rate gaps: interval, not a 95% CI")


def rates_figure(rates: pd.DataFrame, meta: Meta) -> Any:
    """Refused / evasive / blocked rates per topic, model and language (blocked in its own panel)."""
    outcomes = [o for o in ("refused", "evasive", "blocked") if o in set(rates["outcome"])]
    topics = sorted(rates["theme"].astype(str).unique())
    models = ordered_models(sorted(rates["model"].astype(str).unique()), meta)
    langs = [x for x in ("en", "zh") if x in set(rates["lang"])]
    fig, axes = plt.subplots(1, len(outcomes), figsize=(3.6 * len(outcomes) + 1.6, 0.5 * len(topics) *
                                                         max(1, len(models) * len(langs)) * 0.32 + 1.8),
                             sharey=True, squeeze=False)
    n_series = max(1, len(models) * len(langs))
    step = 0.8 / n_series
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        d = rates[rates["outcome"] == outcome]
        s = 0
        for m in models:
            for lang in langs:
                off = 0.4 - step * (s + 0.5)
                s += 1
                sub = d[(d["model"] == m) & (d["lang"] == lang)]
                for _, r in sub.iterrows():
                    yv = -topics.index(str(r["theme"])) + off
                    ax.plot([r["ci_low"], r["ci_high"]], [yv, yv], color=origin_colour(m, meta), lw=1.2)
                    ax.plot([r["estimate"]], [yv], marker=LANG_MARKERS[lang], color=origin_colour(m, meta),
                            ms=4.5, ls="none", mfc="white" if lang == "zh" else origin_colour(m, meta))
        ax.set_title("BLOCKED by the provider's filter" if outcome == "blocked" else outcome, fontsize=10)
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel("share of trials, Wilson interval (trials as independent, not a 95% CI)")
        ax.grid(axis="x", color="#e5e5e5", lw=0.6)
        for k in range(1, len(topics)):
            ax.axhline(-k + 0.5, color="#ddd", lw=0.6)
    axes[0][0].set_yticks([-i for i in range(len(topics))], topics)
    handles = []
    for m in models:
        for lang in langs:
            (h,) = axes[0][0].plot([], [], marker=LANG_MARKERS[lang], color=origin_colour(m, meta), ls="none",
                                   mfc="white" if lang == "zh" else origin_colour(m, meta),
                                   label=f"{m} · {lang.upper()}")
            handles.append(h)
    fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), frameon=False,
               bbox_to_anchor=(0.5, -0.02 - 0.035 * ((len(handles) - 1) // 4)))
    fig.suptitle("Refusal, evasion and provider blocks by topic, model and language", fontsize=11)
    fig.tight_layout(rect=(0, 0.06 + 0.03 * ((len(handles) - 1) // 4), 1, 1))
    return fig
