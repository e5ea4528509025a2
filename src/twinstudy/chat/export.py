"""A conversation's user turns as an open-ended instrument, so it can become a proper study.

Each user turn becomes one ``open`` item, asked on its own (without the conversation before it).
The turn's own language fills one side. The other side is, in order of preference: a replay's
``--turns-file`` text (a human translation), a replay's machine translation, the original turn of
the conversation this one replays, or else the same text with a ``note`` saying it is untranslated.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from twinstudy.chat.db import ChatDB, Conversation, UserTurn
from twinstudy.errors import UserError
from twinstudy.instruments.schema import Bilingual, Instrument, Item, Texts

OTHER = {"en": "zh", "zh": "en"}
PREFERENCE = {"turns-file": 0, "source": 1}  # anything else (model:<id>) after these


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")


def _translations(db: ChatDB, conv: Conversation) -> dict[tuple[int, str], tuple[str, str]]:
    """(turn, lang) -> (text, how) for every translation of this conversation's user turns."""
    found: dict[tuple[int, str], tuple[str, str]] = {}

    def offer(turn: int, lang: str, text: str, how: str) -> None:
        key = (turn, lang)
        rank = PREFERENCE.get(how.split(":")[0], 2)
        if key not in found or rank < PREFERENCE.get(found[key][1].split(":")[0], 2):
            found[key] = (text, how)

    for replay in db.replays_of(conv.id):
        for t in db.user_turns(replay.id):
            if t.source_turn is not None and t.translation not in (None, "original"):
                offer(t.source_turn, t.lang, t.content, f"{t.translation} (replay #{replay.id})")
    if conv.source_conversation is not None:  # this conversation is itself a replay
        originals = {t.turn: t for t in db.user_turns(conv.source_conversation)}
        for t in db.user_turns(conv.id):
            o = originals.get(t.source_turn or -1)
            if o is not None and o.lang != t.lang:
                offer(t.turn, o.lang, o.content, f"source (conversation #{conv.source_conversation})")
    return found


def _item(conv: Conversation, t: UserTurn, translations: dict[tuple[int, str], tuple[str, str]]) -> Item:
    other = OTHER.get(t.lang, "zh")
    text = {t.lang: t.content}
    found = translations.get((t.turn, other))
    if found is not None:
        text[other] = found[0]
        how = found[1]
        method, _, where = how.partition(" ")
        kind = "a human translation from a turns file" if method == "turns-file" else (
            "the original text" if method == "source" else f"a machine translation by {method[len('model:'):]}")
        note = (f"asked in {t.lang} as turn {t.turn} of conversation #{conv.id}; the {other} text is {kind} "
                f"{where}").strip()
    else:
        text[other] = t.content
        note = (f"untranslated: asked in {t.lang} as turn {t.turn} of conversation #{conv.id}; the {other} text "
                f"repeats the {t.lang} text (replay the conversation with --lang {other} to translate it)")
    return Item(id=f"turn-{t.turn:02d}", theme="chat", type="open",
                text=Texts(en=[text["en"]], zh=[text["zh"]]),
                tags=["chat", f"conversation-{conv.id}", f"asked-in-{t.lang}"], note=note)


def conversation_instrument(db: ChatDB, ref: str) -> Instrument:
    conv = db.find(ref)
    turns = db.user_turns(conv.id)
    if not turns:
        raise UserError(f"conversation {conv.display} has no user turns to export.")
    translations = _translations(db, conv)
    inst_id = _slug(conv.name or "") or f"chat-{conv.id}"
    if not re.match(r"^[a-z0-9]", inst_id):
        inst_id = f"chat-{conv.id}-{inst_id}"
    return Instrument(
        id=inst_id,
        title=Bilingual(en=f"Mirror chat {conv.display}", zh=f"镜像对话 {conv.display}"),
        description=(f"The user's questions from conversation {conv.display} of twinstudy chat. Each item is one "
                     "user turn asked on its own, without the conversation before it; read each item's note "
                     "for where its other-language text came from."),
        items=[_item(conv, t, translations) for t in turns],
    )


def instrument_yaml(inst: Instrument) -> str:
    data: dict[str, Any] = inst.model_dump(mode="json", exclude_defaults=True)
    data.setdefault("id", inst.id)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def export_conversation(db_path: Path, ref: str, output: Path) -> Instrument:
    """Write the instrument to ``output`` and check it loads like any user instrument."""
    from twinstudy.instruments.loader import load_instrument

    db = ChatDB(db_path, create=False)
    try:
        inst = conversation_instrument(db, ref)
    finally:
        db.close()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(instrument_yaml(inst), encoding="utf-8")
    load_instrument(str(output))
    return inst
