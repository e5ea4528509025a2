"""Code the stored open replies of a results database with one coder: a pass over stored text.

No model that wrote the replies is asked again. Which replies are coded:

- open trials whose codebook applies (``applies_to`` instruments or item tags; ``all_open``
  ignores that, e.g. for an instrument exported from a chat conversation);
- only replies with substance: outcome ``answered``, ``evasive`` or ``truncated``
  (:data:`twinstudy.store.codes.CODE_OUTCOMES`). Refusals, filter blocks, errors and unreadable
  replies are left uncoded, so a category share is a share of the answers a model gave, and the
  refusal rate is reported separately, as it always is;
- the first turn only (a follow-up turn's reply is not coded);
- replies this coder already coded with the same version are kept unless ``redo``.

A judge sees the question as the item states it (the paraphrase asked, in the language asked),
without the user's framing, so its codes can follow the framing only through the answer itself.

Each pass stores one :class:`~twinstudy.store.CodeRow` per reply under the coder's identity
(``lexicon``, ``judge:<model id>``, or ``human:<name>`` for codes a person wrote in a file,
:func:`import_human_codes`) and version, keeps the codebook's definition in the
database, and (unless told not to) makes this coder the primary one for the codebook, like the
judge asked last in :mod:`twinstudy.scoring.judge_pass`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from twinstudy.coding.codebook import Codebook
from twinstudy.coding.judge import CODING_PROMPT, judge_code, judge_coder_id, judge_version
from twinstudy.coding.lexicon import CODER as LEXICON
from twinstudy.coding.lexicon import LexiconCoder
from twinstudy.coding.result import CODED, Code
from twinstudy.errors import UserError
from twinstudy.instruments.schema import Instrument
from twinstudy.models.base import Model
from twinstudy.run.model_pass import ask_each
from twinstudy.store import CodeRow, Store
from twinstudy.store.records import first_user_message


@dataclass(frozen=True)
class Reply:
    """One stored reply a coder reads."""

    key: str
    instrument: str
    item: str
    lang: str
    request: str
    text: str


@dataclass
class CodeResult:
    codebook: str
    coder: str
    version: str
    coded: int = 0       # codes stored in this pass with status coded
    uncodable: int = 0   # stored as uncodable (a judge reply without a readable CODES line, ...)
    kept: int = 0        # already coded by this coder and version; not coded again
    failed: int = 0      # judge calls that failed after retries; nothing stored, coded next time
    eligible: int = 0    # replies the codebook applies to
    first_error: str | None = None


def _instruments(store: Store) -> dict[str, Instrument]:
    """Instruments the runs kept, else the bundled one of that id (for item tags and texts)."""
    from twinstudy.instruments.loader import bundled_ids, load_instrument

    found = dict(store.stored_instruments())
    for iid in bundled_ids():
        if iid not in found:
            with suppress(UserError):
                found[iid] = load_instrument(iid)
    return found


def applicable_replies(store: Store, codebook: Codebook, *, all_open: bool = False) -> list[Reply]:
    """Stored replies ``codebook`` applies to (see the module docstring)."""
    want_inst = set(codebook.applies_to.instruments)
    want_tags = set(codebook.applies_to.tags)
    everything = all_open or not (want_inst or want_tags)
    instruments = _instruments(store)
    out: list[Reply] = []
    for key, inst_id, item_id, lang, paraphrase, messages_json, text in store.replies_to_code():
        inst = instruments.get(inst_id)
        item = next((it for it in inst.items if it.id == item_id), None) if inst else None
        if not everything and inst_id not in want_inst and not (item is not None and want_tags & set(item.tags)):
            continue
        wordings = item.text.get(lang) if item is not None else []
        request = wordings[paraphrase] if 0 <= paraphrase < len(wordings) else first_user_message(messages_json)
        out.append(Reply(key, inst_id, item_id, lang, request, text))
    return out


def _rows(codebook: Codebook, coder: str, version: str, coded: list[tuple[str, Code]]) -> list[CodeRow]:
    return [CodeRow(key, codebook.id, coder, version, c.status, c.categories, c.detail) for key, c in coded]


def _finish(store: Store, codebook: Codebook, result: CodeResult, rows: list[CodeRow], set_primary: bool,
            *, written: bool = False) -> None:
    """Store the pass's codes (unless ``written`` as they came), the codebook as coded, the counts
    and the primary coder."""
    if not written:
        store.put_codes(rows)
    store.put_codebook(codebook.id, codebook.model_dump_json())
    result.coded = sum(r.status == CODED for r in rows)
    result.uncodable = len(rows) - result.coded
    if set_primary and (rows or result.kept):
        store.set_primary_coder(codebook.id, result.coder)


def code_with_lexicon(store: Store, codebook: Codebook, *, all_open: bool = False, redo: bool = False,
                      set_primary: bool = True) -> CodeResult:
    """Code every applicable reply not yet coded by this lexicon version."""
    coder = LexiconCoder(codebook)
    result = CodeResult(codebook.id, LEXICON, coder.version)
    done = set() if redo else store.coded_keys(codebook.id, LEXICON, coder.version)
    replies = applicable_replies(store, codebook, all_open=all_open)
    result.eligible = len(replies)
    todo = [r for r in replies if r.key not in done]
    result.kept = len(replies) - len(todo)
    _finish(store, codebook, result, _rows(codebook, LEXICON, coder.version, [(r.key, coder.code(r.text)) for r in todo]),
            set_primary)
    return result


async def code_with_judge(store: Store, codebook: Codebook, model: Model, model_id: str, *,
                          all_open: bool = False, redo: bool = False, prompt: str = CODING_PROMPT,
                          max_tokens: int = 400, concurrency: int = 4, set_primary: bool = True,
                          progress: Callable[[int, int], None] | None = None) -> CodeResult:
    """Code every applicable reply not yet coded by this judge model with this prompt and codebook
    version; ``concurrency`` calls at a time, retryable failures retried by the run's policy."""
    name, version = judge_coder_id(model_id), judge_version(codebook, prompt)
    result = CodeResult(codebook.id, name, version)
    done = set() if redo else store.coded_keys(codebook.id, name, version)
    replies = applicable_replies(store, codebook, all_open=all_open)
    result.eligible = len(replies)
    todo = [r for r in replies if r.key not in done]
    result.kept = len(replies) - len(todo)
    store.put_codebook(codebook.id, codebook.model_dump_json())  # before any code: a stopped pass is readable
    asked = await ask_each(
        todo, lambda r: judge_code(model, codebook, r.lang, r.request, r.text, max_tokens=max_tokens, prompt=prompt),
        concurrency=concurrency, progress=progress,
        save=lambda chunk: store.put_codes(_rows(codebook, name, version, [(r.key, c) for r, c in chunk])))
    result.failed, result.first_error = asked.failed, asked.first_error
    coded = [(r.key, code) for r, code in asked.answers]
    _finish(store, codebook, result, _rows(codebook, name, version, sorted(coded)), set_primary, written=True)
    return result


def recode_lexicon(store: Store) -> list[CodeResult]:
    """Recode, with the current lexicon, every codebook the lexicon coded before whose lexicon
    version changed (edited keywords or rules); no model is called. Bundled codebooks are read as
    they are now, a user's codebook as the database kept it. The primary coder is left as it is."""
    from twinstudy.coding.loader import bundled_codebook_ids, load_codebook

    kept = store.stored_codebooks()
    out: list[CodeResult] = []
    for cid in store.codebooks():
        if LEXICON not in store.coders(cid):
            continue
        if cid in bundled_codebook_ids():
            book = load_codebook(cid)
        elif cid in kept:
            book = Codebook.model_validate_json(kept[cid])
        else:
            continue
        version = LexiconCoder(book).version
        table = store.code_table(cid, LEXICON)
        if set(table["version"]) == {version}:
            continue
        all_open = _coded_beyond_applies_to(store, book, set(table["trial_key"]))
        out.append(code_with_lexicon(store, book, all_open=all_open, set_primary=False))
    return out


def _coded_beyond_applies_to(store: Store, book: Codebook, keys: set[str]) -> bool:
    """Whether earlier codes covered replies outside ``applies_to`` (they were coded with
    ``all_open``), so a recode covers the same replies."""
    within = {r.key for r in applicable_replies(store, book)}
    return bool(keys - within)


def summary(r: CodeResult) -> str:
    """One line for the terminal; failures say what to do next."""
    line = (f"{r.codebook} by {r.coder}: {r.coded} coded, {r.uncodable} uncodable, {r.kept} already coded "
            f"(of {r.eligible} replies it applies to)")
    if r.failed:
        line += (f"; {r.failed} calls failed ({r.first_error}); run the same `twinstudy code` command again "
                 "later to code them")
    return line


HUMAN_PREFIX = "human:"


def import_human_codes(store: Store, codebook: Codebook, coder: str, path: Path) -> CodeResult:
    """Store a person's codes from a YAML or JSON file: a list of ``{trial_key, categories}``
    (``categories``: one id, a list of ids, or ``uncodable``). Every category is checked against the
    codebook and every key against the database before anything is written; a problem is a
    SpecError naming the file and the entry."""
    import yaml

    from twinstudy.errors import SpecError

    if not coder.startswith(HUMAN_PREFIX) or len(coder) == len(HUMAN_PREFIX):
        raise UserError(f"codes from a file are a person's: name the coder human:NAME, not '{coder}'.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(str(path), None, None, f"cannot be read as YAML or JSON ({exc}); fix it.") from None
    if not isinstance(data, list):
        raise SpecError(str(path), 1, None, "must be a list of {trial_key, categories} entries.")
    known = {r.key for r in applicable_replies(store, codebook, all_open=True)}
    version = f"{codebook.version}+{coder}"
    rows: list[CodeRow] = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or "trial_key" not in entry or "categories" not in entry:
            raise SpecError(str(path), None, f"[{i}]", "needs trial_key and categories.")
        key, cats = str(entry["trial_key"]), entry["categories"]
        if key not in known:
            raise SpecError(str(path), None, f"[{i}].trial_key", f"'{key}' is not an answered open reply "
                            "in the database; export the trials to see their keys.")
        if cats == "uncodable":
            rows.append(CodeRow(key, codebook.id, coder, version, "uncodable", (), entry.get("note")))
            continue
        chosen = tuple([cats] if isinstance(cats, str) else (cats or []))
        bad = [c for c in chosen if c not in codebook.category_ids]
        if bad or (not codebook.multi_label and len(chosen) != 1):
            why = f"'{bad[0]}' is not a category of {codebook.id}" if bad else "needs exactly one category"
            raise SpecError(str(path), None, f"[{i}].categories",
                            f"{why}; use one of {', '.join(codebook.category_ids)} (or 'uncodable').")
        rows.append(CodeRow(key, codebook.id, coder, version, CODED, chosen, entry.get("note")))
    result = CodeResult(codebook.id, coder, version, eligible=len(known))
    _finish(store, codebook, result, rows, set_primary=False)
    return result
