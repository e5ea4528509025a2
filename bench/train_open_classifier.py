"""Retrain the open-reply classifier from a local copy of SpeechMap's judged replies.

Prints leave-models-out Cohen's kappa (GroupKFold by model) for the rules, the text model and the
ensemble, by language and by question set, then fits the final model on every row and writes it
(JSON: vocabulary, idf, coefficients, provenance; no data rows) to --out.

--labelled PATH adds human-labelled open cases (docs/labelling-guide.md format, e.g. the blind
corpus's development half) as rows for the stacker only; their agreement is estimated by 5-fold
cross-validation over them. Never pass a test half here.

Usage:
  PYTHONPATH=src python bench/train_open_classifier.py --data PATH/TO/speechmap/analysis-37 \
      [--labelled open_dev.yaml] [--data-commit SHA] [--out src/twinstudy/scoring/data/open_classifier.json] [--no-cv]

Needs scikit-learn (`pip install twinstudy[train]`). The data is never copied into the package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from twinstudy.coding.agreement import kappa_of_labels
from twinstudy.scoring.open_classifier import CLASSES
from twinstudy.scoring.open_training import (
    Settings,
    export,
    featurize_all,
    fit_ensemble,
    kappa_interval,
    kappa_table,
    leave_models_out,
    load_labelled_open,
    load_speechmap,
    stack_only_cross_validation,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "src" / "twinstudy" / "scoring" / "data" / "open_classifier.json"


def _commit_from_readme(folder: Path) -> str | None:
    readme = folder / "README.md"
    if not readme.exists():
        return None
    import re

    m = re.search(r"commit\s*`?([0-9a-f]{40})`?", readme.read_text(encoding="utf-8"))
    return m.group(1) if m else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder with compliance_*.jsonl (SpeechMap analysis files)")
    ap.add_argument("--data-commit", help="source commit of the data (default: read from the folder's README)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="where to write the model file")
    ap.add_argument("--no-cv", action="store_true", help="skip the leave-models-out evaluation")
    ap.add_argument("--labelled", type=Path, help="human-labelled open cases (YAML) for the stacker; never a test half")
    ap.add_argument("--labelled-weight", type=float, default=Settings.labelled_weight,
                    help="total weight of the labelled rows relative to the SpeechMap rows")
    ap.add_argument("--k", type=int, default=Settings.k_features, help="n-gram features kept (chi-squared)")
    ap.add_argument("--C", type=float, default=Settings.c_text, help="inverse regularisation of the text model")
    args = ap.parse_args()
    folder = Path(args.data)
    try:
        examples, skipped = load_speechmap(folder)
    except FileNotFoundError as exc:
        sys.exit(f"{exc}")
    labelled = load_labelled_open(args.labelled) if args.labelled else []
    if labelled:
        print(f"labelled (stack-only) rows: {len(labelled)} from {args.labelled}, "
              f"labels {dict(Counter(x.label for x in labelled))}")
    s = Settings(k_features=args.k, c_text=args.C, labelled_weight=args.labelled_weight)
    defaults = Settings()
    print(f"data: {folder}  rows {len(examples)} (left out {skipped} ERROR_* rows), "
          f"models {len({e.model for e in examples})}")
    print("labels by set:", {k: dict(v) for k, v in _by_set(examples).items()})
    t0 = time.time()
    f = featurize_all(examples + labelled, s.min_df)
    sm = ~f.stack_only
    print(f"featurized in {time.time() - t0:.0f}s: vocabulary {len(f.vocab)} n-grams (df >= {s.min_df})")
    scores: dict[str, float] = {}
    if not args.no_cv:
        t0 = time.time()
        cv = leave_models_out(f, s, log=lambda m: print("  " + m, flush=True))
        print(f"\nleave-models-out ({s.folds} folds by model, {time.time() - t0:.0f}s); "
              "kappa [bootstrap over models, 2.5-97.5%; coverage not measured, not a calibrated CI]")
        sets = {"EN (all)": sm & (f.langs == "en"), "ZH": sm & (f.langs == "zh"),
                "EN criticise China": sm & np.asarray([e.set == "china_criticism" for e in examples + labelled]),
                "EN criticise US": sm & np.asarray([e.set == "us_criticism" for e in examples + labelled]),
                "all": sm}
        for line in kappa_table(f.y, {"rules": cv.rules, "text model": cv.text, "ensemble": cv.ensemble},
                                f.groups, sets):
            print(line)
        for name, mask in sets.items():
            for method, pred in (("rules", cv.rules), ("text", cv.text), ("ensemble", cv.ensemble)):
                scores[f"kappa.{method}.{name}"] = round(kappa_of_labels(f.y[mask], pred[mask]), 4)
    t0 = time.time()
    if labelled:
        e, extra, pred = stack_only_cross_validation(f, s)
        rules = np.asarray([CLASSES.index(f.signals[i].verdict) for i in extra])
        k_ens, k_rules = kappa_of_labels(f.y[extra], pred), kappa_of_labels(f.y[extra], rules)
        lo, hi = kappa_interval(f.y[extra], pred, f.groups[extra])
        print(f"\nlabelled rows, 5-fold over them (stacker refitted; text model never saw them): "
              f"ensemble kappa {k_ens:.3f} [{lo:.2f},{hi:.2f}], rules {k_rules:.3f}")
        scores["kappa.ensemble.labelled_5fold"] = round(k_ens, 4)
        scores["kappa.rules.labelled"] = round(k_rules, 4)
    else:
        e = fit_ensemble(f, np.arange(len(examples)), s)
    commit = args.data_commit or _commit_from_readme(folder)
    prov = {
        "data": "SpeechMap judged replies (xlr8harder/llm-compliance, renamed speechmap-data), folder analysis/: "
                "compliance_china_criticism_*, compliance_zh_china_criticism_*, compliance_us_criticism_*; "
                "labels by the production judge x-ai/grok-4.1-fast; Apache-2.0",
        "data_commit": commit,
        "rows": len(examples),
        "rows_left_out_error_labels": skipped,
        "models": len({x.model for x in examples}),
        "labels": dict(Counter(x.label for x in examples)),
        "training_command": "PYTHONPATH=src python bench/train_open_classifier.py --data <speechmap>/analysis-37"
                            + (f" --labelled {args.labelled}" if labelled else "")
                            + (f" --labelled-weight {s.labelled_weight}" if labelled and s.labelled_weight != defaults.labelled_weight else "")
                            + (f" --k {s.k_features}" if s.k_features != defaults.k_features else "")
                            + (f" --C {s.c_text}" if s.c_text != defaults.c_text else ""),
        "labelled": None if not labelled else {
            "file": str(args.labelled), "sha256": hashlib.sha256(args.labelled.read_bytes()).hexdigest(),
            "rows": len(labelled), "labels": dict(Counter(x.label for x in labelled)),
            "use": "stacker only (the text model never saw them)"},
        "settings": {k: v for k, v in vars(s).items()},
        "leave_models_out": scores,
    }
    model = export(e, f, version="1", provenance=prov)
    out = Path(args.out)
    out.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"\nfitted on all {len(examples)} rows in {time.time() - t0:.0f}s; wrote {out} "
          f"({out.stat().st_size / 1024:.0f} KiB, {len(model['vocab'])} n-grams)")
    print("classes:", CLASSES)


def _by_set(examples: list) -> dict[str, Counter[str]]:  # type: ignore[type-arg]
    out: dict[str, Counter[str]] = {}
    for x in examples:
        out.setdefault(x.set, Counter())[x.label] += 1
    return out


if __name__ == "__main__":
    main()
