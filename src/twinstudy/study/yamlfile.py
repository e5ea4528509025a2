"""Load YAML files into pydantic models with errors that name file, line and field.

PyYAML's composed node tree keeps source positions; pydantic's error locations are paths into the
loaded data. Walking one with the other turns a validation error into ``file:line: field '...'``.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError

from twinstudy.errors import SpecError

M = TypeVar("M", bound=BaseModel)


def _node_at(node: yaml.Node | None, loc: tuple[int | str, ...]) -> yaml.Node | None:
    """Follow a pydantic error location through the YAML node tree as far as it goes."""
    current = node
    for part in loc:
        if isinstance(current, yaml.MappingNode):
            nxt = None
            for key, value in current.value:
                if str(key.value) == str(part):
                    nxt = value
                    break
            if nxt is None:
                return current
            current = nxt
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(current.value):
                current = current.value[part]
            else:
                return current
        else:
            return current
    return current


def _key_line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Line of the mapping key named last in ``loc`` (an unknown field points at itself)."""
    if not loc:
        return None
    parent = _node_at(node, loc[:-1])
    if isinstance(parent, yaml.MappingNode):
        for key, _value in parent.value:
            if str(key.value) == str(loc[-1]):
                return int(key.start_mark.line) + 1
    return None


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse a YAML file, returning the data and its node tree; syntax errors become SpecError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(str(path), None, None, "file not found; check the path.") from None
    except UnicodeDecodeError:
        raise SpecError(str(path), None, None, "is not UTF-8 text; save it as UTF-8.") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or "invalid YAML"
        raise SpecError(str(path), line, None, f"invalid YAML ({problem}); fix the syntax.") from None
    except yaml.YAMLError as exc:  # pragma: no cover - unusual non-marked errors
        raise SpecError(str(path), None, None, f"invalid YAML ({exc}); fix the syntax.") from None
    return data, node


def format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_SCALAR_TAGS = ("str", "int", "float", "bool", "literal", "function", "constrained", "none")


def _is_tag(part: str) -> bool:
    """A pydantic union-branch or validator tag in an error location (not a field name)."""
    return part[:1].isupper() or "[" in part or part.startswith(_SCALAR_TAGS) or part in ("list", "dict")


def _tag_fits(tag: str, node: yaml.Node | None) -> bool:
    """Whether a union branch could be the one the user meant, given what they wrote there."""
    if node is None:
        return True
    if isinstance(node, yaml.MappingNode):
        return tag[:1].isupper() or tag.startswith("dict")
    if isinstance(node, yaml.SequenceNode):
        return tag.startswith(("list", "tuple", "set"))
    return not (tag[:1].isupper() or tag.startswith(("dict", "list")))


def _walk(node: yaml.Node | None, loc: tuple[int | str, ...]) -> tuple[tuple[int | str, ...], list[str], bool]:
    """Split a pydantic location into the path the user wrote and the union tags on the way.

    Returns (field path, tags, whether every tag fits the YAML written at its place). A field name
    absent from its mapping (a missing field) ends the path.
    """
    path: list[int | str] = []
    tags: list[str] = []
    fits = True
    current = node
    for part in loc:
        if isinstance(part, int):
            path.append(part)
            if isinstance(current, yaml.SequenceNode) and 0 <= part < len(current.value):
                current = current.value[part]
            else:
                current = None
            continue
        if isinstance(current, yaml.MappingNode):
            found = next((v for k, v in current.value if str(k.value) == part), None)
            if found is not None:
                path.append(part)
                current = found
                continue
        if _is_tag(part):
            tags.append(part)
            fits = fits and _tag_fits(part, current)
            continue
        path.append(part)
        current = None
    return tuple(path), tags, fits


def _model_classes(annotation: Any) -> list[type[BaseModel]]:
    """Every pydantic model class inside a type annotation (through lists, dicts and unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        out.extend(_model_classes(arg))
    return out


def _model_at(root: type[BaseModel] | None, path: tuple[int | str, ...], tags: list[str]) -> type[BaseModel] | None:
    """The model class that holds the last field of ``path`` (for "did you mean" suggestions)."""
    cls = root
    for part in path[:-1]:
        if cls is None:
            return None
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(part)
        if field is None:
            return None
        options = _model_classes(field.annotation)
        named = [c for c in options if c.__name__ in tags]
        chosen = named or options
        cls = chosen[0] if len(chosen) == 1 or named else None
    return cls


def _close(word: str, choices: list[str]) -> str | None:
    # A prefix first ('likert' -> 'likert5', the first in order), then the closest spelling.
    found = [c for c in choices if word and c.startswith(word)][:1]
    found = found or difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def _pick_error(node: yaml.Node | None, errors: list[Any]) -> tuple[Any, tuple[int | str, ...], list[str]]:
    """The error of the union branch that matches what was written (a mapping means the model
    entry, not the plain-string form), so a typo inside an entry is reported at its own field."""
    walked = [(err, *_walk(node, tuple(err["loc"]))) for err in errors]
    err, path, tags, _ = ([w for w in walked if w[3]] or walked)[0]
    return err, path, tags


def validation_to_spec_error(path: Path, node: yaml.Node | None, exc: ValidationError,
                             model: type[BaseModel] | None = None) -> SpecError:
    """Turn a pydantic error into a one-line SpecError with file, line, field and a suggestion."""
    err, loc, tags = _pick_error(node, exc.errors(include_url=False))
    if err["type"] == "extra_forbidden":
        line = _key_line(node, loc)
        msg = "is not a known field"
        holder = _model_at(model, loc, tags)
        guess = _close(str(loc[-1]), list(holder.model_fields)) if holder is not None and loc else None
        msg += f" (did you mean '{guess}'?); correct it." if guess else "; remove it or check its spelling."
    else:
        target = _node_at(node, loc)
        line = int(target.start_mark.line) + 1 if target is not None else None
        if err["type"] == "missing":
            line = _key_line(node, loc[:-1]) or line
            msg = "is required; add it."
        else:
            msg = str(err["msg"]).rstrip(".")
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):] + "."  # our validators already say what to do
            elif err["type"] == "literal_error":
                allowed = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
                guess = _close(str(err.get("input")), allowed)
                msg += f" (did you mean '{guess}'?); correct it." if guess else "; correct it."
            else:
                msg += "; correct it."
    if line is None and node is not None:
        line = int(node.start_mark.line) + 1
    return SpecError(str(path), line, format_loc(loc) or None, msg)


def load_model(model: type[M], path: Path, context: dict[str, Any] | None = None) -> M:
    data, node = read_yaml(path)
    if data is None:
        raise SpecError(str(path), 1, None, "is empty; see the README for a minimal example.")
    if not isinstance(data, dict):
        raise SpecError(str(path), 1, None, "must be a YAML mapping of fields; see the README for an example.")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise validation_to_spec_error(path, node, exc, model) from None


def jsonl_objects(path: Path, text: str, after: str = "") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSONL file's ``text``; a line that is not
    a JSON object is a SpecError naming the file and line. ``after`` is added to the advice (e.g.
    that nothing was written). One reader for instrument imports and transcript imports alike."""
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SpecError(str(path), lineno, None,
                            f"is not valid JSON ({exc.msg}); fix or remove the line{after}.") from None
        if not isinstance(obj, dict):
            raise SpecError(str(path), lineno, None, f"is not a JSON object; fix or remove the line{after}.")
        yield lineno, obj

