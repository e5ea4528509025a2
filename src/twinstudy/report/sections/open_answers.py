"""Report section "Open answers": what the coded open replies say, per codebook (issue 17).

For every codebook whose codes the database holds: the category distribution per model × framing
as a stacked-bar figure (one panel per language), the analysis tables about those categories when
the analysis made them (shares, contrasts, the origin-versus-user-culture headline; each with its
estimand sentence), and a few example replies per category, linked to the transcript viewer.

The figure is drawn from the coded frame directly (:func:`twinstudy.coding.frame.attach_codes` on
the report's scored frame), so it is there even when the category analysis is not: it shows plain
shares of the coded replies, without intervals, and its caption says so. The intervals are in the
tables, which come from :class:`twinstudy.analysis.Results` and are shown only by name, so that a
table the analysis adds later needs no change here.

Model output is untrusted: example replies reach the page only through Jinja2 autoescaping (never
``|safe``, never as a template), and links to transcripts carry ids from the study (model, item,
language, framing), which the page's script matches against its own lists.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from twinstudy.analysis import Results
from twinstudy.analysis.methods import MEASURED_95, MEASURED_COVERAGE, METHODS, NAMES
from twinstudy.analysis.order import SIGNS, ordered_models
from twinstudy.coding.codebook import Codebook
from twinstudy.coding.frame import attach_codes, counting_coder
from twinstudy.coding.loader import codebooks_in
from twinstudy.report import category_plot
from twinstudy.report import figures as figs
from twinstudy.report.numbers import MIN_UNITS_FOR_INTERVAL, ci, finite, fmt, pct
from twinstudy.store import Store
from twinstudy.store.codes import CODE_OUTCOMES
from twinstudy.store.reads import TranscriptRow

#: Analysis tables about categories, in reading order (the headline first). Each is shown when
#: Results holds it, restricted to the codebook's rows when it has a ``codebook`` column.
CATEGORY_TABLES: tuple[str, ...] = ("category_headline", "category_contrasts", "category_shares")
TABLE_ROWS = 150           # rows shown per table; `twinstudy analyze --json` has them all
EXAMPLES_PER_CATEGORY = 4  # split between the languages when both have replies in the category
EXAMPLE_CAP = 420          # characters of an example reply (whitespace collapsed); the transcript has it whole
NONE_CATEGORY = category_plot.NONE_LABEL  # multi-label replies coded with no category
NOT_A_CI = "interval (coverage not measured; not a 95 % CI)"

#: (estimate, low, high) column names an analysis table may use for one interval.
_TRIPLES: tuple[tuple[str, str, str], ...] = (
    ("estimate", "ci_low", "ci_high"), ("estimate", "lo", "hi"), ("share", "lo", "hi"),
    ("share", "ci_low", "ci_high"))
_SUFFIXES: tuple[tuple[str, str], ...] = (("_ci_low", "_ci_high"), ("_lo", "_hi"), ("_low", "_high"))
_HIDDEN = {"codebook", "ci_kind"}


@dataclass
class Example:
    model: str
    origin: str
    lang: str
    item: str
    framing: str
    paraphrase: int
    sample: int
    text: str


@dataclass
class CategoryView:
    id: str
    label: str
    label_zh: str
    definition: str
    n: int
    examples: list[Example] = field(default_factory=list)


@dataclass
class StatTable:
    """An analysis table, formatted: ``rows`` are strings in ``columns`` order."""

    name: str
    title: str
    estimand: str
    interval: str
    sign: str
    columns: list[str]
    rows: list[list[str]]
    left_out: int = 0


@dataclass
class CodebookView:
    id: str
    title: str
    question: str
    multi_label: bool
    coder: str
    other_coders: list[str]
    n_coded: int
    n_uncodable: int
    n_not_coded: int | None  # answers the codebook applies to that the coder has not coded (None: unknown)
    figure: str  # key in OpenAnswers.figures, "" when it could not be drawn
    categories: list[CategoryView]
    tables: list[StatTable]
    n_not_answers: int = 0  # refused, blocked or failed trials: never coded, so shares are of answers


@dataclass
class OpenAnswers:
    codebooks: list[CodebookView] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def shown(self) -> bool:
        return bool(self.codebooks)


# -- the figure's data --------------------------------------------------------------------------------

def framing_order(framings: Sequence[str]) -> list[str]:
    """Neutral first, then alphabetical (which keeps culture-cn / culture-us and identity-cn /
    identity-us next to each other, CN before US as in every contrast)."""
    return sorted(set(framings), key=lambda f: (f != "neutral", f))


def category_counts(coded: pd.DataFrame, book: Codebook) -> pd.DataFrame:
    """Share of coded replies in each category per language × model × framing (no interval).

    A reply counts once: with one category it counts 1 toward it; a multi-label reply with k
    categories counts 1/k toward each, and one with none counts toward ``(none)``, so every bar
    sums to 1. Columns: lang, model, origin, framing, category, share, n (replies coded)."""
    cols = ["lang", "model", "origin", "framing", "category", "share", "n"]
    rows = coded[coded["code_status"] == "coded"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    order = [*book.category_ids, NONE_CATEGORY]
    out: list[dict[str, Any]] = []
    for (lang, model, framing), g in rows.groupby(["lang", "model", "framing"], sort=True):
        weights = dict.fromkeys(order, 0.0)
        for cats in g["categories"]:
            known = [c for c in cats if c in weights and c != NONE_CATEGORY]
            if not known:
                weights[NONE_CATEGORY] += 1.0
            for c in known:
                weights[c] += 1.0 / len(known)
        n = len(g)
        origin = str(g["origin"].iloc[0])
        out.extend({"lang": lang, "model": model, "origin": origin, "framing": framing, "category": c,
                    "share": w / n, "n": n} for c, w in weights.items())
    df = pd.DataFrame(out, columns=cols)
    if not (df["category"] == NONE_CATEGORY).any() or df.loc[df["category"] == NONE_CATEGORY, "share"].sum() == 0:
        df = df[df["category"] != NONE_CATEGORY]
    return df.reset_index(drop=True)


# -- analysis tables -----------------------------------------------------------------------------------

def _triples(columns: Sequence[str]) -> list[tuple[str, str, str]]:
    cols = set(columns)
    found = [t for t in _TRIPLES if set(t) <= cols]
    used = {c for t in found for c in t}
    for c in columns:
        if c in used:
            continue
        pairs = [(f"{b}{lo}", f"{b}{hi}") for b in (c, c.removesuffix("_effect"))  # origin_effect, origin_low
                 for lo, hi in _SUFFIXES]
        match = next(((lo, hi) for lo, hi in pairs if lo in cols and hi in cols and not {lo, hi} & used), None)
        if match is not None:
            found.append((c, *match))
            used |= {c, *match}
    return found


def _plain(col: str, v: Any) -> str:
    if v is None or isinstance(v, float) and math.isnan(v):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        x = finite(v)
        if x is None:
            return "–"
        if col.startswith("p_") or col in ("p", "p_value"):
            return fmt(x, ".3f")
        if float(x).is_integer() and (col.startswith("n") or col in ("k", "b", "c")):
            return f"{int(x):,}"
        return fmt(x, "+.2f")
    return str(v)


def _interval_label(name: str, table: pd.DataFrame) -> str:
    if "ci_kind" in table.columns:
        kinds = sorted({str(k) for k in table["ci_kind"].dropna()})
        if kinds:
            return ", ".join(kinds)
    return "95 % CI" if name in MEASURED_95 else NOT_A_CI


def format_table(name: str, table: pd.DataFrame) -> StatTable:
    """Any category table, formatted: each interval triple as one "estimate [low, high]" cell
    (a share in percent), the other columns as they are. Knows no column names beyond the
    interval conventions, so a new column needs no change here."""
    label = _interval_label(name, table)
    triples = _triples(list(table.columns))
    in_triple = {c for t in triples for c in t[1:]}
    heads = {t[0]: t for t in triples}
    shown = [c for c in table.columns if c not in _HIDDEN and c not in in_triple]
    units_col = next((c for c in ("n_items", "items", "n") if c in table.columns), None)
    columns = [f"{c} [low, high]" if c in heads else c for c in shown]  # the interval's kind: in `interval`
    rows: list[list[str]] = []
    for rec in table.head(TABLE_ROWS).to_dict("records"):
        cells: list[str] = []
        for c in shown:
            if c not in heads:
                cells.append(_plain(c, rec.get(c)))
                continue
            est, lo, hi = heads[c]
            r = {"estimate": rec.get(est), "ci_low": rec.get(lo), "ci_high": rec.get(hi),
                 "n": rec.get(units_col) if units_col else None}
            units = finite(r["n"])
            if "share" not in est:
                cells.append(ci(r))
            elif units is not None and units < MIN_UNITS_FOR_INTERVAL:
                v = finite(r["estimate"])
                cells.append(f"{fmt(None if v is None else v * 100, '.0f')}% (n={int(units)}, no interval)")
            else:
                cells.append(pct(r))
        rows.append(cells)
    estimand = METHODS.get(name, "The analysis recorded no sentence for this table; read its intervals "
                                 "as approximate (not 95 % CIs).")
    coverage = MEASURED_COVERAGE.get(name)
    interval = f"{label}; measured coverage {coverage}." if coverage else f"{label}."
    return StatTable(name, NAMES.get(name, name.replace("_", " ")), estimand, interval, SIGNS.get(name, ""),
                     columns, rows, max(0, len(table) - TABLE_ROWS))


def stat_tables(results: Results, codebook: str) -> list[StatTable]:
    """The analysis's category tables for one codebook, those that have rows."""
    out: list[StatTable] = []
    for name in CATEGORY_TABLES:
        table = results.table(name)
        if "codebook" in table.columns:
            table = table[table["codebook"].astype(str) == codebook]
        if not table.empty:
            out.append(format_table(name, table.reset_index(drop=True)))
    return out


# -- examples ------------------------------------------------------------------------------------------

TextKey = tuple[str, str, str, str, str, int, int]


def reply_texts(rows: Sequence[TranscriptRow]) -> dict[TextKey, str]:
    """Each trial's reply text by (model, instrument, item, lang, framing, paraphrase, sample)."""
    return {(r.model, r.instrument, r.item, r.lang, r.framing, int(r.paraphrase), int(r.sample)): r.answer_text
            for r in rows if r.answer_text and r.outcome != "blocked"}


def _key(r: Any) -> TextKey:
    return (str(r["model"]), str(r["instrument"]), str(r["item"]), str(r["lang"]), str(r["framing"]),
            int(r["paraphrase"]), int(r["sample"]))


def _short(text: str) -> str:
    t = " ".join(text.split())
    return t if len(t) <= EXAMPLE_CAP else t[:EXAMPLE_CAP].rstrip() + "…"


def _stable(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def pick_examples(rows: pd.DataFrame, texts: dict[TextKey, str], models: list[str],
                  k: int = EXAMPLES_PER_CATEGORY) -> list[Example]:
    """Up to ``k`` replies of one category: both languages when both have some, and within a
    language the models in turn; a fixed pseudo-random order (by trial key) so that the same
    database always shows the same examples and no model or item is favoured by sort order."""
    by_lang: dict[str, dict[str, list[Any]]] = {}
    for _, r in rows.iterrows():
        if _key(r) in texts:
            by_lang.setdefault(str(r["lang"]), {}).setdefault(str(r["model"]), []).append(r)
    langs = sorted(by_lang)
    if not langs:
        return []
    quota = {lang: k // len(langs) + (1 if i < k % len(langs) else 0) for i, lang in enumerate(langs)}
    picked: list[Any] = []
    spare: list[Any] = []
    for lang in langs:
        queues = {m: sorted(v, key=lambda r: _stable(str(r["trial_key"])))
                  for m, v in by_lang[lang].items()}
        order = [m for m in models if m in queues] + sorted(set(queues) - set(models))
        taken: list[Any] = []
        while any(queues.values()):
            for m in order:
                if queues[m]:
                    taken.append(queues[m].pop(0))
        picked.extend(taken[:quota[lang]])
        spare.extend(taken[quota[lang]:])
    picked.extend(spare[:max(0, k - len(picked))])
    return [Example(str(r["model"]), str(r["origin"]), str(r["lang"]), str(r["item"]), str(r["framing"]),
                    int(r["paraphrase"]), int(r["sample"]), _short(texts[_key(r)])) for r in picked]


# -- the section ---------------------------------------------------------------------------------------

def _coder(store: Store, book: Codebook) -> tuple[str | None, list[str]]:
    chosen = counting_coder(store, book.id)
    return chosen, [c for c in store.coders(book.id) if c != chosen]


def build_open_answers(store: Store, frame: pd.DataFrame, results: Results, meta: dict[str, dict[str, Any]],
                       transcripts: Sequence[TranscriptRow], fig_dir: Path,
                       codebooks: Sequence[Codebook] | None = None) -> OpenAnswers:
    """The section for every codebook that has codes in ``store`` (default: as the coders used them,
    :func:`twinstudy.coding.loader.codebooks_in`, user codebooks included).

    ``frame``: the report's scored frame (open trials are taken from it; the store is only asked for
    codes). ``transcripts``: the transcript viewer's rows, where the example texts come from."""
    out = OpenAnswers()
    open_rows = frame[frame["item_type"] == "open"].reset_index(drop=True) if not frame.empty else frame
    if open_rows.empty:
        return out
    try:
        books = list(codebooks) if codebooks is not None else codebooks_in(store)
    except Exception as exc:  # a broken codebook file costs this section, not the report
        out.errors.append(f"open answers: {type(exc).__name__}: {exc}")
        return out
    texts: dict[TextKey, str] = {}

    def lazy_texts() -> dict[TextKey, str]:  # only a database with codes pays for the lookup
        if not texts:
            texts.update(reply_texts(transcripts))
        return texts

    for book in books:
        try:
            view = _codebook_view(store, book, open_rows, results, meta, lazy_texts, fig_dir, out)
        except Exception as exc:  # one codebook that cannot be shown costs that codebook only
            out.errors.append(f"open answers, codebook {book.id}: {type(exc).__name__}: {exc}")
            continue
        if view is not None:
            out.codebooks.append(view)
    return out


def _codebook_view(store: Store, book: Codebook, open_rows: pd.DataFrame, results: Results,
                   meta: dict[str, dict[str, Any]], texts: Callable[[], dict[TextKey, str]], fig_dir: Path,
                   out: OpenAnswers) -> CodebookView | None:
    coder, others = _coder(store, book)
    if coder is None:
        return None
    scope = book.applies_to.instruments
    rows = open_rows[open_rows["instrument"].astype(str).isin(scope)] if scope else open_rows
    coded = attach_codes(rows, store.code_table(book.id, coder), book, coder)
    status = coded["code_status"]
    n_coded = int((status == "coded").sum())
    if n_coded == 0 and not (status == "uncodable").any():
        return None
    counts = category_counts(coded, book)
    key = f"categories_{book.id}"
    models = ordered_models(coded)
    if counts.empty:
        key = ""
    else:
        try:
            fig = category_plot.category_bars(counts, book, meta, models, framing_order(counts["framing"].astype(str).tolist()))
            out.figures[key] = figs.save(fig, fig_dir, key)
        except Exception as exc:  # a figure that cannot be drawn costs that figure only
            out.errors.append(f"figure {key}: {type(exc).__name__}: {exc}")
            key = ""
        finally:
            figs.close_all()
    done = coded[coded["code_status"] == "coded"]
    cats: list[CategoryView] = []
    for c in book.categories:
        with_c = done[[c.id in cs for cs in done["categories"]]]
        cats.append(CategoryView(c.id, c.label.en, c.label.zh, c.definition.en, len(with_c),
                                 pick_examples(with_c, texts(), models)))
    answers = coded["outcome"].isin(CODE_OUTCOMES).to_numpy()
    return CodebookView(
        book.id, book.title.en, book.question.en, book.multi_label, coder, others, n_coded,
        int((status == "uncodable").sum()),
        None if book.applies_to.tags and not scope else int((status.isna().to_numpy() & answers).sum()),
        key, cats, stat_tables(results, book.id), n_not_answers=int((~answers).sum()))
