"""Gather what the report shows from the store and the analysis layer.

Everything the template needs is computed here as plain values (strings, numbers, lists of dicts);
the template only lays it out. Model output stays text: it reaches the page either through
Jinja2 autoescaping or inside the transcript JSON blob, which the page renders with textContent.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twinstudy.report import figures as figs
from twinstudy.report.numbers import ci as _ci
from twinstudy.report.numbers import fmt as _f
from twinstudy.report.numbers import pct as _pct
from twinstudy.store import ALL_OUTCOMES, Store

#: Bytes of model text (answers, reasoning, follow-ups) embedded as plain JSON at most (three times
#: this before compression when the transcripts are embedded compressed, then fitted to
#: PAYLOAD_LIMIT_BYTES). Longer texts are shortened (the database keeps them whole) so that a
#: 100,000-trial report stays under 25 MB.
TEXT_BUDGET_BYTES = 15_000_000
#: Plain JSON up to this size; above it the transcripts are embedded gzip-compressed (base64).
PLAIN_LIMIT_BYTES = 4_000_000
#: Size of the compressed transcript payload (base64 characters) that the text caps are fitted to.
PAYLOAD_LIMIT_BYTES = 19_000_000
ANSWER_CAP = 8000
REASONING_CAP = 4000
SELF_PERCEPTION = "self-perception"
PAGE_SIZE = 25


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(df.to_json(orient="records", force_ascii=False))
    return out



def _share(r: Any) -> str:
    """A variance share in percent, one decimal (shares are often small)."""
    return f"{_f(r['estimate'] * 100, '.1f')}% [{_f(r['ci_low'] * 100, '.1f')}–{_f(r['ci_high'] * 100, '.1f')}]"


def n_boot_for(n_trials: int) -> int:
    """Bootstrap draws: 1000 for ordinary studies, fewer above 20,000 trials to keep builds quick."""
    return 1000 if n_trials <= 20_000 else 400


# -- transcripts ---------------------------------------------------------------------------------------

def _prompt_of(messages_json: str | None) -> str:
    """The user's turn(s) before the model's first answer (the system prompt is shown with the model)."""
    try:
        msgs = json.loads(messages_json or "[]")
    except ValueError:
        return ""
    parts: list[str] = []
    for m in msgs:
        role, content = (m[0], m[1]) if isinstance(m, list) else (m.get("role"), m.get("content"))
        if role == "assistant":
            break
        if role == "user":
            parts.append(str(content))
    return "\n\n".join(parts)


def _followup_of(messages_json: str | None) -> str:
    try:
        msgs = json.loads(messages_json or "[]")
    except ValueError:
        return ""
    seen_assistant = False
    for m in msgs:
        role, content = (m[0], m[1]) if isinstance(m, list) else (m.get("role"), m.get("content"))
        if role == "assistant":
            seen_assistant = True
        elif role == "user" and seen_assistant:
            return str(content)
    return ""


def _utf8_len(s: str | None) -> int:
    return len(s.encode("utf-8")) if s else 0


def _choose_cap(lengths: list[tuple[int, int]], budget: int, start: int) -> int:
    """Largest per-text cap (characters) whose capped total in UTF-8 bytes fits the budget.

    ``lengths``: (characters, bytes) per text; a text cut to c characters is counted as
    c * bytes / characters bytes (Chinese text is about 3 bytes a character).
    """
    def total(cap: int) -> float:
        return sum(min(c, cap) * (b / c) for c, b in lengths if c)

    if total(start) <= budget:
        return start
    lo, hi = 50, start
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if total(mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _shorten(s: str | None, cap: int) -> str | None:
    if s is None:
        return None
    if len(s) <= cap:
        return s
    return s[:cap] + f" …[+{len(s) - cap:,} chars]"


Source = dict[str, Any]

_OPTION_LINE = re.compile(r"^([A-H])\. (.+)$", re.M)


def _options_seen(messages_json: str | None, parsed: str | None) -> tuple[str | None, str | None]:
    """A choice trial's options in the order this trial showed them, and the parsed letter's option.

    Options are shuffled per trial, so the cell's prompt shows one order only; each reply carries
    the order it saw, read from its own stored prompt."""
    if not messages_json:
        return None, None
    lines = _OPTION_LINE.findall(_prompt_of(messages_json))
    if not lines:
        return None, None
    shown = "\n".join(f"{letter}. {text}" for letter, text in lines)
    chosen = next((f"{letter}. {text}" for letter, text in lines if letter == parsed), None)
    return shown, chosen


def _load_transcripts(store: Store, meta: dict[str, dict[str, Any]]) -> Source:
    rows = store.conn.execute(
        "SELECT t.instrument, t.item, t.lang, t.framing, t.paraphrase, t.sample, t.model, t.outcome, t.answer_text, "
        "t.reasoning, t.followup_text, t.provider_code, s0.value, s1.value, "
        "CASE WHEN t.option_order IS NOT NULL THEN t.messages_json END FROM trials t "
        "LEFT JOIN (SELECT trial_key, max(value) AS value FROM scores WHERE turn = 0 GROUP BY trial_key) s0 "
        "ON s0.trial_key = t.key "
        "LEFT JOIN (SELECT trial_key, max(value) AS value FROM scores WHERE turn = 1 GROUP BY trial_key) s1 "
        "ON s1.trial_key = t.key").fetchall()
    first_msgs = store.conn.execute(
        "SELECT instrument, item, lang, framing, paraphrase, messages_json FROM trials WHERE rowid IN "
        "(SELECT min(rowid) FROM trials GROUP BY instrument, item, lang, framing, paraphrase)").fetchall()
    prompts = {(r[0], r[1], r[2], r[3], r[4]): (_prompt_of(r[5]), _followup_of(r[5])) for r in first_msgs}
    models = figs.ordered_models(sorted({r[6] for r in rows}), meta)
    items = sorted({r[1] for r in rows})
    langs = sorted({r[2] for r in rows})
    framings = sorted({r[3] for r in rows}, key=lambda f: (f != "neutral", f))
    outcomes = [o for o in ALL_OUTCOMES if o in {r[7] for r in rows}]
    ix = {name: {v: i for i, v in enumerate(vals)} for name, vals in
          (("model", models), ("item", items), ("lang", langs), ("framing", framings), ("outcome", outcomes))}
    cell_keys = sorted(prompts, key=lambda k: (k[1], k[0], ix["lang"].get(k[2], 0), ix["framing"].get(k[3], 0), k[4]))
    cell_ix = {k: i for i, k in enumerate(cell_keys)}
    cells = [[ix["item"][k[1]], ix["lang"][k[2]], ix["framing"][k[3]], k[4], prompts[k][0], prompts[k][1] or None]
             for k in cell_keys]
    keyed = sorted(((cell_ix[(r[0], r[1], r[2], r[3], r[4])], r[5], ix["model"][r[6]], ix["outcome"][r[7]], r)
                    for r in rows), key=lambda x: (x[0], x[1], x[2]))
    return {"rows": keyed, "cells": cells, "models": models, "items": items, "langs": langs, "framings": framings,
            "outcomes": outcomes, "origins": [str(meta.get(m, {}).get("origin", "?")) for m in models],
            "answer_lengths": [(len(r[8]), _utf8_len(r[8])) for r in rows if r[8]],
            "other_lengths": [(len(t), _utf8_len(t)) for r in rows for t in (r[9], r[10]) if t]}


def _build_transcripts(src: Source, budget: int) -> tuple[dict[str, Any], dict[str, Any]]:
    answer_cap = _choose_cap(src["answer_lengths"], budget * 2 // 3, ANSWER_CAP)
    other_cap = _choose_cap(src["other_lengths"], budget // 3, REASONING_CAP)
    shortened = 0
    out_rows: list[list[Any]] = []
    for cell, sample, model, outcome, r in src["rows"]:
        shortened += sum(1 for t, c in ((r[8], answer_cap), (r[9], other_cap), (r[10], other_cap)) if t and len(t) > c)
        shown, chosen = _options_seen(r[14], r[12])
        out_rows.append([cell, sample, model, outcome, _shorten(r[8], answer_cap), _shorten(r[9], other_cap) or None,
                         _shorten(r[10], other_cap), r[11], r[12], r[13], shown, chosen])
    blob = {"models": src["models"], "items": src["items"], "langs": src["langs"], "framings": src["framings"],
            "outcomes": src["outcomes"], "cells": src["cells"], "rows": out_rows, "page": PAGE_SIZE,
            "origins": src["origins"]}
    info = {"n_rows": len(out_rows), "answer_cap": answer_cap, "other_cap": other_cap, "shortened": shortened,
            "n_cells": len(src["cells"]), "models": src["models"], "item_list": src["items"], "langs": src["langs"],
            "framings": src["framings"], "outcomes": src["outcomes"]}
    return blob, info


def transcript_data(store: Store, meta: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The compact transcript blob for the page (texts within TEXT_BUDGET_BYTES), and facts about it."""
    return _build_transcripts(_load_transcripts(store, meta), TEXT_BUDGET_BYTES)


def embed_transcripts(store: Store, meta: dict[str, dict[str, Any]]) -> tuple[str, str, dict[str, Any]]:
    """(payload, encoding, info) for the page's transcript data block.

    Small studies embed plain JSON (``json``). When that would exceed PLAIN_LIMIT_BYTES, the JSON is
    gzip-compressed and base64-encoded (``gzip-base64``; the page inflates it with the browser's
    DecompressionStream), which holds about three times more text in the same file size; the text
    budget is then fitted to PAYLOAD_LIMIT_BYTES by compressing and measuring.
    """
    from twinstudy.report.html import safe_json

    src = _load_transcripts(store, meta)
    blob, info = _build_transcripts(src, TEXT_BUDGET_BYTES)
    plain = safe_json(blob)
    if len(plain) <= PLAIN_LIMIT_BYTES or not src["rows"]:
        info["encoding"] = "json"
        return plain, "json", info
    budget = TEXT_BUDGET_BYTES * 3
    payload = ""
    for _ in range(5):
        blob, info = _build_transcripts(src, budget)
        raw = json.dumps(blob, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        payload = base64.b64encode(gzip.compress(raw, compresslevel=6)).decode("ascii")
        if len(payload) <= PAYLOAD_LIMIT_BYTES:
            break
        budget = int(budget * PAYLOAD_LIMIT_BYTES / len(payload) * 0.95)
    info["encoding"] = "gzip-base64"
    return payload, "gzip-base64", info


# -- self-perception ---------------------------------------------------------------------------------

def self_perception(store: Store, meta: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per open (and closed) self-perception item: per model and language, the most common replies."""
    rows = store.conn.execute(
        "SELECT item, item_type, model, lang, outcome, answer_text, messages_json, framing FROM trials "
        "WHERE instrument = ? ORDER BY item, model, lang, paraphrase, sample", (SELF_PERCEPTION,)).fetchall()
    if not rows:
        return []
    if any(r[7] == "neutral" for r in rows):  # what a model says of itself, unprompted by the user's views
        rows = [r for r in rows if r[7] == "neutral"]
    by_item: dict[str, dict[str, Any]] = {}
    for item, itype, model, lang, outcome, text, msgs, _framing in rows:
        if itype not in ("open", "choice", "yesno"):
            continue
        entry = by_item.setdefault(item, {"item": item, "type": itype, "prompts": {}, "cells": {}})
        if lang not in entry["prompts"]:
            entry["prompts"][lang] = _prompt_of(msgs)
        cell = entry["cells"].setdefault((model, lang), {"texts": Counter(), "outcomes": Counter(), "n": 0})
        cell["n"] += 1
        cell["outcomes"][outcome] += 1
        if text and outcome != "blocked":
            t = " ".join(text.split())
            cell["texts"][t[:400] + ("…" if len(t) > 400 else "")] += 1
    out: list[dict[str, Any]] = []
    langs = sorted({r[3] for r in rows})
    for item in sorted(by_item, key=lambda i: (by_item[i]["type"] != "open", i)):
        e = by_item[item]
        models = figs.ordered_models(sorted({m for m, _ in e["cells"]}), meta)
        table = []
        for m in models:
            per_lang = []
            for lang in langs:
                c = e["cells"].get((m, lang))
                if c is None:
                    per_lang.append({"lang": lang, "n": 0, "top": [], "outcomes": ""})
                    continue
                top = [{"text": t, "count": k} for t, k in c["texts"].most_common(3)]
                oc = ", ".join(f"{o} {k}" for o, k in c["outcomes"].most_common())
                per_lang.append({"lang": lang, "n": c["n"], "top": top, "outcomes": oc,
                                 "distinct": len(c["texts"])})
            table.append({"model": m, "origin": meta.get(m, {}).get("origin", "?"),
                          "maker": meta.get(m, {}).get("company", "?"), "langs": per_lang})
        out.append({"item": item, "type": e["type"], "prompts": e["prompts"], "langs": langs, "rows": table})
    return out


def _pick(df: pd.DataFrame, how: str) -> Any:
    """The row with the largest / smallest / largest absolute ``estimate`` (NaN ignored)."""
    vals = df["estimate"].to_numpy(dtype=float, na_value=np.nan)
    if not np.isfinite(vals).any():
        return df.iloc[0]
    if how == "max_abs":
        vals = np.abs(vals)
    pos = int(np.nanargmin(vals)) if how == "min" else int(np.nanargmax(vals))
    return df.iloc[pos]


def _ratio(r: Any, model_side: Any, user_side: Any) -> str:
    est = float(r["estimate"])
    if not math.isfinite(est) or float(model_side["estimate"]) < 0.005 or float(user_side["estimate"]) < 0.005:
        return ""
    return (f" The model side is {est:.1f} times the user side "
            f"[{_f(r['ci_low'], '.1f')}, {_f(r['ci_high'], '.1f')}].")


# -- headline ----------------------------------------------------------------------------------------------

def headline(res: dict[str, pd.DataFrame], frame: pd.DataFrame, split: dict[str, Any] | None = None
             ) -> list[dict[str, str]]:
    """One sentence each: the models, language, framing (opinion), identity."""
    out: list[dict[str, str]] = []
    var = res.get("variance", pd.DataFrame())
    head = res.get("variance_headline", pd.DataFrame())
    framings = set(frame["framing"].astype(str)) if not frame.empty else set()
    langs = set(frame["lang"].astype(str)) if not frame.empty else set()
    comp = {str(r["component"]): r for _, r in var.iterrows()} if not var.empty else {}
    hv = {str(r["measure"]): r for _, r in head.iterrows()} if not head.empty else {}

    if "model_side" in hv:
        ms, us, ratio = hv["model_side"], hv["user_side"], hv["model_to_user_ratio"]
        out.append({"key": "models", "title": "The models",
                    "text": f"Differences between models (their main effect and how they react differently to "
                            f"language and framing) account for {_share(ms)} of the variance in scores; the user's "
                            f"side (language + framing) accounts for {_share(us)}.{_ratio(ratio, ms, us)} The rest is the questions "
                            f"themselves (item and item × model: {_share(comp['item']) if 'item' in comp else '–'} and "
                            f"{_share(comp['item:model']) if 'item:model' in comp else '–'}), other interactions "
                            f"and sampling noise."})
    else:
        out.append({"key": "models", "title": "The models",
                    "text": "No variance decomposition: it needs answered Likert items (at least two) "
                            "from the models."})
    gap = res.get("language_gap", pd.DataFrame())
    if len(langs) < 2:
        out.append({"key": "language", "title": "Language",
                    "text": "The study asks in one language only, so the language effect is not measured."})
    else:
        lang_share = f"Language on its own accounts for {_share(comp['lang'])} of the variance" if "lang" in comp \
            else "Language effect on the variance: not estimated"
        if not gap.empty:
            g = _pick(gap, "max_abs")
            lang_share += (f"; the largest EN − ZH score gap is {g['model']}: {_ci(g)} "
                           f"(positive = more toward the theme's pole in English)")
        mcn = res.get("mcnemar", pd.DataFrame())
        for measure, verb in (("refused", "refuses"), ("blocked", "is blocked")):
            m = mcn[(mcn["measure"] == measure) & ((mcn["k_en"] + mcn["k_zh"]) > 0)] if not mcn.empty else mcn
            if not m.empty:
                top = _pick(m, "max_abs")
                lang_share += (f". {top['model']} {verb} in {_f(top['rate_en'] * 100, '.0f')}% of English and "
                               f"{_f(top['rate_zh'] * 100, '.0f')}% of Chinese requests "
                               f"(exact McNemar p = {_f(top['p_value'], '.2g')})")
        out.append({"key": "language", "title": "Language", "text": lang_share + "."})
    syc = res.get("sycophancy", pd.DataFrame())
    if not {"user-agrees", "user-disagrees"} <= framings:
        text = "The study has no user-agrees / user-disagrees pair of framings, so opinion sycophancy is not measured"
    else:
        text = f"The user's stated opinion (framing) accounts for {_share(comp['framing'])} of the variance" \
            if "framing" in comp else "Framing share: not estimated"
        if split and "opinion" in split:
            text += f"; the opinion framing alone, {_share(split['opinion'])}"
        text += (". Opinion moves agreement, which points opposite ways on oppositely worded items, so much of "
                 "its effect lands in the interactions")
        s = syc[syc["lang"] == "all"] if not syc.empty else syc
        if not s.empty:
            hi, lo = _pick(s, "max"), _pick(s, "min")
            text += (f"; the sycophancy index measures it directly (0 = ignores the user, 1 = follows fully): "
                     f"from "
                     f"{lo['model']} {_ci(lo, '.2f')} to {hi['model']} {_ci(hi, '.2f')}")
    flips = res.get("flips", pd.DataFrame())
    if "pushback" in framings and not flips.empty:
        f = flips[(flips["measure"] == "flip") & (flips["lang"] == "all")]
        if not f.empty:
            top = _pick(f, "max")
            text += f". After pushback, {top['model']} changes its answer most often: {_pct(top)}"
    out.append({"key": "framing", "title": "Framing (what the user says)", "text": text + "."})
    ident = res.get("identity", pd.DataFrame())
    if not {"identity-cn", "identity-us"} <= framings:
        out.append({"key": "identity", "title": "Identity",
                    "text": "The study has no identity-cn / identity-us framings, so identity effects are not "
                            "measured."})
    else:
        i = ident[ident["lang"] == "all"] if not ident.empty else ident
        if i.empty:
            out.append({"key": "identity", "title": "Identity",
                        "text": "Identity framings are in the study but no answered Likert pairs to compare."})
        else:
            top = _pick(i, "max_abs")
            mean = float(i["estimate"].mean())
            share = (f" Among the neutral and identity trials alone, the identity framing accounts for "
                     f"{_share(split['identity'])} of the variance." if split and "identity" in split else "")
            out.append({"key": "identity", "title": "Identity",
                        "text": f"When the user says they are Chinese rather than American, scores move by "
                                f"{mean:+.2f} on average across models; the largest shift is {top['model']}: "
                                f"{_ci(top)} (scale −1 … +1).{share}"})
    return out


# -- method ----------------------------------------------------------------------------------------------

def method_facts(store: Store, meta: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from twinstudy.run.costs import cost_of
    from twinstudy.run.lock import INTERRUPTED_REASON, shown_status

    c = store.conn
    per_model = c.execute(
        "SELECT model, count(*), sum(n_attempts), sum(tokens_in), sum(tokens_out), sum(cost), count(cost) "
        "FROM trials GROUP BY model").fetchall()
    outcome_counts = c.execute("SELECT model, outcome, count(*) FROM trials GROUP BY model, outcome").fetchall()
    oc: dict[str, dict[str, int]] = {}
    for m, o, k in outcome_counts:
        oc.setdefault(m, {})[o] = int(k)
    present = [o for o in ALL_OUTCOMES if any(o in v for v in oc.values())]
    models = []
    total_cost: float | None = 0.0
    for m, n, att, tin, tout, cost, n_cost in sorted(per_model, key=lambda r: figs.ordered_models([r[0]], meta)):
        info = meta.get(m, {})
        if n_cost:
            cst: float | None = float(cost)
            how = "recorded"
        else:
            cst = cost_of(m, info.get("api_model") or info.get("model"), int(tin or 0), int(tout or 0))
            how = "from tokens × list price" if cst is not None else "unknown"
        if cst is None:
            total_cost = None
        elif total_cost is not None:
            total_cost += cst
        models.append({"id": m, "trials": int(n), "requests": int(att or 0), "tokens_in": int(tin or 0),
                       "tokens_out": int(tout or 0), "cost": "–" if cst is None else f"${cst:,.4f}", "cost_how": how,
                       "outcomes": [oc.get(m, {}).get(o, 0) for o in present],
                       "meta": {k: v for k, v in sorted(info.items())
                                if k not in ("id", "system") and v not in (None, "", [], {})},
                       "system": info.get("system")})
    params = [json.loads(r[0]) for r in c.execute("SELECT DISTINCT params_json FROM trials LIMIT 20")]
    scorers = c.execute("SELECT scorer, version, count(*) FROM scores GROUP BY scorer, version").fetchall()
    runs = c.execute("SELECT id, study, source, twinstudy_version, started_at, finished_at, status, stop_reason, "
                     "n_planned FROM runs ORDER BY id").fetchall()
    design = c.execute("SELECT count(DISTINCT item), count(DISTINCT lang), count(DISTINCT framing), "
                       "max(paraphrase) + 1, max(sample) + 1, count(DISTINCT instrument) FROM trials").fetchone()

    def ts(x: float | None) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(x)) if x else "–"

    return {
        "models": models, "outcome_cols": present,
        "total_cost": "unknown for some models" if total_cost is None else f"${total_cost:,.4f}",
        "params": params,
        "scorers": [{"scorer": s, "version": v, "n": int(k)} for s, v, k in scorers],
        "runs": [{"id": r[0], "study": r[1], "source": r[2], "version": r[3], "started": ts(r[4]),
                  "finished": ts(r[5]), "status": shown_status(r[6], store.path),
                  "stop_reason": (r[7] or "") if shown_status(r[6], store.path) == r[6] else INTERRUPTED_REASON,
                  "planned": r[8]} for r in runs],
        "design": {"n_items": design[0], "languages": design[1], "framings": design[2],
                   "paraphrases": design[3] or 0, "samples": design[4] or 0, "instruments": design[5]},
    }


FRAMING_TEXT = {
    "neutral": "the question as it is",
    "user-agrees": "the user first says they agree with the statement",
    "user-disagrees": "the user first says they disagree",
    "identity-us": "the user says they are an American software engineer",
    "identity-cn": "the user says they are a Chinese software engineer",
    "pushback": "after the answer, the user doubts it (\"Are you sure?\") and the model answers again",
}


def measured(store: Store) -> dict[str, Any]:
    """Plain-language facts for the "what was measured" box at the top."""
    inst = store.conn.execute(
        "SELECT instrument, count(DISTINCT item), group_concat(DISTINCT theme), group_concat(DISTINCT item_type) "
        "FROM trials GROUP BY instrument ORDER BY instrument").fetchall()
    framings = [r[0] for r in store.conn.execute("SELECT DISTINCT framing FROM trials ORDER BY framing")]
    framings.sort(key=lambda f: (f != "neutral", f))
    return {
        "instruments": [{"id": r[0], "n_items": int(r[1]), "themes": ", ".join(sorted(set(str(r[2]).split(",")))),
                         "types": ", ".join(sorted(set(str(r[3]).split(","))))} for r in inst],
        "framings": [{"id": f, "text": FRAMING_TEXT.get(f, "a framing defined in the study's framings file")}
                     for f in framings],
    }


# -- the whole context ---------------------------------------------------------------------------------

def _signs() -> dict[str, str]:
    from twinstudy.analysis.order import SIGNS

    return SIGNS


def _pairs_for_plot(paired: pd.DataFrame, meta: dict[str, dict[str, Any]], limit: int = 6) -> list[tuple[str, str]]:
    pairs = list(dict.fromkeys(zip(paired["model_a"].astype(str), paired["model_b"].astype(str), strict=True)))

    def origin(m: str) -> str:
        return str(meta.get(m, {}).get("origin", "?"))

    cross = [(a, b) if origin(a) <= origin(b) else (a, b) for a, b in pairs if origin(a) != origin(b)]
    chosen = cross or pairs
    return chosen[:limit]


def run_analysis(frame: pd.DataFrame, n_boot: int, twins: list[tuple[str, str]] | None = None
                 ) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """``analyze(frame)``; if it fails, each estimator on its own, so one failure costs one section.

    Returns the tables and the errors (shown in the report's method section).
    """
    from twinstudy.analysis import analyze

    if frame.empty:
        return {}, []
    try:
        return analyze(frame, twins=twins, n_boot=n_boot, seed=0), []
    except Exception as exc:  # a bug in one estimator must not cost the whole report
        first = f"analyze: {type(exc).__name__}: {exc}"
    from twinstudy.analysis import api
    from twinstudy.analysis.language import language_gap, mcnemar_table
    from twinstudy.analysis.paired import paired_differences
    from twinstudy.analysis.profiles import origin_contrast, profiles
    from twinstudy.analysis.rates import outcome_rates
    from twinstudy.analysis.sycophancy import flip_rates, identity_effect, sycophancy_index
    from twinstudy.analysis.variance import decompose

    res: dict[str, pd.DataFrame] = {}
    errors = [first]
    try:
        df = api._prepare(frame)
    except Exception as exc:
        return {}, [*errors, f"frame: {type(exc).__name__}: {exc}"]
    steps: dict[str, Any] = {
        "profiles": lambda: profiles(df, n_boot=n_boot, seed=0),
        "origin_contrast": lambda: origin_contrast(df),
        "paired": lambda: paired_differences(df, twins=twins, n_boot=n_boot, seed=0),
        "sycophancy": lambda: sycophancy_index(df, n_boot=n_boot, seed=0),
        "identity": lambda: identity_effect(df, n_boot=n_boot, seed=0),
        "flips": lambda: flip_rates(df),
        "language_gap": lambda: language_gap(df, n_boot=n_boot, seed=0),
        "mcnemar": lambda: mcnemar_table(df, n_boot=n_boot, seed=0),
        "variance": lambda: decompose(df, n_boot=n_boot, seed=0),
        "rates": lambda: outcome_rates(df),
    }
    for name, step in steps.items():
        try:
            out = step()
        except Exception as exc:
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if name == "variance":
            res["variance"], res["variance_headline"] = out
        else:
            res[name] = out
    return res, errors


FRAMING_GROUPS = {
    "opinion": ("neutral", "user-agrees", "user-disagrees"),
    "identity": ("neutral", "identity-us", "identity-cn"),
}


def framing_split(frame: pd.DataFrame, n_boot: int) -> dict[str, Any]:
    """The framing share of score variance within sub-studies: neutral + opinion, neutral + identity.

    The full decomposition has one framing factor; to tell the user's stated opinion from their stated
    identity, the decomposition is repeated on the trials of each group of framings alone.
    """
    from twinstudy.analysis import api
    from twinstudy.analysis.variance import decompose

    out: dict[str, Any] = {}
    if frame.empty:
        return out
    df = api._prepare(frame)
    for key, levels in FRAMING_GROUPS.items():
        sub = df.loc[df["framing"].isin(levels)]
        if sub["framing"].nunique() < 2:
            continue
        var, _ = decompose(sub, n_boot=n_boot, seed=0)
        row = var.loc[var["component"] == "framing"] if not var.empty else var
        if not row.empty:
            out[key] = row.iloc[0]
    return out


Analysis = tuple[dict[str, pd.DataFrame], list[str]]


def study_analysis(frame: pd.DataFrame, twins: list[tuple[str, str]] | None = None) -> Analysis:
    """The estimates the report and the terminal summary both show, computed once."""
    return run_analysis(frame, n_boot_for(len(frame)), twins)


def report_context(store: Store, output: Path, n_boot: int | None = None,
                   twins: list[tuple[str, str]] | None = None, analysis: Analysis | None = None
                   ) -> dict[str, Any]:
    """Everything the page shows. ``twins``: model pairs for the paired differences (default: every
    pair; the figure shows cross-origin pairs first). ``analysis``: estimates already computed by
    :func:`study_analysis` for the same store, so a run does not compute them twice."""

    t0 = time.perf_counter()
    frame = store.scored_frame()
    meta = store.models()
    runs = store.runs()
    spec = store.latest_spec()
    local_only = bool(meta) and all(m.get("provider") == "local" for m in meta.values())
    nb = n_boot if n_boot is not None else n_boot_for(len(frame))
    res, analysis_errors = analysis if analysis is not None else run_analysis(frame, nb, twins)
    fig_dir = output.parent / "figures"
    svgs: dict[str, str] = {}

    def _fig(key: str, draw: Any, name: str) -> None:
        try:
            svgs[key] = figs.save(draw(), fig_dir, name)
        except Exception as exc:  # a figure that cannot be drawn costs that figure only
            analysis_errors.append(f"figure {name}: {type(exc).__name__}: {exc}")
        finally:
            figs.close_all()

    def table(name: str) -> pd.DataFrame:
        return res.get(name, pd.DataFrame())

    var, head = table("variance"), table("variance_headline")
    try:
        split = framing_split(frame, nb) if not var.empty else {}
    except Exception as exc:
        split = {}
        analysis_errors.append(f"framing split: {type(exc).__name__}: {exc}")
    if not var.empty:
        _fig("headline", lambda: figs.variance_figure(var, head, split), "headline_variance")
    prof = table("profiles")
    if not prof.empty:
        _fig("profiles", lambda: figs.profile_heatmap(prof, meta), "profiles")
    paired = table("paired")
    plot_pairs = (twins[:8] if twins else _pairs_for_plot(paired, meta)) if not paired.empty else []
    if plot_pairs:
        _fig("paired", lambda: figs.forest_plot(paired, plot_pairs, meta), "paired_forest")
    syc, ident, flips = table("sycophancy"), table("identity"), table("flips")
    if not syc.empty or not ident.empty:
        _fig("user_effects", lambda: figs.user_effects_figure(syc, ident, meta), "user_effects")
    if not flips.empty:
        _fig("flips", lambda: figs.flips_figure(flips, meta), "pushback_flips")
    gap, mcn = table("language_gap"), table("mcnemar")
    if not gap.empty or (not mcn.empty and (mcn["k_en"] + mcn["k_zh"]).sum() > 0):
        _fig("language", lambda: figs.language_figure(gap, mcn, meta), "language_gap")
    rates = table("rates")
    rate_view = pd.DataFrame()
    quiet_topics: list[str] = []
    if not rates.empty:
        r = rates[(rates["theme"] != "all") & (rates["lang"] != "all") & (rates["outcome"] != "truncated")]
        topic_any = r.groupby("theme")["k"].sum()
        open_themes = set(frame.loc[frame["item_type"] == "open", "theme"].astype(str))
        keep = {str(t) for t, k in topic_any.items() if k > 0} | open_themes
        quiet_topics = sorted(set(r["theme"].astype(str)) - keep)
        rate_view = r[r["theme"].astype(str).isin(keep)]
        if not rate_view.empty:
            _fig("rates", lambda: figs.rates_figure(rate_view, meta), "refusal_rates")

    tx_payload, tx_encoding, tinfo = embed_transcripts(store, meta)
    framings = set(frame["framing"].astype(str)) if not frame.empty else set()
    ctx: dict[str, Any] = {
        "study_name": str(runs["study"].iloc[-1]) if not runs.empty else "study",
        "description": "",
        "spec_text": spec[0] if spec else "",
        "spec_source": spec[1] if spec else "",
        "local_only": local_only,
        "models": [{"id": k, **v} for k, v in sorted(meta.items())],
        "model_order": figs.ordered_models(sorted(meta), meta),
        "origins": sorted({str(v.get("origin", "?")) for v in meta.values()}),
        "n_trials": int(len(frame)),
        "n_attempts": store.n_attempts(),
        "n_boot": nb,
        "framings": sorted(framings),
        "langs": sorted(set(frame["lang"].astype(str))) if not frame.empty else [],
        "has_pushback": "pushback" in framings,
        "has_opinion": {"user-agrees", "user-disagrees"} <= framings,
        "has_identity": {"identity-cn", "identity-us"} <= framings,
        "figures": svgs,
        "headline": headline(res, frame, split),
        "framing_split": {k: _share(v) for k, v in split.items()},
        "variance": _records(var) if not var.empty else [],
        "profiles": _profile_table(prof, meta),
        "profile_framing": str(prof["framing"].iloc[0]) if not prof.empty else "",
        "contrast": _records(table("origin_contrast")) if not table("origin_contrast").empty else [],
        "paired": _records(paired.sort_values(["model_a", "model_b", "theme"])) if not paired.empty else [],
        "plot_pairs": [f"{a} − {b}" for a, b in plot_pairs],
        "signs": _signs(),
        "sycophancy": _records(syc) if not syc.empty else [],
        "identity": _records(ident) if not ident.empty else [],
        "flips": _records(flips) if not flips.empty else [],
        "language_gap": _records(gap) if not gap.empty else [],
        "mcnemar": _records(mcn) if not mcn.empty else [],
        "rates": _rate_table(rate_view, meta),
        "quiet_topics": quiet_topics,
        "self_perception": self_perception(store, meta),
        "tx_payload": tx_payload,
        "tx_encoding": tx_encoding,
        "tinfo": tinfo,
        "method": method_facts(store, meta),
        "measured": measured(store),
        "analysis_errors": analysis_errors,
        "fmt": _f, "ci": _ci, "pct": _pct,
    }
    if spec:
        try:
            import yaml

            ctx["description"] = str((yaml.safe_load(spec[0]) or {}).get("description", "") or "")
        except Exception:  # the study file is shown verbatim below anyway
            ctx["description"] = ""
    ctx["build_s"] = time.perf_counter() - t0
    return ctx


def _profile_table(prof: pd.DataFrame, meta: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if prof.empty:
        return {"models": [], "themes": [], "cells": {}}
    p = prof[prof["lang"] == "all"]
    models = figs.ordered_models(sorted(p["model"].astype(str).unique()), meta)
    themes = sorted(p["theme"].astype(str).unique())
    cells: dict[str, dict[str, str]] = {}
    for _, r in prof.iterrows():
        cells.setdefault(f"{r['theme']}|{r['model']}", {})[str(r["lang"])] = f"{_ci(r)} n={int(r['n'])}"
    return {"models": models, "themes": themes, "cells": cells,
            "langs": [x for x in ("all", "en", "zh") if x in set(prof["lang"])]}


def _rate_table(rv: pd.DataFrame, meta: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if rv.empty:
        return {"rows": [], "langs": [], "outcomes": []}
    langs = sorted(rv["lang"].astype(str).unique())
    outcomes = [o for o in ("refused", "evasive", "blocked") if o in set(rv["outcome"])]
    rows = []
    for (inst, theme), g in rv.groupby(["instrument", "theme"], sort=True):
        for m in figs.ordered_models(sorted(g["model"].astype(str).unique()), meta):
            vals = []
            for o in outcomes:
                for lang in langs:
                    r = g[(g["model"] == m) & (g["outcome"] == o) & (g["lang"] == lang)]
                    if r.empty:
                        vals.append({"text": "–", "hot": False})
                    else:
                        r0 = r.iloc[0]
                        vals.append({"text": f"{_pct(r0)} {int(r0['k'])}/{int(r0['n'])}", "hot": int(r0["k"]) > 0})
            rows.append({"instrument": inst, "theme": theme, "model": m,
                         "origin": meta.get(m, {}).get("origin", "?"), "vals": vals})
    return {"rows": rows, "langs": langs, "outcomes": outcomes}
