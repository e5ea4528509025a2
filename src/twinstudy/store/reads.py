"""Every query the report needs, as functions with typed results.

The report renders; it does not write SQL. Each function takes a :class:`~twinstudy.store.Store` or
a bare ``sqlite3.Connection`` (a reader may open its own) and returns plain records, so a section
builder can be tested without a database and a schema change is made in one place.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from twinstudy.scoring.precedence import IMPORTED

if TYPE_CHECKING:
    from twinstudy.store import Store


def _conn(src: Store | sqlite3.Connection) -> sqlite3.Connection:
    return src if isinstance(src, sqlite3.Connection) else src.conn


# -- the score shown for a trial ---------------------------------------------------------------------

def _picked_values(store: Store, turn: int) -> dict[str, str | None]:
    """The answer of each trial's turn as the analysis counts it: the scorer precedence rule
    (:mod:`twinstudy.scoring.precedence`) through :meth:`Store.chosen_scores`, so a transcript row
    shows the answer the analysis used."""
    df = store.chosen_scores(turn)
    return {str(k): (None if v is None or (isinstance(v, float) and v != v) else str(v))
            for k, v in zip(df["trial_key"], df["value"], strict=True)}


# -- transcripts -------------------------------------------------------------------------------------

class TranscriptRow(NamedTuple):
    instrument: str
    item: str
    lang: str
    framing: str
    paraphrase: int
    sample: int
    model: str
    outcome: str
    answer_text: str | None
    reasoning: str | None
    followup_text: str | None
    provider_code: str | None
    answer: str | None        # the picked score's parsed answer, first turn
    final_answer: str | None  # the same after a follow-up turn
    choice_messages: str | None = None  # choice trials: the conversation as this trial sent it (options shuffled)


CellKey = tuple[str, str, str, str, int]  # instrument, item, lang, framing, paraphrase


def transcript_rows(store: Store) -> list[TranscriptRow]:
    """Every trial with its texts and the parsed answer of each turn (see :func:`_picked_values`)."""
    conn = store.conn
    first, follow = _picked_values(store, 0), _picked_values(store, 1)
    rows = conn.execute(
        "SELECT key, instrument, item, lang, framing, paraphrase, sample, model, outcome, answer_text, reasoning, "
        "followup_text, provider_code, CASE WHEN option_order IS NOT NULL THEN messages_json END FROM trials"
    ).fetchall()
    return [TranscriptRow(r[1], r[2], r[3], r[4], int(r[5]), int(r[6]), r[7], r[8], r[9], r[10], r[11], r[12],
                          first.get(r[0]), follow.get(r[0]), r[13]) for r in rows]


def cell_messages(src: Store | sqlite3.Connection) -> dict[CellKey, str]:
    """The conversation as sent (JSON) of one trial per cell: every model is asked the same text."""
    rows = _conn(src).execute(
        "SELECT instrument, item, lang, framing, paraphrase, messages_json FROM trials WHERE rowid IN "
        "(SELECT min(rowid) FROM trials GROUP BY instrument, item, lang, framing, paraphrase)").fetchall()
    return {(r[0], r[1], r[2], r[3], int(r[4])): str(r[5] or "[]") for r in rows}


# -- replies to unscored questions ---------------------------------------------------------------------

class ReplyRow(NamedTuple):
    instrument: str
    item: str
    item_type: str
    model: str
    lang: str
    framing: str
    outcome: str
    answer_text: str | None
    messages_json: str


def unscored_replies(src: Store | sqlite3.Connection) -> list[ReplyRow]:
    """Replies to questions without a right answer (open items, choice and yes/no items with no
    known answer), from instruments that ask more than open requests.

    An instrument of open requests only is a refusal probe; its replies are summarised as outcome
    rates, not as texts. Ordered by item, model, language, paraphrase and sample.
    """
    rows = _conn(src).execute(
        "SELECT instrument, item, item_type, model, lang, framing, outcome, answer_text, messages_json FROM trials "
        "WHERE item_type IN ('open', 'choice', 'yesno') AND correct_letter IS NULL AND instrument IN "
        "(SELECT instrument FROM trials GROUP BY instrument HAVING sum(item_type != 'open') > 0) "
        "ORDER BY instrument, item, model, lang, paraphrase, sample").fetchall()
    return [ReplyRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], str(r[8] or "[]")) for r in rows]


# -- what was measured ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class InstrumentSummary:
    id: str
    n_items: int
    themes: list[str]
    item_types: list[str]


def instrument_summaries(src: Store | sqlite3.Connection) -> list[InstrumentSummary]:
    rows = _conn(src).execute(
        "SELECT instrument, count(DISTINCT item), group_concat(DISTINCT theme), group_concat(DISTINCT item_type) "
        "FROM trials GROUP BY instrument ORDER BY instrument").fetchall()
    return [InstrumentSummary(str(r[0]), int(r[1]), sorted(set(str(r[2]).split(","))),
                              sorted(set(str(r[3]).split(",")))) for r in rows]


def framing_ids(src: Store | sqlite3.Connection) -> list[str]:
    return [str(r[0]) for r in _conn(src).execute("SELECT DISTINCT framing FROM trials ORDER BY framing")]


# -- method facts ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelUsage:
    model: str
    trials: int
    requests: int
    tokens_in: int
    tokens_out: int
    cost: float | None  # recorded cost, or None when no trial of the model recorded one


def model_usage(src: Store | sqlite3.Connection) -> list[ModelUsage]:
    rows = _conn(src).execute(
        "SELECT model, count(*), sum(n_attempts), sum(tokens_in), sum(tokens_out), sum(cost), count(cost) "
        "FROM trials GROUP BY model ORDER BY model").fetchall()
    return [ModelUsage(str(m), int(n), int(att or 0), int(tin or 0), int(tout or 0),
                       float(cost) if n_cost else None) for m, n, att, tin, tout, cost, n_cost in rows]


def outcome_counts(src: Store | sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Trials per model and outcome."""
    out: dict[str, dict[str, int]] = {}
    for m, o, k in _conn(src).execute("SELECT model, outcome, count(*) FROM trials GROUP BY model, outcome"):
        out.setdefault(str(m), {})[str(o)] = int(k)
    return out


def distinct_params(src: Store | sqlite3.Connection, limit: int = 20) -> list[Any]:
    return [json.loads(r[0]) for r in
            _conn(src).execute("SELECT DISTINCT params_json FROM trials LIMIT ?", (limit,))]


@dataclass(frozen=True)
class ScorerCount:
    scorer: str
    version: str
    n: int


def scorer_counts(src: Store | sqlite3.Connection) -> list[ScorerCount]:
    rows = _conn(src).execute("SELECT scorer, version, count(*) FROM scores GROUP BY scorer, version")
    return [ScorerCount(str(s), str(v), int(k)) for s, v, k in rows]


@dataclass(frozen=True)
class RunRecord:
    id: int
    study: str
    source: str
    version: str
    started_at: float | None
    finished_at: float | None
    status: str
    stop_reason: str | None
    planned: int | None


def run_records(src: Store | sqlite3.Connection) -> list[RunRecord]:
    rows = _conn(src).execute(
        "SELECT id, study, source, twinstudy_version, started_at, finished_at, status, stop_reason, n_planned "
        "FROM runs ORDER BY id")
    return [RunRecord(int(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4], r[5], str(r[6]), r[7], r[8]) for r in rows]


@dataclass(frozen=True)
class DesignCounts:
    n_items: int
    languages: int
    framings: int
    paraphrases: int
    samples: int
    instruments: int


def design_counts(src: Store | sqlite3.Connection) -> DesignCounts:
    r = _conn(src).execute(
        "SELECT count(DISTINCT item), count(DISTINCT lang), count(DISTINCT framing), max(paraphrase) + 1, "
        "max(sample) + 1, count(DISTINCT instrument) FROM trials").fetchone()
    return DesignCounts(int(r[0] or 0), int(r[1] or 0), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0),
                        int(r[5] or 0))


def imported_judge_agreement(store: Store) -> list[tuple[str, int, int]]:
    """Per imported judge: (judge, replies also scored by twinstudy's open-item rules, how many of
    those got the same label)."""
    rows = store.conn.execute(
        "SELECT i.scorer, count(*), sum(i.status = r.status) FROM scores i JOIN scores r "
        "ON r.trial_key = i.trial_key AND r.turn = i.turn AND r.scorer = 'rules-open' "
        f"WHERE i.version LIKE '{IMPORTED}%' GROUP BY i.scorer").fetchall()
    return [(str(j), int(n), int(a or 0)) for j, n, a in rows]


def self_healed(store: Store) -> dict[str, str]:
    """Per model, the parameters the run changed after a provider's 400 named them, with how many
    trials each change touched (twinstudy.models.healing), for the method section."""
    rows = store.conn.execute("SELECT model, adjusted_params, count(*) FROM trials "
                              "WHERE adjusted_params IS NOT NULL GROUP BY model, adjusted_params").fetchall()
    per: dict[str, dict[str, int]] = {}
    for model, text, n in rows:
        for a in json.loads(text):
            what = f"{a['param']} {a['action']}" + (f" to {a['value']!r}" if "value" in a else "")
            what += f" ({a.get('reason', '')})"
            per.setdefault(model, {})[what] = per.get(model, {}).get(what, 0) + int(n)
    return {m: "; ".join(f"{w}: {k:,} trials" for w, k in d.items()) for m, d in per.items()}


def chat_counts(store: Store) -> tuple[int, int]:
    """(conversations, model replies) kept by ``twinstudy chat`` in this file; (0, 0) without chat tables."""
    has = store.conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='chat_turns'").fetchone()
    if not has or not has[0]:
        return 0, 0
    conv = store.conn.execute("SELECT count(*) FROM conversations").fetchone()[0]
    replies = store.conn.execute("SELECT count(*) FROM chat_turns WHERE role = 'assistant'").fetchone()[0]
    return int(conv), int(replies)


def chat_only_note(store: Store) -> str | None:
    """A sentence for a database that holds chat conversations but no study trials (what it is, and
    what to do with it), or None."""
    conv, replies = chat_counts(store)
    if not conv or store.conn.execute("SELECT count(*) FROM trials").fetchone()[0]:
        return None
    return (f"This database holds {conv} conversation(s) with {replies} model replies from `twinstudy chat`, and no "
            "study trials, so there is nothing to estimate. Replay a conversation (`twinstudy replay NAME ...`) or "
            "turn it into an instrument (`twinstudy chat export NAME -o FILE.yaml`) and run a study with it.")
