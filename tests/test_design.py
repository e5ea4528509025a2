"""Trial keys: stable across runs, different when any factor or parameter changes."""

from __future__ import annotations

from pathlib import Path

from twinstudy.study.design import count_trials, expand
from twinstudy.study.spec import load_study

BASE = """\
name: keys
models:
  - id: v1
    extends: local/smollm2-135m
    system: "You are a helpful assistant."
instruments:
  - {id: ai-futures, limit: 3}
languages: [en, zh]
framings: [neutral, user-agrees]
paraphrases: 2
samples: 2
params: {temperature: 0.7, max_tokens: 16, seed: 1}
"""


def keys(tmp_path: Path, text: str, name: str = "s.yaml") -> dict[tuple[object, ...], str]:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    rs = load_study(p)
    return {(t.model.id, t.item.id, t.lang, t.framing.id, t.paraphrase, t.sample): t.key for t in expand(rs)}


def test_keys_are_stable_and_unique(tmp_path: Path) -> None:
    a = keys(tmp_path, BASE, "a.yaml")
    b = keys(tmp_path, BASE, "b.yaml")
    assert a == b
    assert len(set(a.values())) == len(a)
    p = tmp_path / "c.yaml"
    p.write_text(BASE, encoding="utf-8")
    assert count_trials(load_study(p)) == len(a) == 3 * 2 * 2 * 2 * 2


def test_keys_change_with_every_parameter(tmp_path: Path) -> None:
    base = keys(tmp_path, BASE)
    for old, new in [("temperature: 0.7", "temperature: 0.8"), ("max_tokens: 16", "max_tokens: 17"),
                     ("seed: 1", "seed: 2"), ("helpful assistant", "careful assistant"), ("id: v1", "id: v2")]:
        changed = keys(tmp_path, BASE.replace(old, new))
        assert not set(changed.values()) & set(base.values()), old


def test_each_factor_changes_the_key(tmp_path: Path) -> None:
    k = keys(tmp_path, BASE)
    cells = list(k)
    first = cells[0]
    for i in range(1, 6):
        other = next(c for c in cells if c[i] != first[i] and all(c[j] == first[j] for j in range(6) if j != i))
        assert k[other] != k[first]


def test_item_id_is_shared_across_languages_and_paraphrases(tmp_path: Path) -> None:
    k = keys(tmp_path, BASE)
    items = {c[1] for c in k}
    assert len(items) == 3
    for item in items:
        assert {(c[2], c[4]) for c in k if c[1] == item} == {("en", 0), ("en", 1), ("zh", 0), ("zh", 1)}


def test_streamed_keys_and_seeds_equal_the_reference_functions(tmp_path: Path) -> None:
    """expand() builds each key from parts serialised once per item; the result must be exactly
    trial_key() and _trial_seed() of the trial, for every item type, framing and model setting."""
    from twinstudy.study.design import _trial_seed, trial_key

    p = tmp_path / "all.yaml"
    p.write_text("""\
name: all-kinds
models:
  - id: v1
    extends: local/smollm2-135m
    system: "You are a helpful assistant."
  - {id: v2, provider: openai-compatible, base_url: "http://127.0.0.1:9/v1", model: m, origin: US,
     thinking: true}
instruments:
  - {id: ai-futures, limit: 3}
  - {id: pushback-facts, limit: 3}
  - {id: self-perception, limit: 3}
  - {id: sensitive-topics, limit: 2}
languages: [en, zh]
framings: [neutral, user-agrees, pushback, identity-cn]
paraphrases: 3
samples: 2
params: {temperature: 0.7, max_tokens: 16, seed: 7, logprobs: true}
""", encoding="utf-8")
    rs = load_study(p)
    trials = list(expand(rs))
    assert {t.item.type for t in trials} >= {"choice", "open"} and any(t.followup for t in trials)
    for t in trials:
        assert t.seed == _trial_seed(t.params, t.model.id, t.item.id, t.lang, t.framing.id, t.paraphrase, t.sample)
        assert t.key == trial_key(t.model, t.item.id, t.lang, t.framing, t.paraphrase, t.sample, t.params,
                                  list(t.messages))
