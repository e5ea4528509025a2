"""The outcome of a reply to an open request, for study trials and chat replies alike.

Both used to decide this on their own and differed in small ways; now both call
:func:`open_outcome`, and the two real differences are named arguments with their reasons. It reads
the rules (fast, no model file); a study trial's recorded outcome follows the scorer that ranks
first (:mod:`twinstudy.scoring.precedence`: the learned ensemble for open requests).
"""

from __future__ import annotations

from twinstudy.scoring.refusal import OpenVerdict, classify_open_rules
from twinstudy.vocab import Outcome

# The refusal rules' verdicts in the study's outcome words.
VERDICT_OUTCOME: dict[str, Outcome] = {"complete": "answered", "evasive": "evasive", "denial": "refused"}


def open_outcome(text: str, finish_reason: str | None, lang: str, *, blocked: bool = False,
                 short_is_evasive: bool = False, cut_off_is_truncated: bool = False,
                 ) -> tuple[Outcome, OpenVerdict | None]:
    """Outcome of one reply and the rules' verdict (None for a blocked reply: nothing to judge).

    - A provider block is ``blocked``, never ``refused``: the model did not decline, a filter did.
    - An empty reply cut off by the token limit is ``truncated`` (the model was still thinking).
    - ``short_is_evasive``: a reply shorter than the rule file's ``short_chars`` counts as evasive.
      Right for requests for an essay or an explanation; wrong for "Who made you?" or a chat line.
    - ``cut_off_is_truncated``: any reply cut off by the token limit that is not a refusal is
      ``truncated``. The chat shows replies as they are, so it says so; a study trial keeps the
      verdict on the text it got.
    """
    if blocked:
        return "blocked", None
    verdict = classify_open_rules(text, lang, min_complete_chars=None if short_is_evasive else 0)
    if finish_reason == "length" and (not text.strip() or (cut_off_is_truncated and verdict.outcome != "denial")):
        return "truncated", verdict
    return VERDICT_OUTCOME[verdict.outcome], verdict
