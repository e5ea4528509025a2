"""The LLM judge coder: a model reads the codebook and one reply, and names the categories.

The prompt is published (:data:`CODING_PROMPT`, filled in by :func:`codebook_block`) so anyone can
code the same replies with another model or by hand. Instructions are in English; the codebook's
coding question, labels, definitions and examples are given in the reply's language (the language
the question was asked in), so a Chinese reply is read against the Chinese definitions the codebook
authors wrote. The question the model was asked is shown too, because an answer is often only
intelligible against its question.

The judge ends its reply with one line, ``CODES: sage`` (single-label), ``CODES: chinese,
universal`` or ``CODES: none`` (multi-label). :func:`parse_codes` reads the last such line after
removing ``<think>`` blocks; a category may be named by its id or by its English or Chinese label.
A line naming anything that is not a category, more than one category of a single-label codebook,
or no line at all makes the reply ``uncodable``: stored as such, it never counts as a category.
For a single-label codebook with a fallback, ``none`` means the fallback.

The reply being coded is untrusted model output: it is inserted with one pass of plain
replacement (never ``str.format``), so text like ``{reply}`` or ``CODES: x`` inside it is left as
written and can only be read as part of the answer, never as instructions to the program.
"""

from __future__ import annotations

import hashlib
import re

from twinstudy.coding.codebook import Codebook
from twinstudy.coding.result import CODED, UNCODABLE, Code
from twinstudy.models.base import GenerateParams, Message, Model

JUDGE_CODER_PREFIX = "judge:"
#: Bump when the prompt template or the parsing rules change.
JUDGE_CODER_VERSION = "1"

CODING_PROMPT = """\
You are coding answers for a research study. Below is a codebook, the question a person asked an
AI assistant, and the assistant's answer. Decide which category or categories of the codebook the
answer belongs to. Code only what the answer itself says or pictures, not ideas it mentions only to
reject them. Do not judge whether the answer is true, wise or well written.

{codebook}

<question>
{request}
</question>

<answer>
{reply}
</answer>

Think briefly about which category fits, then end with one final line of the form
{format}
"""

_FIELD = re.compile(r"\{(codebook|request|reply|format)\}")
_CODES_LINE = re.compile(r"^[\s>*_`#-]*codes?\s*\**\s*[:：]\s*(.*)$", re.I | re.M)
_SPLIT = re.compile(r"\s*(?:[,，;；、/|]|\band\b|和)\s*", re.I)
_NONE = {"none", "no category", "no categories", "n/a", "无", "没有", "无类别"}


def judge_coder_id(model_id: str) -> str:
    return f"{JUDGE_CODER_PREFIX}{model_id}"


def codebook_block(codebook: Codebook, lang: str) -> str:
    """The codebook as the judge reads it: coding question, rule, categories with definitions and
    examples, all in ``lang`` (ids stay as written; both labels are shown)."""
    lines = [f"Codebook: {codebook.title.get(lang)}", f"Coding question: {codebook.question.get(lang)}"]
    if codebook.description:
        lines.append(codebook.description.strip())
    if codebook.multi_label:
        lines.append("Choose EVERY category that applies; an answer may have several categories or none.")
    else:
        lines.append("Choose EXACTLY ONE category: the one the answer leans on most.")
        if codebook.fallback:
            lines.append(f"If none fits, choose {codebook.fallback}.")
    lines.append("")
    lines.append("Categories (id: label - definition):")
    for cat in codebook.categories:
        lines.append(f"- {cat.id}: {cat.label.en} / {cat.label.zh} - {cat.definition.get(lang)}")
        for ex in cat.examples.get(lang)[:2]:
            lines.append(f'    example: "{ex}"')
    return "\n".join(lines)


def answer_format(codebook: Codebook) -> str:
    ids = codebook.category_ids
    if codebook.multi_label:
        return (f"CODES: {ids[0]}, {ids[1]}\nnaming every category id that applies, or CODES: none if none does.")
    return f"CODES: {ids[0]}\nnaming exactly one category id: {', '.join(ids)}."


def build_messages(codebook: Codebook, lang: str, request: str, reply: str,
                   prompt: str = CODING_PROMPT) -> list[Message]:
    """The judge's single user message. One pass of plain replacement (see the module docstring)."""
    values = {"codebook": codebook_block(codebook, lang), "request": request.strip(), "reply": reply.strip(),
              "format": answer_format(codebook)}
    return [Message("user", _FIELD.sub(lambda m: values[m.group(1)], prompt))]


def judge_version(codebook: Codebook, prompt: str = CODING_PROMPT) -> str:
    """Codebook version, judge-coder version and a hash of the prompt as filled in for both
    languages: an edited template, definition or example makes stored codes out of date."""
    text = prompt + "".join(codebook_block(codebook, lang) + answer_format(codebook) for lang in ("en", "zh"))
    return f"{codebook.version}+j{JUDGE_CODER_VERSION}+p{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"


def _names(codebook: Codebook) -> dict[str, str]:
    """Every accepted way to name a category (lower case) -> its id."""
    out: dict[str, str] = {}
    for cat in codebook.categories:
        names = [cat.id, cat.label.en, cat.label.zh]
        names += [p for lab in (cat.label.en, cat.label.zh) for p in re.split(r"\s*[/／]\s*", lab)]
        for n in names:
            out.setdefault(n.strip().lower(), cat.id)
    return out


def parse_codes(codebook: Codebook, text: str) -> Code:
    """The judge's codes from its reply (rules in the module docstring)."""
    clean = re.sub(r"<think>.*?</think>", " ", text or "", flags=re.S | re.I).strip()
    lines = _CODES_LINE.findall(clean)
    if lines:
        raw = lines[-1].strip()
    elif clean and len(clean) < 60 and "\n" not in clean:
        raw = clean  # a bare answer ("sage") from a terse model
    else:
        return Code(UNCODABLE, (), "no CODES line")
    detail = f"CODES: {raw[:200]}"
    value = raw.strip().strip(".。*`'\"[]()（）【】").strip()
    if value.lower() in _NONE:
        if codebook.multi_label:
            return Code(CODED, (), detail)
        return Code(CODED, (codebook.fallback,), detail) if codebook.fallback else Code(UNCODABLE, (), detail)
    names = _names(codebook)
    chosen: list[str] = []
    for token in _SPLIT.split(value):
        tok = token.strip().strip(".。*`'\"[]()（）【】").strip().lower()
        if not tok:
            continue
        if tok not in names:
            return Code(UNCODABLE, (), f"{detail} (not a category: {tok[:40]})")
        if names[tok] not in chosen:
            chosen.append(names[tok])
    if not chosen or (not codebook.multi_label and len(chosen) != 1):
        return Code(UNCODABLE, (), f"{detail} (needs exactly one category)" if chosen else detail)
    order = {c: i for i, c in enumerate(codebook.category_ids)}
    return Code(CODED, tuple(sorted(chosen, key=order.__getitem__)), detail)


async def judge_code(model: Model, codebook: Codebook, lang: str, request: str, reply: str, *,
                     max_tokens: int = 400, prompt: str = CODING_PROMPT) -> Code:
    """Ask ``model`` to code one reply (temperature 0)."""
    completion = await model.generate(build_messages(codebook, lang, request, reply, prompt),
                                      GenerateParams(max_tokens=max_tokens, temperature=0.0))
    return parse_codes(codebook, completion.text)
