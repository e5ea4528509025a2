"""How estimates are written, the same in the terminal and in the HTML report."""

from __future__ import annotations

import math
from typing import Any


def fmt(x: Any, spec: str = "+.2f") -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(v) else format(v, spec)


def ci(r: Any, spec: str = "+.2f") -> str:
    """An estimate with its interval: ``+0.12 [-0.03, +0.25]``."""
    return f"{fmt(r['estimate'], spec)} [{fmt(r['ci_low'], spec)}, {fmt(r['ci_high'], spec)}]"


def pct(r: Any) -> str:
    """A share with its interval, in percent: ``12% [8–17]``."""
    def x100(v: Any) -> Any:  # None / NaN (no interval) stay undefined
        return None if v is None else float(v) * 100

    return (f"{fmt(x100(r['estimate']), '.0f')}% [{fmt(x100(r['ci_low']), '.0f')}–"
            f"{fmt(x100(r['ci_high']), '.0f')}]")
