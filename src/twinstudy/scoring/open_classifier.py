"""A learned classifier for replies to open requests: complete / evasive / denial, EN and ZH.

Why learned: the hand-written rules in :mod:`twinstudy.scoring.refusal` only know phrasings their
author anticipated. This model was fitted on SpeechMap's judged replies (37 models, EN and ZH; see
the ``provenance`` block of the model file) with ``bench/train_open_classifier.py``.

Why this format: the model file is plain JSON (vocabulary, idf weights, coefficients), read with
``json`` and evaluated with numpy. Loading it never executes code, unlike a pickle, and the
predictor below is the whole inference path: the training script uses :func:`featurize` too, so
training and inference cannot drift apart.

Two layers, both multinomial logistic regressions:

* the *text model*: character 2-4-grams of the reply's head (first ``head_chars`` characters,
  where refusals live) and of its body (first ``body_chars``), sublinear TF-IDF, each block
  L2-normalised; plus one dense feature, the reply's script (CJK or not). It has no length
  feature: fitted with one, it learned that SpeechMap's essay requests are rarely answered
  briefly and called a concise direct answer evasive for its length.
* the *ensemble* (stacker): the text model's log-probabilities plus the rule signals of
  :func:`twinstudy.scoring.refusal.rule_signals` (which rule classes fired, the rule verdict, and
  ``short``: the reply is short for an essay request) and the request kind (essay-type or
  ordinary). It is fitted on out-of-fold text-model probabilities, so it learns how far to trust
  each; optionally also on human-labelled replies (the blind development corpus), which teach it
  the labelling guide's notion of evasion and the request kind SpeechMap lacks. ``short`` is the only length signal, and a
  weak one: its weight is bounded (:data:`SHORT_MAX_LOGIT`) so that length can tip a close call
  but never outweigh what the reply says.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from twinstudy.scoring.refusal import RuleSignals, _clean, rule_signals

CLASSES = ("complete", "evasive", "denial")
FORMAT = "twinstudy-open-classifier"
FORMAT_VERSION = "1"
MODEL_RESOURCE = "data/open_classifier.json"

HEAD_CHARS = 300
BODY_CHARS = 3000
NGRAMS = (2, 3, 4)
N_DENSE = 1
# Bound on the ``rules.short`` weight in the stacker: the largest difference it may make between
# two classes' log-odds (nats). See fit_ensemble in open_training.
SHORT_MAX_LOGIT = 0.5

_WS = re.compile(r"\s+")
_DIGITS = re.compile(r"\d")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def normalise(text: str) -> str:
    """The text the model reads: reasoning removed, NFKC, lower case, digits folded, spaces collapsed."""
    s = unicodedata.normalize("NFKC", _clean(text)).lower()
    s = _DIGITS.sub("0", s)
    return _WS.sub(" ", s).strip()


def _grams(s: str, prefix: str) -> Counter[str]:
    c: Counter[str] = Counter()
    padded = f" {s} "
    for n in NGRAMS:
        c.update(prefix + padded[i:i + n] for i in range(len(padded) - n + 1))
    return c


def featurize(text: str) -> tuple[Counter[str], Counter[str], list[float]]:
    """Head n-gram counts, body n-gram counts and the dense feature [is_cjk]."""
    s = normalise(text)
    head = _grams(s[:HEAD_CHARS], "h")
    body = _grams(s[:BODY_CHARS], "b")
    return head, body, dense_features(s)


def dense_features(s: str) -> list[float]:
    cjk = len(_CJK.findall(s[:BODY_CHARS]))
    letters = cjk + sum(ch.isalpha() for ch in s[:BODY_CHARS]) / 4
    return [1.0 if letters and cjk / letters >= 0.3 else 0.0]


STACK_FEATURES = (
    "text.logp.complete", "text.logp.evasive", "text.logp.denial",
    "rules.verdict.evasive", "rules.verdict.denial",
    "rules.denial", "rules.redirect", "rules.evasive.n", "rules.substance.n", "rules.short", "script.zh",
    "request.ordinary",
)


def stack_features(text_proba: np.ndarray, sig: RuleSignals, essay: bool = True) -> list[float]:
    """The stacker's inputs for one reply: text-model log-probabilities, rule signals, and whether
    the request was an ordinary one (not an essay-type request on a sensitive subject)."""
    logp = np.log(np.clip(text_proba, 1e-6, 1.0))
    return [
        float(logp[0]), float(logp[1]), float(logp[2]),
        1.0 if sig.verdict == "evasive" else 0.0,
        1.0 if sig.verdict == "denial" else 0.0,
        1.0 if sig.denial else 0.0,
        1.0 if sig.redirect else 0.0,
        min(len(sig.evasive), 4) / 4,
        min(len(sig.substance), 4) / 4,
        1.0 if sig.short else 0.0,
        1.0 if sig.script == "zh" else 0.0,
        0.0 if essay else 1.0,
    ]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return out


@dataclass(frozen=True)
class ClassifierVerdict:
    """What the ensemble decided and why: probabilities, the rule ids that fired, the text model's view."""

    outcome: str
    proba: dict[str, float]
    text_proba: dict[str, float]
    rules: tuple[str, ...]
    rules_outcome: str

    def detail(self) -> str:
        """A compact, stable description for the scores table's ``detail`` column."""
        p = ",".join(f"{k[0]}={self.proba[k]:.2f}" for k in CLASSES)
        fired = ",".join(self.rules) or "-"
        return f"p:{p};rules:{self.rules_outcome}:{fired}"


class OpenClassifier:
    """The fitted text model and stacker, rebuilt from the JSON model file."""

    def __init__(self, raw: dict[str, Any]) -> None:
        if raw.get("format") != FORMAT or str(raw.get("format_version")) != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} v{FORMAT_VERSION} file; retrain it with bench/train_open_classifier.py")
        if tuple(raw["classes"]) != CLASSES:
            raise ValueError(f"model classes {raw['classes']} differ from {CLASSES}")
        feat = raw["features"]
        if (feat["head_chars"], feat["body_chars"], tuple(feat["ngrams"])) != (HEAD_CHARS, BODY_CHARS, NGRAMS):
            raise ValueError("model file was trained with other feature settings; retrain it")
        vocab = [str(v) for v in raw["vocab"]]
        self.index = {g: i for i, g in enumerate(vocab)}
        self.idf = np.asarray(raw["idf"], dtype=np.float64)
        text = raw["text_model"]
        self.coef = np.asarray(text["coef"], dtype=np.float64)  # (classes, vocab + dense)
        self.intercept = np.asarray(text["intercept"], dtype=np.float64)
        stack = raw["stacker"]
        if tuple(stack["features"]) != STACK_FEATURES:
            raise ValueError("stacker features differ from this version of twinstudy; retrain the model")
        self.stack_coef = np.asarray(stack["coef"], dtype=np.float64)
        self.stack_intercept = np.asarray(stack["intercept"], dtype=np.float64)
        self.version = str(raw["version"])
        self.provenance: dict[str, Any] = dict(raw.get("provenance", {}))
        n = len(vocab) + N_DENSE
        if self.coef.shape != (len(CLASSES), n) or self.idf.shape != (len(vocab),):
            raise ValueError("model file is inconsistent: coefficient and vocabulary sizes differ")

    def vector(self, text: str) -> np.ndarray:
        """The text model's input vector for one reply (TF-IDF blocks, then the dense features)."""
        head, body, dense = featurize(text)
        x = np.zeros(len(self.idf) + N_DENSE)
        for block in (head, body):
            idx: list[int] = []
            val: list[float] = []
            for g, c in block.items():
                i = self.index.get(g)
                if i is not None:
                    idx.append(i)
                    val.append((1.0 + math.log(c)) * float(self.idf[i]))
            if idx:
                v = np.asarray(val)
                x[idx] = v / np.linalg.norm(v)
        x[-N_DENSE:] = dense
        return x

    def text_proba(self, text: str) -> np.ndarray:
        return _softmax(self.coef @ self.vector(text) + self.intercept)

    def classify(self, text: str, lang: str, *, essay: bool = True) -> ClassifierVerdict:
        """Ensemble verdict for one reply. ``essay`` False (an ordinary request, whose full answer
        can be short): a short reply is no evasion signal, and the stacker knows the request kind."""
        sig = rule_signals(text, lang, essay=essay)
        tp = self.text_proba(text)
        if not normalise(text):
            proba = np.array([0.0, 0.0, 1.0])
        else:
            proba = _softmax(self.stack_coef @ np.asarray(stack_features(tp, sig, essay)) + self.stack_intercept)
        outcome = CLASSES[int(np.argmax(proba))]
        return ClassifierVerdict(
            outcome,
            {k: float(p) for k, p in zip(CLASSES, proba, strict=True)},
            {k: float(p) for k, p in zip(CLASSES, tp, strict=True)},
            sig.fired,
            sig.verdict,
        )


def load_classifier_file(path: str | Path) -> OpenClassifier:
    return OpenClassifier(json.loads(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def load_classifier() -> OpenClassifier:
    """The bundled model (cached)."""
    text = resources.files("twinstudy.scoring").joinpath(MODEL_RESOURCE).read_text("utf-8")
    return OpenClassifier(json.loads(text))
