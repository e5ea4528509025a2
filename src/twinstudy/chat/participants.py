"""``--models`` entries to participants, each a backend with a label of its own.

An entry is a registry name (``zai/glm-4.6``) or ``name@label`` (``local/smollm2-135m@cn``).
The label names the participant in the display and the database; it defaults to the name. The
same label may not appear twice, so two copies of one model need two labels — usually with
different system prompts (``--system-for cn="..."``), otherwise they are two samples of one model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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


def build_participants(spec: str, *, lang: str, system: str | None = None,
                       system_for: tuple[str, ...] | list[str] = ()) -> list[Participant]:
    """Resolve every entry in the registry and check API keys, before anything is sent."""
    from twinstudy.models.registry import missing_key, resolve

    pairs = parse_model_list(spec)
    per_label = parse_system_for(system_for, [label for label, _ in pairs])
    participants = []
    for label, name in pairs:
        info = resolve(name)
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
