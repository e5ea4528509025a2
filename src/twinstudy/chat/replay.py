"""Replay a saved conversation's user turns to other models, in another language, or framed.

Translation is never silent: when the replay's language differs from a turn's language the user's
words must come from ``--turns-file`` (a YAML list of every user turn in the target language, e.g. a
human translation) or from ``--translate-with MODEL`` (machine translation, recorded as
``model:<id>`` on each turn). Otherwise the replay stops before sending anything.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.text import Text

from twinstudy.chat.db import ChatDB, Conversation, UserTurn
from twinstudy.chat.engine import Histories, NullObserver, Reply, ask, run_turn
from twinstudy.chat.participants import Participant, build_participants, close_backends, open_backends
from twinstudy.chat.render import TurnDisplay, choose_layout, reply_panel, side_by_side
from twinstudy.errors import UserError
from twinstudy.models.base import GenerateParams, Message

LANG_NAMES = {"en": "English", "zh": "Simplified Chinese"}
TRANSLATOR_SYSTEM = ("You are a translator. Reply with the translation only: no notes, no quotation marks, "
                     "and never an answer to the text.")


@dataclass(frozen=True)
class PlannedTurn:
    source: UserTurn
    lang: str
    text: str  # in the replay's language, without framing
    sent: str  # what the models receive (framing prefix on the first turn)
    translation: str  # original | turns-file | model:<id>


def load_turns_file(path: Path, n: int) -> list[str]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read --turns-file {path}: {exc.strerror}.") from None
    except yaml.YAMLError as exc:
        raise UserError(f"--turns-file {path} is not valid YAML: {str(exc).splitlines()[0]}.") from None
    if isinstance(raw, dict) and "turns" in raw:
        raw = raw["turns"]
    if not isinstance(raw, list) or not all(isinstance(t, str) and t.strip() for t in raw):
        raise UserError(f"--turns-file {path} must be a YAML list of non-empty strings, one per user turn.")
    if len(raw) != n:
        raise UserError(f"--turns-file {path} has {len(raw)} turns but the conversation has {n} user turns; "
                        "give exactly one text per user turn, in order.")
    return [t.strip() for t in raw]


def framing_prefix(framing_id: str, lang: str, framings_file: str | None = None) -> str:
    from twinstudy.instruments.loader import load_framings

    framings = load_framings(framings_file)
    if framing_id not in framings:
        raise UserError(f"unknown framing '{framing_id}'; known: {', '.join(sorted(framings))} "
                        "(or pass --framings-file with your own).")
    framing = framings[framing_id]
    prefix = framing.prefix.get(lang).strip()
    if not prefix and framing_id != "neutral":
        what = "a follow-up turn" if framing.followup is not None else "no prefix text"
        raise UserError(f"framing '{framing_id}' has {what} in {lang}; replay prefixes the first user turn, so "
                        "choose a framing with a prefix (e.g. identity-cn, identity-us, user-agrees).")
    return prefix


def join_prefix(prefix: str, text: str, lang: str) -> str:
    if not prefix:
        return text
    return f"{prefix}{text}" if lang == "zh" else f"{prefix} {text}"


def clean_translation(text: str) -> str:
    s = text.strip()
    s = re.sub(r"^```\w*\n?|\n?```$", "", s).strip()
    s = re.sub(r"^(translation|译文|翻译)\s*[:：]\s*", "", s, flags=re.I).strip()
    pairs = {'"': '"', "“": "”", "「": "」", "'": "'"}
    if len(s) >= 2 and s[0] in pairs and s[-1] == pairs[s[0]]:
        s = s[1:-1].strip()
    return s


def translation_messages(text: str, src: str, dst: str) -> list[Message]:
    return [Message("system", TRANSLATOR_SYSTEM),
            Message("user", f"Translate this message from {LANG_NAMES[src]} into {LANG_NAMES[dst]}. It is a "
                            "user's message to an AI assistant: keep its meaning, tone and any opinion it "
                            f"states, and do not answer it.\n\n{text}")]


async def translate(translator: Participant, text: str, src: str, dst: str, max_tokens: int) -> str:
    params = GenerateParams(max_tokens=max_tokens, temperature=0.0)
    reply = await ask(translator, translation_messages(text, src, dst), params, dst, NullObserver())
    out = clean_translation(reply.text)
    if reply.outcome in ("blocked", "error") or not out:
        why = (reply.error or reply.outcome) if reply.outcome in ("blocked", "error") else "an empty reply"
        raise UserError(f"the translator {translator.label} did not translate a turn ({why}); try another "
                        "--translate-with model or give --turns-file.")
    return out


def plan(turns: list[UserTurn], lang: str | None, prefix: str, turns_file: list[str] | None,
         translated: dict[int, tuple[str, str]]) -> list[PlannedTurn]:
    """The replay's turns: ``translated`` maps source turn -> (text, method)."""
    out: list[PlannedTurn] = []
    for i, t in enumerate(turns):
        target = lang or t.lang
        if turns_file is not None:
            text = turns_file[i]
            method = "original" if (target == t.lang and text == t.content) else "turns-file"
        elif target != t.lang:
            text, method = translated[t.turn]
        else:
            text, method = t.content, "original"
        sent = join_prefix(prefix, text, target) if i == 0 else text
        out.append(PlannedTurn(source=t, lang=target, text=text, sent=sent, translation=method))
    return out


def reply_from_row(row: dict[str, object]) -> Reply:
    return Reply(label=str(row["participant"]), model=str(row["model"]), text=str(row["content"] or ""),
                 outcome=str(row["outcome"] or "answered"), reasoning=str(row["reasoning"]) if row["reasoning"] else None,
                 provider_code=str(row["provider_code"]) if row["provider_code"] else None,
                 error=str(row["error"] or ""), latency_ms=float(str(row["latency_ms"] or 0.0)))


def comparison(console: Console, src: Conversation, src_replies: list[Reply], new: list[Reply],
               titles: dict[str, str]) -> RenderableType:
    left: list[RenderableType] = [Text(f"source {src.display}", style="bold")]
    left += [reply_panel(r, f"{r.label} · source") for r in src_replies] or [Text("(no replies stored)", style="dim")]
    right: list[RenderableType] = [Text("replay", style="bold")]
    right += [reply_panel(r, titles.get(r.label)) for r in new]
    if choose_layout(console.width, 2) == "columns":
        return side_by_side([Group(*left), Group(*right)])
    return Group(*left, *right)


INHERITED_PARAMS = ("max_tokens", "temperature", "top_p", "seed")


def source_params(db: ChatDB, conv_id: int) -> dict[str, object]:
    row = db.conn.execute("SELECT params_json FROM conversations WHERE id = ?", (conv_id,)).fetchone()
    try:
        data = json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def inherit_from_source(src: Conversation, src_params: dict[str, object], participants: list[Participant],
                        params: GenerateParams, unset: frozenset[str], system: str | None,
                        system_for: tuple[str, ...]) -> tuple[GenerateParams, list[str], list[str]]:
    """Everything the replay is not told to change comes from the source conversation: each
    participant's system prompt (by label) and the sampling parameters named in ``unset``.
    Returns the parameters and two lists of phrases: what was inherited, and what differs."""
    inherited: list[str] = []
    differs: list[str] = []
    updates = {k: src_params[k] for k in INHERITED_PARAMS if k in unset and k in src_params}
    if updates:
        params = dataclasses.replace(params, **updates)  # type: ignore[arg-type]
        inherited += [f"{k} {v}" for k, v in updates.items() if v is not None]
    for k in INHERITED_PARAMS:
        if k in src_params and getattr(params, k) != src_params[k]:
            differs.append(f"{k} {src_params[k]} → {getattr(params, k)}")
    src_systems = {str(m.get("label")): m.get("system") for m in src.models}
    told = {v.partition("=")[0].strip() for v in system_for}
    for p in participants:
        if p.label in src_systems and p.label not in told and system is None:
            own = src_systems[p.label]
            p.system = str(own) if own else None
            inherited.append(f"{p.label}'s system prompt")
        elif p.label in src_systems and (src_systems[p.label] or None) != p.system:
            differs.append(f"{p.label}'s system prompt")
        elif p.label not in src_systems:
            differs.append(f"{p.label} is not a participant of the source (its own default system prompt)")
    return params, inherited, differs


def run_replay(db_path: Path, ref: str, models: str, *, lang: str | None, framing: str | None,
               framings_file: str | None, translate_with: str | None, turns_file: Path | None,
               system: str | None, system_for: tuple[str, ...], params: GenerateParams,
               console: Console | None = None, unset: frozenset[str] = frozenset()) -> int:
    """Replay conversation ``ref``; returns the id of the new (linked) conversation.

    A replay changes only what it is told to: participants with a label of the source keep its
    system prompt unless ``system``/``system_for`` say otherwise, and the sampling parameters named
    in ``unset`` (those the user did not give) are the source's. What differs is printed."""
    console = console or Console(highlight=False)
    if lang is not None and lang not in LANG_NAMES:
        raise UserError(f"--lang must be en or zh, not '{lang}'.")
    db = ChatDB(db_path, create=False)
    try:
        src = db.find(ref)
        turns = db.user_turns(src.id)
        if not turns:
            raise UserError(f"conversation {src.display} has no user turns to replay.")
        if turns_file is not None and lang is None:
            raise UserError("--turns-file holds the turns in one language; say which with --lang en|zh.")
        file_turns = load_turns_file(turns_file, len(turns)) if turns_file is not None else None
        foreign = [t for t in turns if lang is not None and t.lang != lang]
        if foreign and file_turns is None and translate_with is None:
            which = ", ".join(str(t.turn) for t in foreign)
            raise UserError(
                f"turn(s) {which} of conversation {src.display} are not in {lang}, so the user's words must be "
                f"translated first: pass --translate-with MODEL (a model translates each turn, recorded as machine "
                f"translation) or --turns-file FILE (a YAML list of all {len(turns)} user turns in {lang}, e.g. "
                "your own translation). twinstudy does not translate silently.")
        prefix = framing_prefix(framing, lang or turns[0].lang, framings_file) if framing else ""
        participants = build_participants(models, lang=lang or turns[0].lang,
                                          system=system if system is not None else src.system,
                                          system_for=system_for)
        params, inherited, differs = inherit_from_source(src, source_params(db, src.id), participants, params,
                                                         unset, system, system_for)
        if framing != src.framing:
            differs.insert(0, f"framing {src.framing or 'none'} → {framing or 'none'}")
        if lang is not None and any(t.lang != lang for t in turns):
            differs.insert(0, f"language → {lang}")
        if inherited:
            console.print(f"inherited from the source: {escape(', '.join(inherited))}")
        console.print("differs from the source: " + (escape("; ".join(differs)) if differs else "nothing but the "
                                                     "models' new samples"))
        translator = None
        if foreign and file_turns is None and translate_with is not None:
            tr = build_participants(translate_with, lang=lang or "en", system=None)
            if len(tr) != 1:
                raise UserError("--translate-with takes one model.")
            translator = tr[0]
        return asyncio.run(_replay(console, db, src, turns, participants, translator, lang, framing, prefix,
                                   file_turns, params))
    finally:
        db.close()


async def _replay(console: Console, db: ChatDB, src: Conversation, turns: list[UserTurn],
                  participants: list[Participant], translator: Participant | None, lang: str | None,
                  framing: str | None, prefix: str, file_turns: list[str] | None,
                  params: GenerateParams) -> int:
    everyone = participants + ([translator] if translator is not None else [])
    open_backends(everyone)
    try:
        translated: dict[int, tuple[str, str]] = {}
        if translator is not None and lang is not None:
            for t in turns:
                if t.lang == lang:
                    continue
                with console.status(f"translating turn {t.turn} with {translator.label}…"):
                    budget = min(2048, max(params.max_tokens, 4 * len(t.content) + 32))
                    text = await translate(translator, t.content, t.lang, lang, budget)
                translated[t.turn] = (text, f"model:{translator.info.id}")
                console.print(Text.assemble((f"turn {t.turn} ({t.lang}→{lang}, {translator.label}): ", "dim"), text))
        planned = plan(turns, lang, prefix, file_turns, translated)
        conv_id = db.create_conversation(kind="replay", lang=planned[0].lang,
                                         system=participants[0].system if participants else None,
                                         models=[p.metadata() for p in participants], params=asdict(params),
                                         source=src.id, framing=framing)
        console.print(f"[bold]Replay[/] of {escape(src.display)} → conversation #{conv_id} · "
                      f"{escape(', '.join(f'{p.label} ({p.origin})' for p in participants))}"
                      + (f" · framing {escape(framing)}" if framing else ""))
        histories = Histories(participants)
        titles = {p.label: f"{p.label} · {p.origin}" for p in participants}
        for i, pt in enumerate(planned, start=1):
            db.add_user_turn(conv_id, i, pt.lang, pt.text, pt.sent, source_turn=pt.source.turn,
                             translation=pt.translation)

            def store(reply: Reply, turn: int = i, turn_lang: str = pt.lang) -> None:
                db.add_reply(conv_id, turn, turn_lang, reply.row())

            with TurnDisplay(console, participants, print_replies=False) as display:
                new = await run_turn(participants, histories, pt.sent, pt.lang, params, display, on_reply=store)
            db.touch(conv_id)
            console.rule(f"turn {i}")
            console.print(Text.assemble(("source", "bold"), f" ({pt.source.lang}): ", pt.source.content))
            console.print(Text.assemble(("replay", "bold"), f" ({pt.lang}, {pt.translation}): ", pt.sent))
            order = {m.get("label"): i for i, m in enumerate(src.models)}
            old = sorted((reply_from_row(dict(r)) for r in db.replies(src.id, pt.source.turn)),
                         key=lambda r: order.get(r.label, len(order)))
            console.print(comparison(console, src, old, new, titles))
        console.print(f"replay stored as conversation #{conv_id} (source {escape(src.display)}) in "
                      f"{escape(str(db.path))}")
        return conv_id
    finally:
        await close_backends(everyone)
