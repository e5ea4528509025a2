"""Expand a study into its factorial grid of trials, lazily, each with a stable key.

The key is a hash of the cell (model, item, language, framing, paraphrase, sample index, params)
plus the exact text sent, so that resume, caching and deduplication all agree on what "the same
trial" means, and any change to a factor, a parameter or a wording makes a new trial.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from twinstudy.instruments.schema import Framing, Instrument, Item
from twinstudy.models.base import Message, ModelInfo
from twinstudy.study.prompts import option_order, render_messages
from twinstudy.study.spec import Params, ResolvedStudy
from twinstudy.vocab import LETTERS

KEY_VERSION = 1


@dataclass(frozen=True, slots=True)
class Trial:
    key: str
    model: ModelInfo
    instrument: str
    item: Item
    lang: str
    framing: Framing
    paraphrase: int
    sample: int
    params: Params
    seed: int
    messages: tuple[Message, ...]
    option_order: tuple[int, ...] | None

    @property
    def correct_letter(self) -> str | None:
        """The letter under which the correct option was shown in this trial, if any."""
        if self.item.answer is None or self.option_order is None:
            return None
        return LETTERS[self.option_order.index(self.item.answer)]

    @property
    def followup(self) -> str | None:
        return self.framing.followup.get(self.lang) if self.framing.followup else None

    def cell(self) -> dict[str, Any]:
        return {
            "model": self.model.id,
            "item": self.item.id,
            "lang": self.lang,
            "framing": self.framing.id,
            "paraphrase": self.paraphrase,
            "sample": self.sample,
        }


_canonical = functools.partial(json.dumps, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _digest(obj: Any) -> str:
    return _sha(_canonical(obj))


def _sha(blob: str) -> str:
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def model_fingerprint(info: ModelInfo) -> dict[str, Any]:
    """What identifies a model for keying: not its metadata, which may be corrected later."""
    out = {"id": info.id, "provider": info.provider, "model": info.model, "system": info.system,
           "thinking": info.thinking}
    if info.reasoning_effort is not None:  # only when set, so older trial keys stay the same
        out["reasoning_effort"] = info.reasoning_effort
    return out


def trial_key(model: ModelInfo, item_id: str, lang: str, framing: Framing, paraphrase: int, sample: int,
              params: Params, messages: list[Message]) -> str:
    return _digest({
        "v": KEY_VERSION,
        "model": model_fingerprint(model),
        "item": item_id,
        "lang": lang,
        "framing": framing.id,
        "followup": framing.followup.model_dump() if framing.followup else None,
        "paraphrase": paraphrase,
        "sample": sample,
        "params": params.key_fields(),
        "messages": [[m.role, m.content] for m in messages],
    })[:32]


def _trial_seed(params: Params, model_id: str, item_id: str, lang: str, framing: str, para: int,
                sample: int) -> int:
    h = _digest([params.seed, model_id, item_id, lang, framing, para, sample])
    return int(h[:8], 16)


def n_paraphrases(item: Item, wanted: int) -> int:
    return max(1, min(wanted, item.n_paraphrases))


def count_trials(rs: ResolvedStudy) -> int:
    s = rs.study
    per_model = sum(n_paraphrases(it, s.paraphrases) for f in rs.framings for _inst, it in rs.items
                    if f.applies(it.type))
    return len(rs.models) * per_model * len(s.languages) * s.samples


@dataclass(frozen=True)
class SkippedCells:
    """Framing x item-type cells the design leaves out because the framing does not apply."""

    framing: str
    item_type: str
    items: int
    trials: int


def skipped_cells(rs: ResolvedStudy) -> list[SkippedCells]:
    """What the design leaves out, so that `plan` can say so instead of dropping it silently."""
    s = rs.study
    per: dict[tuple[str, str], list[int]] = {}
    for f in rs.framings:
        for _inst, it in rs.items:
            if not f.applies(it.type):
                n = n_paraphrases(it, s.paraphrases) * len(s.languages) * s.samples * len(rs.models)
                cell = per.setdefault((f.id, it.type), [0, 0])
                cell[0] += 1
                cell[1] += n
    return [SkippedCells(f, t, v[0], v[1]) for (f, t), v in per.items()]


def expand(rs: ResolvedStudy, model: ModelInfo | None = None) -> Iterator[Trial]:
    """Yield trials model by model, then language, framing, item: neighbours share prompt prefixes."""
    for m in [model] if model is not None else rs.models:
        yield from _model_trials(rs, m)


def _model_trials(rs: ResolvedStudy, model: ModelInfo) -> Iterator[Trial]:
    s = rs.study
    for lang in s.languages:
        system = model.system_prompt(lang)
        for framing in rs.framings:
            for inst, item in rs.items:
                if not framing.applies(item.type):
                    continue  # e.g. "I agree with the statement below" in front of a question
                yield from _item_trials(model, inst, item, lang, framing, system, s.paraphrases,
                                        s.samples, s.params)


def _item_trials(model: ModelInfo, inst: Instrument, item: Item, lang: str, framing: Framing,
                 system: str | None, paraphrases: int, samples: int, params: Params) -> Iterator[Trial]:
    # The same canonical JSON that trial_key() and _trial_seed() hash, built from parts that are
    # serialised once per item instead of once per trial (sort_keys order spelled out by hand;
    # tests/test_design.py checks the keys against trial_key()).
    key_head = (f'{{"followup":{_canonical(framing.followup.model_dump() if framing.followup else None)}'
                f',"framing":{_canonical(framing.id)},"item":{_canonical(item.id)},"lang":{_canonical(lang)}'
                ',"messages":')
    key_mid = (f',"model":{_canonical(model_fingerprint(model))}'
               f',"params":{_canonical(params.key_fields())},"paraphrase":')
    key_tail = f',"v":{KEY_VERSION}}}'
    seed_head = "[" + ",".join(_canonical(x) for x in (params.seed, model.id, item.id, lang, framing.id)) + ","
    choice = item.type == "choice"
    for para in range(n_paraphrases(item, paraphrases)):
        plain: tuple[tuple[Message, ...], str] | None = None  # messages do not vary by sample
        for sample in range(samples):
            seed = int(_sha(f"{seed_head}{para},{sample}]")[:8], 16)
            if choice:
                order = option_order(item, seed)
                msgs = render_messages(system, framing, item, lang, para, order)
                sent = (tuple(msgs), _canonical([[m.role, m.content] for m in msgs]))
            else:
                order = None
                if plain is None:
                    msgs = render_messages(system, framing, item, lang, para, None)
                    plain = (tuple(msgs), _canonical([[m.role, m.content] for m in msgs]))
                sent = plain
            key = _sha(f"{key_head}{sent[1]}{key_mid}{para},\"sample\":{sample}{key_tail}")[:32]
            yield Trial(key, model, inst.id, item, lang, framing, para, sample, params, seed,
                        sent[0], tuple(order) if order is not None else None)
