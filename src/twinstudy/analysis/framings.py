"""What each framing says about the user, read from the framing data rather than from framing ids.

Two optional columns of the scored frame carry it (the store fills them from the framing
definitions the study ran with; a frame without them is filled here from the bundled
definitions, so frames built by older code still work):

* ``stance``: ``agree`` / ``disagree`` (the user states an opinion on the statement as worded) or
  ``none``;
* ``identity``: the identity the user states, lower-case (``cn``, ``us``, ...) or ``none``.

Why this matters. The user's stance is about the *statement*, while ``score`` points toward the
theme's *pole*. On a reverse-keyed item, a user who agrees with the statement is pushing away from
the pole. Coded by framing id, a model that simply follows the user therefore shows up on the score
scale as a keying x framing interaction, not as a framing effect, and the "user's side" of the
variance reads about 0 % on the bundled instruments (half of every theme is reverse-keyed).
:func:`pole_framing` recodes every opinion framing as ``toward`` or ``away`` from the pole
(stance x keying), so following the user becomes a framing main effect (its mean over models) and
a model x framing interaction (its spread across models).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

NONE = "none"
STANCES: tuple[str, ...] = ("agree", "disagree")
TOWARD, AWAY = "toward", "away"


@lru_cache(maxsize=1)
def _bundled_roles() -> dict[str, tuple[str, str]]:
    """framing id -> (stance, identity) from the bundled framing definitions."""
    try:
        from twinstudy.instruments.loader import load_framings

        defs = load_framings()
    except Exception:  # noqa: BLE001 - analysis must not depend on the instrument files loading
        return {}
    return {fid: (f.stance or NONE, (f.identity or NONE).lower()) for fid, f in defs.items()}


def _fill(frame: pd.DataFrame, column: str, index: int) -> pd.Series:
    roles = _bundled_roles()
    from_defs = frame["framing"].astype(str).map(lambda f: roles.get(f, (NONE, NONE))[index])
    if column not in frame.columns:
        return from_defs
    given = frame[column]
    given = given.where(given.notna() & (given.astype(str) != ""), None)
    out = given.astype(object).where(given.notna(), from_defs)
    return out.astype(str).str.lower()


def with_roles(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with ``stance`` and ``identity`` present and filled (a copy when anything changes)."""
    if len(frame) == 0:
        out = frame.copy()
        for c in ("stance", "identity"):
            if c not in out.columns:
                out[c] = pd.Series(dtype=object)
        return out
    stance = _fill(frame, "stance", 0)
    identity = _fill(frame, "identity", 1)
    if ("stance" in frame.columns and "identity" in frame.columns
            and frame["stance"].astype(str).str.lower().equals(stance)
            and frame["identity"].astype(str).str.lower().equals(identity)):
        return frame
    out = frame.copy()
    out["stance"] = stance.to_numpy()
    out["identity"] = identity.to_numpy()
    return out


def pole_framing(frame: pd.DataFrame) -> pd.Series:
    """Framing level for score-scale analyses: opinion framings as ``toward`` / ``away`` from the pole.

    A user who agrees with a forward item, or disagrees with a reverse-keyed one, pushes toward the
    theme's pole; the other two combinations push away. Framings without a stance keep their id.
    Several agree framings (say, of different strength) share the ``toward`` / ``away`` levels.
    """
    f = with_roles(frame)
    stance = f["stance"].to_numpy(dtype=object)
    rev = f["reverse"].to_numpy(dtype=object)
    reverse = np.array([bool(x) if x is not None and x == x else False for x in rev], dtype=bool)
    agree = stance == "agree"
    disagree = stance == "disagree"
    toward = (agree & ~reverse) | (disagree & reverse)
    level = np.where(toward, TOWARD, np.where(agree | disagree, AWAY, f["framing"].astype(str).to_numpy()))
    return pd.Series(level, index=frame.index, name="framing")
