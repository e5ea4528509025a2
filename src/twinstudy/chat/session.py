"""The interactive loop: read a line, send it to every participant, show and store the replies.

One asyncio event loop lives for the whole chat (HTTP clients stay bound to it); input is read
between turns on the main thread, so Ctrl-C while typing quits and Ctrl-C during a turn only
abandons that turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twinstudy.chat.db import ChatDB
from twinstudy.chat.engine import Histories, Reply, run_turn
from twinstudy.chat.participants import Participant, close_backends, open_backends
from twinstudy.chat.render import TurnDisplay
from twinstudy.errors import UserError
from twinstudy.models.base import GenerateParams
from twinstudy.vocab import LANGS

HELP = ("/models  list the models   /lang en|zh  language of later turns   "
        "/save [NAME]  name the conversation   /quit  leave")


def prompt_text(lang: str) -> str:
    return f"[bold cyan]you ({lang}) ›[/] "


class ChatSession:
    def __init__(self, participants: list[Participant], db: ChatDB, *, lang: str, params: GenerateParams,
                 system: str | None, console: Console) -> None:
        if lang not in LANGS:
            raise UserError(f"--lang must be en or zh, not '{lang}'.")
        self.participants = participants
        self.db = db
        self.lang = lang
        self.params = params
        self.console = console
        self.histories = Histories(participants)
        self.turn = 0
        self.name: str | None = None
        self.conv_id = db.create_conversation(kind="chat", lang=lang, system=system,
                                              models=[p.metadata() for p in participants],
                                              params=asdict(params))

    # -- turns --------------------------------------------------------------------------------
    async def send(self, text: str) -> list[Reply]:
        self.turn += 1
        turn, lang = self.turn, self.lang
        self.db.add_user_turn(self.conv_id, turn, lang, text, text)

        def store(reply: Reply) -> None:
            self.db.add_reply(self.conv_id, turn, lang, reply.row())

        with TurnDisplay(self.console, self.participants) as display:
            replies = await run_turn(self.participants, self.histories, text, lang, self.params, display,
                                     on_reply=store)
        self.db.touch(self.conv_id)
        return replies

    # -- slash commands -----------------------------------------------------------------------
    def command(self, line: str) -> bool:
        """Run a slash command; False means leave the chat."""
        name, _, arg = line.strip().partition(" ")
        arg = arg.strip()
        if name in ("/quit", "/exit", "/q"):
            return False
        if name == "/models":
            self.show_models()
        elif name == "/lang":
            if arg not in LANGS:
                self.console.print(f"[yellow]usage: /lang en|zh (now {self.lang})[/]")
            else:
                self.lang = arg
                self.console.print(f"[dim]later turns are recorded as {arg}[/]")
        elif name == "/save":
            self.save(arg or None)
        elif name in ("/help", "/?"):
            self.console.print(HELP, markup=False)
        else:
            self.console.print(f"unknown command {name}; {HELP}", markup=False)
        return True

    def show_models(self) -> None:
        table = Table(box=None, pad_edge=False)
        for col in ("label", "model", "provider", "origin", "company", "system prompt"):
            table.add_column(col)
        for p in self.participants:
            system = (p.system or "")[:60] + ("…" if p.system and len(p.system) > 60 else "")
            table.add_row(p.label, p.info.id, p.info.provider, p.info.origin, p.info.company, system)
        self.console.print(table)

    def save(self, name: str | None) -> None:
        name = (name or self.name or f"chat-{self.conv_id}").strip()
        if name.lstrip("#").isdigit():
            self.console.print("[yellow]a name cannot be a number (numbers are conversation ids); "
                               "choose another[/]")
            return
        try:
            self.db.name_conversation(self.conv_id, name)
        except UserError as exc:
            self.console.print(f"[yellow]{escape(str(exc))}[/]")
            return
        self.name = name
        self.console.print(f"saved conversation #{self.conv_id} as '{escape(name)}' ({self.turn} turns) in "
                           f"{escape(str(self.db.path))}")
        self.console.print(f"[dim]replay it: twinstudy replay {escape(name)} --models ... --lang "
                           f"{'zh' if self.lang == 'en' else 'en'} --db {escape(str(self.db.path))}[/]")

    def finish(self) -> None:
        if self.db.delete_if_empty(self.conv_id):
            self.console.print("[dim]no turns; nothing stored[/]")
            return
        label = f"'{self.name}'" if self.name else "(unnamed; /save NAME to name it)"
        self.console.print(f"conversation #{self.conv_id} {escape(label)} is stored in {escape(str(self.db.path))}")

    def banner(self) -> None:
        who = ", ".join(f"{p.label} ({p.origin})" for p in self.participants)
        self.console.print(f"[bold]Mirror chat[/] with {escape(who)} · conversation #{self.conv_id} · "
                           f"{escape(str(self.db.path))}")
        self.console.print(f"[dim]{escape(HELP)}[/]")


def run_chat(participants: list[Participant], db_path: Path, *, lang: str, params: GenerateParams,
             system: str | None, console: Console | None = None) -> int:
    """The interactive chat; returns the conversation id."""
    console = console or Console(highlight=False)
    open_backends(participants)
    db = ChatDB(db_path)
    loop = asyncio.new_event_loop()
    try:
        session = ChatSession(participants, db, lang=lang, params=params, system=system, console=console)
        session.banner()
        while True:
            try:
                line = console.input(prompt_text(session.lang)).strip()
            except (EOFError, KeyboardInterrupt):
                console.print()
                break
            if not line:
                continue
            if line.startswith("/"):
                if not session.command(line):
                    break
                continue
            task = loop.create_task(session.send(line))
            try:
                loop.run_until_complete(task)
            except KeyboardInterrupt:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
                    loop.run_until_complete(task)
                console.print("[yellow]turn interrupted: replies that had arrived are stored; the others are "
                              "not, and those models will not see this turn[/]")
        session.finish()
        return session.conv_id
    finally:
        try:
            loop.run_until_complete(close_backends(participants))
        finally:
            loop.close()
            db.close()
