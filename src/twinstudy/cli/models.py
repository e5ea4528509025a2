"""``twinstudy models``: the registry as a table, with whether each key is set; ``--check``
compares it with the model ids each provider lists today."""

from __future__ import annotations

import dataclasses
import json

import click

from twinstudy.models.registry import models_table

SHOW_NEW = 12  # new ids listed per provider in the table (all of them with --json)


def _key_cell(row: dict[str, object]) -> str:
    if row["key_set"] is None:
        return "no key needed"
    return f"{row['key_env']} set" if row["key_set"] else f"{row['key_env']} missing"


def _status_cell(row: dict[str, object]) -> str:
    if not row.get("retired"):
        return ""
    successors = row.get("successors") or []
    instead = f"; use {', '.join(str(s) for s in successors)}" if successors else ""  # type: ignore[attr-defined]
    verb = "retired" if row["retired_now"] else "retires"
    return f"{verb} {row['retired']}{instead}"


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@click.option("--available", is_flag=True, help="Only models that can run now (key set or none needed).")
@click.option("--check", is_flag=True,
              help="Ask every provider whose key is set for its model list, and mark registry entries "
                   "that are missing, new or retired.")
@click.option("--timeout", default=15.0, show_default=True, type=click.FloatRange(min=1, max=300),
              help="Seconds to wait for each provider with --check.")
def models_command(as_json: bool, available: bool, check: bool, timeout: float) -> None:
    """List known models: company, origin, tier, open weights, and whether the API key is set."""
    if check:
        _check(as_json, timeout)
        return
    rows = [r for r in models_table() if not available or (r["key_set"] is not False and not r["retired_now"])]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    # The id is the one column a user copies: it is never cut. On a narrow terminal the columns a
    # study does not need are left out (--json has everything).
    wide = con.width >= 140
    if con.width < 110:
        columns = ["id", "origin", "key", "status"]
    else:
        columns = ["id", "company", "origin", "tier", "open", *(["released"] if wide else []), "key",
                   *(["serve locally"] if wide else []), "status"]
    table = Table(title=f"{len(rows)} models" + ("" if wide else " (a wider terminal or --json shows more)"),
                  show_lines=False)
    longest = max((len(str(r["id"])) for r in rows), default=2)
    for column in columns:
        if column == "id":
            table.add_column(column, no_wrap=True, min_width=longest)
        else:
            table.add_column(column, overflow="fold")
    for r in rows:
        weights = {True: "yes", False: "no"}.get(r["open_weights"], "?")
        local = " / ".join(str(x) for x in (r["vllm"], r["ollama"]) if x) or "-"
        cells = {"id": str(r["id"]), "company": str(r["company"]), "origin": str(r["origin"]),
                 "tier": str(r["tier"]), "open": weights, "released": str(r["release_date"] or "-"),
                 "key": _key_cell(r), "serve locally": local, "status": _status_cell(r)}
        table.add_row(*(cells[c] for c in columns))
    con.print(table)


def _check(as_json: bool, timeout: float) -> None:
    from twinstudy.models import live_check

    results, skipped = live_check.check_providers(timeout=timeout)
    if as_json:
        click.echo(json.dumps({"checked": [dataclasses.asdict(r) for r in results], "no_key": skipped},
                              indent=2, ensure_ascii=False))
        return
    line = live_check.summary_line(results, skipped)
    if line:
        click.echo(line)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(results)} providers checked ({len(skipped)} without a key)")
    for column in ("provider", "listed", "missing (in registry, not listed)", "retired", "new (listed, not in registry)"):
        table.add_column(column)
    for r in results:
        if r.status != "ok":
            table.add_row(r.provider, r.status, r.message, "", "")
            continue
        new = ", ".join(r.new[:SHOW_NEW]) + (f" (+{len(r.new) - SHOW_NEW} more)" if len(r.new) > SHOW_NEW else "")
        retired = ", ".join(f"{m} (still listed)" if m in r.still_listed_retired else m for m in r.retired)
        table.add_row(r.provider, str(len(r.live)), ", ".join(r.missing) or "-", retired or "-", new or "-")
    Console().print(table)
