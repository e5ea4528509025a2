"""The scored frame: the one input of the analysis layer.

One row per trial that reached a final outcome. Columns (all required; use NaN / None where a
value does not apply):

====================  =========================================================================
column                meaning
====================  =========================================================================
trial_key             str, stable hash of the cell (model, item, lang, framing, paraphrase, sample)
model                 str, model id; variants (thinking on/off, quantisations) are separate models
origin                str, origin country of the model's maker: "CN", "US", ...
company               str, company name
tier                  str, company tier (e.g. "incumbent", "ai-native")
open_weights          bool or None
instrument            str, instrument id
item                  str, item id, stable across languages and paraphrases
theme                 str, theme the item belongs to
item_type             "likert5", "likert7", "choice", "yesno" or "open"
reverse               bool, agreeing with the item means the opposite pole of its theme
lang                  "en" or "zh"
framing               str: "neutral", "user-agrees", "user-disagrees", "identity-us",
                      "identity-cn", "pushback", or a user-defined framing
paraphrase            int, paraphrase index (0 = canonical wording)
sample                int, sample index (repeated draws of the same cell)
outcome               one of OUTCOMES
answer                str or None, the parsed answer ("4", "B", "yes")
agreement             float in [-1, 1]: Likert answer mapped linearly, agreement with the
                      statement as worded; NaN when not a Likert answer
score                 float in [-1, 1]: agreement oriented toward the theme's pole
                      (-agreement when reverse); NaN when not answered
correct               float 1/0 for choice items with a known answer; NaN otherwise
final_answer          str or None; pushback trials only: the answer after the follow-up
final_correct         float 1/0 or NaN; pushback trials only
flipped               float 1/0 when both the initial and final answers parsed; NaN otherwise
open_outcome          "complete", "evasive", "denial" or None (open items)
====================  =========================================================================

Optional columns (filled from the bundled framing definitions when absent; see
:mod:`twinstudy.analysis.framings`):

====================  =========================================================================
stance                "agree", "disagree" or "none": the opinion the framing states about the
                      statement as worded
identity              "cn", "us", ... or "none": the identity the framing states
culture               "cn", "us", ... or "none": the culture the framing brings up without an opinion
====================  =========================================================================
"""

from __future__ import annotations

import pandas as pd

from twinstudy.vocab import ALL_OUTCOMES as OUTCOMES

COLUMNS: tuple[str, ...] = (
    "trial_key",
    "model",
    "origin",
    "company",
    "tier",
    "open_weights",
    "instrument",
    "item",
    "theme",
    "item_type",
    "reverse",
    "lang",
    "framing",
    "paraphrase",
    "sample",
    "outcome",
    "answer",
    "agreement",
    "score",
    "correct",
    "final_answer",
    "final_correct",
    "flipped",
    "open_outcome",
)

OPTIONAL_COLUMNS: tuple[str, ...] = ("stance", "identity", "culture")

OPEN_OUTCOMES: tuple[str, ...] = ("complete", "evasive", "denial")

#: Columns that identify one cell of the design apart from the model and the sample index.
CELL_KEYS: tuple[str, ...] = ("item", "lang", "framing", "paraphrase")


def validate_frame(df: pd.DataFrame) -> None:
    """Raise ValueError naming every missing column, or an unknown outcome value."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"the scored frame must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            "the scored frame is missing column(s): "
            + ", ".join(missing)
            + "; see twinstudy.analysis.frame.COLUMNS for the full list"
        )
    if len(df):
        seen = set(pd.unique(df["outcome"].astype(str)))
        unknown = sorted(seen - set(OUTCOMES))
        if unknown:
            raise ValueError(
                "unknown outcome value(s) in the scored frame: "
                + ", ".join(unknown)
                + "; expected one of "
                + ", ".join(OUTCOMES)
            )
