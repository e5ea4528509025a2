"""Bring transcripts made elsewhere into a twinstudy results database.

A published study (SpeechMap's judged replies), a colleague's CSV or an earlier harness's JSONL is
read in full, checked row by row (a bad row is reported with its file and line), and only then
written, in one transaction, as trials, attempts and scores that every other command (analyze,
report, summary, export, rescore) treats like a run. The source's own labels are stored as scores
under the source judge's name; twinstudy's scorers can score the same replies beside them.

- :mod:`twinstudy.imports.speechmap`: SpeechMap ``analysis/compliance_<set>_<model>.jsonl`` files.
- :mod:`twinstudy.imports.table`: any JSONL or CSV with a column map.
- :mod:`twinstudy.imports.metadata`: who made each imported model, and from what base model.
"""

from __future__ import annotations

from twinstudy.imports.records import ImportBatch, ImportedRow
from twinstudy.imports.speechmap import read_speechmap
from twinstudy.imports.table import ColumnMap, read_table

__all__ = ["ColumnMap", "ImportBatch", "ImportedRow", "read_speechmap", "read_table"]
