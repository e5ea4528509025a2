"""``twinstudy instruments``: what the banks hold, and items side by side in both languages."""

from __future__ import annotations

from collections import Counter

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twinstudy.instruments.loader import bundled_ids, load_framings, load_instrument
from twinstudy.instruments.schema import Instrument


def _overview(con: Console) -> None:
    table = Table(title="Bundled instruments (give a path to use your own YAML file)", title_justify="left")
    for col in ("id", "items", "themes", "types", "tags (items)"):
        table.add_column(col, no_wrap=col == "id", overflow="fold")
    total = texts = 0
    for iid in bundled_ids():
        inst = load_instrument(iid)
        total += len(inst.items)
        themes = Counter(it.theme for it in inst.items)
        types = Counter(it.type for it in inst.items)
        tags = Counter(t for it in inst.items for t in it.tags)
        n_en = sum(len(it.text.en) for it in inst.items)
        n_zh = sum(len(it.text.zh) for it in inst.items)
        reviewed = sum(it.reviewed for it in inst.items)
        table.add_row(iid, f"{len(inst.items)} ({'all' if reviewed == len(inst.items) else reviewed} reviewed)",
                      str(len(themes)),
                      ", ".join(f"{k} {v}" for k, v in sorted(types.items())),
                      ", ".join(f"{k} ({v})" for k, v in sorted(tags.items())) or "-")
        texts += n_en + n_zh
    con.print(table)
    con.print(f"{total} items ({texts} texts in English and Chinese) in all. `twinstudy instruments --show ID` "
              "prints one side by side with its themes; narrow a study to tagged items with `tags:`.")


def _show(inst: Instrument, con: Console) -> None:
    con.print(f"[bold]{inst.id}[/]: {inst.title.en} / {inst.title.zh}")
    if inst.description:
        con.print(inst.description)
    themes = Counter(it.theme for it in inst.items)
    for name, theme in inst.themes.items():  # what a score of +1 means on each theme
        con.print(f"  theme [bold]{escape(name)}[/] ({themes.get(name, 0)} items): "
                  f"+1 = {escape(theme.pole.en)} / {escape(theme.pole.zh)}")
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


@click.command("framings")
@click.option("--file", "path", type=click.Path(dir_okay=False), help="Also list the framings of this framings file.")
def framings_command(path: str | None) -> None:
    """List the framings a study can name, with their stance, identity or culture and what the user says."""
    con = Console()
    table = Table(title="Framings (name them in a study's `framings:`)", title_justify="left", show_lines=True)
    for col in ("id", "role", "item types", "what the user says first (en / zh)"):
        table.add_column(col, no_wrap=col == "id", overflow="fold")
    for fr in load_framings(path).values():
        role = (f"stance: {fr.stance}" if fr.stance else f"identity: {fr.identity}" if fr.identity
                else f"culture: {fr.culture}" if fr.culture else "-")
        applies = ", ".join(getattr(fr, "applies_to", None) or ()) or "all"
        said = fr.prefix.en or fr.description
        if fr.prefix.zh:
            said += f"\n{fr.prefix.zh}"
        if fr.prefix.by_theme:
            said += f"\n(+ wording for {len(fr.prefix.by_theme)} themes)"
        if fr.followup:
            said += f"\nthen: {fr.followup.en}"
        table.add_row(fr.id, role, applies, said)
    con.print(table)


@click.command("reference")
def reference_command() -> None:
    """Print the study-format reference (every field of every file), generated from the validators."""
    from twinstudy.study.reference import reference_markdown

    click.echo(reference_markdown(), nl=False)
