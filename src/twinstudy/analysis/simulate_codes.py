"""Simulated coded open answers with planted origin and user-culture effects, and their truth.

For validating :mod:`twinstudy.analysis.category_tables` (``bench/category_recovery.py``, tests).
Generative model, per model m (origin o(m)), item i, language l, framing f (culture u(f) in cn, us,
none), paraphrase p and category k, on the logit scale::

    eta = base_k + s_o (origin_k + a_ik) + s_u (culture_k + b_ik) + s_l lang_k
          + g_mk + u_ik + w_imk + v_ipk
    s_o = +1/2 for CN, -1/2 for US;  s_u = +1/2 cn, -1/2 us, 0 none;  s_l = +1/2 en, -1/2 zh

so ``origin_k`` is the CN - US logit shift of category k (varying over items by ``a_ik``),
``culture_k`` the cn - us shift, and items differ (``u_ik``, ``w_imk``). Single-label: the reply's
true category is drawn from softmax(eta); multi-label: each category independently from
sigmoid(eta). A *coder* then misreads: single-label, with probability ``misclass`` it writes one of
the other categories at random; multi-label, it flips each indicator with probability ``misclass``.
A share ``uncodable`` of replies is left uncodable.

Truth. The estimands are means over the population of items, given the drawn models; ``truth``
computes them by Monte Carlo over ``n_truth_items`` fresh items with the same models, from the exact
cell probabilities (no sampling noise), both for the categories *as coded* (what the estimators
target: the coder's confusion applied to the probabilities) and for the *latent* categories (how
much the coder's noise attenuates the effects).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .categories import CAT_PREFIX
from .frame import COLUMNS

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SimBook:
    """A codebook stand-in for the simulator (what the analysis reads of a codebook)."""

    id: str
    multi_label: bool
    category_ids: tuple[str, ...]


@dataclass
class CodeSimSpec:
    categories: tuple[str, ...] = ("administrator", "sage", "guardian", "servant", "other")
    multi_label: bool = False
    origins: tuple[str, ...] = ("CN", "CN", "CN", "US", "US", "US")
    n_items: int = 30
    langs: tuple[str, ...] = ("en", "zh")
    #: (framing id, culture it brings up)
    framings: tuple[tuple[str, str], ...] = (("neutral", "none"), ("culture-cn", "cn"), ("culture-us", "us"))
    n_paraphrases: int = 1
    n_samples: int = 3
    #: per-category logits; empty = 0 (single-label) or -1 (multi-label)
    base: tuple[float, ...] = ()
    origin_effect: tuple[float, ...] = ()
    culture_effect: tuple[float, ...] = ()
    lang_effect: tuple[float, ...] = ()
    sd_model: float = 0.3
    sd_item: float = 0.7
    sd_item_origin: float = 0.3
    sd_item_culture: float = 0.3
    sd_item_model: float = 0.3
    sd_paraphrase: float = 0.2
    misclass: float = 0.1
    uncodable: float = 0.03
    n_truth_items: int = 6000

    def book(self) -> SimBook:
        return SimBook("sim", self.multi_label, self.categories)


def _vec(values: tuple[float, ...], k: int, default: float = 0.0) -> FloatArray:
    if not values:
        return np.full(k, default)
    if len(values) != k:
        raise ValueError(f"an effect vector has {len(values)} entries; the simulation has {k} categories")
    return np.asarray(values, dtype=np.float64)


def _probs(spec: CodeSimSpec, model_eff: FloatArray, n_items: int, rng: np.random.Generator) -> FloatArray:
    """Cell probabilities (M, I, L, F, P, K) for ``n_items`` fresh items."""
    K, M = len(spec.categories), len(spec.origins)
    L, F, P = len(spec.langs), len(spec.framings), spec.n_paraphrases
    base = _vec(spec.base, K, -1.0 if spec.multi_label else 0.0)
    s_o = np.array([0.5 if o == "CN" else -0.5 if o == "US" else 0.0 for o in spec.origins])
    s_u = np.array([0.5 if u == "cn" else -0.5 if u == "us" else 0.0 for _, u in spec.framings])
    s_l = np.array([0.5 if lg == "en" else -0.5 for lg in spec.langs])
    a = _vec(spec.origin_effect, K)[None, :] + rng.normal(0, spec.sd_item_origin, (n_items, K))   # (I, K)
    b = _vec(spec.culture_effect, K)[None, :] + rng.normal(0, spec.sd_item_culture, (n_items, K))
    u = rng.normal(0, spec.sd_item, (n_items, K))
    w = rng.normal(0, spec.sd_item_model, (M, n_items, K))
    v = rng.normal(0, spec.sd_paraphrase, (n_items, P, K))
    lang = _vec(spec.lang_effect, K)
    eta = (base[None, None, None, None, None, :]
           + (s_o[:, None, None] * a[None, :, :] + model_eff[:, None, :] + u[None] + w)[:, :, None, None, None, :]
           + s_u[None, None, None, :, None, None] * b[None, :, None, None, None, :]
           + (s_l[:, None] * lang[None, :])[None, None, :, None, None, :]
           + v[None, :, None, None, :, :])
    eta = np.broadcast_to(eta, (M, n_items, L, F, P, K))
    if spec.multi_label:
        return np.asarray(1.0 / (1.0 + np.exp(-eta)))
    z = np.exp(eta - eta.max(axis=-1, keepdims=True))
    out: FloatArray = z / z.sum(axis=-1, keepdims=True)
    return out


def _coded(spec: CodeSimSpec, p: FloatArray) -> FloatArray:
    """Probability that the coder writes each category, given the true probabilities."""
    e, k = spec.misclass, int(p.shape[-1])
    wrong = 1.0 if spec.multi_label else 1.0 / (k - 1)
    out: FloatArray = (1.0 - e) * p + e * wrong * (1.0 - p)
    return out


def simulate_codes(spec: CodeSimSpec, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A coded frame (the columns of :func:`twinstudy.coding.frame.coded_frame`) and its truth."""
    K, M = len(spec.categories), len(spec.origins)
    L, F, P, S, NI = len(spec.langs), len(spec.framings), spec.n_paraphrases, spec.n_samples, spec.n_items
    model_eff = rng.normal(0, spec.sd_model, (M, K))
    p = _probs(spec, model_eff, NI, rng)                        # (M, I, L, F, P, K)
    shape = (M, NI, L, F, P, S)
    probs = np.broadcast_to(p[:, :, :, :, :, None, :], (*shape, K)).reshape(-1, K)
    n = probs.shape[0]
    e = spec.misclass
    if spec.multi_label:
        latent = rng.random((n, K)) < probs
        flip = rng.random((n, K)) < e
        coded = latent ^ flip
    else:
        cum = probs.cumsum(axis=1)
        true = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), K - 1)
        wrong = rng.random(n) < e
        other = (true + rng.integers(1, K, n)) % K
        code = np.where(wrong, other, true)
        coded = np.zeros((n, K), dtype=bool)
        coded[np.arange(n), code] = True
    uncodable = rng.random(n) < spec.uncodable
    idx = np.indices(shape).reshape(6, -1)
    models = np.array([f"m{j}" for j in range(M)])
    items = np.array([f"q{j:03d}" for j in range(NI)])
    fr_ids = np.array([f for f, _ in spec.framings])
    fr_cult = np.array([u for _, u in spec.framings])
    origins = np.array(spec.origins)
    frame = pd.DataFrame({
        "trial_key": np.arange(n).astype(str), "model": models[idx[0]], "origin": origins[idx[0]],
        "company": models[idx[0]], "tier": "x", "open_weights": True, "instrument": "sim-open",
        "item": items[idx[1]], "theme": "visions", "item_type": "open", "reverse": False,
        "lang": np.array(spec.langs)[idx[2]], "framing": fr_ids[idx[3]], "paraphrase": idx[4], "sample": idx[5],
        "outcome": "answered", "answer": None, "agreement": np.nan, "score": np.nan, "correct": np.nan,
        "final_answer": None, "final_correct": np.nan, "flipped": np.nan, "open_outcome": "complete",
    })[list(COLUMNS)]
    frame["stance"] = "none"
    frame["identity"] = "none"
    frame["culture"] = fr_cult[idx[3]]
    frame["model_order"] = idx[0]
    frame["coder"] = "sim-coder"
    frame["code_status"] = np.where(uncodable, "uncodable", "coded")
    cats = np.array(spec.categories, dtype=object)
    frame["categories"] = [() if un else tuple(cats[row]) for un, row in zip(uncodable, coded, strict=True)]
    for k, cat in enumerate(spec.categories):
        frame[f"{CAT_PREFIX}{cat}"] = np.where(uncodable, np.nan, coded[:, k].astype(np.float64))
    return frame, truth(spec, model_eff, rng)


def _pool_models(x: FloatArray, origins: npt.NDArray[np.str_], group: str | None = None) -> FloatArray:
    """Mean over models (axis 0) of one origin, or the mean of the origins' means (every model its
    own company in the simulation)."""
    if group is not None:
        return np.asarray(x[origins == group].mean(axis=0))
    return np.asarray(np.mean([x[origins == g].mean(axis=0) for g in sorted(set(origins))], axis=0))


def _effects(spec: CodeSimSpec, q: FloatArray) -> dict[str, Any]:
    """Estimands from cell probabilities q (M, I, L, F, P, K), averaged over the items drawn."""
    origins = np.array(spec.origins)
    cult = np.array([u for _, u in spec.framings])
    models = [f"m{j}" for j in range(len(spec.origins))]
    out: dict[str, Any] = {}
    # shares per model x lang x framing, and pooled (cells averaged within item, then items)
    sh: dict[tuple[str, str, str], FloatArray] = {}
    for j, m in enumerate(models):
        for li, lg in enumerate([*spec.langs, "all"]):
            for fi, (f, _) in enumerate([*spec.framings, ("all", "")]):
                sub = q[j]
                sub = sub[:, li:li + 1] if lg != "all" else sub
                sub = sub[:, :, fi:fi + 1] if f != "all" else sub
                sh[(m, lg, f)] = sub.mean(axis=(0, 1, 2, 3))
    out["shares"] = sh
    both_origins = {"CN", "US"} <= set(spec.origins)
    if both_origins:
        out["origin_all"] = (_pool_models(q, origins, "CN") - _pool_models(q, origins, "US")).mean(axis=(0, 1, 2, 3))
    cn, us = cult == "cn", cult == "us"
    if cn.any() and us.any():
        diff = q[:, :, :, cn].mean(axis=3) - q[:, :, :, us].mean(axis=3)        # (M, I, L, P, K)
        out["culture"] = {m: diff[j].mean(axis=(0, 1, 2)) for j, m in enumerate(models)}
        out["culture"]["all"] = _pool_models(diff, origins).mean(axis=(0, 1, 2))
    if cn.any() and us.any() and both_origins:
        diff = q[:, :, :, cn].mean(axis=3) - q[:, :, :, us].mean(axis=3)
        s_cn, s_us = q[:, :, :, cn].mean(axis=3), q[:, :, :, us].mean(axis=3)
        o_eff = 0.5 * ((_pool_models(s_cn, origins, "CN") - _pool_models(s_cn, origins, "US"))
                       + (_pool_models(s_us, origins, "CN") - _pool_models(s_us, origins, "US")))
        c_eff = 0.5 * (_pool_models(diff, origins, "CN") + _pool_models(diff, origins, "US"))
        o, c = o_eff.mean(axis=(0, 1, 2)), c_eff.mean(axis=(0, 1, 2))
        out["headline"] = {"origin": o, "culture": c, "difference": np.abs(o) - np.abs(c)}
    if "en" in spec.langs and "zh" in spec.langs:
        e, z = spec.langs.index("en"), spec.langs.index("zh")
        ld = q[:, :, e] - q[:, :, z]                                           # (M, I, F, P, K)
        out["language"] = {m: ld[j].mean(axis=(0, 1, 2)) for j, m in enumerate(models)}
        out["language"]["all"] = _pool_models(ld, origins).mean(axis=(0, 1, 2))
    return out


def truth(spec: CodeSimSpec, model_eff: FloatArray, rng: np.random.Generator) -> dict[str, Any]:
    """Estimands over the item population given the models: ``coded`` (as the coder writes them,
    what the estimators target) and ``latent`` (the true categories)."""
    p = _probs(spec, model_eff, spec.n_truth_items, np.random.default_rng(rng.integers(2**32)))
    return {"coded": _effects(spec, _coded(spec, p)), "latent": _effects(spec, p),
            "categories": spec.categories}
