"""Find and load codebooks: bundled ones by id, a user's own from a YAML path.

Bundled codebooks live in ``twinstudy/coding/data/<id>.yaml``. Wherever a codebook id is accepted
(``twinstudy code --codebook``, a study's ``coding:`` section) a path to a YAML file works too, so a
researcher can code answers into categories of their own. Problems in a file are reported with its
file, line and field, like every other YAML file twinstudy reads.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from twinstudy.coding.codebook import Codebook
from twinstudy.errors import SpecError
from twinstudy.study.yamlfile import load_model

if TYPE_CHECKING:
    from twinstudy.store import Store

__all__ = ["bundled_codebook_ids", "codebooks_in", "load_codebook"]


def _data_dir() -> Path:
    return Path(str(resources.files("twinstudy.coding") / "data"))


@lru_cache(maxsize=1)
def _bundled() -> tuple[str, ...]:
    return tuple(sorted(p.name[: -len(".yaml")] for p in _data_dir().iterdir() if p.name.endswith(".yaml")))


def bundled_codebook_ids() -> list[str]:
    """Ids of the codebooks shipped with twinstudy, sorted."""
    return list(_bundled())


@lru_cache(maxsize=32)
def _load_bundled(codebook_id: str) -> Codebook:
    path = _data_dir() / f"{codebook_id}.yaml"
    book = load_model(Codebook, path)
    if book.id != codebook_id:
        raise SpecError(str(path), 1, "id", f"is '{book.id}' but the file is named '{codebook_id}.yaml'; "
                        "make them match.")
    return book


def load_codebook(id_or_path: str, base: Path | None = None) -> Codebook:
    """A bundled codebook by id, or a user's codebook from a YAML file (a relative path is taken
    relative to ``base`` when given, e.g. the folder of the study file that names it)."""
    if id_or_path in _bundled():
        return _load_bundled(id_or_path)
    path = Path(id_or_path).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    looks_like_path = path.suffix.lower() in (".yaml", ".yml") or "/" in id_or_path or path.exists()
    if not looks_like_path:
        msg = (f"unknown codebook '{id_or_path}'; the bundled ones are {', '.join(_bundled())} "
               "(`twinstudy codebooks` lists them), or give the path to a YAML file of your own.")
        err = SpecError(id_or_path, None, None, msg)
        err.args = (msg,)
        raise err
    if path.is_dir():
        raise SpecError(str(path), None, None, "is a directory; give the path to one codebook YAML file.")
    return load_model(Codebook, path)


def codebooks_in(store: Store) -> list[Codebook]:
    """The codebooks that have codes in ``store``, as the coders used them: the definition the
    database kept (user files included, so a report can show a codebook whose file is gone), else
    the bundled codebook of that id. Ids with neither are left out."""
    kept = store.stored_codebooks()
    out: list[Codebook] = []
    for cid in store.codebooks():
        if cid in kept:
            try:
                out.append(Codebook.model_validate_json(kept[cid]))
                continue
            except ValueError:
                pass  # a damaged entry: fall back to the bundled definition
        if cid in _bundled():
            out.append(_load_bundled(cid))
    return out
