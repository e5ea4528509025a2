"""Load YAML files into pydantic models with errors that name file, line and field.

PyYAML's composed node tree keeps source positions; pydantic's error locations are paths into the
loaded data. Walking one with the other turns a validation error into ``file:line: field '...'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

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


def validation_to_spec_error(path: Path, node: yaml.Node | None, exc: ValidationError) -> SpecError:
    """Turn the first pydantic error into a one-line SpecError with file, line and field."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    # Drop pydantic's union-branch tags such as 'str' or 'InlineModel' from the location.
    loc = tuple(p for p in loc if not (isinstance(p, str) and p[:1].isupper()) and p not in ("str",))
    if err["type"] == "extra_forbidden":
        line = _key_line(node, loc)
        msg = "is not a known field; remove it or check its spelling."
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
        raise validation_to_spec_error(path, node, exc) from None
