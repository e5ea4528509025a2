"""``twinstudy chat`` (a group: chatting, plus ``chat export``) and ``twinstudy replay``.

Only click is imported at module level so that ``twinstudy --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from twinstudy.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])

DB_HELP = "Chat database (default: twinstudy-runs/chat/results.db)."
MODELS_HELP = ("Comma-separated registry names; NAME@LABEL gives a participant its own label, so one model "
               "can take part twice (local/smollm2-135m@a,local/smollm2-135m@b).")




def _db(path: Path | None) -> Path:
    from twinstudy.chat.db import DEFAULT_DB

    return path or DEFAULT_DB


def _params(max_tokens: int, temperature: float | None, seed: int | None) -> Any:
    from twinstudy.models.base import GenerateParams

    return GenerateParams(max_tokens=max_tokens, temperature=temperature, seed=seed)


def _sampling(fn: F) -> F:
    fn = click.option("--seed", type=int, help="Sampling seed, where the provider supports one.")(fn)
    fn = click.option("--temperature", type=click.FloatRange(min=0), help="Sampling temperature "
                      "(default: the provider's).")(fn)
    fn = click.option("--max-tokens", default=1024, show_default=True, type=click.IntRange(min=1),
                      help="Longest reply per model and turn.")(fn)
    fn = click.option("--system-for", "system_for", multiple=True, metavar="LABEL=TEXT",
                      help="System prompt for one participant (repeatable); overrides --system.")(fn)
    fn = click.option("--system", help="System prompt sent to every model.")(fn)
    return fn


@click.group("chat", invoke_without_command=True)
@click.option("--models", help=MODELS_HELP)
@click.option("--study", "study", type=click.Path(dir_okay=False, path_type=Path),
              help="Take the participants from a study file's models (any endpoint: vLLM, Ollama, a llama.cpp "
                   "server), with their declared origin and system prompts.")
@click.option("--origin-for", "origin_for", multiple=True, metavar="LABEL=ORIGIN",
              help="Declared origin of one participant (repeatable), e.g. --origin-for cn=CN.")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "zh"]),
              help="Language the turns are recorded in; /lang switches it.")
@_sampling
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help=DB_HELP)
@click.pass_context
def chat_group(ctx: click.Context, models: str | None, study: Path | None, origin_for: tuple[str, ...],
               lang: str, system: str | None,
               system_for: tuple[str, ...], max_tokens: int, temperature: float | None, seed: int | None,
               db: Path | None) -> None:
    """Talk to several models at once; every turn is stored for replay and export.

    \b
    Each message goes to every model at the same time; each model keeps its own history.
    In the chat: /models  /lang en|zh  /save [NAME]  /quit
    Example: twinstudy chat --models local/smollm2-135m@a,local/smollm2-135m@b
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"db": db}  # `twinstudy chat --db X export ...` works too
        return
    if not models and study is None:
        raise UserError("twinstudy chat needs --models A,B (e.g. --models zai/glm-4.6,anthropic/claude-sonnet-4-5, "
                        "or local/smollm2-135m@a,local/smollm2-135m@b offline) or --study FILE.")
    from twinstudy.chat.participants import build_participants
    from twinstudy.chat.session import run_chat

    participants = build_participants(models or "", lang=lang, system=system, system_for=system_for,
                                      study=study, origin_for=origin_for)
    run_chat(participants, _db(db), lang=lang, params=_params(max_tokens, temperature, seed), system=system)


@chat_group.command("export")
@click.argument("conversation")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Instrument YAML file to write.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help=DB_HELP)
@click.pass_context
def export_command(ctx: click.Context, conversation: str, output: Path, db: Path | None) -> None:
    """Turn CONVERSATION's user turns (id or name) into an open-ended instrument YAML."""
    from twinstudy.chat.export import export_conversation

    if db is None and isinstance(ctx.obj, dict):
        db = ctx.obj.get("db")
    inst = export_conversation(_db(db), conversation, output)
    untranslated = sum(1 for i in inst.items if i.note.startswith("untranslated"))
    click.echo(f"wrote {len(inst.items)} open items to {output} (instrument '{inst.id}'"
               + (f"; {untranslated} untranslated, see their notes" if untranslated else "") + ")")


@click.command("replay")
@click.argument("conversation")
@click.option("--models", required=True, help=MODELS_HELP)
@click.option("--lang", type=click.Choice(["en", "zh"]),
              help="Replay every user turn in this language (default: each turn's own).")
@click.option("--framing", help="Framing whose prefix goes before the first user turn (e.g. identity-cn).")
@click.option("--framings-file", type=click.Path(dir_okay=False, exists=True),
              help="Your own framings YAML (adds to the bundled ones).")
@click.option("--translate-with", help="Model that translates user turns not in --lang (machine translation).")
@click.option("--turns-file", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML list of every user turn in --lang (e.g. a human translation).")
@_sampling
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help=DB_HELP)
def replay_command(conversation: str, models: str, lang: str | None, framing: str | None,
                   framings_file: str | None, translate_with: str | None, turns_file: Path | None,
                   system: str | None, system_for: tuple[str, ...], max_tokens: int, temperature: float | None,
                   seed: int | None, db: Path | None) -> None:
    """Re-send CONVERSATION's user turns (id or name) to MODELS; print and store a side-by-side comparison.

    \b
    Change the language (--lang, with --turns-file or --translate-with), the user's framing
    (--framing, prefixed to the first turn), the models, or all three. The replay is stored as a
    new conversation linked to the source.
    """
    from click.core import ParameterSource

    from twinstudy.chat.replay import run_replay

    ctx = click.get_current_context()
    unset = frozenset(name for name in ("max_tokens", "temperature", "seed")
                      if ctx.get_parameter_source(name) in (ParameterSource.DEFAULT, None))
    run_replay(_db(db), conversation, models, lang=lang, framing=framing, framings_file=framings_file,
               translate_with=translate_with, turns_file=turns_file, system=system, system_for=system_for,
               params=_params(max_tokens, temperature, seed), unset=unset)
