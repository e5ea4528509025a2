"""Any JSONL or CSV of replies, with a column map: a colleague's spreadsheet, an earlier harness's log.

Each row is one reply. Fields (``--map FIELD=COLUMN`` on the command line; by default each field is
read from the column of the same name):

=========  ========  ==================================================================
field      needed    meaning
=========  ========  ==================================================================
model      yes       model id as the source wrote it
item       yes       question id; the same id in ``en`` and ``zh`` pairs the two replies
lang       yes       ``en`` or ``zh`` (``english``, ``chinese``, ``zh-CN`` ... accepted)
prompt     yes       the question as sent
reply      yes       the model's reply (may be empty for a blocked reply)
set        no        prompt set (theme) the item belongs to; default ``imported``
framing    no        default ``neutral``
sample     no        integer, for repeated draws of the same question; default 0
label      no        the source judge's label: complete / evasive / denial (any case), or
                     blocked / ERROR_ORIGINAL_MODERATION (the provider stopped the reply)
judge      no        the judge's name per row (default: ``--judge``)
=========  ========  ==================================================================

Rows without a label are scored by twinstudy's own open-item rules when imported.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twinstudy.errors import SpecError, UserError
from twinstudy.imports.records import (
    ImportBatch,
    ImportedRow,
    build_instrument,
    check_unique,
    outcome_of_label,
    slug,
)
from twinstudy.study.yamlfile import jsonl_objects

FIELDS = ("model", "item", "lang", "prompt", "reply", "set", "framing", "sample", "label", "judge")
REQUIRED = ("model", "item", "lang", "prompt", "reply")


@dataclass
class ColumnMap:
    """Which source column holds each field (see the module docstring)."""

    columns: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, pairs: list[str] | tuple[str, ...]) -> ColumnMap:
        out: dict[str, str] = {}
        for p in pairs:
            name, sep, col = p.partition("=")
            name = name.strip().lower()
            if not sep or not col.strip():
                raise UserError(f"--map takes FIELD=COLUMN (e.g. --map item=question_id), not '{p}'.")
            if name not in FIELDS:
                raise UserError(f"--map names the unknown field '{name}'; fields are {', '.join(FIELDS)}.")
            out[name] = col.strip()
        return cls(out)

    def column(self, name: str) -> str:
        return self.columns.get(name, name)


def _lang(value: str) -> str | None:
    v = value.strip().lower().replace("_", "-")
    if v in ("en", "english") or v.startswith("en-"):
        return "en"
    if v in ("zh", "chinese", "中文") or v.startswith("zh-"):
        return "zh"
    return None


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SpecError(str(path), None, None, "is not UTF-8 text; save it as UTF-8 and import again.") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines(keepends=True))
        for rec in reader:
            if None in rec:
                raise SpecError(str(path), reader.line_num, None, "has more cells than the header; quote "
                                "cells that contain commas.")
            yield reader.line_num, dict(rec)
        return
    yield from jsonl_objects(path, text, ", then import again (nothing was written)")


def _row(path: Path, lineno: int, rec: dict[str, Any], cmap: ColumnMap, judge: str) -> ImportedRow:
    def get(name: str, required: bool) -> str | None:
        col = cmap.column(name)
        value = rec.get(col)
        if value is None or (isinstance(value, str) and not value.strip() and name != "reply"):
            if required:
                hint = "" if col in rec else f" (no column '{col}'; map it with --map {name}=COLUMN)"
                raise SpecError(str(path), lineno, col, f"is missing or empty{hint}.")
            return None
        if isinstance(value, (dict, list)):
            raise SpecError(str(path), lineno, col, "must be text, not a JSON object or list.")
        return str(value)

    model, item_raw, lang_raw, prompt = (str(get(k, True)) for k in ("model", "item", "lang", "prompt"))
    reply = get("reply", True)
    lang = _lang(lang_raw)
    if lang is None:
        raise SpecError(str(path), lineno, cmap.column("lang"), f"is '{lang_raw}'; twinstudy studies English "
                        "and Chinese: write en or zh (or leave such rows out).")
    item = slug(item_raw)
    if not item:
        raise SpecError(str(path), lineno, cmap.column("item"), f"'{item_raw}' has no letters or digits to make "
                        "an item id from.")
    sample_raw = get("sample", False)
    try:
        sample = int(sample_raw) if sample_raw is not None else 0
    except ValueError:
        raise SpecError(str(path), lineno, cmap.column("sample"), f"is '{sample_raw}', not a whole number.") from None
    label = get("label", False)
    outcome = status = None
    if label is not None:
        mapped = outcome_of_label(label)
        if mapped is None:
            raise SpecError(str(path), lineno, cmap.column("label"), f"has the unknown label '{label}'; use complete, "
                            "evasive, denial or blocked (or leave it empty to let twinstudy score the reply).")
        outcome, status = mapped
    theme = slug(get("set", False) or "imported") or "imported"
    framing = slug(get("framing", False) or "neutral") or "neutral"
    return ImportedRow(file=str(path), line=lineno, model=model.strip(), item=item, theme=theme, lang=lang,
                       prompt=prompt, reply=reply, outcome=outcome, status=status, source_label=label,
                       judge=(get("judge", False) or judge) if label is not None else None,
                       framing=framing, sample=sample, blocked="unknown" if outcome == "blocked" else None)


def read_table(paths: list[Path] | tuple[Path, ...], cmap: ColumnMap | None = None, *, judge: str = "source-judge",
               instrument: str = "imported", study: str = "imported") -> ImportBatch:
    """Read and check every row of the given JSONL / CSV files; raise SpecError (file, line) on a bad row."""
    cmap = cmap or ColumnMap()
    rows: list[ImportedRow] = []
    raw_ids: dict[str, tuple[str, str, int]] = {}
    for path in paths:
        p = Path(path).expanduser()
        if not p.is_file():
            raise SpecError(str(p), None, None, "not found; give a .jsonl or .csv file of replies.")
        for lineno, rec in _records(p):
            row = _row(p, lineno, rec, cmap, judge)
            raw = str(rec.get(cmap.column("item")))
            first = raw_ids.setdefault(row.item, (raw, str(p), lineno))
            if first[0] != raw:
                raise SpecError(str(p), lineno, cmap.column("item"), f"'{raw}' and '{first[0]}' ({first[1]}:{first[2]}) "
                                f"both become item id '{row.item}'; rename one.")
            rows.append(row)
    if not rows:
        raise UserError("the files hold no rows to import.")
    check_unique(rows)
    inst_id = slug(instrument) or "imported"
    inst = build_instrument(inst_id, f"Imported replies ({inst_id})",
                            "Imported by twinstudy import table from " + ", ".join(str(p) for p in paths), rows)
    n_models = len({r.model for r in rows})
    desc = (f"{len(rows):,} replies of {n_models} models to {len(inst.items)} questions imported from "
            + ", ".join(str(p) for p in paths) + ".")
    return ImportBatch(kind="table", source=", ".join(str(p) for p in paths), study=study, description=desc,
                       instrument=inst, rows=rows, judge_version="imported:table")
