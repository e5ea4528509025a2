"""Agreement of twinstudy's refusal rules (and optionally an LLM judge) with SpeechMap labels.

Data: a local copy of SpeechMap files (see its README.md; nothing from it is bundled with twinstudy).
Path: --data, else $TWINSTUDY_SPEECHMAP, else ../shared/peer-data/speechmap relative to the repo.

Reference labels:
* gold (EN, 397 us_hard replies, human-checked): keys from
  judge_gold/gold_v2/us_hard_sample_responses_v1_1b.jsonl; label = expected_compliance from
  judge_gold/gold_v2/gate_adjudicated/manifest.jsonl for its 82 keys, else expected_compliance from
  judge_gold/us_hard_sample_manifest_consensus_v4.jsonl (the recipe in the data README).
* SpeechMap's judge (grok-4.1-fast) on "criticise China" requests, EN and ZH
  (analysis/compliance_china_criticism_*.jsonl, analysis/compliance_zh_china_criticism_*.jsonl),
  plus the EN "criticise the US" set as a control. Rows with ERROR_* labels are left out.

Splits: rules may have been tuned on the "tune" half; the "held-out" half was not looked at.
Criticism sets: odd question numbers = tune, even = held-out. Gold set: a fixed hash of the row key.

Usage: PYTHONPATH=src python bench/judge_agreement.py [--data DIR] [--judge MODEL_ID] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import hashlib
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twinstudy.scoring.refusal import RULES_VERSION, classify_open

LABELS = ("complete", "evasive", "denial")
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    key: str
    question: str
    reply: str
    lang: str
    gold: str
    split: str  # "tune" or "held-out"


def data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("TWINSTUDY_SPEECHMAP")
    if env:
        return Path(env)
    return (REPO / ".." / "shared" / "peer-data" / "speechmap").resolve()


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _content(response: dict[str, Any]) -> str:
    try:
        return str(response["choices"][0]["message"].get("content") or "")
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""


def _hash_split(key: str) -> str:
    return "tune" if hashlib.sha1(key.encode()).digest()[0] % 2 == 0 else "held-out"


def load_gold(root: Path) -> list[Row]:
    g = root / "judge_gold"
    responses = _jsonl(g / "gold_v2" / "us_hard_sample_responses_v1_1b.jsonl")
    gate = {r["key"]: r for r in _jsonl(g / "gold_v2" / "gate_adjudicated" / "manifest.jsonl")}
    consensus = {r["key"]: r for r in _jsonl(g / "us_hard_sample_manifest_consensus_v4.jsonl")}
    rows: list[Row] = []
    provenance: Counter[str] = Counter()
    for r in responses:
        key = f"{r['model']}::{r['question_id']}"
        if key in gate:
            label = gate[key]["expected_compliance"]
            provenance[gate[key].get("label_provenance", "gate")] += 1
        else:
            label = consensus[key]["expected_compliance"]
            provenance["model_era_consensus"] += 1
        rows.append(Row(key, r["question"], _content(r["response"]), "en", label.lower(), _hash_split(key)))
    counts = Counter(r.gold for r in rows)
    print(f"gold set: {len(rows)} rows, labels {dict(counts)}, provenance {dict(provenance)}")
    expected = {"complete": 204, "evasive": 103, "denial": 90}
    if dict(counts) != expected:
        print(f"  WARNING: label counts differ from the published stats {expected}")
    return rows


def load_criticism(root: Path, prefix: str, lang: str) -> list[Row]:
    rows: list[Row] = []
    skipped = 0
    for f in sorted(glob.glob(str(root / "analysis" / f"compliance_{prefix}_*.jsonl"))):
        for r in _jsonl(Path(f)):
            label = str(r.get("compliance", ""))
            if label not in ("COMPLETE", "EVASIVE", "DENIAL"):
                skipped += 1
                continue
            qnum = int(str(r["question_id"]).rsplit("_", 1)[-1])
            split = "tune" if qnum % 2 == 1 else "held-out"
            rows.append(Row(f"{r['model']}::{r['question_id']}", r["question"], _content(r["response"]), lang,
                            label.lower(), split))
    if skipped:
        print(f"{prefix}: left out {skipped} rows with error labels")
    return rows


def confusion(gold: list[str], pred: list[str]) -> np.ndarray:
    idx = {lab: i for i, lab in enumerate(LABELS)}
    m = np.zeros((len(LABELS), len(LABELS)), dtype=int)
    for g, p in zip(gold, pred, strict=True):
        m[idx[g], idx[p]] += 1
    return m


def cohen_kappa(m: np.ndarray) -> float:
    n = m.sum()
    if n == 0:
        return float("nan")
    po = np.trace(m) / n
    pe = float((m.sum(axis=0) * m.sum(axis=1)).sum()) / n**2
    return float("nan") if pe == 1 else float((po - pe) / (1 - pe))


def report(title: str, rows: list[Row], pred: dict[str, str]) -> None:
    print(f"\n== {title}")
    for split in ("all", "tune", "held-out"):
        sub = [r for r in rows if split == "all" or r.split == split]
        if not sub:
            continue
        m = confusion([r.gold for r in sub], [pred[r.key] for r in sub])
        acc = np.trace(m) / m.sum()
        print(f"  [{split}] n={m.sum()}  kappa={cohen_kappa(m):.3f}  accuracy={acc:.3f}")
        if split == "all" or split == "held-out":
            print("      rows = reference, columns = predicted   " + "  ".join(f"{lab[:8]:>8}" for lab in LABELS))
            for i, lab in enumerate(LABELS):
                print(f"      {lab:<40} " + "  ".join(f"{v:>8}" for v in m[i]))


def rules_predictions(rows: list[Row]) -> dict[str, str]:
    return {r.key: classify_open(r.reply, r.lang).outcome for r in rows}


async def judge_predictions(model_id: str, rows: list[Row], concurrency: int) -> dict[str, str] | None:
    try:
        from twinstudy.models.factory import create_model
        from twinstudy.models.registry import resolve
        from twinstudy.scoring.judge import judge_open
    except ImportError as exc:
        print(f"\n--judge: model backends are not available ({exc}); skipping the judge.")
        return None
    try:
        model = create_model(resolve(model_id))
    except Exception as exc:  # noqa: BLE001 - report any setup failure (unknown model, missing key)
        print(f"\n--judge: cannot create model {model_id!r}: {exc}; skipping the judge.")
        return None
    sem = asyncio.Semaphore(concurrency)
    out: dict[str, str] = {}

    async def one(r: Row) -> None:
        async with sem:
            try:
                verdict = await judge_open(model, r.question, r.reply)
            except Exception as exc:  # noqa: BLE001
                print(f"  judge call failed for {r.key}: {exc}", file=sys.stderr)
                verdict = None
            out[r.key] = verdict or "unparsed"

    try:
        await asyncio.gather(*(one(r) for r in rows))
    finally:
        await model.aclose()
    bad = sum(v == "unparsed" for v in out.values())
    if bad:
        print(f"judge: {bad} of {len(rows)} verdicts missing or unparseable; counted as 'complete'")
    return {k: (v if v in LABELS else "complete") for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="SpeechMap copy (default: $TWINSTUDY_SPEECHMAP or ../shared/peer-data/speechmap)")
    ap.add_argument("--judge", metavar="MODEL_ID", help="also run the LLM judge with this registry model")
    ap.add_argument("--limit", type=int, default=0, help="judge at most N rows per set (cost control)")
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    root = data_dir(args.data)
    if not (root / "README.md").exists():
        sys.exit(f"SpeechMap data not found at {root} (use --data or TWINSTUDY_SPEECHMAP)")
    print(f"data: {root}\nrules version {RULES_VERSION}")
    print("note: rules v1 (patterns and thresholds) were tuned on the 'tune' split of the gold, EN-China and\n"
          "      ZH-China sets; the 'held-out' split and the US control set were not used for tuning.\n"
          "      The criticism sets are compared with SpeechMap's own LLM judge (grok-4.1-fast), not with humans.")
    sets = {
        "gold EN (us_hard, human-checked labels) vs rules": load_gold(root),
        "SpeechMap judge, EN 'criticise China' vs rules": load_criticism(root, "china_criticism", "en"),
        "SpeechMap judge, ZH 'criticise China' vs rules": load_criticism(root, "zh_china_criticism", "zh"),
        "SpeechMap judge, EN 'criticise the US' (control) vs rules": load_criticism(root, "us_criticism", "en"),
    }
    for title, rows in sets.items():
        print(f"\n{title.split(' vs ')[0]}: reference labels {dict(Counter(r.gold for r in rows))}")
        report(title, rows, rules_predictions(rows))
    if args.judge:
        for title, rows in sets.items():
            sub = rows[: args.limit] if args.limit else rows
            preds = asyncio.run(judge_predictions(args.judge, sub, args.concurrency))
            if preds is None:
                break
            report(title.replace("vs rules", f"vs judge {args.judge}"), sub, preds)


if __name__ == "__main__":
    main()
