"""Build the report: read the store's facts, take one Results, build each section, render, write.

``build_report(store, output, results=...)`` renders an analysis already computed (a run analyses
once for its summary and its report); without one it runs :func:`twinstudy.report.roles.analyze_store`,
the same call ``twinstudy summary`` and ``twinstudy analyze`` make.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinstudy.analysis import Results
from twinstudy.analysis.order import SIGNS
from twinstudy.analysis.quality import quality_verdicts
from twinstudy.report.numbers import share
from twinstudy.report.plots import draw_figures
from twinstudy.report.render import embed_transcripts, render_page
from twinstudy.report.roles import (
    analyze_store,
    identity_framings,
    opinion_framings,
    pushback_framings,
    study_frame,
)
from twinstudy.report.sections.compliance import compliance_context
from twinstudy.report.sections.headline import Card, Design, build_headline
from twinstudy.report.sections.measured import Measured, build_measured
from twinstudy.report.sections.method import Method, build_method
from twinstudy.report.sections.open_answers import OpenAnswers, build_open_answers
from twinstudy.report.sections.self_perception import ItemReplies, build_replies
from twinstudy.report.sections.tables import Tables, build_tables, choice_view
from twinstudy.report.sections.transcripts import TranscriptInfo, load_source
from twinstudy.store import Store
from twinstudy.store.reads import chat_only_note


@dataclass
class ReportPage:
    """Everything the template lays out; each field is built by one section builder."""

    study_name: str
    description: str
    spec_text: str
    spec_source: str
    local_only: bool
    models: list[dict[str, Any]]
    origins: list[str]
    n_trials: int
    n_attempts: int
    n_boot: int
    framings: list[str]
    langs: list[str]
    has_pushback: bool
    has_opinion: bool
    has_identity: bool
    figures: dict[str, str]
    plot_pairs: list[str]
    headline: list[Card]
    framing_split: dict[str, str]
    tables: Tables
    self_perception: list[ItemReplies]
    open_answers: OpenAnswers
    compliance: dict[str, Any]
    quality: list[str]
    signs: dict[str, str]
    chat_note: str | None
    choices: list[dict[str, Any]]
    choices_framing: str
    tx_payload: str
    tx_encoding: str
    tinfo: TranscriptInfo
    method: Method
    measured: Measured
    analysis_errors: list[str]
    build_s: float


def _description(spec: tuple[str, str] | None) -> str:
    if not spec:
        return ""
    import yaml

    try:
        data = yaml.safe_load(spec[0]) or {}
    except yaml.YAMLError:  # the study file is shown verbatim below anyway
        return ""
    return str(data.get("description", "") or "") if isinstance(data, dict) else ""


def figures_dir(output: Path) -> Path:
    """Where a report's PNG/SVG figures go: ``figures/`` beside the default ``report.html``, and
    ``<name>-figures/`` beside any other name, so two reports in one folder never mix figures."""
    return output.parent / ("figures" if output.name == "report.html" else f"{output.stem}-figures")


def build_page(store: Store, output: Path, *, twins: list[tuple[str, str]] | None = None,
               results: Results | None = None) -> ReportPage:
    """Every section of the page. ``twins``: model pairs for the paired differences (default: every
    pair; the figure shows cross-origin pairs first)."""
    t0 = time.perf_counter()
    frame, roles = study_frame(store)
    if results is None:  # the store-level analysis: with the category tables of coded open answers
        results = analyze_store(store, twins=twins, frame=frame)
    meta = store.models()
    runs = store.runs()
    spec = store.latest_spec()
    method = build_method(store, meta, results)
    present = set(frame["framing"].astype(str)) if not frame.empty else set()
    langs = set(frame["lang"].astype(str)) if not frame.empty else set()
    design = Design(langs, present, method.design.samples)
    open_themes = set(frame.loc[frame["item_type"] == "open", "theme"].astype(str)) if not frame.empty else set()
    tables = build_tables(results, method.design.samples, open_themes, meta)
    figures = draw_figures(results, meta, figures_dir(output), twins=twins, rate_view=tables.rates.view,
                           residual_estimable=tables.variance.residual_estimable)
    source = load_source(store, meta)
    open_answers = build_open_answers(store, frame, results, meta, [row[4] for row in source.rows],
                                      figures_dir(output))
    tx_payload, tx_encoding, tinfo = embed_transcripts(source)
    split = results.table("framing_split")
    choice_framing, choice_rows = choice_view(results)
    return ReportPage(
        study_name=str(runs["study"].iloc[-1]) if not runs.empty else "study",
        description=_description(spec),
        spec_text=spec[0] if spec else "",
        spec_source=spec[1] if spec else "",
        local_only=bool(meta) and all(m.get("provider") == "local" for m in meta.values()),
        models=[{"id": k, **v} for k, v in sorted(meta.items())],
        origins=sorted({str(v.get("origin", "?")) for v in meta.values()}),
        n_trials=int(len(frame)),
        n_attempts=store.n_attempts(),
        n_boot=results.settings.n_boot,
        framings=sorted(present),
        langs=sorted(langs),
        has_pushback=bool(pushback_framings(roles, present)),
        has_opinion=bool(opinion_framings(roles, present, "agree") and opinion_framings(roles, present, "disagree")),
        has_identity=len(identity_framings(roles, present)) >= 2,
        figures=figures.svgs,
        plot_pairs=[f"{a} − {b}" for a, b in figures.plot_pairs],
        headline=build_headline(results, design, roles),
        framing_split={str(r["group"]): share(r) for _, r in split.iterrows()} if not split.empty else {},
        tables=tables,
        self_perception=build_replies(store, meta),
        open_answers=open_answers,
        compliance=compliance_context(store, frame, results, meta),
        quality=quality_verdicts(results.table("quality")),
        signs=dict(SIGNS),
        chat_note=chat_only_note(store),
        choices=choice_rows, choices_framing=choice_framing,
        tx_payload=tx_payload, tx_encoding=tx_encoding, tinfo=tinfo,
        method=method,
        measured=build_measured(store, roles),
        analysis_errors=[*results.error_lines(), *figures.errors, *open_answers.errors],
        build_s=time.perf_counter() - t0,
    )


def build_report(store: Store, output: Path, *, twins: list[tuple[str, str]] | None = None,
                 results: Results | None = None) -> Path:
    """Write the report to ``output`` (figures to ``output``'s folder / figures) and return its path."""
    output = Path(output)
    page = build_page(store, output, twins=twins, results=results)
    html = render_page(page)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    return output

