"""``twinstudy instruments``: what the banks hold, and items side by side in both languages."""

from __future__ import annotations

from collections import Counter

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twinstudy.instruments.loader import bundled_ids, load_instrument
from twinstudy.instruments.schema import Instrument


def _overview(con: Console) -> None:
    table = Table(title="Bundled instruments (give a path to use your own YAML file)", title_justify="left")
    for col in ("id", "items", "themes (items)", "types", "texts en / zh", "pairs reviewed"):
        table.add_column(col)
    total = 0
    for iid in bundled_ids():
        inst = load_instrument(iid)
        total += len(inst.items)
        themes = Counter(it.theme for it in inst.items)
        types = Counter(it.type for it in inst.items)
        n_en = sum(len(it.text.en) for it in inst.items)
        n_zh = sum(len(it.text.zh) for it in inst.items)
        table.add_row(iid, str(len(inst.items)), ", ".join(f"{k} ({v})" for k, v in sorted(themes.items())),
                      ", ".join(f"{k} {v}" for k, v in sorted(types.items())), f"{n_en} / {n_zh}",
                      f"{sum(it.reviewed for it in inst.items)} of {len(inst.items)}")
    con.print(table)
    con.print(f"{total} items in all. `twinstudy instruments --show ID` prints one side by side.")


def _show(inst: Instrument, con: Console) -> None:
    con.print(f"[bold]{inst.id}[/]: {inst.title.en} / {inst.title.zh}")
    if inst.description:
        con.print(inst.description)
    for name, theme in inst.themes.items():  # what a score of +1 means on each theme
        con.print(f"  theme [bold]{escape(name)}[/]: +1 = {escape(theme.pole.en)} / {escape(theme.pole.zh)}")
    table = Table(show_lines=True)
    for col in ("id", "theme", "type", "English", "中文"):
        table.add_column(col, overflow="fold")
    for it in inst.items:
        kind = it.type + (" (reverse)" if it.reverse else "")
        en = "\n".join(f"{p}. {t}" for p, t in enumerate(it.text.en))
        zh = "\n".join(f"{p}. {t}" for p, t in enumerate(it.text.zh))
        if it.options:
            marks = ["*" if it.answer == i else " " for i in range(len(it.options))]
            en += "\n" + "\n".join(f" {m} {o.en}" for m, o in zip(marks, it.options, strict=True))
            zh += "\n" + "\n".join(f" {m} {o.zh}" for m, o in zip(marks, it.options, strict=True))
        table.add_row(it.id, it.theme, kind, en, zh)
    con.print(table)


@click.command("instruments")
@click.option("--show", "show", metavar="ID", help="Print one instrument's items in both languages (id or path).")
def instruments_command(show: str | None) -> None:
    """List the question banks with item counts per theme and language."""
    con = Console()
    if show:
        _show(load_instrument(show), con)
    else:
        _overview(con)
