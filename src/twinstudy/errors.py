"""Errors a user can act on.

Anything raised as :class:`UserError` is printed by the CLI as one sentence, without a traceback,
and the process exits with code 2. Messages must say what to do next and never contain secrets.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem in the user's input (study file, instrument, flags) or environment."""

    exit_code = 2


class SpecError(UserError):
    """A study, instrument or framing file is malformed; the message names file, line and field."""

    def __init__(self, path: str, line: int | None, field: str | None, message: str) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.message = message
        where = path if line is None else f"{path}:{line}"
        what = f" field '{field}'" if field else ""
        super().__init__(f"{where}:{what} {message}".replace(": ", ": ", 1))


class BudgetExhausted(Exception):
    """A budget guard (cost or requests) refused the next request; the message says which.

    Raised by :meth:`twinstudy.run.budget.Budget.reserve` and caught by the runner, which then
    stops cleanly: a run stopped by a budget is not an error and leaves everything resumable."""
