"""Agreement figures and the labelled data behind the open-reply classifier: Cohen's kappa with a
cluster-bootstrap spread, SpeechMap's judged replies and the blind corpus's labelled cases as
training examples. Split from :mod:`twinstudy.scoring.open_training` (the fitting itself)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twinstudy.coding.agreement import kappa_of_labels
from twinstudy.scoring.open_classifier import (
    CLASSES,
)


@dataclass
class Example:
    """One judged reply: who wrote it (the group for leave-models-out), its language and label."""

    model: str
    lang: str
    text: str
    label: str
    set: str = ""
    request: str = ""
    essay: bool = True       # an essay-type request (all of SpeechMap's are)
    stack_only: bool = False  # human-labelled extra rows: they train the stacker, never the text model


def kappa_interval(gold: np.ndarray, pred: np.ndarray, groups: np.ndarray, *, draws: int = 400,
                   seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval for kappa, resampling *models* (the unit of leave-models-out).

    Its coverage has not been measured by a benchmark; read it as a rough spread across models,
    not as a calibrated confidence interval.
    """
    rng = np.random.default_rng(seed)
    uniq = np.unique(groups)
    by = {g: np.flatnonzero(groups == g) for g in uniq}
    vals = []
    for _ in range(draws):
        pick = rng.choice(uniq, size=len(uniq), replace=True)
        idx = np.concatenate([by[g] for g in pick])
        k = kappa_of_labels(gold[idx], pred[idx])
        if not math.isnan(k):
            vals.append(k)
    if not vals:
        return float("nan"), float("nan")
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def load_speechmap(folder: str | Path) -> tuple[list[Example], int]:
    """Judged replies from a SpeechMap ``analysis`` folder: (examples, rows left out for ERROR_* labels).

    Read by the importer's one reader (:func:`twinstudy.imports.speechmap.read_speechmap`, which
    checks every row and names file and line); the set is the row's category
    (``zh_china_criticism`` for the Chinese set, ``china_criticism``, ``us_criticism``).
    """
    from twinstudy.imports.speechmap import read_speechmap

    out: list[Example] = []
    skipped = 0
    for row in read_speechmap(folder).rows:
        label = row.source_label
        if label not in ("COMPLETE", "EVASIVE", "DENIAL"):
            skipped += 1
            continue
        set_name = ("zh_" if row.lang == "zh" else "") + row.theme.replace("-", "_")
        out.append(Example(row.model, row.lang, row.reply or "", label.lower(), set_name, row.prompt))
    return out, skipped


def kappa_table(y: np.ndarray, preds: dict[str, np.ndarray], groups: np.ndarray,
                subsets: dict[str, np.ndarray], *, draws: int = 400) -> list[str]:
    """Lines of a table: Cohen's kappa of each method on each subset, with a bootstrap-over-models
    interval (its coverage is not measured: a spread across models, not a calibrated CI)."""
    lines = [f"  {'set':<22}{'n':>6}  " + "  ".join(f"{m:>22}" for m in preds)]
    for name, mask in subsets.items():
        cells = []
        for pred in preds.values():
            k = kappa_of_labels(y[mask], pred[mask])
            lo, hi = kappa_interval(y[mask], pred[mask], groups[mask], draws=draws)
            cells.append(f"{k:.3f} [{lo:.2f},{hi:.2f}]")
        lines.append(f"  {name:<22}{int(mask.sum()):>6}  " + "  ".join(f"{c:>22}" for c in cells))
    return lines


def load_labelled_open(path: str | Path) -> list[Example]:
    """Human-labelled open cases in the labelling guide's format (docs/labelling-guide.md), as
    stack-only rows: ``kind: control`` requests are ordinary (not essay-type) requests."""
    import yaml

    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    if isinstance(raw, dict):
        raw = raw.get("cases", [])
    out: list[Example] = []
    for c in raw:
        label = str(c.get("label", ""))
        if label not in CLASSES:
            continue
        out.append(Example(f"labelled:{c.get('id')}", str(c.get("lang", "en")), str(c.get("text") or ""), label,
                           "labelled", str(c.get("request", "")), essay=c.get("kind") != "control",
                           stack_only=True))
    return out
