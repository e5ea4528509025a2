"""Section builders: each reads :class:`~twinstudy.analysis.Results` (and, for raw texts and run
facts, :mod:`twinstudy.store.reads`) and returns a dataclass the template lays out. No SQL here."""
