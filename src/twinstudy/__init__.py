"""twinstudy: twin studies on language models.

Ask the same questions of several models, in English and Chinese, under controlled user framings,
and separate what comes from the model from what comes from the person asking.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
