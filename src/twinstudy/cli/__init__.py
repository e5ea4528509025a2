"""The command-line interface; the click group lives in :mod:`twinstudy.cli.main`."""

from twinstudy.cli.main import main

__all__ = ["main"]
