"""SpeechMap judged replies (``analysis/compliance_<set>_<maker>_<model>.jsonl``) as a twinstudy run.

SpeechMap (xlr8harder/llm-compliance, Apache-2.0) asks models to write criticism of governments and
has an LLM judge label each reply COMPLETE, EVASIVE or DENIAL. Each line of an analysis file holds
``question_id``, ``question``, ``category``, ``model``, ``response`` (the raw chat-completion JSON),
``compliance`` (the label), ``judge_model`` and ``judge_analysis``. This reader maps them so:

* item ``sm-<question_id>`` of instrument ``speechmap``, set (theme) = the category without its
  language prefix: ``china_criticism`` and ``zh_china_criticism`` share ``question_id``s, so the
  English and Chinese replies of one model pair item by item (the same ids as
  ``speechmap:questions/`` gives a live study, so imported and new replies line up);
* language ``zh`` for a ``zh_`` category, ``en`` otherwise; other language prefixes (``fi_``, ...)
  are skipped with a note, since twinstudy studies English and Chinese;
* label COMPLETE / EVASIVE / DENIAL -> a score with status complete / evasive / denial under the
  judge's name (``judge_model``), and outcome answered / evasive / refused;
  ``ERROR_ORIGINAL_MODERATION`` (the provider's filter stopped the reply) -> outcome ``blocked``
  with no score; ``ERROR_ORIGINAL_RESPONSE`` -> ``error``; ``ERROR_JUDGE_*`` -> ``unparseable``.

The files are read from the path the user gives; twinstudy ships none of them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from twinstudy.errors import SpecError
from twinstudy.imports.records import (
    ImportBatch,
    ImportedRow,
    build_instrument,
    check_unique,
    outcome_of_label,
    slug,
)
from twinstudy.study.yamlfile import jsonl_objects

INSTRUMENT = "speechmap"
DEFAULT_JUDGE = "speechmap-judge"
#: Category prefixes of SpeechMap's translated sets in languages twinstudy does not study.
OTHER_LANGS = re.compile(r"^(fi|de|fr|es|it|pt|ru|ja|ko|ar|hi|fa|tr|uk|vi)_")
REQUIRED = ("question_id", "question", "category", "model", "compliance")


def analysis_files(path: Path) -> list[Path]:
    """The judged files under ``path``: a file, a folder of them, or a checkout with ``analysis/``."""
    path = path.expanduser()
    if path.is_file():
        return [path]
    if not path.exists():
        raise SpecError(str(path), None, None, "does not exist; give the `analysis` folder of a SpeechMap "
                        "checkout (xlr8harder/llm-compliance), or one compliance_*.jsonl file.")
    folder = path / "analysis" if (path / "analysis").is_dir() and not any(path.glob("compliance_*.jsonl")) \
        else path
    files = sorted(folder.glob("compliance_*.jsonl"))
    if not files:
        raise SpecError(str(path), None, None, "holds no compliance_*.jsonl files; give the `analysis` folder "
                        "of a SpeechMap checkout.")
    return files


def _text(obj: Any) -> str | None:
    return obj if isinstance(obj, str) else None


def _response_parts(resp: Any) -> dict[str, Any]:
    """Reply text, reasoning, finish reason, provider, tokens and time from a chat-completion JSON."""
    out: dict[str, Any] = {}
    if not isinstance(resp, dict):
        return out
    out["provider"] = _text(resp.get("provider"))
    created = resp.get("created")
    out["created"] = float(created) if isinstance(created, int | float) else None
    usage = resp.get("usage")
    if isinstance(usage, dict):
        for src, dst in (("prompt_tokens", "tokens_in"), ("completion_tokens", "tokens_out")):
            v = usage.get(src)
            out[dst] = int(v) if isinstance(v, int) else None
    choices = resp.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        out["finish_reason"] = _text(choice.get("finish_reason"))
        out["choice_error"] = isinstance(choice.get("error"), dict)
        msg = choice.get("message")
        if isinstance(msg, dict):
            out["reply"] = _text(msg.get("content"))
            out["reasoning"] = _text(msg.get("reasoning")) or _text(msg.get("reasoning_content"))
    return out


def _row(file: Path, lineno: int, obj: dict[str, Any]) -> ImportedRow | None:
    for key in REQUIRED:
        value = obj.get(key)
        if not isinstance(value, str) or not value.strip():
            raise SpecError(str(file), lineno, key, "is missing or not a non-empty string; this does not look "
                            "like a SpeechMap analysis row (fix the line, or import the file with "
                            "`twinstudy import table` and a column map).")
    category = obj["category"].strip()
    if OTHER_LANGS.match(category):
        return None
    lang = "zh" if category.startswith("zh_") else "en"
    label = obj["compliance"].strip()
    mapped = outcome_of_label(label)
    if mapped is None:
        raise SpecError(str(file), lineno, "compliance", f"has the unknown label '{label}'; expected COMPLETE, "
                        "EVASIVE, DENIAL or an ERROR_* label.")
    outcome, status = mapped
    parts = _response_parts(obj.get("response"))
    blocked = None
    if outcome == "blocked":
        stopped = parts.get("finish_reason") == "content_filter" or parts.get("choice_error")
        blocked = "output" if stopped else "unknown"
    judge = _text(obj.get("judge_model")) or DEFAULT_JUDGE
    resp = obj.get("response")
    return ImportedRow(
        file=str(file), line=lineno, model=obj["model"].strip(), item="sm-" + slug(obj["question_id"]),
        theme=slug(category.removeprefix("zh_")), lang=lang, prompt=obj["question"], reply=parts.get("reply"),
        outcome=outcome, status=status, source_label=label, judge=judge,
        judge_detail=_text(obj.get("judge_analysis")), reasoning=parts.get("reasoning"),
        finish_reason=parts.get("finish_reason"), provider=parts.get("provider"),
        raw=json.dumps(resp, ensure_ascii=False) if resp is not None else None,
        tokens_in=parts.get("tokens_in"), tokens_out=parts.get("tokens_out"), created=parts.get("created"),
        blocked=blocked)


def read_speechmap(path: str | Path, study: str = "speechmap") -> ImportBatch:
    """Read and check every judged file under ``path``; raise SpecError (file, line) on a bad row."""
    from twinstudy.imports.metadata import speechmap_models

    root = Path(path)
    rows: list[ImportedRow] = []
    skipped: set[str] = set()
    for file in analysis_files(root):
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SpecError(str(file), None, None, "is not UTF-8 text; is this a SpeechMap analysis file?") from None
        for lineno, obj in jsonl_objects(file, text, ", then import again (nothing was written)"):
            row = _row(file, lineno, obj)
            if row is None:
                skipped.add(str(obj["category"]))
            else:
                rows.append(row)
    if not rows:
        raise SpecError(str(root), None, None, "holds no English or Chinese SpeechMap rows to import.")
    check_unique(rows)
    instrument = build_instrument(INSTRUMENT, "SpeechMap requests (imported replies)",
                                  f"Imported from {root} by twinstudy import speechmap.", rows)
    models = speechmap_models({r.model for r in rows})
    notes = [f"skipped categories in languages twinstudy does not study: {', '.join(sorted(skipped))}"] \
        if skipped else []
    unknown = sorted(m for m, info in models.items() if info.get("metadata") == "none")
    if unknown:
        notes.append(f"no metadata for {len(unknown)} model(s) (origin left UNKNOWN): {', '.join(unknown)}")
    n_models = len({r.model for r in rows})
    desc = (f"SpeechMap judged replies imported from {root}: {len(rows):,} replies of {n_models} models to "
            f"{len(instrument.items)} requests (sets: {', '.join(sorted({r.theme for r in rows}))}). Labels are "
            "the SpeechMap LLM judge's (COMPLETE / EVASIVE / DENIAL), stored as scores under the judge's name; "
            "replies the provider's moderation stopped are 'blocked'.")
    return ImportBatch(kind="speechmap", source=str(root), study=study, description=desc, instrument=instrument,
                       rows=rows, models=models, judge_version="imported:speechmap", notes=notes)
