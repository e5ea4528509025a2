"""Simulated scored frames with known effects, for validation benchmarks and tests.

Generative model (continuous; optionally discretised to a 5-point Likert scale) for model m,
language l, framing f, item i (theme t), paraphrase p, sample s::

    base  = a_m + b_l + c_f + (ab)_ml + (ac)_mf + u_i + v_ip + w_im + e
    a_m   = +-origin_effect/2 (CN +, US -) + N(0, sd_model^2)
    u_i   = theta_t + N(0, sd_item^2)
    agreement = orient_i * base + sign_f * (kappa_m + k_im)   (sign +1 user-agrees, -1 user-disagrees)
    score     = orient_i * agreement                             (orient = -1 for reverse items)

Every effect is drawn afresh for each simulated study from a normal with the given SD, so the
variance components of ``score`` (when ``kappa = sd_syc_item = 0``) are exactly the SDs squared.
``truth`` holds the population values (expectation over items, paraphrases and noise, given the
drawn model/lang/framing effects) of the estimands of profiles, paired differences, sycophancy,
the language gap, the origin contrast, and the variance shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from .frame import COLUMNS


@dataclass
class SimSpec:
    n_models: int = 6
    origins: tuple[str, ...] = ("CN", "CN", "CN", "US", "US", "US")
    n_items: int = 40
    n_themes: int = 2
    langs: tuple[str, ...] = ("en", "zh")
    framings: tuple[str, ...] = ("neutral", "user-agrees", "user-disagrees")
    n_paraphrases: int = 2
    n_samples: int = 3
    origin_effect: float = 0.0
    sd_model: float = 0.3
    sd_lang: float = 0.15
    sd_framing: float = 0.15
    sd_model_lang: float = 0.15
    sd_model_framing: float = 0.1
    sd_theme: float = 0.2
    sd_item: float = 0.35
    sd_paraphrase: float = 0.15
    sd_item_model: float = 0.25
    sd_noise: float = 0.4
    kappa_mean: float = 0.2
    kappa_sd: float = 0.1
    sd_syc_item: float = 0.1
    reverse_share: float = 0.5
    likert: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def simulate(spec: SimSpec, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any]]:
    M, L, F, NI, P, S = (spec.n_models, len(spec.langs), len(spec.framings), spec.n_items,
                        spec.n_paraphrases, spec.n_samples)
    origins = np.array([spec.origins[m % len(spec.origins)] for m in range(M)])
    sign_origin = np.where(origins == "CN", 0.5, -0.5)
    a = spec.origin_effect * sign_origin + rng.normal(0, spec.sd_model, M)
    b = rng.normal(0, spec.sd_lang, L)
    c = rng.normal(0, spec.sd_framing, F)
    ab = rng.normal(0, spec.sd_model_lang, (M, L))
    ac = rng.normal(0, spec.sd_model_framing, (M, F))
    theme_of = np.arange(NI) % spec.n_themes
    theta = rng.normal(0, spec.sd_theme, spec.n_themes) if spec.n_themes > 1 else np.zeros(1)
    u = theta[theme_of] + rng.normal(0, spec.sd_item, NI)
    v = rng.normal(0, spec.sd_paraphrase, (NI, P))
    w = rng.normal(0, spec.sd_item_model, (NI, M))
    kappa = rng.normal(spec.kappa_mean, spec.kappa_sd, M) if spec.kappa_sd > 0 else np.full(M, spec.kappa_mean)
    k_im = rng.normal(0, spec.sd_syc_item, (NI, M))
    reverse = rng.random(NI) < spec.reverse_share
    orient = np.where(reverse, -1.0, 1.0)
    sign_f = np.array([1.0 if f == "user-agrees" else -1.0 if f == "user-disagrees" else 0.0
                       for f in spec.framings])
    # axes: m, l, f, i, p, s
    base = (a[:, None, None, None, None, None] + b[None, :, None, None, None, None]
            + c[None, None, :, None, None, None] + ab[:, :, None, None, None, None]
            + ac[:, None, :, None, None, None] + u[None, None, None, :, None, None]
            + v[None, None, None, :, :, None] + w.T[:, None, None, :, None, None]
            + rng.normal(0, spec.sd_noise, (M, L, F, NI, P, S)))
    syc = sign_f[None, None, :, None, None, None] * (kappa[:, None] + k_im.T)[:, None, None, :, None, None]
    agreement = orient[None, None, None, :, None, None] * base + syc
    if spec.likert:
        agreement = np.clip(np.round(agreement * 2.0), -2, 2) / 2.0
    score = orient[None, None, None, :, None, None] * agreement
    shape = (M, L, F, NI, P, S)
    idx = np.indices(shape).reshape(6, -1)
    n = idx.shape[1]
    models = np.array([f"m{j}" for j in range(M)])
    items = np.array([f"q{j:03d}" for j in range(NI)])
    themes = np.array([f"t{j}" for j in range(spec.n_themes)])
    frame = pd.DataFrame({
        "trial_key": np.arange(n).astype(str),
        "model": models[idx[0]],
        "origin": origins[idx[0]],
        "company": models[idx[0]],
        "tier": "x",
        "open_weights": True,
        "instrument": "sim",
        "item": items[idx[3]],
        "theme": themes[theme_of[idx[3]]],
        "item_type": "likert5",
        "reverse": reverse[idx[3]],
        "lang": np.array(spec.langs)[idx[1]],
        "framing": np.array(spec.framings)[idx[2]],
        "paraphrase": idx[4],
        "sample": idx[5],
        "outcome": "answered",
        "answer": None,
        "agreement": agreement.reshape(-1),
        "score": score.reshape(-1),
        "correct": np.nan,
        "final_answer": None,
        "final_correct": np.nan,
        "flipped": np.nan,
        "open_outcome": None,
    })[list(COLUMNS)]
    truth = _truth(spec, models, themes, origins, a, b, c, ab, ac, theta, kappa)
    return frame, truth


def _truth(spec: SimSpec, models: Any, themes: Any, origins: Any, a: Any, b: Any, c: Any, ab: Any,
           ac: Any, theta: Any, kappa: Any) -> dict[str, Any]:
    framings = list(spec.framings)
    f0 = framings.index("neutral") if "neutral" in framings else None
    M = len(models)
    model_level = a + (b[None, :] + ab).mean(axis=1)
    if f0 is not None:
        model_level = model_level + c[f0] + ac[:, f0]
    else:
        model_level = model_level + (c[None, :] + ac).mean(axis=1)
    profiles = {(models[m], themes[t]): float(model_level[m] + theta[t])
                for m in range(M) for t in range(len(themes))}
    paired_m = a + ab.mean(axis=1) + ac.mean(axis=1)
    paired = {}
    for i, j in combinations(range(M), 2):
        for t in themes:
            paired[(models[i], models[j], t)] = float(paired_m[i] - paired_m[j])
    langs = list(spec.langs)
    gap = {}
    if "en" in langs and "zh" in langs:
        e, z = langs.index("en"), langs.index("zh")
        gap = {models[m]: float(b[e] - b[z] + ab[m, e] - ab[m, z]) for m in range(M)}
    variances = {
        "model": spec.sd_model**2, "lang": spec.sd_lang**2, "framing": spec.sd_framing**2,
        "model:lang": spec.sd_model_lang**2, "model:framing": spec.sd_model_framing**2,
        "item": spec.sd_item**2 + (spec.sd_theme**2 if spec.n_themes > 1 else 0.0),
        "paraphrase": spec.sd_paraphrase**2, "item:model": spec.sd_item_model**2, "other": 0.0,
        "residual": spec.sd_noise**2,
    }
    total = sum(variances.values())
    return {
        "profiles": profiles,
        "paired": paired,
        "sycophancy": {models[m]: float(kappa[m]) for m in range(M)},
        "language_gap": gap,
        "origin_contrast": float(spec.origin_effect),
        "variance_shares": {k: v / total for k, v in variances.items()},
        "origins": {models[m]: str(origins[m]) for m in range(M)},
    }
