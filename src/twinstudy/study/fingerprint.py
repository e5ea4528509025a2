"""A study's design fingerprint and a readable account of how two designs differ.

A trial's key already hashes everything that makes it "the same question asked the same way"
(model, wording, framing, parameters, ...). The design of a study is therefore exactly the set of
its trial keys, and its fingerprint is a hash of that set: any change that changes what would be
asked (``max_tokens`` 24 → 32, an edited item, a new model) gives a new fingerprint, and nothing
else does. The summary next to it exists only to tell the user *what* changed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from twinstudy.study.design import expand, model_fingerprint
from twinstudy.study.spec import ResolvedStudy

FINGERPRINT_CHARS = 12


def design_keys(rs: ResolvedStudy) -> list[str]:
    """Every trial key of the study as now defined, sorted."""
    return sorted(t.key for t in expand(rs))


def fingerprint_of(keys: list[str]) -> str:
    h = hashlib.sha256()
    for k in sorted(keys):
        h.update(k.encode("ascii"))
        h.update(b"\n")
    return h.hexdigest()[:FINGERPRINT_CHARS]


def _text_hash(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:10]


def design_summary(rs: ResolvedStudy) -> dict[str, Any]:
    """The design as flat, comparable fields: ``params.max_tokens``, ``model.<id>``, ``item.<id>``..."""
    s = rs.study
    out: dict[str, Any] = {
        "languages": list(s.languages),
        "framings": [f.id for f in rs.framings],
        "paraphrases": s.paraphrases,
        "samples": s.samples,
    }
    for k, v in s.params.model_dump().items():
        out[f"params.{k}"] = v
    for m in rs.models:
        out[f"model.{m.id}"] = _text_hash(model_fingerprint(m))
    for f in rs.framings:
        out[f"framing.{f.id}"] = _text_hash(f.model_dump())
    for inst, item in rs.items:
        out[f"item.{inst.id}/{item.id}"] = _text_hash(item.model_dump())
    return out


def _short(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return json.dumps(v) if v is None or isinstance(v, bool) else str(v)


def describe_changes(old: dict[str, Any], new: dict[str, Any], limit: int = 8) -> list[str]:
    """What differs between two design summaries, one short phrase per change."""
    changes: list[str] = []
    grouped: dict[str, dict[str, list[str]]] = {}
    for key in sorted(set(old) | set(new)):
        kind, _, name = key.partition(".")
        if kind in ("model", "item", "framing") and name:
            bucket = grouped.setdefault(kind, {"added": [], "removed": [], "changed": []})
            if key not in old:
                bucket["added"].append(name)
            elif key not in new:
                bucket["removed"].append(name)
            elif old[key] != new[key]:
                bucket["changed"].append(name)
        elif old.get(key) != new.get(key):
            changes.append(f"{key} {_short(old.get(key))} → {_short(new.get(key))}")
    for kind, bucket in grouped.items():
        for how, names in bucket.items():
            if names:
                shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                verb = {"added": "added", "removed": "removed", "changed": "changed (wording or settings)"}[how]
                changes.append(f"{kind}s {verb}: {shown}")
    if len(changes) > limit:
        changes = changes[:limit] + [f"and {len(changes) - limit} more changes"]
    return changes
