"""The self-contained HTML report: one file, no network, every model output escaped.

The page is built section by section in :mod:`twinstudy.report.build` and rendered by
:mod:`twinstudy.report.render`; this module keeps the two names callers import from here.
"""

from __future__ import annotations

from twinstudy.report.build import build_report
from twinstudy.report.render import safe_json

__all__ = ["build_report", "safe_json"]
