"""Fitting and evaluating the open-reply classifier (needs scikit-learn: ``pip install twinstudy[train]``).

Kept in the package, not in the bench script, so that the tests can run the leave-models-out
procedure on a tiny synthetic set and the shipped model and the benchmark use the same code.

Leave-models-out: folds are groups of *models* (GroupKFold), so every reply in a test fold was
written by a model the classifier never saw. Within each outer training set a second, inner
GroupKFold produces out-of-fold text-model probabilities on which the stacker is fitted, so the
stacker never sees probabilities of replies the text model was trained on.

The vocabulary (n-grams seen in at least ``min_df`` replies) is chosen from all rows without
their labels; idf weights, the chi-squared feature selection and both regressions use only the
training rows of each fold.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinstudy.scoring.open_classifier import (
    BODY_CHARS,
    CLASSES,
    FORMAT,
    FORMAT_VERSION,
    HEAD_CHARS,
    N_DENSE,
    NGRAMS,
    SHORT_MAX_LOGIT,
    STACK_FEATURES,
    featurize,
    stack_features,
)
from twinstudy.scoring.open_data import Example as Example  # re-exported: the training script, tests
from twinstudy.scoring.open_data import kappa_interval as kappa_interval
from twinstudy.scoring.open_data import kappa_table as kappa_table
from twinstudy.scoring.open_data import load_labelled_open as load_labelled_open
from twinstudy.scoring.open_data import load_speechmap as load_speechmap
from twinstudy.scoring.refusal import RuleSignals, rule_signals


@dataclass
class Settings:
    min_df: int = 5
    k_features: int = 6000
    c_text: float = 4.0
    c_stack: float = 1.0
    class_weight: str | None = None
    folds: int = 5        # outer folds (leave-models-out evaluation)
    inner_folds: int = 3  # folds for the stacker's out-of-fold text probabilities
    tol: float = 1e-3
    max_iter: int = 500
    labelled_weight: float = 1.0  # total weight of stack-only rows, as a share of the other rows'


@dataclass
class Featurized:
    """Rows as sparse n-gram counts over a fixed vocabulary, plus dense and rule features."""

    vocab: list[str]
    counts: Any  # scipy.sparse.csr_matrix (rows, vocab)
    dense: np.ndarray
    signals: list[RuleSignals]
    y: np.ndarray
    groups: np.ndarray
    langs: np.ndarray
    essay: np.ndarray
    stack_only: np.ndarray


def featurize_all(examples: Sequence[Example], min_df: int) -> Featurized:
    from scipy import sparse

    per_row: list[tuple[dict[str, int], list[float]]] = []
    df: dict[str, int] = {}
    for ex in examples:
        head, body, dense = featurize(ex.text)
        grams = {**head, **body}
        per_row.append((grams, dense))
        for g in grams:
            df[g] = df.get(g, 0) + 1
    vocab = sorted(g for g, n in df.items() if n >= min_df)
    index = {g: i for i, g in enumerate(vocab)}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for r, (grams, _d) in enumerate(per_row):
        for g, c in grams.items():
            i = index.get(g)
            if i is not None:
                rows.append(r)
                cols.append(i)
                vals.append(float(c))
    counts = sparse.csr_matrix((vals, (rows, cols)), shape=(len(examples), len(vocab)))
    return Featurized(
        vocab=vocab,
        counts=counts,
        dense=np.asarray([d for _g, d in per_row], dtype=np.float64).reshape(len(examples), N_DENSE),
        signals=[rule_signals(ex.text, ex.lang, essay=ex.essay) for ex in examples],
        y=np.asarray([CLASSES.index(ex.label) for ex in examples]),
        groups=np.asarray([ex.model for ex in examples]),
        langs=np.asarray([ex.lang for ex in examples]),
        essay=np.asarray([ex.essay for ex in examples], dtype=bool),
        stack_only=np.asarray([ex.stack_only for ex in examples], dtype=bool),
    )


@dataclass
class TextModel:
    columns: np.ndarray  # indices into the full vocabulary
    idf: np.ndarray
    head_cols: np.ndarray  # boolean mask over `columns`: head-block n-grams
    coef: np.ndarray
    intercept: np.ndarray


def _idf(counts: Any) -> np.ndarray:
    n = counts.shape[0]
    df = np.asarray((counts > 0).sum(axis=0)).ravel()
    out: np.ndarray = np.log((1.0 + n) / (1.0 + df)) + 1.0
    return out


def _design(counts: Any, dense: np.ndarray, idf: np.ndarray, head_cols: np.ndarray) -> Any:
    """Sublinear TF-IDF, each block (head, body) L2-normalised, then the dense columns."""
    from scipy import sparse

    x = counts.astype(np.float64).tocsr(copy=True)
    x.data = 1.0 + np.log(x.data)
    x = x.multiply(idf.reshape(1, -1)).tocsr()
    blocks = []
    for mask in (head_cols, ~head_cols):
        b = x[:, np.flatnonzero(mask)]
        norms = np.sqrt(np.asarray(b.multiply(b).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        blocks.append(sparse.diags(1.0 / norms) @ b)
    # columns back in the original order of `columns`
    order = np.concatenate([np.flatnonzero(head_cols), np.flatnonzero(~head_cols)])
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    tfidf = sparse.hstack(blocks).tocsc()[:, inverse]
    return sparse.hstack([tfidf, sparse.csr_matrix(dense)]).tocsr()


def fit_text(f: Featurized, rows: np.ndarray, s: Settings) -> TextModel:
    from sklearn.feature_selection import chi2
    from sklearn.linear_model import LogisticRegression

    counts = f.counts[rows]
    y = f.y[rows]
    scores, _p = chi2(counts, y)
    scores = np.nan_to_num(scores)
    k = min(s.k_features, int((scores > 0).sum()))
    columns = np.sort(np.argsort(-scores, kind="stable")[:k])
    sub = counts[:, columns]
    idf = _idf(sub)
    head_cols = np.asarray([f.vocab[c].startswith("h") for c in columns])
    x = _design(sub, f.dense[rows], idf, head_cols)
    lr = LogisticRegression(C=s.c_text, max_iter=s.max_iter, tol=s.tol, class_weight=s.class_weight)
    lr.fit(x, y)
    coef, intercept = _full_classes(lr, y)
    return TextModel(columns, idf, head_cols, coef, intercept)


def _full_classes(lr: Any, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients for all three classes even when a training set lacks one (tiny test sets)."""
    coef = np.full((len(CLASSES), lr.coef_.shape[1]), 0.0)
    intercept = np.full(len(CLASSES), -30.0)
    if len(lr.classes_) == 2:  # binary: sklearn returns one row for the second class
        a, b = (int(c) for c in lr.classes_)
        coef[b], intercept[b] = lr.coef_[0], lr.intercept_[0]
        coef[a], intercept[a] = 0.0, 0.0
        return coef, intercept
    for row, c in enumerate(lr.classes_):
        coef[int(c)], intercept[int(c)] = lr.coef_[row], lr.intercept_[row]
    return coef, intercept


def text_proba(m: TextModel, f: Featurized, rows: np.ndarray) -> np.ndarray:
    x = _design(f.counts[rows][:, m.columns], f.dense[rows], m.idf, m.head_cols)
    z = x @ m.coef.T + m.intercept
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def _stack_x(proba: np.ndarray, f: Featurized, rows: np.ndarray) -> np.ndarray:
    return np.asarray([stack_features(proba[i], f.signals[r], bool(f.essay[r])) for i, r in enumerate(rows)])


@dataclass
class Ensemble:
    text: TextModel
    stack_coef: np.ndarray
    stack_intercept: np.ndarray


def _group_folds(groups: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import GroupKFold

    k = min(n, len(set(groups.tolist())))
    idx = np.arange(len(groups))
    return [(tr, te) for tr, te in GroupKFold(n_splits=k).split(idx, groups=groups)]


def fit_ensemble(f: Featurized, rows: np.ndarray, s: Settings) -> Ensemble:
    """Text model on the non-stack-only ``rows``; stacker on their out-of-fold text probabilities
    (inner leave-models-out) plus the stack-only rows, scored by the text model fitted on the rest."""
    e, _parts = _fit_ensemble_parts(f, rows, s)
    return e


@dataclass
class _StackParts:
    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    stack_only: np.ndarray  # which stacker rows are stack-only (human-labelled) rows


def _fit_ensemble_parts(f: Featurized, rows: np.ndarray, s: Settings) -> tuple[Ensemble, _StackParts]:
    text_rows = rows[~f.stack_only[rows]]
    extra = rows[f.stack_only[rows]]
    oof = np.zeros((len(text_rows), len(CLASSES)))
    for tr, te in _group_folds(f.groups[text_rows], s.inner_folds):
        m = fit_text(f, text_rows[tr], s)
        oof[te] = text_proba(m, f, text_rows[te])
    text = fit_text(f, text_rows, s)
    x = _stack_x(oof, f, text_rows)
    weight = np.ones(len(text_rows))
    if len(extra):
        x = np.vstack([x, _stack_x(text_proba(text, f, extra), f, extra)])
        # the human-labelled rows weigh, in total, `labelled_weight` times as much as all the others
        weight = np.concatenate([weight, np.full(len(extra), s.labelled_weight * len(text_rows) / len(extra))])
    parts = _StackParts(x, f.y[np.concatenate([text_rows, extra])], weight,
                        np.concatenate([np.zeros(len(text_rows), bool), np.ones(len(extra), bool)]))
    coef, intercept = _fit_stacker(parts, s)
    return Ensemble(text, coef, intercept), parts


def _fit_stacker(parts: _StackParts, s: Settings, keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    k = np.ones(len(parts.y), dtype=bool) if keep is None else keep
    lr = LogisticRegression(C=s.c_stack, max_iter=3000, class_weight=s.class_weight)
    lr.fit(parts.x[k], parts.y[k], sample_weight=parts.weight[k])
    coef, intercept = _full_classes(lr, parts.y[k])
    return _bound_short(coef), intercept


def stack_only_cross_validation(f: Featurized, s: Settings, folds: int = 5) -> tuple[Ensemble, np.ndarray, np.ndarray]:
    """Fit the final ensemble on every row, and estimate its agreement on the stack-only rows by
    k-fold over those rows (the text model never sees them, so only the stacker is refitted).

    Returns (final ensemble, stack-only row indices, their out-of-fold predictions).
    """
    from sklearn.model_selection import StratifiedKFold

    rows = np.arange(len(f.y))
    e, parts = _fit_ensemble_parts(f, rows, s)
    extra = rows[f.stack_only]
    pred = np.zeros(len(extra), dtype=int)
    if len(extra) >= folds:
        where = np.flatnonzero(parts.stack_only)
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(where, parts.y[where]):
            keep = ~parts.stack_only.copy()
            keep[where[tr]] = True
            coef, intercept = _fit_stacker(parts, s, keep)
            z = parts.x[where[te]] @ coef.T + intercept
            pred[te] = z.argmax(axis=1)
    return e, extra, pred


def _bound_short(coef: np.ndarray) -> np.ndarray:
    """Shrink the ``rules.short`` weights toward their mean so no two classes differ by more than
    SHORT_MAX_LOGIT: length may tip a close call, never decide against the reply's content."""
    out = coef.copy()
    j = STACK_FEATURES.index("rules.short")
    w = out[:, j] - out[:, j].mean()
    spread = float(w.max() - w.min())
    if spread > SHORT_MAX_LOGIT:
        out[:, j] = out[:, j].mean() + w * (SHORT_MAX_LOGIT / spread)
    return out


def ensemble_proba(e: Ensemble, f: Featurized, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(text-model probabilities, ensemble probabilities) for ``rows``."""
    tp = text_proba(e.text, f, rows)
    z = _stack_x(tp, f, rows) @ e.stack_coef.T + e.stack_intercept
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return tp, p / p.sum(axis=1, keepdims=True)


@dataclass
class CrossValidation:
    """Out-of-fold predictions (class indices) of each method, for every row."""

    rules: np.ndarray
    text: np.ndarray
    ensemble: np.ndarray
    folds: list[list[str]] = field(default_factory=list)  # the held-out models of each fold


def leave_models_out(f: Featurized, s: Settings, log: Callable[[str], None] | None = None) -> CrossValidation:
    """Outer GroupKFold by model; each fold's ensemble is fitted on the other models only (plus any
    stack-only rows). Predictions of stack-only rows are left at 0: see stack_only_cross_validation."""
    n = len(f.y)
    text = np.zeros(n, dtype=int)
    ens = np.zeros(n, dtype=int)
    folds: list[list[str]] = []
    text_rows = np.flatnonzero(~f.stack_only)
    extra = np.flatnonzero(f.stack_only)
    for tr_, te_ in _group_folds(f.groups[text_rows], s.folds):
        tr, te = np.concatenate([text_rows[tr_], extra]), text_rows[te_]
        e = fit_ensemble(f, tr, s)
        tp, ep = ensemble_proba(e, f, te)
        text[te] = tp.argmax(axis=1)
        ens[te] = ep.argmax(axis=1)
        folds.append(sorted(set(f.groups[te].tolist())))
        if log:
            log(f"fold {len(folds)}: held out {len(folds[-1])} models, {len(te)} rows")
    rules = np.asarray([CLASSES.index(sig.verdict) for sig in f.signals])
    return CrossValidation(rules, text, ens, folds)


def export(e: Ensemble, f: Featurized, *, version: str, provenance: dict[str, Any], digits: int = 4) -> dict[str, Any]:
    """The JSON model file for :class:`twinstudy.scoring.open_classifier.OpenClassifier`."""

    def r(a: np.ndarray) -> Any:
        return np.round(a, digits).tolist()

    vocab = [f.vocab[c] for c in e.text.columns]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": version,
        "classes": list(CLASSES),
        "features": {"head_chars": HEAD_CHARS, "body_chars": BODY_CHARS, "ngrams": list(NGRAMS),
                     "dense": ["script.cjk"]},
        "provenance": {**provenance, "created": _dt.date.today().isoformat()},
        "vocab": vocab,
        "idf": r(e.text.idf),
        "text_model": {"coef": r(e.text.coef), "intercept": r(e.text.intercept)},
        "stacker": {"features": list(STACK_FEATURES), "coef": r(e.stack_coef), "intercept": r(e.stack_intercept)},
    }
