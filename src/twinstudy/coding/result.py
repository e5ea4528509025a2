"""What any coder returns for one reply, before it is stored as a :class:`twinstudy.store.CodeRow`."""

from __future__ import annotations

from dataclasses import dataclass

CODED = "coded"
UNCODABLE = "uncodable"


@dataclass(frozen=True)
class Code:
    """One coder's reading of one reply.

    ``status`` is ``coded`` (``categories`` holds the categories assigned: exactly one for a
    single-label codebook, any number for a multi-label one) or ``uncodable`` (the coder could not
    settle on a code, e.g. a judge's reply without a readable ``CODES:`` line). ``detail`` says why
    (the keywords that fired, or what the judge wrote).
    """

    status: str
    categories: tuple[str, ...] = ()
    detail: str | None = None
