"""How estimates are written, the same in the terminal and in the HTML report."""

from __future__ import annotations

import math
from typing import Any

#: Fewest clusters (items, or models for the origin contrast) an interval is shown for. With one or
#: two items a resampling interval collapses to the values themselves ([x, x]) and says nothing.
MIN_UNITS_FOR_INTERVAL = 3


def finite(x: Any) -> float | None:
    """``x`` as a float, or None when it is missing, not a number, NaN or infinite."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def fmt(x: Any, spec: str = "+.2f") -> str:
    v = finite(x)
    return "–" if v is None else format(v, spec)


def _get(r: Any, key: str) -> Any:
    try:
        return r[key]
    except (KeyError, IndexError, TypeError):
        return None


def _units(r: Any) -> int | None:
    v = finite(_get(r, "n"))
    return None if v is None else int(v)


def ci(r: Any, spec: str = "+.2f") -> str:
    """An estimate with its interval: ``+0.12 [-0.03, +0.25]``.

    Says so instead of printing an interval when it rests on fewer than MIN_UNITS_FOR_INTERVAL
    units (``n``), or when every resample gave the same value (no spread to show).
    """
    est = fmt(r["estimate"], spec)
    n = _units(r)
    if n is not None and n < MIN_UNITS_FOR_INTERVAL:
        return f"{est} (n={n}, no interval)"
    lo, hi = fmt(r["ci_low"], spec), fmt(r["ci_high"], spec)
    if lo != "–" and lo == hi == est and n is not None:
        return f"{est} (all {n} equal, no interval)"
    return f"{est} [{lo}, {hi}]"


def pct(r: Any) -> str:
    """A share with its interval, in percent: ``12% [8–17]``."""
    def x100(v: Any) -> Any:  # None / NaN (no interval) stay undefined
        return None if v is None else float(v) * 100

    return (f"{fmt(x100(r['estimate']), '.0f')}% [{fmt(x100(r['ci_low']), '.0f')}–"
            f"{fmt(x100(r['ci_high']), '.0f')}]")


def share(r: Any) -> str:
    """A variance share in percent, one decimal (shares are often small), with its interval."""
    def x100(v: Any) -> Any:  # None / NaN (no interval) stay undefined
        return None if v is None else float(v) * 100

    return f"{fmt(x100(r['estimate']), '.1f')}% [{fmt(x100(r['ci_low']), '.1f')}–{fmt(x100(r['ci_high']), '.1f')}]"
