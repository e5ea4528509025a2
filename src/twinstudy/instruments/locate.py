"""Point an instrument-level problem (a repeated item id, an undeclared Likert theme) at the line
of the item that causes it: pydantic reports those for the whole instrument, with no field."""

from __future__ import annotations

from pathlib import Path

import yaml

from twinstudy.errors import SpecError
from twinstudy.study.yamlfile import read_yaml
from twinstudy.vocab import LIKERT_TYPES


def key_node(mapping: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(mapping, yaml.MappingNode):
        for k, v in mapping.value:
            if str(k.value) == key:
                return k, v
    return None


def locate_item_problem(path: Path) -> None:
    """Raise a SpecError at the item whose id repeats or whose Likert theme is undeclared."""
    data, node = read_yaml(path)
    if not isinstance(data, dict) or node is None:
        return
    items_kv = key_node(node, "items")
    items = data.get("items")
    if items_kv is None or not isinstance(items, list) or not isinstance(items_kv[1], yaml.SequenceNode):
        return
    themes = data.get("themes") or {}
    declared = set(themes) if isinstance(themes, dict) else set()
    seen: dict[str, int] = {}
    for i, (raw, item_node) in enumerate(zip(items, items_kv[1].value, strict=False)):
        if not isinstance(raw, dict):
            continue
        item_id = raw.get("id")
        if isinstance(item_id, str):
            if item_id in seen:
                kv = key_node(item_node, "id")
                line = (kv[1] if kv else item_node).start_mark.line + 1
                first = seen[item_id]
                raise SpecError(
                    str(path), line, f"items[{i}].id",
                    f"'{item_id}' is already used by items[{first}]; item ids must be unique.",
                )
            seen[item_id] = i
        theme = raw.get("theme")
        if raw.get("type") in LIKERT_TYPES and isinstance(theme, str) and theme not in declared:
            kv = key_node(item_node, "theme")
            line = (kv[1] if kv else item_node).start_mark.line + 1
            raise SpecError(
                str(path), line, f"items[{i}].theme",
                f"'{theme}' is not declared under 'themes'; declare it with its pole.",
            )
