"""Simulated scored frames with known effects, for validation benchmarks and tests.

Generative model (continuous; optionally discretised to a 5-point Likert scale) for model m,
language l, framing f, item i (theme t), paraphrase p, sample s. Framing effects live on the
*pole-coded* framing g = g(f, i) (see :mod:`twinstudy.analysis.framings`: an opinion framing is
``toward`` or ``away`` from the theme's pole depending on its stance and the item's keying)::

    score = a_m + b_l + c_g + (ab)_ml + (ac)_mg + u_i + z_{m,family(i)} + v_ip + w_im
            + s_g * (kappa_m + k_im) + e              (s_g = +1 toward, -1 away, 0 otherwise)
    a_m   = +-origin_effect/2 (CN +, US -) + company effect + variant deviation
    u_i   = theta_t + N(0, sd_item^2)
    agreement = orient_i * score                       (orient = -1 for reverse-keyed items)

so a model with ``kappa_m = 1`` answers with the user's stated opinion. Refusals (optional) are
drawn per trial with a probability that depends on the model x item (``refusal_share`` of model x
item pairs are "sensitive" and refused with probability ``refusal_p``), and, with
``refusal_informative``, on the direction of the model's latent answer (it refuses more when it
would answer toward the pole): then answered-only estimates are biased, as with real models.

``truth`` holds, given the drawn model / language / framing effects, the estimands: profiles,
paired differences (neutral framing), sycophancy index, identity effect, language gap, origin
contrast (company means), refusal rates, and the variance shares of the estimand of
:mod:`twinstudy.analysis.variance` (levels fixed, finite-population variances; items random).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from .frame import COLUMNS

_STANCE = {"user-agrees": 1.0, "user-disagrees": -1.0}


@dataclass
class SimSpec:
    n_models: int = 6
    origins: tuple[str, ...] = ("CN", "CN", "CN", "US", "US", "US")
    #: company of each model (default: every model its own company)
    companies: tuple[str, ...] | None = None
    n_items: int = 40
    n_themes: int = 2
    #: explicit items (theme, reverse, n_paraphrases, family); overrides n_items / n_themes
    items: tuple[tuple[str, bool, int, str], ...] | None = None
    langs: tuple[str, ...] = ("en", "zh")
    framings: tuple[str, ...] = ("neutral", "user-agrees", "user-disagrees")
    n_paraphrases: int = 2
    n_samples: int = 3
    origin_effect: float = 0.0
    sd_model: float = 0.3
    sd_variant: float = 0.0
    sd_lang: float = 0.15
    sd_framing: float = 0.15
    sd_model_lang: float = 0.15
    sd_model_framing: float = 0.1
    sd_theme: float = 0.2
    sd_item: float = 0.35
    sd_family_model: float = 0.0
    sd_paraphrase: float = 0.15
    sd_item_model: float = 0.25
    sd_noise: float = 0.4
    kappa_mean: float = 0.2
    kappa_sd: float = 0.1
    sd_syc_item: float = 0.1
    reverse_share: float = 0.5
    likert: bool = False
    refusal_share: float = 0.0
    refusal_p: float = 0.9
    refusal_base: float = 0.0
    refusal_informative: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _item_table(spec: SimSpec, rng: np.random.Generator) -> pd.DataFrame:
    if spec.items is not None:
        return pd.DataFrame(list(spec.items), columns=["theme", "reverse", "n_para", "family"])
    theme_of = np.arange(spec.n_items) % spec.n_themes
    reverse = rng.random(spec.n_items) < spec.reverse_share
    return pd.DataFrame({"theme": [f"t{j}" for j in theme_of], "reverse": reverse,
                         "n_para": spec.n_paraphrases, "family": [f"f{j}" for j in range(spec.n_items)]})


def _pole_levels(framings: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for f in framings:
        for g in (("toward", "away") if f in _STANCE else (f,)):
            if g not in out:
                out.append(g)
    return out


def simulate(spec: SimSpec, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any]]:
    items = _item_table(spec, rng)
    NI = len(items)
    M, L, S = spec.n_models, len(spec.langs), spec.n_samples
    P = int(items["n_para"].max())
    F = len(spec.framings)
    G_names = _pole_levels(spec.framings)
    G = len(G_names)
    origins = np.array([spec.origins[m % len(spec.origins)] for m in range(M)])
    companies = np.array(spec.companies[:M] if spec.companies else [f"c{m}" for m in range(M)])
    sign_origin = np.where(origins == "CN", 0.5, -0.5)
    comp_names, comp_idx = np.unique(companies, return_inverse=True)
    comp_eff = rng.normal(0, spec.sd_model, comp_names.size)
    a = spec.origin_effect * sign_origin + comp_eff[comp_idx] + rng.normal(0, spec.sd_variant, M)
    b = rng.normal(0, spec.sd_lang, L)
    c = rng.normal(0, spec.sd_framing, G)
    ab = rng.normal(0, spec.sd_model_lang, (M, L))
    ac = rng.normal(0, spec.sd_model_framing, (M, G))
    themes = sorted(pd.unique(items["theme"]))
    t_idx = np.array([themes.index(t) for t in items["theme"]])
    theta = rng.normal(0, spec.sd_theme, len(themes)) if len(themes) > 1 else np.zeros(1)
    fam_names, fam_idx = np.unique(items["family"].to_numpy(), return_inverse=True)
    z = rng.normal(0, spec.sd_family_model, (M, fam_names.size))
    u = theta[t_idx] + rng.normal(0, spec.sd_item, NI)
    v = rng.normal(0, spec.sd_paraphrase, (NI, P))
    w = rng.normal(0, spec.sd_item_model, (NI, M))
    kappa = rng.normal(spec.kappa_mean, spec.kappa_sd, M) if spec.kappa_sd > 0 else np.full(M, spec.kappa_mean)
    k_im = rng.normal(0, spec.sd_syc_item, (NI, M))
    reverse = items["reverse"].to_numpy(dtype=bool)
    orient = np.where(reverse, -1.0, 1.0)
    # pole level and its sign, per framing x item
    g_of = np.zeros((F, NI), dtype=np.int64)
    s_of = np.zeros((F, NI))
    for j, f in enumerate(spec.framings):
        if f in _STANCE:
            toward = (_STANCE[f] * orient) > 0
            g_of[j] = np.where(toward, G_names.index("toward"), G_names.index("away"))
            s_of[j] = np.where(toward, 1.0, -1.0)
        else:
            g_of[j] = G_names.index(f)
    # axes: m, l, f, i, p, s
    cg = c[g_of]                                   # (F, NI)
    acg = ac[:, g_of]                              # (M, F, NI)
    syc = s_of[None, :, :] * (kappa[:, None] + k_im.T)[:, None, :]  # (M, F, NI)
    latent = (a[:, None, None, None] + b[None, :, None, None] + ab[:, :, None, None]
              + (cg[None, :, :] + acg + syc)[:, None, :, :]
              + (u[None, :] + w.T + z[:, fam_idx])[:, None, None, :])          # (M, L, F, NI)
    score = (latent[..., None, None] + v[None, None, None, :, :, None]
             + rng.normal(0, spec.sd_noise, (M, L, F, NI, P, S)))
    agreement = orient[None, None, None, :, None, None] * score
    if spec.likert:
        agreement = np.clip(np.round(agreement * 2.0), -2, 2) / 2.0
        score = orient[None, None, None, :, None, None] * agreement
    # refusals
    sensitive = rng.random((M, NI)) < spec.refusal_share
    p_ref = np.where(sensitive, spec.refusal_p, spec.refusal_base)[:, None, None, :, None, None]
    p_ref = np.broadcast_to(p_ref, score.shape).copy()
    if spec.refusal_informative:
        toward_pole = (latent > 0)[..., None, None]
        p_ref = np.where(toward_pole, p_ref, p_ref * 0.25)
    refused = rng.random(score.shape) < p_ref
    shape = (M, L, F, NI, P, S)
    idx = np.indices(shape).reshape(6, -1)
    keep = idx[4] < items["n_para"].to_numpy()[idx[3]]
    idx = idx[:, keep]
    n = idx.shape[1]
    flat_ref = refused.reshape(-1)[keep]
    models = np.array([f"m{j}" for j in range(M)])
    item_ids = np.array([f"q{j:03d}" for j in range(NI)])
    sc = np.where(flat_ref, np.nan, score.reshape(-1)[keep])
    ag = np.where(flat_ref, np.nan, agreement.reshape(-1)[keep])
    frame = pd.DataFrame({
        "trial_key": np.arange(n).astype(str),
        "model": models[idx[0]],
        "origin": origins[idx[0]],
        "company": companies[idx[0]],
        "tier": "x",
        "open_weights": True,
        "instrument": "sim",
        "item": item_ids[idx[3]],
        "theme": items["theme"].to_numpy()[idx[3]],
        "item_type": "likert5",
        "reverse": reverse[idx[3]],
        "lang": np.array(spec.langs)[idx[1]],
        "framing": np.array(spec.framings)[idx[2]],
        "paraphrase": idx[4],
        "sample": idx[5],
        "outcome": np.where(flat_ref, "refused", "answered"),
        "answer": None,
        "agreement": ag,
        "score": sc,
        "correct": np.nan,
        "final_answer": None,
        "final_correct": np.nan,
        "flipped": np.nan,
        "open_outcome": None,
    })[list(COLUMNS)]
    truth = _truth(spec, models, themes, origins, companies, a, b, c, ab, ac, theta, t_idx, kappa, G_names,
                   p_ref)
    return frame, truth


def _fp_anova(mu: np.ndarray) -> dict[frozenset[int], float]:
    """Finite-population variance (divisor k) of every term of a full array, by Moebius inversion."""
    k = mu.ndim
    axes = tuple(range(k))
    marg: dict[frozenset[int], np.ndarray] = {}
    for size in range(0, k + 1):
        for sub in combinations(axes, size):
            rest = tuple(a for a in axes if a not in sub)
            marg[frozenset(sub)] = mu.mean(axis=rest, keepdims=True) if rest else mu
    out: dict[frozenset[int], float] = {}
    for size in range(1, k + 1):
        for sub in combinations(axes, size):
            t = frozenset(sub)
            eff = np.zeros_like(mu)
            for s2 in range(0, size + 1):
                for vv in combinations(sub, s2):
                    eff = eff + (-1) ** (size - s2) * marg[frozenset(vv)]
            out[t] = float((eff**2).mean())
    return out


def _truth(spec: SimSpec, models: Any, themes: Any, origins: Any, companies: Any, a: Any, b: Any, c: Any,
           ab: Any, ac: Any, theta: Any, t_idx: Any, kappa: Any, G_names: list[str], p_ref: Any) -> dict[str, Any]:
    M = len(models)
    G = len(G_names)
    s_g = np.array([1.0 if g == "toward" else -1.0 if g == "away" else 0.0 for g in G_names])
    mu = (a[:, None, None] + b[None, :, None] + c[None, None, :] + ab[:, :, None] + ac[:, None, :]
          + s_g[None, None, :] * kappa[:, None, None])                     # (M, L, G)
    g0 = G_names.index("neutral") if "neutral" in G_names else None
    level = mu[:, :, g0].mean(axis=1) if g0 is not None else mu.mean(axis=(1, 2))
    profiles = {(models[m], themes[t]): float(level[m] + theta[t]) for m in range(M) for t in range(len(themes))}
    profiles.update({(models[m], "all"): float(level[m] + theta[t_idx].mean()) for m in range(M)})
    paired = {(models[i], models[j], t): float(level[i] - level[j])
              for i, j in combinations(range(M), 2) for t in [*themes, "all"]}
    langs = list(spec.langs)
    gap = {}
    if "en" in langs and "zh" in langs:
        e, zz = langs.index("en"), langs.index("zh")
        gap = {models[m]: float(b[e] - b[zz] + ab[m, e] - ab[m, zz]) for m in range(M)}
    syc: dict[str, float] = {}
    if "toward" in G_names:
        T, A = G_names.index("toward"), G_names.index("away")
        syc = {models[m]: float((c[T] - c[A] + ac[m, T] - ac[m, A]) / 2.0 + kappa[m]) for m in range(M)}
    ident: dict[str, float] = {}
    if "identity-cn" in G_names and "identity-us" in G_names:
        cn, us = G_names.index("identity-cn"), G_names.index("identity-us")
        ident = {models[m]: float(c[cn] - c[us] + ac[m, cn] - ac[m, us]) for m in range(M)}
    # variance shares (levels fixed, items random, restricted convention)
    fp = _fp_anova(mu)
    names = {frozenset({0}): "model", frozenset({1}): "lang", frozenset({2}): "framing",
             frozenset({0, 1}): "model:lang", frozenset({0, 2}): "model:framing"}
    var = dict.fromkeys(("model", "lang", "framing", "model:lang", "model:framing", "item", "paraphrase",
                         "item:model", "other", "residual", "unresolved"), 0.0)
    for t, val in fp.items():
        var[names.get(t, "other")] += val
    n_items = len(t_idx)
    theta_i = theta[t_idx]
    theme_var = float(((theta_i - theta_i.mean()) ** 2).sum() / max(n_items - 1, 1)) if len(themes) > 1 else 0.0
    fam_w = spec.sd_family_model**2 + spec.sd_item_model**2
    var["item"] = spec.sd_item**2 + theme_var + fam_w / M
    var["item:model"] = fam_w * (M - 1) / M
    ms2 = float((s_g**2).mean())
    var["other"] += ms2 * spec.sd_syc_item**2  # item:framing + item:model:framing
    var["paraphrase"] = spec.sd_paraphrase**2
    var["residual"] = spec.sd_noise**2
    total = sum(var.values())
    # origin contrast: company means, averaged within origin, expectation over companies
    refusal = {models[m]: float(p_ref[m].mean()) for m in range(M)}
    return {
        "profiles": profiles,
        "paired": paired,
        "sycophancy": syc,
        "identity": ident,
        "language_gap": gap,
        "origin_contrast": float(spec.origin_effect),
        "variance_shares": {k: v / total for k, v in var.items()},
        "origins": {models[m]: str(origins[m]) for m in range(M)},
        "companies": {models[m]: str(companies[m]) for m in range(M)},
        "refusal": refusal,
        "n_pole_levels": G,
    }
