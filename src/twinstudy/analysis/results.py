"""The typed result of one analysis: tables, per-estimator errors, and the settings that made them.

``analyze`` (in :mod:`twinstudy.analysis.api`) returns a :class:`Results`. The report, the terminal
summary and ``twinstudy analyze --json`` all render this one object, so for the same database and
seed they print the same numbers; the bootstrap-draw policy lives here and nowhere else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: Bootstrap draws per interval for an ordinary study, and above LARGE_STUDY_TRIALS trials (where a
#: full set of draws would make a report take minutes). One policy for every command.
N_BOOT = 1000
N_BOOT_LARGE = 400
LARGE_STUDY_TRIALS = 20_000
DEFAULT_SEED = 0


def n_boot_for(n_trials: int) -> int:
    """Bootstrap draws for a frame of ``n_trials`` rows: the one policy ``analyze`` applies by default."""
    return N_BOOT if n_trials <= LARGE_STUDY_TRIALS else N_BOOT_LARGE


def fingerprint(frame: pd.DataFrame) -> str:
    """A short hash of the frame's rows and columns, order-independent in rows.

    Written into the results so a reader can check that two outputs (report, JSON) came from the same
    data; it does not depend on the row order the store happened to return.
    """
    if frame.empty:
        return "empty"
    cols = sorted(str(c) for c in frame.columns)
    hashed = pd.util.hash_pandas_object(frame[cols], index=False).to_numpy(dtype=np.uint64)
    digest = hashlib.sha256(np.sort(hashed).tobytes())
    digest.update(",".join(cols).encode("utf-8"))
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Settings:
    """What a reader needs to reproduce the numbers: draws, seed, and which data they came from."""

    n_boot: int
    seed: int
    n_rows: int
    fingerprint: str

    def as_dict(self) -> dict[str, Any]:
        return {"n_boot": self.n_boot, "seed": self.seed, "n_rows": self.n_rows, "fingerprint": self.fingerprint}


@dataclass(eq=False)  # tables are DataFrames: compare Results by identity, or their to_json output
class Results(Mapping[str, pd.DataFrame]):
    """Every table ``analyze`` produced, the estimators that failed, and the settings.

    A Mapping of table name to DataFrame (so ``results["profiles"]`` and ``to_json(results)`` work as
    they did when ``analyze`` returned a dict). A table whose estimator failed is absent and its error
    is in ``errors`` (``{estimator: "TypeError: ..."}``); :meth:`table` returns an empty frame for it.
    """

    tables: dict[str, pd.DataFrame]
    settings: Settings
    errors: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    def table(self, name: str) -> pd.DataFrame:
        """The table, or an empty frame when it was not computed (no data, or its estimator failed)."""
        return self.tables.get(name, pd.DataFrame())

    def error_lines(self) -> list[str]:
        """``"name: Type: message"`` per failed estimator, for the report's method section."""
        return [f"{name}: {msg}" for name, msg in self.errors.items()]


def empty_results(frame: pd.DataFrame, n_boot: int, seed: int) -> Results:
    return Results({}, Settings(n_boot, seed, int(len(frame)), fingerprint(frame)))


def run_isolated(steps: Mapping[str, Callable[[], Any]], split: Mapping[str, tuple[str, ...]],
                 errors: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Call each estimator; one that raises leaves an entry in ``errors`` and the rest still run.

    ``split``: estimators that return several tables (a tuple), and the names of those tables.
    A bug in one estimator must cost one section of the report, not the whole analysis.
    """
    tables: dict[str, pd.DataFrame] = {}
    for name, step in steps.items():
        try:
            out = step()
        except Exception as exc:  # isolation is the point: record it, keep going
            errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        if name in split:
            for sub, table in zip(split[name], out, strict=True):
                tables[sub] = table
        else:
            tables[name] = out
    return tables
