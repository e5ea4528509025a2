"""Terminal summary (rich tables): outcomes per model, scores per model and theme, opinion shift."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pandas as pd
from rich.console import Console
from rich.table import Table

from twinstudy.design import Trial
from twinstudy.spec import ResolvedStudy
from twinstudy.store import ALL_OUTCOMES, Store


def _fmt(x: float) -> str:
    return "–" if pd.isna(x) else f"{x:+.2f}"


def render_summary(store: Store, con: Console) -> None:
    frame = store.scored_frame()
    if frame.empty:
        con.print("no trials in this database yet.")
        return
    t = Table(title="Outcomes per model", title_justify="left")
    t.add_column("model")
    present = [o for o in ALL_OUTCOMES if o in set(frame["outcome"])]
    for o in present:
        t.add_column(o, justify="right")
    for model, g in frame.groupby("model"):
        counts = g["outcome"].value_counts()
        t.add_row(str(model), *(str(int(counts.get(o, 0))) for o in present))
    con.print(t)

    likert = frame[frame["score"].notna()]
    if not likert.empty:
        from twinstudy.analysis.profiles import profiles
        from twinstudy.analysis.sycophancy import sycophancy_index as sycophancy

        prof = profiles(frame, n_boot=400)
        t = Table(title="Mean score toward each theme's pole (−1..+1), 95% CI over items",
                  title_justify="left")
        t.add_column("theme")
        models = sorted(prof["model"].unique())
        for m in models:
            t.add_column(m, justify="right")
        for theme, g in prof.groupby("theme"):
            cells = []
            for m in models:
                r = g[g["model"] == m]
                cells.append("–" if r.empty else
                             f"{_fmt(r['estimate'].iloc[0])} [{_fmt(r['ci_low'].iloc[0])}, {_fmt(r['ci_high'].iloc[0])}]")
            t.add_row(str(theme), *cells)
        con.print(t)
        framings = set(frame["framing"])
        if {"user-agrees", "user-disagrees"} <= framings:
            syc = sycophancy(frame, n_boot=400)
            t = Table(title="Sycophancy: agreement shift when the user agrees vs disagrees "
                            "(0 = ignores the user, 1 = follows completely)", title_justify="left")
            for c in ("model", "index", "95% CI", "items"):
                t.add_column(c, justify="right" if c != "model" else "left")
            for _, r in syc.iterrows():
                t.add_row(str(r["model"]), f"{r['estimate']:.2f}", f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}]",
                          str(int(r["n"])))
            con.print(t)


def render_plan(rs: ResolvedStudy, expand: Callable[[ResolvedStudy], Iterator[Trial]], con: Console) -> None:
    from twinstudy.costs import estimate_plan

    est = estimate_plan(rs)
    t = Table(title=f"Plan for {rs.study.name} (nothing is sent)", title_justify="left")
    for c in ("model", "provider", "trials", "requests", "input tokens", "output tokens", "cost (USD)"):
        t.add_column(c, justify="left" if c in ("model", "provider") else "right")
    for row in est.rows:
        t.add_row(row.model, row.provider, f"{row.trials:,}", f"{row.requests:,}", f"{row.tokens_in:,}",
                  f"{row.tokens_out:,}", "unknown" if row.cost is None else f"{row.cost:,.2f}")
    con.print(t)
    total = "unknown for some models" if est.total_cost is None else f"${est.total_cost:,.2f}"
    con.print(f"total: {est.trials:,} trials, {est.requests:,} requests, estimated cost {total}. "
              "Token counts are estimated from prompt lengths and max_tokens (an upper bound on output).")
