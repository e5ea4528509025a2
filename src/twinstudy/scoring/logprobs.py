"""Read an answer's probability distribution from the first answer token's logprobs.

One forward pass gives P(answer = k) for every option, instead of sampling the model many times.

Over HTTP only the top-N alternatives of each position come back, so the labels rarely hold all of
the mass there (a small model puts much of it on "I", "**" or a space). The reading is therefore
the label tokens' probabilities renormalised among themselves, exactly what the embedded path
computes from the full logits, with the share of mass the labels held recorded next to it so a
reader can judge how much the model was "answering" at that position.
"""

from __future__ import annotations

import math

from twinstudy.vocab import LIKERT_POINTS, likert_labels

LIKERT_RANGE = {t: "".join(likert_labels(t)) for t in LIKERT_POINTS}
FULLWIDTH = {chr(0xFF10 + i): str(i) for i in range(10)}
POSITIONS = 4  # answer tokens may follow markup or whitespace: look this far into the reply
CLEAR_MASS = 0.5  # a position where labels hold this much is taken at once


def _normalise(token: str) -> str:
    t = token.strip().strip("*").strip()
    return "".join(FULLWIDTH.get(ch, ch) for ch in t)


def label_distribution(top_logprobs: list[dict[str, float]],
                       item_type: str) -> tuple[dict[str, float], float] | None:
    """(distribution over Likert points, label mass) at the answer position, or None when no
    label token appears among the returned alternatives of the first few positions.

    The answer position is the first one where labels hold at least half the returned mass, or
    else the one where they hold the most.
    """
    valid = LIKERT_RANGE.get(item_type)
    if valid is None:
        return None
    best: tuple[dict[str, float], float] | None = None
    for position in top_logprobs[:POSITIONS]:
        mass: dict[str, float] = {}
        for token, lp in position.items():
            t = _normalise(token)
            if len(t) == 1 and t in valid:
                mass[t] = mass.get(t, 0.0) + math.exp(lp)
        total = sum(mass.values())
        if total <= 0:
            continue
        reading = ({k: v / total for k, v in sorted(mass.items())}, min(1.0, total))
        if total >= CLEAR_MASS:
            return reading
        if best is None or total > best[1]:
            best = reading
    return best


def option_distribution(top_logprobs: list[dict[str, float]], item_type: str) -> dict[str, float] | None:
    """The distribution alone (see :func:`label_distribution`)."""
    reading = label_distribution(top_logprobs, item_type)
    return reading[0] if reading else None
