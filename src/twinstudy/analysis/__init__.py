"""Analysis layer: effects with honest error bars from a scored frame (one row per trial).

``analyze(frame)`` returns a :class:`Results` (a mapping of DataFrames, plus errors and settings);
``to_json(results)`` makes it JSON-ready.
The frame's columns are documented in :mod:`twinstudy.analysis.frame`.
"""

from .api import analyze, to_json
from .frame import COLUMNS, validate_frame
from .results import Results, Settings, n_boot_for

__all__ = ["COLUMNS", "Results", "Settings", "analyze", "n_boot_for", "to_json", "validate_frame"]
