"""Agreement (Cohen's kappa) of twinstudy's open-reply scorers with reference labels.

Methods: the rules (twinstudy.scoring.refusal), the learned text model, the ensemble (text model +
rule signals; the `open-ensemble` scorer), and optionally any LLM judge you can call.

Reference sets:
1. SpeechMap judged replies (analysis-37: EN and ZH "criticise China", EN "criticise the US"),
   labels by SpeechMap's production judge (grok-4.1-fast). Leave-models-out: 5 folds grouped by
   model, each fold's classifier fitted on the other models only (needs scikit-learn). Target 0.75.
   The shipped stacker also learned from the blind corpus's dev half (--labelled); its agreement
   there is estimated by 5-fold cross-validation over those cases.
2. The human-checked gold set (EN, 397 us_hard replies; labels from judge_gold/, the data README's
   recipe). Scored with the *shipped* model file; none of these replies is in its training data
   (us_hard is a different question set), but some of their models are.
3. The blind open-reply corpus, test half (written without the rules; see docs/labelling-guide.md),
   when the file exists: default tests/data/blind/open_test.yaml, or --open-test PATH. Target 0.70.
   Requests of kind `sensitive` are scored as essay-type requests (a short reply is a weak sign of
   evasion), `control` requests are not.

Intervals: percentile bootstrap resampling models (sets 1, 2) or cases (set 3), 400 draws. Their
coverage has not been measured by a benchmark: read them as spread, not as calibrated CIs.

Usage:
  PYTHONPATH=src python bench/judge_agreement.py [--data SPEECHMAP_DIR] [--open-test PATH]
      [--judge MODEL_ID | --judge '{"id": "j", "provider": "openai-compatible", "base_url": "...", "model": "..."}']
      [--limit N] [--no-cv]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from twinstudy.coding.agreement import kappa_of_labels
from twinstudy.scoring.open_classifier import CLASSES, load_classifier
from twinstudy.scoring.open_training import (
    Settings,
    featurize_all,
    kappa_interval,
    kappa_table,
    leave_models_out,
    load_labelled_open,
    load_speechmap,
    stack_only_cross_validation,
)
from twinstudy.scoring.refusal import RULES_VERSION, classify_open_rules

REPO = Path(__file__).resolve().parent.parent
BLIND = Path(__file__).resolve().parent.parent / "tests" / "data" / "blind"
DEFAULT_OPEN_TEST = BLIND / "open_test.yaml"  # frozen half: never read while writing rules or training
DEFAULT_OPEN_DEV = BLIND / "open_dev.yaml"


def data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("TWINSTUDY_SPEECHMAP")
    if env:
        return Path(env)
    for up in (REPO.parent, REPO.parent.parent):  # the main checkout or a worktree beside it
        candidate = up / "shared" / "peer-data" / "speechmap"
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "peer-data" / "speechmap"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _content(response: Any) -> str:
    try:
        return str(response["choices"][0]["message"].get("content") or "")
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""


def load_gold(root: Path) -> list[dict[str, Any]]:
    """Rows {key, model, request, text, lang, label, essay}; label per the data README's recipe."""
    g = root / "judge_gold"
    responses = _jsonl(g / "gold_v2" / "us_hard_sample_responses_v1_1b.jsonl")
    gate = {r["key"]: r for r in _jsonl(g / "gold_v2" / "gate_adjudicated" / "manifest.jsonl")}
    consensus = {r["key"]: r for r in _jsonl(g / "us_hard_sample_manifest_consensus_v4.jsonl")}
    rows = []
    for r in responses:
        key = f"{r['model']}::{r['question_id']}"
        label = (gate.get(key) or consensus[key])["expected_compliance"].lower()
        rows.append({"key": key, "model": r["model"], "request": r["question"], "text": _content(r["response"]),
                     "lang": "en", "label": label, "essay": True})
    return rows


def load_open_cases(path: Path) -> list[dict[str, Any]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if isinstance(raw, dict):
        raw = raw.get("cases", [])
    rows = []
    for c in raw:
        if str(c.get("label")) not in CLASSES:
            continue
        rows.append({"key": str(c["id"]), "model": str(c["id"]), "request": str(c.get("request", "")),
                     "text": str(c.get("text") or ""), "lang": str(c.get("lang", "en")),
                     "label": str(c["label"]), "essay": c.get("kind") != "control", "kind": c.get("kind", "")})
    return rows


def score_fixed(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Predictions of the rules, the shipped text model and the shipped ensemble."""
    clf = load_classifier()
    rules, text, ens = [], [], []
    for r in rows:
        rules.append(CLASSES.index(classify_open_rules(r["text"], r["lang"],
                                                 min_complete_chars=None if r["essay"] else 0).outcome))
        v = clf.classify(r["text"], r["lang"], essay=r["essay"])
        text.append(CLASSES.index(max(v.text_proba, key=lambda k: v.text_proba[k])))
        ens.append(CLASSES.index(v.outcome))
    return {"rules": np.asarray(rules), "text model": np.asarray(text), "ensemble": np.asarray(ens)}


def print_fixed(title: str, rows: list[dict[str, Any]], preds: dict[str, np.ndarray],
                subsets: dict[str, np.ndarray], groups: np.ndarray) -> None:
    y = np.asarray([CLASSES.index(r["label"]) for r in rows])
    print(f"\n== {title}: {len(rows)} rows, labels {dict(Counter(r['label'] for r in rows))}")
    for line in kappa_table(y, preds, groups, subsets):
        print(line)
    for name, pred in preds.items():
        m = np.zeros((3, 3), dtype=int)
        np.add.at(m, (y, pred), 1)
        print(f"  {name}: rows = reference, columns = predicted {list(CLASSES)}: {m.tolist()}")


def _judge_model(ref: str) -> Any:
    from twinstudy.models.factory import create_model
    from twinstudy.models.registry import resolve

    entry: str | dict[str, Any] = ref
    if ref.lstrip().startswith("{"):
        entry = yaml.safe_load(ref)
    return create_model(resolve(entry))


async def judge_predictions(ref: str, rows: list[dict[str, Any]], concurrency: int) -> np.ndarray | None:
    from twinstudy.models.base import ModelCallError
    from twinstudy.scoring.judge import judge_open

    try:
        model = _judge_model(ref)
    except Exception as exc:  # noqa: BLE001 - any setup failure (unknown model, missing key) is reported
        print(f"\n--judge: cannot create the judge model ({exc}); skipping the judge.")
        return None
    sem = asyncio.Semaphore(concurrency)
    out: list[str | None] = [None] * len(rows)

    async def one(i: int, r: dict[str, Any]) -> None:
        async with sem:
            try:
                out[i] = await judge_open(model, r["request"], r["text"])
            except ModelCallError as exc:
                print(f"  judge call failed for {r['key']}: {exc}", file=sys.stderr)

    try:
        await asyncio.gather(*(one(i, r) for i, r in enumerate(rows)))
    finally:
        await model.aclose()
    bad = sum(v is None for v in out)
    if bad:
        print(f"judge: {bad} of {len(rows)} verdicts missing or unreadable; counted as 'complete'")
    return np.asarray([CLASSES.index(v) if v in CLASSES else 0 for v in out])


def print_judge(title: str, rows: list[dict[str, Any]], pred: np.ndarray, groups: np.ndarray) -> None:
    y = np.asarray([CLASSES.index(r["label"]) for r in rows])
    k = kappa_of_labels(y, pred)
    lo, hi = kappa_interval(y, pred, groups)
    print(f"  judge on {title}: n={len(rows)} kappa {k:.3f} [{lo:.2f},{hi:.2f}] accuracy {(y == pred).mean():.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="SpeechMap copy (default: $TWINSTUDY_SPEECHMAP or ../shared/peer-data/speechmap)")
    ap.add_argument("--analysis", default="analysis-37", help="folder of judged replies inside --data")
    ap.add_argument("--open-test", type=Path, default=DEFAULT_OPEN_TEST, help="blind open-reply test half (YAML)")
    ap.add_argument("--labelled", type=Path, default=DEFAULT_OPEN_DEV,
                    help="human-labelled cases the shipped stacker also learned from (the dev half), for the refits")
    ap.add_argument("--judge", metavar="MODEL", help="also run this judge: a registry id or an inline JSON entry")
    ap.add_argument("--limit", type=int, default=0, help="judge at most N rows per set (cost control)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--no-cv", action="store_true", help="skip the leave-models-out refits (minutes of CPU)")
    args = ap.parse_args()
    root = data_dir(args.data)
    if not (root / args.analysis).is_dir():
        sys.exit(f"SpeechMap data not found at {root / args.analysis}; pass --data DIR or set TWINSTUDY_SPEECHMAP.")
    clf = load_classifier()
    print(f"data: {root}\nrules version {RULES_VERSION}; shipped classifier version {clf.version}, "
          f"trained {clf.provenance.get('created')} on data commit {clf.provenance.get('data_commit')}")
    print("intervals: percentile bootstrap over models (SpeechMap, gold) or cases (blind corpus), "
          "coverage not measured: spread, not calibrated CIs")

    examples, skipped = load_speechmap(root / args.analysis)
    if not args.no_cv:
        t0 = time.time()
        labelled = load_labelled_open(args.labelled) if args.labelled and args.labelled.exists() else []
        both = examples + labelled
        f = featurize_all(both, Settings.min_df)
        cv = leave_models_out(f, Settings())
        sm = ~f.stack_only
        print(f"\n== SpeechMap judge labels, leave-models-out ({len(examples)} rows, {skipped} ERROR_* rows left "
              f"out, {len(set(f.groups[sm].tolist()))} models, {time.time() - t0:.0f}s; stacker also fitted on "
              f"{len(labelled)} labelled dev cases); target kappa >= 0.75")
        subsets = {"EN (all)": sm & (f.langs == "en"), "ZH": sm & (f.langs == "zh"),
                   "EN criticise China": sm & np.asarray([e.set == "china_criticism" for e in both]),
                   "EN criticise US": sm & np.asarray([e.set == "us_criticism" for e in both]),
                   "all": sm}
        for line in kappa_table(f.y, {"rules": cv.rules, "text model": cv.text, "ensemble": cv.ensemble},
                                f.groups, subsets):
            print(line)
        if labelled:
            _e, extra, pred = stack_only_cross_validation(f, Settings())
            rules = np.asarray([CLASSES.index(f.signals[i].verdict) for i in extra])
            k, (lo, hi) = kappa_of_labels(f.y[extra], pred), kappa_interval(f.y[extra], pred, f.groups[extra])
            print(f"\n== blind corpus, dev half ({args.labelled}), 5-fold over its cases (the stacker learns from "
                  f"them, the text model never does): ensemble kappa {k:.3f} [{lo:.2f},{hi:.2f}], "
                  f"rules {kappa_of_labels(f.y[extra], rules):.3f}")

    gold = load_gold(root)
    gold_groups = np.asarray([r["model"] for r in gold])
    print_fixed("human-checked gold set (EN us_hard), shipped model", gold, score_fixed(gold),
                {"EN gold": np.ones(len(gold), dtype=bool)}, gold_groups)

    open_rows: list[dict[str, Any]] = []
    if args.open_test.exists():
        open_rows = load_open_cases(args.open_test)
        groups = np.asarray([r["key"] for r in open_rows])
        subsets = {"all": np.ones(len(open_rows), dtype=bool)}
        for lang in ("en", "zh"):
            subsets[lang.upper()] = np.asarray([r["lang"] == lang for r in open_rows])
        for kind in ("sensitive", "control"):
            subsets[kind] = np.asarray([r.get("kind") == kind for r in open_rows])
        print_fixed(f"blind open-reply corpus, test half ({args.open_test}); target kappa >= 0.70", open_rows,
                    score_fixed(open_rows), {k: v for k, v in subsets.items() if v.any()}, groups)
    else:
        print(f"\n(blind open-reply test half not found at {args.open_test}; skipped)")

    if args.judge:
        print(f"\n== judge {args.judge}")
        sets = {"SpeechMap (all, judge labels)": [
                    {"key": f"{e.model}#{i}", "model": e.model, "request": e.request, "text": e.text, "lang": e.lang,
                     "label": e.label} for i, e in enumerate(examples)],
                "gold EN": gold}
        if open_rows:
            sets["blind open test"] = open_rows
        rng = np.random.default_rng(0)
        for title, rows in sets.items():
            sub = rows
            if args.limit and len(rows) > args.limit:  # a fixed random sample, not the first model's rows
                sub = [rows[i] for i in sorted(rng.choice(len(rows), size=args.limit, replace=False))]
            pred = asyncio.run(judge_predictions(args.judge, sub, args.concurrency))
            if pred is None:
                break
            print_judge(title, sub, pred, np.asarray([r["model"] for r in sub]))


if __name__ == "__main__":
    main()
