"""What every command shares: a user error becomes one line on stderr and exit code 2.

The root group is a :class:`FriendlyGroup`, so this is applied once, around every command and
subcommand it dispatches to (commands register without wrappers of their own).
"""

from __future__ import annotations

from typing import Any

import click

from twinstudy.errors import UserError


class FriendlyGroup(click.Group):
    """A click group that turns :class:`UserError` from any command below it into ``error: ...``
    on stderr and the error's exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
