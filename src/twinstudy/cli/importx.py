"""`twinstudy import`: published or earlier transcripts into a results database.

The whole source is read and checked first; only a valid source opens (or creates) the database,
and everything is written in one transaction, so a bad row leaves the database as it was.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from twinstudy.imports.records import ImportBatch


def _default_db(study: str) -> Path:
    return Path("twinstudy-runs") / study / "results.db"


def run_import(batch: ImportBatch, db: Path | None) -> Path:
    """Convert and write a checked batch; print what was written and what to do next."""
    from twinstudy import __version__
    from twinstudy.imports.convert import convert
    from twinstudy.store import Store
    from twinstudy.store.importer import write_import

    converted = convert(batch, time.time())
    path = db or _default_db(batch.study)
    store = Store(path)
    try:
        write_import(store, batch, converted, __version__)
    finally:
        store.close()
    counts: dict[str, int] = {}
    for t in converted.trials:
        counts[t["outcome"]] = counts.get(t["outcome"], 0) + 1
    n_models = len({t["model"] for t in converted.trials})
    click.echo(f"imported {len(converted.trials):,} replies of {n_models} models into {path} "
               f"({', '.join(f'{k} {v:,}' for k, v in sorted(counts.items()))}).")
    for note in batch.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"next: twinstudy report --db {path}   (or analyze / summary / export / rescore)")
    return path


@click.group("import")
def import_group() -> None:
    """Bring transcripts made elsewhere into a results database (then report, analyze, export)."""


@import_group.command("speechmap")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              help="Results database to write (default: twinstudy-runs/<name>/results.db).")
@click.option("--name", default="speechmap", show_default=True, help="Study name recorded for the import.")
def speechmap_command(path: Path, db: Path | None, name: str) -> None:
    """SpeechMap judged replies: PATH is the `analysis` folder of a SpeechMap checkout (or one file).

    English and Chinese sets pair by question_id; labels are stored as scores under the SpeechMap
    judge's name; replies stopped by the provider's moderation are `blocked`, not refusals.
    """
    from twinstudy.imports.speechmap import read_speechmap

    run_import(read_speechmap(path, study=name), db)


@import_group.command("table")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              help="Results database to write (default: twinstudy-runs/<name>/results.db).")
@click.option("--map", "maps", multiple=True, metavar="FIELD=COLUMN",
              help="Where a field is (repeatable): model, item, lang, prompt, reply (needed); set, framing, "
                   "sample, label, judge (optional). Default: the column named like the field.")
@click.option("--judge", default="source-judge", show_default=True,
              help="Name the labels are stored under (the judge that wrote them).")
@click.option("--models", "models_file", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML with company, origin, tier, open_weights, base_model per model "
                   "(format: twinstudy/imports/data/models.yaml); unknown models stay UNKNOWN.")
@click.option("--instrument", default="imported", show_default=True, help="Instrument id for the questions.")
@click.option("--name", default="imported", show_default=True, help="Study name recorded for the import.")
def table_command(files: tuple[Path, ...], db: Path | None, maps: tuple[str, ...], judge: str,
                  models_file: Path | None, instrument: str, name: str) -> None:
    """Replies in JSONL or CSV files (one reply a row), with a column map.

    \b
    Example:
      twinstudy import table replies.csv --map item=question_id --map reply=answer \\
          --map label=verdict --judge gpt-4o-judge --models my-models.yaml --db imported.db
    """
    from twinstudy.imports.metadata import load_models_file, models_info
    from twinstudy.imports.table import ColumnMap, read_table

    user = load_models_file(models_file) if models_file else None
    batch = read_table(files, ColumnMap.parse(maps), judge=judge, instrument=instrument, study=name)
    batch.models = models_info({r.model for r in batch.rows}, user)
    unknown = sorted(m for m, info in batch.models.items() if info.get("metadata") == "none")
    if unknown:
        batch.notes.append(f"no metadata for {len(unknown)} model(s), origin left UNKNOWN (give --models FILE): "
                           + ", ".join(unknown))
    run_import(batch, db)
