"""Terminal summary (rich tables), shown at the end of `twinstudy run` and by `twinstudy summary`.

What it shows, in reading order: outcomes per model (blocked apart from refused), the headline
(how much of the score variance is the models and how much the user), profiles per theme with CIs,
user effects (sycophancy, identity, pushback flips), the language gap, and refusal / block rates
by language. Every interval is 95% (bootstrap over items, or Wilson for rates).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from twinstudy.report.numbers import ci as _ci
from twinstudy.report.numbers import fmt as _fmt
from twinstudy.report.numbers import pct as _pct
from twinstudy.store import ALL_OUTCOMES, Store
from twinstudy.study.spec import ResolvedStudy

SUMMARY_BOOT = 400


def _table(title: str, *cols: str) -> Table:
    t = Table(title=title, title_justify="left", title_style="bold")
    for i, c in enumerate(cols):
        t.add_column(c, justify="left" if i == 0 else "right")
    return t


def _origin_order(frame: pd.DataFrame) -> list[str]:
    pairs = frame[["model", "origin"]].drop_duplicates("model")
    return [str(m) for m, _ in sorted(zip(pairs["model"], pairs["origin"].astype(str), strict=True),
                                       key=lambda x: (x[1], str(x[0])))]


def render_summary(store: Store, con: Console, results: dict[str, pd.DataFrame] | None = None) -> None:
    """``results``: estimates already computed for this store (see report.context.study_analysis)."""
    frame = store.scored_frame()
    if frame.empty:
        con.print("no trials in this database yet.")
        return
    from twinstudy.analysis import analyze

    models = _origin_order(frame)
    origin = dict(zip(frame["model"].astype(str), frame["origin"].astype(str), strict=False))
    present = [o for o in ALL_OUTCOMES if o in set(frame["outcome"])]
    t = _table("Outcomes per model (blocked = the provider's filter, not a refusal)", "model", "origin",
               *present, "trials")
    for m in models:
        counts = frame.loc[frame["model"] == m, "outcome"].value_counts()
        t.add_row(m, origin.get(m, "?"), *(str(int(counts.get(o, 0))) for o in present), str(int(counts.sum())))
    con.print(t)

    if results is not None:
        res = results
    else:
        n_boot = SUMMARY_BOOT if len(frame) <= 20_000 else 200
        res = analyze(frame, n_boot=n_boot, seed=0)
    head = res["variance_headline"]
    if not head.empty:
        h = {str(r["measure"]): r for _, r in head.iterrows()}
        var = {str(r["component"]): r for _, r in res["variance"].iterrows()}
        t = _table("Headline: share of score variance (95% CI over items)", "part", "share")
        t.add_row("models (model + model×language + model×framing)", _pct(h["model_side"]))
        t.add_row("user (language + framing)", _pct(h["user_side"]))
        for c, label in (("lang", "  language"), ("framing", "  framing"), ("item", "questions (item)"),
                         ("item:model", "item × model"), ("paraphrase", "paraphrase"),
                         ("other", "other interactions"), ("residual", "sampling noise")):
            if c in var:
                t.add_row(label, _pct(var[c]))
        con.print(t)

    prof = res["profiles"]
    prof = prof[prof["lang"] == "all"] if not prof.empty else prof
    if not prof.empty:
        framing = str(prof["framing"].iloc[0])
        pm = [m for m in models if m in set(prof["model"])]
        t = _table(f"Profiles: mean score toward each theme's pole (−1..+1), {framing} framing, 95% CI",
                   "theme", *pm)
        for theme, g in prof.groupby("theme"):
            cells = []
            for m in pm:
                r = g[g["model"] == m]
                cells.append("–" if r.empty else _ci(r.iloc[0]))
            t.add_row(str(theme), *cells)
        con.print(t)

    syc, ident, flips = res["sycophancy"], res["identity"], res["flips"]
    if not syc.empty or not ident.empty or not flips.empty:
        t = _table("User effects per model (both languages)", "model", "sycophancy (0..1)",
                   "identity CN − US", "flip after pushback")

        def cell(d: pd.DataFrame, m: str, fmt: Callable[[Any], str], measure: str | None = None) -> str:
            if d.empty:
                return "not measured"
            r = d[(d["model"] == m) & (d["lang"] == "all")]
            if measure is not None:
                r = r[r["measure"] == measure]
            return "–" if r.empty else fmt(r.iloc[0])

        for m in models:
            t.add_row(m, cell(syc, m, lambda r: _ci(r, ".2f")), cell(ident, m, _ci), cell(flips, m, _pct, "flip"))
        con.print(t)

    gap, mcn = res["language_gap"], res["mcnemar"]
    if not gap.empty or not mcn.empty:
        t = _table("Language gap EN − ZH (paired, same questions)", "model", "score gap", "refused EN / ZH",
                   "blocked EN / ZH")

        def rate(m: str, measure: str) -> str:
            r = mcn[(mcn["model"] == m) & (mcn["measure"] == measure)] if not mcn.empty else mcn
            if r.empty:
                return "–"
            r0 = r.iloc[0]
            return (f"{_fmt(r0['rate_en'] * 100, '.0f')}% / {_fmt(r0['rate_zh'] * 100, '.0f')}% "
                    f"(p={_fmt(r0['p_value'], '.2g')})")

        for m in models:
            g = gap[gap["model"] == m] if not gap.empty else gap
            t.add_row(m, "–" if g.empty else _ci(g.iloc[0]), rate(m, "refused"), rate(m, "blocked"))
        con.print(t)


def render_plan(rs: ResolvedStudy, con: Console) -> None:
    from twinstudy.run.costs import estimate_plan

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
    from twinstudy.study.design import skipped_cells

    for sk in skipped_cells(rs):
        con.print(f"not asked: framing '{sk.framing}' with {sk.items} {sk.item_type} item(s) "
                  f"({sk.trials:,} trials): the framing applies only to "
                  f"{', '.join(next(f for f in rs.framings if f.id == sk.framing).item_types())} items.")
