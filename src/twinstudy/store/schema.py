"""The results database's tables, documented column by column for people using any SQLite tool.

A new database gets this schema as written here. A database made by an older version of
twinstudy is brought up to it by :mod:`twinstudy.store.migrations`; when a column is added here,
add the migration that adds it there and bump :data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

# Version 1: the first schema. Version 2: scores.distribution_mass (was text in scores.detail).
SCHEMA_VERSION = 6  # 5: the codes table; 6: batches and batch_lines

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS migrations (
    version INTEGER PRIMARY KEY,       -- the schema version this migration brought the file to
    name TEXT NOT NULL,
    applied_at REAL NOT NULL
);
"""

SCHEMA = MIGRATIONS_TABLE + """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);   -- schema_version
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    study TEXT NOT NULL,
    spec_text TEXT NOT NULL,           -- the study file as given
    source TEXT NOT NULL,
    twinstudy_version TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL DEFAULT 'running',   -- running | finished | interrupted | stopped
    stop_reason TEXT,
    n_planned INTEGER
);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    info_json TEXT NOT NULL            -- provider, company, origin, tier, ... (never a key)
);
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,              -- hash of the cell: see twinstudy.study.design
    study TEXT NOT NULL,
    model TEXT NOT NULL,
    instrument TEXT NOT NULL,
    item TEXT NOT NULL,
    theme TEXT NOT NULL,
    item_type TEXT NOT NULL,
    reverse INTEGER NOT NULL,
    lang TEXT NOT NULL,
    framing TEXT NOT NULL,
    paraphrase INTEGER NOT NULL,
    sample INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    params_json TEXT NOT NULL,
    option_order TEXT,                 -- JSON list: shown position -> original option index
    correct_letter TEXT,
    messages_json TEXT NOT NULL,       -- the conversation as sent, turn by turn
    outcome TEXT NOT NULL,
    answer_text TEXT,                  -- the scored reply (reasoning removed)
    reasoning TEXT,
    followup_text TEXT,                -- reply after a follow-up turn (pushback), if any
    provider_code TEXT,
    omitted_params TEXT,
    n_attempts INTEGER NOT NULL,
    tokens_in INTEGER,
    tokens_out INTEGER,
    cost REAL,
    finished_at REAL NOT NULL,
    sent_params TEXT,                  -- JSON: the request besides messages, as sent (turn 0)
    adjusted_params TEXT               -- JSON list: self-healing changes {param, action, value, reason}
);
CREATE INDEX IF NOT EXISTS trials_model ON trials(model, outcome);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    trial_key TEXT NOT NULL,
    run_id INTEGER,
    turn INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    started_at REAL NOT NULL,
    latency_ms REAL,
    request_json TEXT,                 -- body only: no headers, no keys
    http_status INTEGER,
    provider_code TEXT,
    finish_reason TEXT,
    raw TEXT,
    text TEXT,
    reasoning TEXT,
    tokens_in INTEGER,
    tokens_out INTEGER,
    error TEXT,
    blocked TEXT                       -- input | output | unknown, when a provider filter fired
);
CREATE INDEX IF NOT EXISTS attempts_trial ON attempts(trial_key);
CREATE TABLE IF NOT EXISTS scores (
    trial_key TEXT NOT NULL,
    scorer TEXT NOT NULL,
    version TEXT NOT NULL,
    turn INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,              -- answered | refused | unparseable | complete | evasive | denial
    value TEXT,                        -- parsed answer: '4', 'B', 'yes'
    agreement REAL,                    -- Likert mapped to [-1, 1] as worded
    score REAL,                        -- toward the theme's pole (reverse items flipped)
    correct REAL,
    distribution TEXT,                 -- JSON {option: probability} from logprobs, when read
    detail TEXT,                       -- why: rule ids that fired, or the parser's notes
    distribution_mass REAL,            -- share of the logprob mass on valid labels, before renormalising
    PRIMARY KEY (trial_key, scorer, turn)
);
"""

#: The designs tables (schema 4), also run by that migration.
DESIGNS_DDL = """
-- Which trials belong to which design of a study (twinstudy.store.designs), so the analysis never
-- pools two designs when the study file changed between runs.
CREATE TABLE IF NOT EXISTS designs (
    fingerprint TEXT PRIMARY KEY,      -- hash of the design's trial keys: see twinstudy.study.fingerprint
    study TEXT NOT NULL,
    first_run INTEGER NOT NULL,
    last_run INTEGER NOT NULL,         -- the design with the highest last_run is the current one
    n_trials INTEGER NOT NULL,
    summary_json TEXT NOT NULL         -- flat fields (params.max_tokens, item.<id>, ...) to say what changed
);
CREATE TABLE IF NOT EXISTS design_trials (
    design TEXT NOT NULL,
    trial_key TEXT NOT NULL,
    PRIMARY KEY (design, trial_key)
) WITHOUT ROWID;
"""
SCHEMA += DESIGNS_DDL

#: Codes of open replies (schema 5): twinstudy.coding. One row per reply, codebook and coder, so
#: coders sit side by side (agreement between them is a measurement) and are rerun on stored text.
CODES_DDL = """
CREATE TABLE IF NOT EXISTS codes (
    trial_key TEXT NOT NULL,
    turn INTEGER NOT NULL DEFAULT 0,
    codebook TEXT NOT NULL,            -- codebook id (twinstudy.coding.codebook)
    coder TEXT NOT NULL,               -- 'lexicon', 'judge:<model id>', 'human:<name>'
    version TEXT NOT NULL,             -- codebook version + coder version (+ hash of prompt or keywords)
    status TEXT NOT NULL,              -- coded | uncodable (the coder's answer could not be read)
    categories TEXT,                   -- JSON list of category ids, sorted (may be [] when multi-label)
    detail TEXT,                       -- why: the keywords that fired, or the judge's note
    coded_at REAL NOT NULL,
    PRIMARY KEY (trial_key, turn, codebook, coder)
);
"""
SCHEMA += CODES_DDL

#: The batch tables (schema 6), also run by that migration: provider batches (``twinstudy run
#: --batch``) and which trial each line asks. A batch row and its lines are written before anything is
#: sent, so a crash at any moment leaves enough on disk to poll the batch instead of sending it again.
BATCHES_DDL = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,            -- the local batch id (`twinstudy batches` shows it)
    tag TEXT NOT NULL UNIQUE,          -- sent with the batch where the provider keeps metadata, to find it again
    provider TEXT NOT NULL,
    model TEXT NOT NULL,               -- the study's model id
    remote_id TEXT,                    -- the provider's batch id, NULL while submitting
    input_file_id TEXT,                -- the uploaded request file, where the protocol has one
    state TEXT NOT NULL,               -- submitting | validating | in_progress | finalizing | completed |
                                       -- failed | expired | cancelling | cancelled (the provider's, normalised)
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    collected_at REAL,                 -- every result line recorded, NULL while the batch is open
    run_id INTEGER,                    -- the run that submitted it
    n_lines INTEGER NOT NULL,
    n_done INTEGER,                    -- the provider's counts at the last poll
    n_failed INTEGER,
    cost REAL,                         -- USD of the result lines recorded so far, at the batch price
    error TEXT                         -- why the provider failed or expired it, or why submitting failed
);
CREATE TABLE IF NOT EXISTS batch_lines (
    batch_id INTEGER NOT NULL,         -- batches.id
    trial_key TEXT NOT NULL,           -- the line's custom_id
    turn INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,               -- pending (not yet accepted) | sent | done | expired | failed
    recorded_at REAL,                  -- when its result (or its end without one) was recorded
    PRIMARY KEY (batch_id, trial_key, turn)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batch_lines_trial ON batch_lines(trial_key);
"""
SCHEMA += BATCHES_DDL
