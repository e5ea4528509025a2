"""``twinstudy code``, ``code-agreement`` and ``codebooks``: open answers coded into categories.

Only coder models are called (an LLM judge), never the models that wrote the replies.
"""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twinstudy.errors import UserError
from twinstudy.store import Store

if TYPE_CHECKING:
    from twinstudy.coding.codebook import Codebook
    from twinstudy.coding.run import CodeResult
    from twinstudy.models.base import ModelInfo
    from twinstudy.study.spec import ResolvedCoding

LEXICON = "lexicon"


def coder_model(store: Store | None, ref: str) -> ModelInfo:
    """The model a coder name means: a model of the study recorded in the database, else a
    registry entry (a UserError naming the choices otherwise)."""
    from twinstudy.models.registry import resolve
    from twinstudy.study.spec import load_study

    if store is not None:
        stored = store.latest_spec()
        if stored and Path(stored[1]).is_file():
            try:
                own = {m.id: m for m in load_study(stored[1]).models}
            except UserError:
                own = {}
            if ref in own:
                return own[ref]
    return resolve(ref)


def run_coders(store: Store, books: list[Codebook], coders: list[str | ModelInfo], *, all_open: bool = False,
               redo: bool = False, concurrency: int = 4, max_tokens: int = 400, quiet: bool = True) -> list[CodeResult]:
    """Run each coder over each codebook, in the order given (the last coder becomes primary)."""
    from twinstudy.coding.run import code_with_lexicon

    results: list[CodeResult] = []
    for coder in coders:
        if isinstance(coder, str):
            results.extend(code_with_lexicon(store, b, all_open=all_open, redo=redo) for b in books)
        else:
            results.extend(_run_judge(store, books, coder, all_open=all_open, redo=redo, concurrency=concurrency,
                                      max_tokens=max_tokens, quiet=quiet))
    return results


def _run_judge(store: Store, books: list[Codebook], info: ModelInfo, *, all_open: bool, redo: bool,
               concurrency: int, max_tokens: int, quiet: bool) -> list[CodeResult]:
    """Create the judge model, code every codebook with it, close it."""
    from twinstudy.coding.run import code_with_judge
    from twinstudy.models.factory import create_model

    model = create_model(info)

    def progress(done: int, total: int) -> None:
        if not quiet and (done == total or done % max(1, total // 10) == 0):
            print(f"  {info.id}: {done}/{total} replies", file=sys.stderr)

    async def go() -> list[CodeResult]:
        try:
            return [await code_with_judge(store, b, model, info.id, all_open=all_open, redo=redo,
                                          concurrency=concurrency, max_tokens=max_tokens, progress=progress)
                    for b in books]
        finally:
            await model.aclose()

    return asyncio.run(go())


def check_coder_keys(coding: ResolvedCoding) -> None:
    """Before a run: every judge coder of the study's ``coding:`` section has its API key."""
    from twinstudy.models.registry import missing_key

    for coder in coding.coders:
        env = None if isinstance(coder, str) else missing_key(coder)
        if env and not isinstance(coder, str):
            raise UserError(f"the study's coder {coder.id} needs an API key: set {env}, or remove it from "
                            "`coding: coders:` and code later with `twinstudy code DB --coder MODEL`.")


def run_study_coding(store: Store, coding: ResolvedCoding, *, quiet: bool = True) -> list[str]:
    """The study's ``coding:`` section after its run: one summary line per codebook and coder."""
    from twinstudy.coding.run import summary

    results = run_coders(store, coding.codebooks, coding.coders, all_open=coding.all_open,
                         concurrency=coding.concurrency, max_tokens=coding.max_tokens, quiet=quiet)
    return [summary(r) for r in results]


def _no_replies_hint(book: Codebook) -> str:
    scope = book.applies_to
    said = ", ".join([f"instrument {i}" for i in scope.instruments] + [f"tag {t}" for t in scope.tags])
    return (f"codebook {book.id} applies to {said}, and the database has no answered open reply of it; "
            "pass --all-open to code every open reply (e.g. an instrument exported from a chat).")


@click.command("code")
@click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--codebook", "books", multiple=True, required=True, metavar="ID|PATH",
              help="A bundled codebook (`twinstudy codebooks`) or a YAML file of your own; repeatable.")
@click.option("--coder", "coders", multiple=True, metavar="lexicon|MODEL",
              help="`lexicon` (offline keyword rules, the default) or a model id (a model of the study or a "
                   "registry entry) to code as an LLM judge; repeatable, each coder's codes kept apart.")
@click.option("--all-open", is_flag=True, help="Code every open reply, not only those the codebook applies to.")
@click.option("--redo", is_flag=True, help="Code again replies this coder already coded with the same version.")
@click.option("--concurrency", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Judge calls in flight at a time.")
@click.option("--max-tokens", type=click.IntRange(16, 32000), default=400, show_default=True,
              help="Longest judge reply.")
@click.option("--import", "import_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Store a person's codes from a YAML/JSON list of {trial_key, categories}; name the coder "
                   "--coder human:NAME (one codebook).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def code_command(db: Path, books: tuple[str, ...], coders: tuple[str, ...], all_open: bool, redo: bool,
                 concurrency: int, max_tokens: int, import_path: Path | None, quiet: bool) -> None:
    """Code the open replies stored in DB into a codebook's categories (the last coder named
    becomes the one the analysis reads)."""
    from twinstudy.coding.loader import load_codebook
    from twinstudy.coding.run import import_human_codes, summary
    from twinstudy.models.registry import missing_key

    loaded = [load_codebook(b) for b in books]
    store = Store(db, create=False)
    if import_path is not None:
        try:
            if len(loaded) != 1 or len(coders) != 1:
                raise UserError("--import takes one --codebook and one --coder human:NAME.")
            click.echo(summary(import_human_codes(store, loaded[0], coders[0], import_path)))
        finally:
            store.close()
        return
    try:
        chosen: list[str | ModelInfo] = []
        for ref in coders or (LEXICON,):
            if ref == LEXICON:
                chosen.append(LEXICON)
                continue
            info = coder_model(store, ref)
            env = missing_key(info)
            if env:
                raise UserError(f"the coder {info.id} needs an API key: set {env}, or code with --coder lexicon.")
            chosen.append(info)
        results = run_coders(store, loaded, chosen, all_open=all_open, redo=redo, concurrency=concurrency,
                             max_tokens=max_tokens, quiet=quiet)
    finally:
        store.close()
    for r in results:
        click.echo(summary(r))
    for book in loaded:
        if not all_open and all(r.eligible == 0 for r in results if r.codebook == book.id):
            click.echo(_no_replies_hint(book), err=True)


def _fmt(x: float) -> str:
    return "undefined" if math.isnan(x) else f"{x:.3f}"


def agreement_table(store: Store, book: Codebook) -> Table:
    """Alpha between every stored coder of ``book`` (over replies at least two of them coded)."""
    from twinstudy.coding.agreement import codebook_alpha

    per: dict[str, dict[str, tuple[str, ...] | None]] = {}
    for coder in store.coders(book.id):
        df = store.code_table(book.id, coder)
        per[coder] = {k: (c if s == "coded" else None)
                      for k, s, c in zip(df["trial_key"], df["status"], df["categories"], strict=True)}
    table = Table(title=f"Agreement between coders of {book.id} (Krippendorff's alpha, nominal; point "
                        "estimates, not confidence intervals)", title_justify="left")
    for col in ("coders", "replies coded by both", "alpha"):
        table.add_column(col, overflow="fold")
    names = list(per)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = sum(1 for k, v in per[a].items() if v is not None and per[b].get(k) is not None)
            alphas = codebook_alpha(book, {a: per[a], b: per[b]})
            shown = _fmt(alphas["alpha"]) if "alpha" in alphas else (
                f"mean {_fmt(alphas['mean'])} (" + ", ".join(f"{c} {_fmt(v)}" for c, v in alphas.items()
                                                             if c != "mean") + ")")
            table.add_row(escape(f"{a} vs {b}"), str(both), shown)
    if len(names) > 2:
        alphas = codebook_alpha(book, per)
        table.add_row("all coders", "-", _fmt(alphas.get("alpha", alphas.get("mean", math.nan))))
    return table


@click.command("code-agreement")
@click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--codebook", "books", multiple=True, required=True, metavar="ID|PATH", help="Codebook(s) to compare.")
def code_agreement_command(db: Path, books: tuple[str, ...]) -> None:
    """Print Krippendorff's alpha between the coders stored in DB for a codebook."""
    from twinstudy.coding.loader import load_codebook

    loaded = [load_codebook(b) for b in books]
    store = Store(db, create=False)
    con = Console(highlight=False)
    try:
        for book in loaded:
            coders = store.coders(book.id)
            if len(coders) < 2:
                raise UserError(f"{db} has {len(coders)} coder(s) for {book.id} ({', '.join(coders) or 'none'}); "
                                f"agreement needs two: run `twinstudy code {db} --codebook {book.id} --coder MODEL`.")
            con.print(agreement_table(store, book))
    finally:
        store.close()


@click.command("codebooks")
@click.option("--show", metavar="ID|PATH", help="Print one codebook's categories in both languages.")
def codebooks_command(show: str | None) -> None:
    """List the bundled codebooks (categories an open answer is coded into)."""
    from twinstudy.coding.loader import bundled_codebook_ids, load_codebook

    con = Console(highlight=False)
    if show:
        book = load_codebook(show)
        kind = "multi-label" if book.multi_label else f"single-label, fallback {book.fallback or 'none'}"
        con.print(f"[bold]{escape(book.id)}[/] (version {book.version}, {kind}): {escape(book.title.en)} / "
                  f"{escape(book.title.zh)}")
        con.print(escape(f"{book.question.en}\n{book.question.zh}"))
        table = Table(show_lines=True)
        for col in ("id", "English", "中文", "keywords"):
            table.add_column(col, overflow="fold")
        for c in book.categories:
            table.add_row(c.id, escape(f"{c.label.en}: {c.definition.en}"), escape(f"{c.label.zh}：{c.definition.zh}"),
                          f"{len(c.keywords.en)} en, {len(c.keywords.zh)} zh")
        con.print(table)
        return
    table = Table(title="Bundled codebooks (give a path to use your own YAML file)", title_justify="left")
    for col in ("id", "kind", "categories", "applies to", "question"):
        table.add_column(col, overflow="fold")
    for cid in bundled_codebook_ids():
        book = load_codebook(cid)
        scope = ", ".join(book.applies_to.instruments + [f"tag {t}" for t in book.applies_to.tags]) or "every open item"
        table.add_row(cid, "multi-label" if book.multi_label else "single-label", ", ".join(book.category_ids),
                      scope, escape(book.question.en))
    con.print(table)
    con.print("`twinstudy codebooks --show ID` prints one; `twinstudy code DB --codebook ID` codes a database.")
