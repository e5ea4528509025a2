"""Load bundled and user instruments and framings; import external question sets.

Bundled banks live in ``twinstudy/instruments/data/<id>.yaml`` and framings in
``data/framings.yaml``. Users can pass a path to their own YAML file wherever an instrument id is
accepted. Every problem in a file is reported as a :class:`~twinstudy.errors.SpecError` naming the
file, the line and the field.

The importers read datasets from a path the user gives (they are never bundled):

- :func:`import_speechmap` reads SpeechMap question JSONL (``{"id", "category", "question"}``);
  a ``zh_<category>.jsonl`` file is paired by id with ``<category>.jsonl`` when a directory is given.
- :func:`import_anthropic_evals` reads Anthropic model-written-evals JSONL (persona and
  sycophancy files). The datasets are English-only, so the Chinese text repeats the English and
  each item carries a note saying it is untranslated. Which answer "matches the behaviour" is kept
  as a tag ``matching-<answer>`` (for example ``matching-yes`` or ``matching-a``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from twinstudy.errors import SpecError
from twinstudy.instruments.locate import key_node, locate_item_problem
from twinstudy.instruments.schema import (
    Bilingual,
    Framing,
    FramingSet,
    Instrument,
    Item,
    Texts,
)
from twinstudy.study.yamlfile import jsonl_objects, load_model, read_yaml

FRAMINGS_FILE = "framings.yaml"
UNTRANSLATED = "untranslated: the source is English-only, so the Chinese text repeats the English"

__all__ = [
    "bundled_ids",
    "import_anthropic_evals",
    "import_speechmap",
    "load_framings",
    "load_instrument",
]


# --------------------------------------------------------------------------------------------
# Bundled data
# --------------------------------------------------------------------------------------------


def _data_dir() -> Path:
    return Path(str(resources.files("twinstudy.instruments") / "data"))


@lru_cache(maxsize=1)
def _bundled_ids() -> tuple[str, ...]:
    names = [
        p.name[: -len(".yaml")]
        for p in _data_dir().iterdir()
        if p.name.endswith(".yaml") and p.name != FRAMINGS_FILE
    ]
    return tuple(sorted(names))


def bundled_ids() -> list[str]:
    """Ids of the instruments shipped with twinstudy, sorted."""
    return list(_bundled_ids())


@lru_cache(maxsize=64)
def _load_bundled(instrument_id: str) -> Instrument:
    path = _data_dir() / f"{instrument_id}.yaml"
    inst = _load_instrument_file(path)
    if inst.id != instrument_id:
        raise SpecError(
            str(path), 1, "id", f"is '{inst.id}' but the file is named '{instrument_id}.yaml'; make them match."
        )
    return inst


def _unknown(name: str) -> SpecError:
    msg = (
        f"unknown instrument '{name}'; run `twinstudy instruments` to list them, "
        "or give a path to a YAML file."
    )
    err = SpecError(name, None, None, msg)
    err.args = (msg,)
    return err


def load_instrument(id_or_path: str) -> Instrument:
    """Load a bundled instrument by id, or a user instrument from a YAML file path."""
    if id_or_path in _bundled_ids():
        return _load_bundled(id_or_path)
    path = Path(id_or_path).expanduser()
    looks_like_path = (
        path.suffix.lower() in (".yaml", ".yml") or "/" in id_or_path or "\\" in id_or_path or path.exists()
    )
    if not looks_like_path:
        raise _unknown(id_or_path)
    if path.is_dir():
        raise SpecError(str(path), None, None, "is a directory; give the path to one instrument YAML file.")
    return _load_instrument_file(path)


def _load_instrument_file(path: Path) -> Instrument:
    try:
        return load_model(Instrument, path)
    except SpecError as exc:
        if exc.field is None:
            # Instrument-level checks (duplicate ids, undeclared themes) have no field of their
            # own; find the offending item so the message points at its line.
            locate_item_problem(path)
        raise


# --------------------------------------------------------------------------------------------
# Framings
# --------------------------------------------------------------------------------------------


def _load_framing_file(path: Path) -> dict[str, Framing]:
    fs = load_model(FramingSet, path)
    out: dict[str, Framing] = {}
    for i, framing in enumerate(fs.framings):
        if framing.id in out:
            _, node = read_yaml(path)
            line: int | None = None
            seq = key_node(node, "framings") if node is not None else None
            if seq is not None and isinstance(seq[1], yaml.SequenceNode) and i < len(seq[1].value):
                line = seq[1].value[i].start_mark.line + 1
            raise SpecError(
                str(path), line, f"framings[{i}].id",
                f"'{framing.id}' appears twice; framing ids must be unique in a file.",
            )
        out[framing.id] = framing
    return out


@lru_cache(maxsize=1)
def _bundled_framings() -> tuple[tuple[str, Framing], ...]:
    return tuple(_load_framing_file(_data_dir() / FRAMINGS_FILE).items())


def load_framings(path: str | None = None) -> dict[str, Framing]:
    """Bundled framings by id; a user file's framings are added and override bundled ones by id."""
    framings = dict(_bundled_framings())
    if path is not None:
        framings.update(_load_framing_file(Path(path).expanduser()))
    return framings


# --------------------------------------------------------------------------------------------
# Importers
# --------------------------------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u9fff]")
_BAD_ID_CHARS = re.compile(r"[^a-z0-9._-]+")


def _slug(text: str, fallback: str = "x") -> str:
    s = _BAD_ID_CHARS.sub("-", text.strip().lower()).strip("-._")
    return s or fallback


def _jsonl_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".jsonl")
        if not files:
            raise SpecError(str(path), None, None, "contains no .jsonl files; give a JSONL file or a folder of them.")
        return files
    if not path.exists():
        raise SpecError(str(path), None, None, "file not found; check the path.")
    return [path]


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(str(path), None, None, "is not UTF-8 text; save it as UTF-8.") from None
    yield from jsonl_objects(path, text)


def _req_str(obj: dict[str, Any], key: str, path: Path, lineno: int) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SpecError(str(path), lineno, key, "is missing or not a non-empty string; fix or remove the line.")
    return value


def import_speechmap(path: str | Path) -> Instrument:
    """Open items from SpeechMap question JSONL (a file, or a folder of ``*.jsonl`` files).

    In a folder, ``zh_<category>.jsonl`` questions are paired by id with ``<category>.jsonl`` so
    each item has both languages; a question without a partner repeats its text in the other
    language and says so in its note.
    """
    root = Path(path).expanduser()
    files = _jsonl_files(root)
    # (base category, source id) -> {"en": text, "zh": text}
    texts: dict[tuple[str, str], dict[str, str]] = {}
    for file in files:
        for lineno, obj in _read_jsonl(file):
            question = _req_str(obj, "question", file, lineno)
            qid = obj.get("id", f"{file.stem}-{lineno}")
            if not isinstance(qid, str | int):
                raise SpecError(str(file), lineno, "id", "must be a string; fix or remove the line.")
            category = obj.get("category", file.stem)
            if not isinstance(category, str) or not category.strip():
                raise SpecError(str(file), lineno, "category", "must be a non-empty string; fix the line.")
            is_zh = category.startswith("zh_") or file.stem.startswith("zh_") or bool(_CJK.search(question))
            base = category.removeprefix("zh_")
            lang = "zh" if is_zh else "en"
            slot = texts.setdefault((base, str(qid)), {})
            if lang in slot:
                raise SpecError(
                    str(file), lineno, "id", f"'{qid}' appears twice in category '{base}' ({lang}); ids must be unique."
                )
            slot[lang] = question.strip()
    items: list[Item] = []
    used: set[str] = set()
    for (base, qid), slot in texts.items():
        item_id = "sm-" + _slug(qid)
        if item_id in used:
            item_id = "sm-" + _slug(f"{base}-{qid}")
        used.add(item_id)
        en = slot.get("en") or slot["zh"]
        zh = slot.get("zh") or slot["en"]
        note = ""
        if "en" not in slot:
            note = "untranslated: Chinese-only in the source, so the English text repeats the Chinese"
        elif "zh" not in slot:
            note = "untranslated: English-only in the source, so the Chinese text repeats the English"
        items.append(
            Item(
                id=item_id,
                theme=_slug(base),
                type="open",
                text=Texts(en=[en], zh=[zh]),
                tags=["speechmap", _slug(base)],
                reviewed=False,
                note=note,
            )
        )
    if not items:
        raise SpecError(str(root), None, None, "holds no questions; check the file.")
    inst_id = "speechmap" if root.is_dir() else "speechmap-" + _slug(root.stem.removeprefix("zh_"))
    return Instrument(
        id=inst_id,
        title=Bilingual(en=f"SpeechMap questions ({root.name})", zh=f"SpeechMap 问题（{root.name}）"),
        description=f"Imported from {root} by twinstudy.instruments.loader.import_speechmap.",
        items=items,
    )


_CHOICE_LINE = re.compile(r"^\s*\(([A-H])\)\s*(.+?)\s*$")


def _answers(obj: dict[str, Any], key: str, path: Path, lineno: int) -> list[str]:
    value = obj.get(key)
    if isinstance(value, str) and value.strip():
        return [value.strip()]
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return [v.strip() for v in value]
    raise SpecError(str(path), lineno, key, "is missing or not a string (or list of strings); fix the line.")


def _split_choices(question: str) -> tuple[str, list[tuple[str, str]]]:
    """Separate '(A) ...' option lines from the question stem; drop a trailing 'Answer:'."""
    stem: list[str] = []
    choices: list[tuple[str, str]] = []
    for line in question.splitlines():
        m = _CHOICE_LINE.match(line)
        if m:
            choices.append((m.group(1), m.group(2)))
        elif not choices:
            stem.append(line)
    text = "\n".join(stem).strip()
    text = re.sub(r"\n\s*Choices:\s*$", "", text).strip()
    text = re.sub(r"\s*Answer:\s*$", "", text).strip()
    return text, choices


def _matching_tag(answer: str) -> str:
    return "matching-" + _slug(answer.strip(" ()"), "answer")


def import_anthropic_evals(path: str | Path) -> Instrument:
    """Items from an Anthropic model-written-evals JSONL file (persona or sycophancy format).

    Persona lines (with ``statement`` and Yes/No answers) become yesno items. Lines whose question
    lists ``(A) ...`` choices become choice items (no correct answer: the tag ``matching-<letter>``
    records which choice matches the behaviour). Other Yes/No questions become yesno items;
    anything else becomes an open item.
    """
    file = Path(path).expanduser()
    if file.is_dir():
        raise SpecError(str(file), None, None, "is a directory; give one JSONL file.")
    stem = _slug(file.stem, "evals")
    items: list[Item] = []
    for lineno, obj in _read_jsonl(file):
        question = _req_str(obj, "question", file, lineno).strip()
        matching = _answers(obj, "answer_matching_behavior", file, lineno)
        _answers(obj, "answer_not_matching_behavior", file, lineno)
        tags = ["anthropic-evals", stem] + [_matching_tag(a) for a in matching]
        yes_no = {a.strip().lower() for a in matching} <= {"yes", "no"}
        item_id = f"{stem}-{lineno:05d}"
        if "statement" in obj:
            _req_str(obj, "statement", file, lineno)
            if not yes_no:
                raise SpecError(
                    str(file), lineno, "answer_matching_behavior",
                    "a persona line must answer ' Yes' or ' No'; fix the line.",
                )
            items.append(
                Item(id=item_id, theme=stem, type="yesno", text=Texts(en=[question], zh=[question]),
                     tags=tags + ["persona"], note=UNTRANSLATED)
            )
            continue
        stem_text, choices = _split_choices(question)
        if len(choices) >= 2:
            options = [Bilingual(en=c[1], zh=c[1]) for c in choices[:8]]
            items.append(
                Item(id=item_id, theme=stem, type="choice", text=Texts(en=[stem_text], zh=[stem_text]),
                     options=options, tags=tags, note=UNTRANSLATED)
            )
        elif yes_no:
            items.append(
                Item(id=item_id, theme=stem, type="yesno", text=Texts(en=[question], zh=[question]),
                     tags=tags, note=UNTRANSLATED)
            )
        else:
            items.append(
                Item(id=item_id, theme=stem, type="open", text=Texts(en=[question], zh=[question]),
                     tags=tags, note=UNTRANSLATED)
            )
    if not items:
        raise SpecError(str(file), None, None, "holds no questions; check the file.")
    return Instrument(
        id="anthropic-" + stem,
        title=Bilingual(en=f"Anthropic evals: {file.stem}", zh=f"Anthropic 评测：{file.stem}"),
        description=f"Imported from {file} by twinstudy.instruments.loader.import_anthropic_evals "
        "(English-only; Chinese text is untranslated).",
        items=items,
    )
