"""Read an answer's probability distribution from the first answer token's logprobs.

One forward pass gives P(answer = k) for every option, instead of sampling the model many times.
"""

from __future__ import annotations

import math

from twinstudy.vocab import LIKERT_POINTS, likert_labels

LIKERT_RANGE = {t: "".join(likert_labels(t)) for t in LIKERT_POINTS}
FULLWIDTH = {chr(0xFF10 + i): str(i) for i in range(10)}


def _normalise(token: str) -> str:
    t = token.strip().strip("*").strip()
    return "".join(FULLWIDTH.get(ch, ch) for ch in t)


def option_distribution(top_logprobs: list[dict[str, float]], item_type: str) -> dict[str, float] | None:
    """Distribution over Likert points at the first position where an option token is likely.

    Returns None when no position in the first few puts most of its mass on valid options.
    """
    valid = LIKERT_RANGE.get(item_type)
    if valid is None:
        return None
    for position in top_logprobs[:4]:
        mass: dict[str, float] = {}
        for token, lp in position.items():
            t = _normalise(token)
            if len(t) == 1 and t in valid:
                mass[t] = mass.get(t, 0.0) + math.exp(lp)
        if mass and sum(mass.values()) >= 0.5:
            total = sum(mass.values())
            return {k: v / total for k, v in sorted(mass.items())}
    return None
