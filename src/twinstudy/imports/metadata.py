"""Who made each imported model, where, and from which base model: read from data, never guessed.

The bundled ``data/models.yaml`` covers the models of SpeechMap's criticism sets, each entry with
its sources. A user importing other transcripts passes their own file in the same format
(``--models FILE``); its entries override the bundled ones. A model found in neither keeps origin
``UNKNOWN`` and company ``unknown``: a name prefix says who hosted a model, not who made it
(``openrouter/...`` models were anonymous; ``tngtech/...`` is a German company's merge of DeepSeek
weights).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from twinstudy.errors import SpecError

BUNDLED = "data/models.yaml"


class ImportedModel(BaseModel):
    """One model's metadata entry (see the header of ``data/models.yaml`` for each field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    company: str = "unknown"
    origin: str = Field(default="UNKNOWN", pattern=r"^[A-Z]{2,7}$")
    tier: Literal["platform", "ai-native", "lab", "unknown"] = "unknown"
    open_weights: bool | None = None
    base_model: str | None = None
    post_trainer: str | None = None
    post_trainer_origin: str | None = Field(default=None, pattern=r"^[A-Z]{2,7}$")
    lineage_kind: Literal["post-trained", "merge", "distilled"] | None = None
    notes: str = ""
    sources: list[str] = Field(default_factory=list)


def _parse(text: str, where: str) -> dict[str, ImportedModel]:
    try:
        doc = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(where, None, None, f"is not valid YAML ({exc}); fix the file.") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise SpecError(where, None, "models", "must hold a list `models:` of entries {id, company, origin, ...}.")
    nodes: list[Any] = []
    if doc is not None:
        for k, v in getattr(doc, "value", []):
            if getattr(k, "value", None) == "models":
                nodes = list(getattr(v, "value", []))
    out: dict[str, ImportedModel] = {}
    for i, entry in enumerate(data["models"]):
        line = nodes[i].start_mark.line + 1 if i < len(nodes) else None
        try:
            m = ImportedModel(**entry) if isinstance(entry, dict) else None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise SpecError(where, line, f"models[{i}]", f"is not a valid model entry ({problems}).") from None
        if m is None:
            raise SpecError(where, line, f"models[{i}]", "must be a mapping with at least `id`.")
        if m.id in out:
            raise SpecError(where, line, f"models[{i}]", f"lists '{m.id}' a second time; keep one entry.")
        out[m.id] = m
    return out


@functools.cache
def bundled_models() -> dict[str, ImportedModel]:
    text = resources.files("twinstudy.imports").joinpath(BUNDLED).read_text("utf-8")
    return _parse(text, f"twinstudy/imports/{BUNDLED}")


def load_models_file(path: str | Path) -> dict[str, ImportedModel]:
    p = Path(path).expanduser()
    if not p.is_file():
        raise SpecError(str(p), None, None, "not found; give a YAML file with `models:` entries "
                        "(see twinstudy/imports/data/models.yaml for the format).")
    return _parse(p.read_text(encoding="utf-8"), str(p))


def info_for(model_id: str, entry: ImportedModel | None) -> dict[str, Any]:
    """The ``models.info_json`` record of an imported model (what the scored frame reads)."""
    provider = model_id.split("/", 1)[0] if "/" in model_id else "imported"
    if entry is None:
        return {"id": model_id, "provider": provider, "model": model_id, "company": "unknown",
                "origin": "UNKNOWN", "tier": "unknown", "open_weights": None, "imported": True,
                "metadata": "none"}
    info = entry.model_dump(exclude_none=True)
    info.update({"provider": provider, "model": model_id, "imported": True, "metadata": "file"})
    return info


def models_info(ids: Iterable[str], user: dict[str, ImportedModel] | None = None) -> dict[str, dict[str, Any]]:
    known = {**bundled_models(), **(user or {})}
    return {m: info_for(m, known.get(m)) for m in sorted(set(ids))}


def speechmap_models(ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    return models_info(ids)
