"""Figures for the report, drawn with matplotlib (saved as PNG and SVG, and inlined as SVG)."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _ordered_models(models: list[str], meta: dict[str, dict[str, Any]]) -> list[str]:
    """Group models by origin so that countries read as blocks."""
    return sorted(models, key=lambda m: (str(meta.get(m, {}).get("origin", "")), m))


def profile_heatmap(prof: pd.DataFrame, meta: dict[str, dict[str, Any]]) -> Any:
    models = _ordered_models(sorted(prof["model"].unique()), meta)
    themes = sorted(prof["theme"].unique())
    grid = np.full((len(themes), len(models)), np.nan)
    for _, r in prof.iterrows():
        grid[themes.index(r["theme"]), models.index(r["model"])] = r["estimate"]
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(models), 0.9 + 0.45 * len(themes)))
    im = ax.imshow(grid, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(len(models)),
                  [f"{m}\n({meta.get(m, {}).get('origin', '?')})" for m in models], fontsize=8)
    ax.set_yticks(range(len(themes)), themes, fontsize=8)
    for i in range(len(themes)):
        for j in range(len(models)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:+.2f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(grid[i, j]) > 0.6 else "black")
    fig.colorbar(im, ax=ax, label="mean score toward the theme's pole")
    ax.set_title("Profiles: model × theme", fontsize=10)
    fig.tight_layout()
    return fig
