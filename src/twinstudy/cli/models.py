"""``twinstudy models``: the registry as a table, with whether each key is set.

The lead registers it in cli.py: ``main.add_command(models_command)``.
"""

from __future__ import annotations

import json

import click

from twinstudy.models.registry import models_table


def _key_cell(row: dict[str, object]) -> str:
    if row["key_set"] is None:
        return "no key needed"
    return f"{row['key_env']} set" if row["key_set"] else f"{row['key_env']} missing"


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@click.option("--available", is_flag=True, help="Only models that can run now (key set or none needed).")
def models_command(as_json: bool, available: bool) -> None:
    """List known models: company, origin, tier, open weights, and whether the API key is set."""
    rows = [r for r in models_table() if not available or r["key_set"] is not False]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} models", show_lines=False)
    for column in ("id", "company", "origin", "tier", "open", "released", "key", "serve locally"):
        table.add_column(column)
    for r in rows:
        weights = {True: "yes", False: "no"}.get(r["open_weights"], "?")  # type: ignore[arg-type]
        local = " / ".join(str(x) for x in (r["vllm"], r["ollama"]) if x) or "-"
        table.add_row(str(r["id"]), str(r["company"]), str(r["origin"]), str(r["tier"]), weights,
                      str(r["release_date"] or "-"), _key_cell(r), local)
    Console().print(table)
