"""``--models`` entries to participants, each a backend with a label of its own.

An entry is a registry name (``zai/glm-4.6``) or ``name@label`` (``local/smollm2-135m@cn``).
The label names the participant in the display and the database; it defaults to the name. The
same label may not appear twice, so two copies of one model need two labels — usually with
different system prompts (``--system-for cn="..."``), otherwise they are two samples of one model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twinstudy.errors import UserError
from twinstudy.models.base import Model, ModelInfo

LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]*$")


@dataclass
class Participant:
    label: str
    info: ModelInfo
    system: str | None = None
    model: Model | None = field(default=None, repr=False)

    @property
    def origin(self) -> str:
        return self.info.origin

    def backend(self) -> Model:
        if self.model is None:
            raise RuntimeError(f"participant {self.label} has no backend; call open_backends first")
        return self.model

    def metadata(self) -> dict[str, Any]:
        """What the database keeps about a participant (never a key or a key's value)."""
        return {"label": self.label, "id": self.info.id, "provider": self.info.provider,
                "model": self.info.model, "company": self.info.company, "origin": self.info.origin,
                "tier": self.info.tier, "open_weights": self.info.open_weights, "system": self.system}


def parse_model_list(spec: str) -> list[tuple[str, str]]:
    """``"a,b@x"`` -> ``[("a", "a"), ("x", "b")]`` as (label, registry name); rejects duplicates."""
    entries = [e.strip() for e in spec.split(",") if e.strip()]
    if not entries:
        raise UserError("--models is empty; name at least one model, e.g. --models local/smollm2-135m")
    out: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for entry in entries:
        name, _, label = entry.partition("@")
        name, label = name.strip(), (label.strip() or name.strip())
        if not name:
            raise UserError(f"--models entry '{entry}' has no model name before '@'.")
        if not LABEL_RE.match(label):
            raise UserError(f"label '{label}' in --models may use letters, digits and . _ - / : only.")
        if label in seen:
            raise UserError(f"'{label}' appears twice in --models; give each copy its own label, e.g. "
                            f"{name}@a,{name}@b (and --system-for a=... to make them differ).")
        seen[label] = name
        out.append((label, name))
    return out


def parse_system_for(values: tuple[str, ...] | list[str], labels: list[str]) -> dict[str, str]:
    """``LABEL=TEXT`` options to a dict, checking that each label is a participant."""
    out: dict[str, str] = {}
    for value in values:
        label, sep, text = value.partition("=")
        label = label.strip()
        if not sep or not label:
            raise UserError(f"--system-for '{value}' must look like LABEL=TEXT.")
        if label not in labels:
            raise UserError(f"--system-for names '{label}', which is not a label in --models "
                            f"({', '.join(labels)}).")
        out[label] = text
    return out


def parse_origin_for(values: tuple[str, ...] | list[str], labels: list[str]) -> dict[str, str]:
    """``LABEL=ORIGIN`` options to a dict, checking the label and the origin code."""
    from typing import get_args

    from twinstudy.models.base import Origin

    known = get_args(Origin)
    out: dict[str, str] = {}
    for value in values:
        label, sep, origin = (x.strip() for x in value.partition("="))
        if not sep or not label or not origin:
            raise UserError(f"--origin-for '{value}' must look like LABEL=ORIGIN, e.g. cn=CN.")
        if label not in labels:
            raise UserError(f"--origin-for names '{label}', which is not a participant ({', '.join(labels)}).")
        if origin.upper() not in known:
            raise UserError(f"--origin-for '{value}': origin must be one of {', '.join(known)}.")
        out[label] = origin.upper()
    return out


def build_participants(spec: str, *, lang: str, system: str | None = None,
                       system_for: tuple[str, ...] | list[str] = (), study: Path | None = None,
                       origin_for: tuple[str, ...] | list[str] = ()) -> list[Participant]:
    """Resolve every entry (registry names, and a study file's models with their endpoints, declared
    origins and system prompts) and check API keys, before anything is sent."""
    from twinstudy.models.registry import missing_key, resolve

    infos: list[tuple[str, ModelInfo]] = []
    if study is not None:
        from twinstudy.study.spec import load_study

        infos += [(m.id, m) for m in load_study(study).models]
    pairs = parse_model_list(spec) if spec.strip() else []
    infos += [(label, resolve(name)) for label, name in pairs]
    labels = [label for label, _ in infos]
    if len(set(labels)) != len(labels):
        raise UserError("a participant label appears twice (in --models and the study); give each its own "
                        "label with NAME@LABEL.")
    if not infos:
        raise UserError("no participant: name models with --models or give a --study whose `models:` lists some.")
    per_label = parse_system_for(system_for, labels)
    origins = parse_origin_for(origin_for, labels)
    participants = []
    for label, info in infos:
        if label in origins:
            info = info.model_copy(update={"origin": origins[label]})
        own = per_label.get(label, system if system is not None else info.system_prompt(lang))
        participants.append(Participant(label=label, info=info, system=own or None))
    missing = [(p.info.id, env) for p in participants if (env := missing_key(p.info))]
    if missing:
        parts = "; ".join(f"{mid} needs {env}" for mid, env in dict(missing).items())
        envs = " ".join(sorted({f"{env}=..." for _, env in missing}))
        raise UserError(f"missing API key: {parts}. Set it first (export {envs}); keys are read from the "
                        "environment and never stored.")
    return participants


def open_backends(participants: list[Participant]) -> None:
    from twinstudy.models.factory import create_model

    for p in participants:
        if p.model is None:
            p.model = create_model(p.info)


async def close_backends(participants: list[Participant]) -> None:
    for p in participants:
        if p.model is not None:
            await p.model.aclose()
