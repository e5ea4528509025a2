"""Analysis layer: effects with honest error bars from a scored frame (one row per trial).

``analyze(frame)`` returns a dict of DataFrames; ``to_json(results)`` makes it JSON-ready.
The frame's columns are documented in :mod:`twinstudy.analysis.frame`.
"""

from .api import analyze, to_json
from .frame import COLUMNS, validate_frame

__all__ = ["COLUMNS", "analyze", "to_json", "validate_frame"]
