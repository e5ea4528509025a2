"""Structure checks: no module-level import cycle, and no data-file field that no code reads.

Both walk the source with ``ast`` (nothing is imported to find the edges), so they are fast.
"""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

from pydantic import BaseModel

SRC = Path(__file__).resolve().parent.parent / "src"
PKG = SRC / "twinstudy"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: not in functions, not under TYPE_CHECKING."""
    found: list[ast.Import | ast.ImportFrom] = []

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.append(node)
            elif isinstance(node, ast.If) and not _is_type_checking(node):
                walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                for part in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                    walk(part)
            elif isinstance(node, ast.ClassDef):
                walk(node.body)

    walk(tree.body)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> modules whose code runs when it is imported (submodules and their parent
    packages outside the importer's own package)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                if not t.startswith("twinstudy"):
                    continue
                parts = t.split(".")
                for i in range(1, len(parts) + 1):
                    dep = ".".join(parts[:i])
                    if dep in mods and dep != name and not (name + ".").startswith(dep + "."):
                        graph[name].add(dep)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_level_import_cycle() -> None:
    graph = import_graph()
    assert "twinstudy.store" in graph["twinstudy.scoring.trial_scoring"]  # the walker sees package inits
    assert cycles(graph) == []
    # The leaves everything imports (README, "Layout") import nothing of twinstudy themselves.
    assert graph["twinstudy.vocab"] == graph["twinstudy.errors"] == set()
    # analysis works on frames and never opens a database.
    assert not any(d.startswith("twinstudy.store") for m, deps in graph.items() if m.startswith("twinstudy.analysis")
                   for d in deps)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# -- every field of a data file is read by some code --------------------------------------------

# Fields declared and filled in data files that no code reads yet, each with who wires it. The
# lead empties this at merge time; a field may only be listed here while someone is wiring it.
NOT_YET_READ: dict[str, str] = {}

# Fields whose reader is a person looking at the data file: where a value came from, and why.
FOR_PEOPLE = {"Preset.docs", "ModelInfo.notes"}


def _schemas() -> list[type[BaseModel]]:
    from twinstudy.instruments.schema import FramingSet, Instrument
    from twinstudy.models.base import ModelInfo
    from twinstudy.models.presets import Preset
    from twinstudy.study.spec import Study

    return [Preset, ModelInfo, Instrument, FramingSet, Study]


def _walk(model: type[BaseModel], seen: dict[str, type[BaseModel]]) -> None:
    if model.__name__ in seen:
        return
    seen[model.__name__] = model
    for f in model.model_fields.values():
        stack = [f.annotation]
        while stack:
            t = stack.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                _walk(t, seen)
            stack.extend(typing.get_args(t))


def _code_without_declarations() -> str:
    """All source text, minus the lines that declare pydantic fields (``name: type = ...``)."""
    declaration = re.compile(r"^\s{4}[a-z_][a-z0-9_]*\s*:\s*[^=]")
    texts = []
    for path in PKG.rglob("*.py"):
        texts.extend(line for line in path.read_text(encoding="utf-8").splitlines() if not declaration.match(line))
    return "\n".join(texts)


def test_every_field_of_a_data_schema_is_read_by_some_code() -> None:
    seen: dict[str, type[BaseModel]] = {}
    for schema in _schemas():
        _walk(schema, seen)
    code = _code_without_declarations()
    fields = [(f"{cls}.{name}", name) for cls, model in seen.items() for name in model.model_fields]
    fields += [(f"prices.{k}", k) for k in ("input", "output", "batch_discount")]
    unread = []
    for qual, name in fields:
        # An attribute read, or a key read on a dump of it (stored JSON, a forwarded model_dump).
        read = re.search(rf"\.{name}\b|\bget\([\"']{name}[\"']|\[[\"']{name}[\"']\]", code)
        if not read and qual not in NOT_YET_READ and qual not in FOR_PEOPLE:
            unread.append(qual)
        if qual in NOT_YET_READ and re.search(rf"\.{name}\b", code):
            unread.append(f"{qual} (is read now: take it off NOT_YET_READ)")
    assert not unread, f"fields no code reads (wire them, remove them, or list who wires them): {unread}"
    stale = [q for q in NOT_YET_READ if q.split(".")[0] in seen or q.startswith("prices.")]
    assert stale == list(NOT_YET_READ), "NOT_YET_READ names a schema this test no longer walks"
