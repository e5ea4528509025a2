"""`twinstudy export`: a results database as Parquet, CSV or JSONL files (schema: twinstudy.store.export)."""

from __future__ import annotations

from pathlib import Path

import click

from twinstudy.store.export import TABLES


@click.command("export")
@click.option("--db", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Results database.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write; its extension (.parquet, .csv, .jsonl) picks the format. With several "
                   "tables, each goes to <stem>.<table><extension> beside it.")
@click.option("--table", "tables", multiple=True, type=click.Choice(TABLES),
              help="Table(s) to write (repeatable; default: trials, attempts, scores, models and codes).")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv", "jsonl"]),
              help="Format, when the extension does not say.")
def export_command(db: Path, output: Path, tables: tuple[str, ...], fmt: str | None) -> None:
    """Write trials, attempts, scores, models and codes for notebooks, R or DuckDB (Parquet needs pyarrow)."""
    from twinstudy.store.export import export

    for path in export(db, output, tables, fmt):
        click.echo(f"wrote {path}")
