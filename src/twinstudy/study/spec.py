"""The study file: what to ask, of which models, in which languages and framings.

Validation happens in two passes. Pydantic checks shape and types; then names are resolved against
the model registry, the instrument banks and the framings, so that an unknown name is reported with
the file and line where it was written — before any database is created or any model is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from twinstudy.coding.codebook import Codebook
from twinstudy.errors import SpecError, UserError
from twinstudy.instruments.schema import Framing, Instrument, Item
from twinstudy.models.base import ModelInfo
from twinstudy.run.prices import price_of
from twinstudy.study.yamlfile import _key_line, _node_at, load_model, read_yaml
from twinstudy.vocab import Lang

Language = Lang  # the study file's name for it


class Params(BaseModel):
    """Sampling parameters; they are part of every trial's key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(default=0.7, ge=0, le=2, description="sampling temperature; null sends none")
    top_p: float | None = Field(default=None, gt=0, le=1, description="nucleus sampling; null sends none")
    max_tokens: int = Field(default=256, ge=1, le=200_000, description="reply length cap (tokens)")
    seed: int = Field(default=0, description="base seed; each trial derives its own from it and its cell")
    logprobs: bool = Field(default=False, description="read closed answers as label distributions where the "
                           "backend returns them (the embedded model always can)")
    # "json_schema" sends OpenAI's response_format json_schema (OpenAI, vLLM, llama-server);
    # "json_object" sends {"type": "json_object", "schema": ...} (llama-cpp-python's server and
    # llama-server); true picks json_object for the llamacpp provider, json_schema otherwise.
    structured: bool | Literal["json_schema", "json_object"] = Field(default=False, description=(
        "ask for a constrained closed answer {\"answer\": ...} where the backend supports it (the embedded "
        "model through a llama.cpp grammar); text parsing stays the fallback"))

    def key_fields(self) -> dict[str, Any]:
        """The fields hashed into trial keys; ``structured`` only when on, so that the keys of
        studies written before it existed stay the same."""
        d = self.model_dump()
        if not d.get("structured"):
            d.pop("structured", None)
        return d


class InstrumentRef(BaseModel):
    """An instrument, optionally narrowed to items with given tags or ids.

    ``id`` is a bundled id, a path to a YAML instrument, or an importer and a path to a public
    dataset: ``speechmap:PATH`` (SpeechMap question JSONL, a file or folder) or
    ``anthropic-evals:PATH`` (Anthropic model-written-evals JSONL).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="bundled id, path to a YAML file, or IMPORTER:PATH")
    tags: list[str] = Field(default_factory=list, description="keep items carrying any of these tags")
    items: list[str] = Field(default_factory=list, description="keep only these item ids")
    limit: int | None = Field(default=None, ge=1, description="keep at most this many items (after tags/items)")


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class InlineModel(BaseModel):
    """A model entry written in the study file; the key itself is never written here.

    Either a registry id with overrides (``{id: zai/glm-4.7, reasoning_effort: high}``), any model
    on a known provider (``{provider: zai, model: glm-4.7-flash, origin: CN}``; the id defaults to
    ``provider/model``), or an endpoint (``provider`` defaults to ``openai-compatible`` when a
    ``base_url`` is given).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$")
    provider: str | None = None
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    origin: str | None = None
    company: str | None = None
    tier: str | None = None
    open_weights: bool | None = None
    release_date: str | None = None
    system: str | dict[Language, str] | None = None
    max_concurrency: int | None = Field(default=None, ge=1, le=4096)
    thinking: bool | None = None
    reasoning_effort: str | None = Field(default=None, min_length=1, description=(
        "sent as reasoning_effort (Anthropic: output_config.effort); the registry lists the values "
        "each model takes"))
    timeout: float | None = Field(default=None, gt=0, le=3600, description="seconds per request")
    account_max_concurrency: int | None = Field(default=None, ge=1, le=4096, description=(
        "the most requests in flight over every model on the same provider account (provider, "
        "endpoint and key); the lowest value given wins"))
    price: Price | None = Field(default=None, description="USD per million tokens, for plan and --max-cost")
    extends: str | None = Field(default=None, description="a registry model this entry is a variant of")
    base_model: str | None = Field(default=None, description="the model this one was post-trained from")
    batch: bool | None = Field(default=None, description=(
        "send this model's trials through its provider's batch API (about half price, results within a "
        "day); `twinstudy run --batch` does it for every model whose provider has one"))

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"'{v}' has no scheme; write it as http://{v} (or https://)")
        return v


class JudgeSpec(BaseModel):
    """An LLM judge for the study's open requests; its verdicts are stored as scores of their own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | InlineModel = Field(description="a registry id, the id of a model in this study, or an inline entry")
    prompt: str = Field(default="default", min_length=1,
                        description="'default' (twinstudy's published prompt) or a text file with {request} and {reply}")
    max_tokens: int = Field(default=400, ge=16, le=32_000)
    concurrency: int = Field(default=4, ge=1, le=256)


class CodingSpec(BaseModel):
    """Code the study's open replies into codebook categories after the run (twinstudy.coding);
    `twinstudy code DB` does the same later, and again with other coders."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    codebooks: list[str] = Field(min_length=1, description="bundled codebook ids (`twinstudy codebooks`) or "
                                 "codebook YAML files, relative to the study file")
    coders: list[str | InlineModel] = Field(default_factory=lambda: list[str | InlineModel](["lexicon"]), min_length=1, description=(
        "`lexicon` (offline keyword rules) and/or judge models: a registry id, the id of a model in this "
        "study, or an inline entry; each coder's codes are kept apart, the last one listed is the one "
        "the analysis reads"))
    all_open: bool = Field(default=False, description="code every open reply, not only those each "
                           "codebook's `applies_to` names")
    max_tokens: int = Field(default=400, ge=16, le=32_000, description="longest judge reply")
    concurrency: int = Field(default=4, ge=1, le=256, description="judge calls in flight at a time")


class Study(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                      description="names the default results folder twinstudy-runs/NAME/")
    description: str = Field(default="", description="shown at the top of the report")
    models: list[str | InlineModel] = Field(min_length=1, description="registry names or model entries")
    instruments: list[str | InstrumentRef] = Field(min_length=1, description="question banks to ask")
    languages: list[Language] = Field(default_factory=lambda: list[Language](["en", "zh"]), min_length=1,
                                      description="every item is asked in each language")
    framings: list[str] = Field(default_factory=lambda: ["neutral"], min_length=1,
                                description="framing ids (`twinstudy framings` lists them)")
    framings_file: str | None = Field(default=None, description="a YAML file of your own framings, "
                                      "relative to the study file")
    paraphrases: int = Field(default=1, ge=1, le=20, description="wordings per item (as many as it has)")
    samples: int = Field(default=1, ge=1, le=1000, description="repeated asks per cell; 1 leaves "
                         "sampling noise unestimated")
    params: Params = Field(default_factory=Params, description="sampling parameters, part of every trial key")
    judge: JudgeSpec | None = Field(default=None, description="an LLM judge for open replies (run after the "
                                    "models; `twinstudy rescore --judge` runs one later)")
    coding: CodingSpec | None = Field(default=None, description="code open replies into categories after "
                                      "the run (`twinstudy code` codes them later)")
    note: str = Field(default="", description="free text kept with the study")

    @field_validator("languages", "framings")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("lists a value twice; list each once")
        return v


@dataclass(frozen=True)
class ResolvedStudy:
    """A validated study with every name resolved: what the design step expands."""

    study: Study
    source: str
    text: str
    models: list[ModelInfo]
    instruments: list[Instrument]
    items: list[tuple[Instrument, Item]]
    framings: list[Framing]
    judge: ResolvedJudge | None = None
    coding: ResolvedCoding | None = None


@dataclass(frozen=True)
class ResolvedCoding:
    """The codebooks and coders of a study's ``coding:`` section; a coder is ``"lexicon"`` or the
    judge model's entry."""

    codebooks: list[Codebook]
    coders: list[str | ModelInfo]
    all_open: bool = False
    max_tokens: int = 400
    concurrency: int = 4


@dataclass(frozen=True)
class ResolvedJudge:
    """The judge model, the prompt text and where it came from ("default" or the file's path)."""

    info: ModelInfo
    prompt: str
    prompt_name: str
    max_tokens: int = 400
    concurrency: int = 4


def _line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    target = _node_at(node, loc)
    return int(target.start_mark.line) + 1 if target is not None else None


def _inline_to_info(m: InlineModel) -> dict[str, Any]:
    fields = {k: v for k, v in m.model_dump().items() if v is not None}
    if "provider" not in fields and (fields.get("base_url") or not fields.get("id")):
        fields["provider"] = "openai-compatible"  # an endpoint; a bare id names a registry entry
    return fields


def resolve_study(study: Study, path: Path, node: yaml.Node | None, text: str, *,
                  allow_retired: bool = False) -> ResolvedStudy:
    from twinstudy.instruments.loader import (
        import_anthropic_evals,
        import_speechmap,
        load_framings,
        load_instrument,
    )

    IMPORTERS: dict[str, Callable[[str], Instrument]] = {
        "speechmap:": import_speechmap,
        "anthropic-evals:": import_anthropic_evals,
    }
    from twinstudy.models.registry import resolve

    src = str(path)
    infos: list[ModelInfo] = []
    for i, ref in enumerate(study.models):
        try:
            if isinstance(ref, InlineModel) and ref.extends:
                fields = _inline_to_info(ref)
                fields.pop("extends")
                fields.pop("provider", None)
                base = resolve(ref.extends, allow_retired=allow_retired)
                info = base.model_copy(update=fields)
                if info.price is None and base.provider != "local":  # a variant costs what its base costs
                    info = info.model_copy(update={"price": price_of(base)})
            else:
                info = resolve(ref if isinstance(ref, str) else _inline_to_info(ref),
                               allow_retired=allow_retired)
        except UserError as exc:
            raise SpecError(src, _line(node, ("models", i)), f"models[{i}]", str(exc)) from None
        if info.id in {m.id for m in infos}:
            raise SpecError(src, _line(node, ("models", i)), f"models[{i}]",
                            f"model id '{info.id}' is listed twice; give each variant its own id.")
        infos.append(info)

    instruments: list[Instrument] = []
    items: list[tuple[Instrument, Item]] = []
    for i, iref in enumerate(study.instruments):
        iref_model = InstrumentRef(id=iref) if isinstance(iref, str) else iref
        ident = iref_model.id
        importer = None
        if ident.startswith(tuple(IMPORTERS)):
            prefix, _, ident = ident.partition(":")
            importer = IMPORTERS[prefix + ":"]
        if (importer or ident.endswith((".yaml", ".yml"))) and not Path(ident).is_absolute():
            ident = str((path.parent / ident).resolve())
        try:
            inst = importer(ident) if importer else load_instrument(ident)
        except SpecError as exc:
            if exc.line is None:  # the file itself is missing or unreadable: point at the study
                raise SpecError(src, _line(node, ("instruments", i)), f"instruments[{i}]", exc.message) from None
            raise
        chosen = [
            it for it in inst.items
            if (not iref_model.tags or set(iref_model.tags) & set(it.tags))
            and (not iref_model.items or it.id in iref_model.items)
        ]
        missing = set(iref_model.items) - {it.id for it in inst.items}
        if missing:
            raise SpecError(src, _line(node, ("instruments", i)), f"instruments[{i}].items",
                            f"names items not in '{inst.id}': {', '.join(sorted(missing))}; "
                            f"run `twinstudy instruments --show {inst.id}` to see its items.")
        if iref_model.limit is not None:
            chosen = chosen[: iref_model.limit]
        if not chosen:
            raise SpecError(src, _line(node, ("instruments", i)), f"instruments[{i}]",
                            f"selects no items from '{inst.id}'; loosen the tags or item list.")
        instruments.append(inst)
        items.extend((inst, it) for it in chosen)

    framings_path = study.framings_file
    if framings_path and not Path(framings_path).is_absolute():
        framings_path = str((path.parent / framings_path).resolve())
    known = load_framings(framings_path)
    framings: list[Framing] = []
    for i, fid in enumerate(study.framings):
        if fid not in known:
            raise SpecError(src, _line(node, ("framings", i)), f"framings[{i}]",
                            f"unknown framing '{fid}'; known framings are {', '.join(sorted(known))}, "
                            "or define your own in a framings_file.")
        framings.append(known[fid])
        _check_framing_languages(known[fid], study.languages, framings_path, src, node, i)
    judge = _resolve_judge(study.judge, infos, path, node) if study.judge else None
    coding = _resolve_coding(study.coding, infos, path, node) if study.coding else None
    return ResolvedStudy(study, src, text, infos, instruments, items, framings, judge, coding)


def _resolve_model_ref(ref: str | InlineModel, infos: list[ModelInfo]) -> ModelInfo:
    """A judge or coder model: a model of this study, a registry id or an inline entry."""
    from twinstudy.models.registry import resolve

    if isinstance(ref, str):
        own = {m.id: m for m in infos}
        return own[ref] if ref in own else resolve(ref)
    if ref.extends:
        fields = _inline_to_info(ref)
        fields.pop("extends")
        fields.pop("provider", None)
        return resolve(ref.extends).model_copy(update=fields)
    return resolve(_inline_to_info(ref))


def _resolve_coding(spec: CodingSpec, infos: list[ModelInfo], path: Path, node: yaml.Node | None) -> ResolvedCoding:
    from twinstudy.coding.loader import load_codebook

    src = str(path)
    books: list[Codebook] = []
    for i, ref in enumerate(spec.codebooks):
        try:
            books.append(load_codebook(ref, base=path.parent))
        except SpecError as exc:
            if exc.line is None:  # unknown id or missing file: point at the study
                raise SpecError(src, _line(node, ("coding", "codebooks", i)), f"coding.codebooks[{i}]",
                                exc.message) from None
            raise
    coders: list[str | ModelInfo] = []
    for i, cref in enumerate(spec.coders):
        if cref == "lexicon":
            coders.append("lexicon")
            continue
        try:
            coders.append(_resolve_model_ref(cref, infos))
        except UserError as exc:
            raise SpecError(src, _line(node, ("coding", "coders", i)), f"coding.coders[{i}]",
                            f"{exc} (or write `lexicon` for the offline keyword coder)") from None
    return ResolvedCoding(books, coders, spec.all_open, spec.max_tokens, spec.concurrency)


def _resolve_judge(spec: JudgeSpec, infos: list[ModelInfo], path: Path, node: yaml.Node | None) -> ResolvedJudge:
    from twinstudy.models.registry import resolve
    from twinstudy.scoring.judge import JUDGE_PROMPT, check_prompt

    src = str(path)
    ref = spec.model
    try:
        if isinstance(ref, str):
            own = {m.id: m for m in infos}
            info = own[ref] if ref in own else resolve(ref)
        elif ref.extends:
            fields = _inline_to_info(ref)
            fields.pop("extends")
            fields.pop("provider", None)
            info = resolve(ref.extends).model_copy(update=fields)
        else:
            info = resolve(_inline_to_info(ref))
    except UserError as exc:
        raise SpecError(src, _line(node, ("judge", "model")), "judge.model", str(exc)) from None
    if spec.prompt == "default":
        return ResolvedJudge(info, JUDGE_PROMPT, "default", spec.max_tokens, spec.concurrency)
    prompt_path = Path(spec.prompt)
    if not prompt_path.is_absolute():
        prompt_path = (path.parent / prompt_path).resolve()
    try:
        prompt = prompt_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(src, _line(node, ("judge", "prompt")), "judge.prompt",
                        f"cannot read the judge prompt file {prompt_path} ({exc.strerror}); "
                        "give a path relative to the study file, or 'default'.") from None
    why = check_prompt(prompt)
    if why:
        raise SpecError(src, _line(node, ("judge", "prompt")), "judge.prompt", f"{why} ({prompt_path}).")
    return ResolvedJudge(info, prompt, str(prompt_path), spec.max_tokens, spec.concurrency)


def study_warnings(rs: ResolvedStudy) -> list[str]:
    """Things that are not errors but quietly weaken a study; printed by `plan` and `run`."""
    out: list[str] = []
    for m in rs.models:
        if m.origin in ("UNKNOWN", ""):
            out.append(f"model '{m.id}' has no origin, so the origin contrast leaves it out; "
                       "add `origin: CN` (or US, FR, ...) to its entry.")
    return out


def _check_framing_languages(framing: Framing, languages: list[Language], framings_path: str | None,
                             src: str, node: yaml.Node | None, index: int) -> None:
    """A framing with a prefix in one language but none in a study language would send the neutral
    prompt under the framing's label in that language: refuse it where the framing is written."""
    written = [lang for lang in ("en", "zh") if framing.prefix.get(lang).strip()]
    missing = [lang for lang in languages if lang not in written]
    if not written or not missing:
        return
    lang = missing[0]
    message = (f"framing '{framing.id}' has no {lang} prefix but the study asks in {lang}; add "
               f"`{lang}:` under its prefix, or leave {lang} out of the study's languages.")
    if framings_path is not None:
        data, fnode = read_yaml(Path(framings_path))
        entries = data.get("framings") if isinstance(data, dict) else None
        if isinstance(entries, list):
            for j, entry in enumerate(entries):
                if isinstance(entry, dict) and entry.get("id") == framing.id:
                    loc: tuple[int | str, ...] = ("framings", j, "prefix")
                    raise SpecError(framings_path, _key_line(fnode, loc) or _line(fnode, loc),
                                    f"framings[{j}].prefix.{lang}", message)
    raise SpecError(src, _line(node, ("framings", index)), f"framings[{index}]", message)


def load_study(path: str | Path, *, allow_retired: bool = False) -> ResolvedStudy:
    """Read, validate and resolve a study file; every problem is a SpecError (exit code 2).

    ``allow_retired``: models the provider has retired still resolve (reading stored results)."""
    p = Path(path)
    study = load_model(Study, p)
    _, node = read_yaml(p)
    return resolve_study(study, p, node, p.read_text(encoding="utf-8"), allow_retired=allow_retired)


def quickstart_path() -> Path:
    return Path(str(resources.files("twinstudy") / "studies" / "quickstart.yaml"))
