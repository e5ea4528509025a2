"""Coverage of the choice-item intervals at the sample sizes a study gives them.

Prints, for n trials per cell in {2, 4, 8, 20, 50} and true option shares in {0.05, 0.2, 0.5}:
  1. coverage of the Wilson 95% interval for one share (``choice_shares``);
  2. coverage of Newcombe's hybrid interval for a difference of two shares (``choice_origin``,
     ``choice_language``), true difference 0 and 0.3;
  3. for the record, why items are not pooled into a distance between option distributions: the
     coverage and bias of an item-cluster percentile bootstrap of the mean total-variation distance
     (5-20 items of 4 options). It is badly biased at small n, so no table reports it.
Target for 1 and 2: 0.93-0.97.

    PYTHONPATH=src .venv/bin/python bench/choice_coverage.py [--reps 4000]
"""

from __future__ import annotations

import argparse

import numpy as np

from twinstudy.analysis.choice import newcombe_diff
from twinstudy.analysis.inference import wilson_ci


def wilson_coverage(n: int, p: float, reps: int, rng: np.random.Generator) -> float:
    k = rng.binomial(n, p, size=reps).astype(float)
    lo, hi = wilson_ci(k, np.full(reps, float(n)))
    return float(np.mean((lo <= p) & (p <= hi)))


def newcombe_coverage(n: int, p1: float, p2: float, reps: int, rng: np.random.Generator) -> float:
    k1 = rng.binomial(n, p1, size=reps).astype(float)
    k2 = rng.binomial(n, p2, size=reps).astype(float)
    nn = np.full(reps, float(n))
    _, lo, hi = newcombe_diff(k1, nn, k2, nn)
    d = p1 - p2
    return float(np.mean((lo <= d + 1e-12) & (d - 1e-12 <= hi)))


def _bootstrap_mean(values: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    draws = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    return float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))


def divergence_coverage(items: int, n: int, reps: int, rng: np.random.Generator) -> tuple[float, float]:
    """Two groups whose per-item option distributions differ (Dirichlet draws per item)."""
    hits, bias = 0, 0.0
    for r in range(reps):
        a = rng.dirichlet(np.ones(4), size=items)
        b = 0.6 * a + 0.4 * rng.dirichlet(np.ones(4), size=items)
        truth = float(np.mean(0.5 * np.abs(a - b).sum(axis=1)))
        ka = np.array([rng.multinomial(n, row) for row in a]) / n
        kb = np.array([rng.multinomial(n, row) for row in b]) / n
        tv = 0.5 * np.abs(ka - kb).sum(axis=1)
        lo, hi = _bootstrap_mean(tv, 400, r)
        hits += int(lo <= truth <= hi)
        bias += float(tv.mean()) - truth
    return hits / reps, bias / reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=4000)
    args = ap.parse_args()
    rng = np.random.default_rng(20261205)
    print("1. Wilson 95% interval for one option share (coverage)")
    print("   n      p=0.05  p=0.20  p=0.50")
    for n in (2, 4, 8, 20, 50):
        cells = [wilson_coverage(n, p, args.reps, rng) for p in (0.05, 0.2, 0.5)]
        print(f"   {n:<5} " + "  ".join(f"{c:6.3f}" for c in cells))
    print("2. Newcombe 95% interval for a difference of shares (coverage)")
    print("   n      0.2-0.2  0.5-0.5  0.5-0.2  0.35-0.05")
    for n in (2, 4, 8, 20, 50):
        cells = [newcombe_coverage(n, a, b, args.reps, rng) for a, b in ((0.2, 0.2), (0.5, 0.5), (0.5, 0.2),
                                                                           (0.35, 0.05))]
        print(f"   {n:<5} " + "  ".join(f"{c:7.3f}" for c in cells))
    print("3. (not reported) item-cluster bootstrap of the mean total-variation distance (coverage, bias)")
    reps = max(100, args.reps // 20)
    for items in (5, 10, 20):
        for n in (4, 20, 100):
            cov, bias = divergence_coverage(items, n, reps, rng)
            print(f"   items={items:<3} n={n:<4} coverage {cov:.3f}  bias {bias:+.3f}")


if __name__ == "__main__":
    main()
