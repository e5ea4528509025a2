"""Terminal summary (rich tables), shown at the end of `twinstudy run` and by `twinstudy summary`.

What it shows, in reading order: outcomes per model (blocked apart from refused), the headline
(how much of the score variance is the models and how much the user), profiles per theme with CIs,
user effects (sycophancy, identity, pushback flips), the language gap, and refusal / block rates
by language. Intervals are bootstrap over items or Wilson for rates; each table says whether its
interval is a measured 95 % CI (see :mod:`twinstudy.report.sections.estimands`). The numbers come
from the same :class:`~twinstudy.analysis.Results` the report and ``twinstudy analyze`` render.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twinstudy.analysis.quality import quality_verdicts
from twinstudy.report.numbers import ci as _ci
from twinstudy.report.numbers import fmt as _fmt
from twinstudy.report.numbers import pct as _pct
from twinstudy.report.sections.estimands import label
from twinstudy.report.sections.tables import FEW_NOTE, empty_share, few_items
from twinstudy.store import ALL_OUTCOMES, Store
from twinstudy.study.spec import ResolvedStudy

if TYPE_CHECKING:
    from twinstudy.analysis import Results


def _table(title: str, *cols: str) -> Table:
    """A summary table whose first column (a model id, a theme) is never cut: the others fold."""
    t = Table(title=title, title_justify="left", title_style="bold")
    for i, c in enumerate(cols):
        if i == 0:
            t.add_column(c, justify="left", no_wrap=True)
        else:
            t.add_column(c, justify="right", overflow="fold")
    return t


def _origin_order(frame: pd.DataFrame) -> list[str]:
    pairs = frame[["model", "origin"]].drop_duplicates("model")
    return [str(m) for m, _ in sorted(zip(pairs["model"], pairs["origin"].astype(str), strict=True),
                                       key=lambda x: (x[1], str(x[0])))]


def render_summary(store: Store, con: Console, results: Results | None = None) -> None:
    """``results``: the analysis already computed for this store (else :func:`analyze_store` runs it)."""
    from twinstudy.report.roles import analyze_store

    frame = store.scored_frame()
    if frame.empty:
        from twinstudy.store.reads import chat_only_note

        con.print(chat_only_note(store) or "no trials in this database yet.")
        return

    res = results if results is not None else analyze_store(store)
    verdicts = quality_verdicts(res.table("quality"))
    if verdicts:  # first: they change how every number below is read
        con.print("[bold yellow]Data quality: read the estimates below with this in mind.[/]")
        for line in verdicts:
            con.print(f"  [yellow]•[/] {escape(line)}")
    else:
        con.print("Data quality: no model failed a check (scored share, straight-lining, acquiescence, language).")

    models = _origin_order(frame)
    origin = dict(zip(frame["model"].astype(str), frame["origin"].astype(str), strict=False))
    present = [o for o in ALL_OUTCOMES if o in set(frame["outcome"])]
    t = _table("Outcomes per model (blocked = the provider's filter, not a refusal)", "model", "origin",
               *present, "trials")
    for m in models:
        counts = frame.loc[frame["model"] == m, "outcome"].value_counts()
        t.add_row(m, origin.get(m, "?"), *(str(int(counts.get(o, 0))) for o in present), str(int(counts.sum())))
    con.print(t)

    samples = int(frame["sample"].max()) + 1
    head = res.table("variance_headline")
    if {"model_side", "user_side"} <= set(head.get("measure", pd.Series(dtype=str)).astype(str)):
        h = {str(r["measure"]): r for _, r in head.iterrows()}
        var = {str(r["component"]): r for _, r in res.table("variance").iterrows()}
        t = _table(f"Headline: share of score variance; {label('variance')}", "part", "share")
        t.add_row("models (model + model×language + model×framing)", _pct(h["model_side"]))
        t.add_row("user (language + framing)", _pct(h["user_side"]))
        if "model_share" in h:
            t.add_row("models / (models + user)", _pct(h["model_share"]))
        for c, name in (("lang", "  language"), ("framing", "  framing"), ("item", "questions (item)"),
                        ("item:model", "item × model"), ("paraphrase", "paraphrase"),
                        ("other", "other interactions"), ("residual", "sampling noise")):
            if c in var and (c != "residual" or samples > 1):
                t.add_row(name, _pct(var[c]))
        empty = empty_share(res.table("variance"))
        if empty is not None:
            t.add_row("empty cells behind these shares", f"{_fmt(empty * 100, '.0f')}%")
        con.print(t)
        if samples == 1:
            con.print("No sampling-noise share: with one sample per cell it cannot be separated from the "
                      "interactions.")

    prof = res.table("profiles")
    prof = prof[prof["lang"] == "all"] if not prof.empty else prof
    if not prof.empty:
        framing = str(prof["framing"].iloc[0])
        pm = [m for m in models if m in set(prof["model"])]
        t = _table(f"Profiles: mean score toward each theme's pole (−1..+1), {framing} framing, "
                   f"{label('profiles')}",
                   "theme", *pm)
        few = few_items(prof)
        for theme, g in prof.groupby("theme"):
            cells = []
            for m in pm:
                r = g[g["model"] == m]
                cells.append("–" if r.empty else _ci(r.iloc[0]) + ("†" if few[r.index[0]] else ""))
            t.add_row(str(theme), *cells)
        con.print(t)
        if few.any():
            con.print(FEW_NOTE)

    syc, ident, flips = res.table("sycophancy"), res.table("identity"), res.table("flips")
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

    gap, mcn = res.table("language_gap"), res.table("mcnemar")
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
    if res.errors:
        con.print("[yellow]Some estimates could not be computed (please report this): "
                  + "; ".join(res.error_lines()) + "[/]")


def render_plan(rs: ResolvedStudy, con: Console, batch: bool = False) -> None:
    """``batch``: also the cost with ``run --batch`` (batch price where the table has one)."""
    from twinstudy.run.costs import estimate_plan

    est = estimate_plan(rs)
    from twinstudy.models.registry import missing_key

    t = Table(title=f"Plan for {rs.study.name} (nothing is sent)", title_justify="left")
    longest = max((len(r.model) for r in est.rows), default=5)
    columns = ("model", "key", "trials", "requests", "tokens in", "tokens out", "cost (USD)")
    for c in columns + (("batch cost (USD)",) if batch else ()):
        if c == "model":  # the id is never cut: it is what a user copies
            t.add_column(c, no_wrap=True, min_width=longest)
        else:
            t.add_column(c, justify="left" if c == "key" else "right", overflow="fold")
    infos = {m.id: m for m in rs.models}
    cannot: list[str] = []
    for row in est.rows:
        env = missing_key(infos[row.model]) if row.model in infos else None
        if env:
            cannot.append(f"{row.model} (set {env})")
        cells = [row.model, f"missing {env}" if env else "ok", f"{row.trials:,}", f"{row.requests:,}",
                 f"{row.tokens_in:,}", f"{row.tokens_out:,}", "unknown" if row.cost is None else f"{row.cost:,.2f}"]
        if batch:
            cost = "unknown" if row.batch_cost is None else f"{row.batch_cost:,.2f}"
            cells.append(cost if row.batch_api else f"{cost} (live)")
        t.add_row(*cells)
    con.print(t)
    if cannot:
        con.print(f"cannot run yet: {', '.join(cannot)}; `twinstudy run --skip-unavailable` runs the others.")
    total = "unknown for some models" if est.total_cost is None else f"${est.total_cost:,.2f}"
    con.print(f"total: {est.trials:,} trials, {est.requests:,} requests, estimated cost {total}. "
              "Token counts are estimated from prompt lengths and max_tokens (an upper bound on output).")
    if batch:
        btotal = "unknown for some models" if est.total_batch_cost is None else f"${est.total_batch_cost:,.2f}"
        con.print(f"with --batch: estimated cost {btotal} (batch price = list price x the provider's documented "
                  "batch discount in prices.yaml; trials with a follow-up turn run live at the list price; "
                  "'(live)': the provider has no batch API in twinstudy, so the model runs live at the list price; "
                  "'unknown': no price or no documented batch discount).")
    from twinstudy.study.design import skipped_cells

    for sk in skipped_cells(rs):
        con.print(f"not asked: framing '{sk.framing}' with {sk.items} {sk.item_type} item(s) "
                  f"({sk.trials:,} trials): the framing applies only to "
                  f"{', '.join(next(f for f in rs.framings if f.id == sk.framing).item_types())} items.")
