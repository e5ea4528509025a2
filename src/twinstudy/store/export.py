"""Read a results database as pandas frames with one fixed schema, and write them as Parquet, CSV or JSONL.

The same frames serve a notebook (:func:`read_tables`), ``twinstudy export`` and anyone reading the
exported files from R or DuckDB. Every column has a fixed pandas dtype, so the frames are the same
whichever database they come from, and Parquet brings them back unchanged:

``string`` (text, may be missing), ``Int64`` (whole number, may be missing), ``Float64`` (number,
may be missing), ``boolean``. Times are Unix seconds (UTC). JSON columns (``*_json``, ``raw``,
``distribution``) hold JSON text.

Tables and their row order:

- ``trials`` (by ``key``): one row per trial (one question put to one model in one language,
  framing, paraphrase and sample), with its final ``outcome`` and reply text.
- ``attempts`` (by ``id``): every request made for a trial (retries, follow-up turns); imported
  replies have one attempt holding the source's raw response in ``raw``.
- ``scores`` (by ``trial_key``, ``scorer``, ``turn``): every scorer's verdict on a trial; imported
  labels carry the source judge's name as ``scorer`` and a ``version`` starting ``imported``.
- ``models`` (by ``id``): model metadata (company, origin, tier, open weights, base model) and the
  full record as JSON.
- ``codes`` (by ``trial_key``, ``codebook``, ``coder``, ``turn``): open replies coded into a
  codebook's categories, one row per coder (twinstudy.coding); empty until ``twinstudy code`` ran.

Join ``attempts.trial_key``, ``scores.trial_key`` and ``codes.trial_key`` to ``trials.key``, and ``trials.model`` to
``models.id``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from twinstudy.errors import UserError

TABLES = ("trials", "attempts", "scores", "models", "codes")
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

#: table -> [(column, dtype, meaning)]: the one documented export schema.
SCHEMA: dict[str, list[tuple[str, str, str]]] = {
    "trials": [
        ("key", "string", "stable hash of the trial's cell and exact text"),
        ("study", "string", "study name (or import name)"),
        ("model", "string", "model id (join models.id)"),
        ("instrument", "string", "question bank id"),
        ("item", "string", "question id, the same across languages and paraphrases"),
        ("theme", "string", "theme / prompt set of the item"),
        ("item_type", "string", "likert5, likert7, choice, yesno or open"),
        ("reverse", "boolean", "agreeing means the opposite pole of the theme"),
        ("lang", "string", "en or zh"),
        ("framing", "string", "what the user said around the question"),
        ("paraphrase", "Int64", "paraphrase index (0 = canonical wording)"),
        ("sample", "Int64", "repeated-draw index"),
        ("seed", "Int64", "sampling seed sent"),
        ("params_json", "string", "sampling parameters (imports: source file and line)"),
        ("option_order", "string", "JSON list: shown position -> original option index"),
        ("correct_letter", "string", "letter the correct option was shown under"),
        ("messages_json", "string", "the conversation as sent"),
        ("outcome", "string", "answered, refused, evasive, blocked, truncated, unparseable or error"),
        ("answer_text", "string", "the scored reply (reasoning removed)"),
        ("reasoning", "string", "the model's reasoning, when returned"),
        ("followup_text", "string", "reply after a follow-up turn"),
        ("provider_code", "string", "provider's error code, or the source label of an unjudged import"),
        ("omitted_params", "string", "parameters not sent to this model"),
        ("n_attempts", "Int64", "requests made"),
        ("tokens_in", "Int64", "prompt tokens"),
        ("tokens_out", "Int64", "completion tokens"),
        ("cost", "Float64", "USD"),
        ("finished_at", "Float64", "Unix seconds"),
    ],
    "attempts": [
        ("id", "Int64", "attempt id"),
        ("trial_key", "string", "trials.key"),
        ("run_id", "Int64", "run (or import) that made it"),
        ("turn", "Int64", "0 = first question, 1 = follow-up"),
        ("attempt", "Int64", "1 = first try"),
        ("started_at", "Float64", "Unix seconds"),
        ("latency_ms", "Float64", "milliseconds"),
        ("request_json", "string", "request body (never headers or keys)"),
        ("http_status", "Int64", "HTTP status"),
        ("provider_code", "string", "provider's code (imports: the serving provider)"),
        ("finish_reason", "string", "stop, length, content_filter, ..."),
        ("raw", "string", "raw response JSON"),
        ("text", "string", "reply text"),
        ("reasoning", "string", "reasoning text"),
        ("tokens_in", "Int64", "prompt tokens"),
        ("tokens_out", "Int64", "completion tokens"),
        ("error", "string", "transport error, or an import's error label"),
        ("blocked", "string", "input, output or unknown when a provider filter fired"),
    ],
    "scores": [
        ("trial_key", "string", "trials.key"),
        ("scorer", "string", "scorer name; imported labels: the source judge's name"),
        ("version", "string", "scorer version; imported labels start with 'imported'"),
        ("turn", "Int64", "0 = first answer, 1 = after the follow-up"),
        ("status", "string", "answered, refused, unparseable, complete, evasive or denial"),
        ("value", "string", "parsed answer, or the source's label"),
        ("agreement", "Float64", "Likert agreement in [-1, 1] as worded"),
        ("score", "Float64", "toward the theme's pole in [-1, 1]"),
        ("correct", "Float64", "1/0 for choice items with a known answer"),
        ("distribution", "string", "JSON {option: probability} from logprobs"),
        ("detail", "string", "scorer's notes (imports: the judge's rationale)"),
    ],
    "models": [
        ("id", "string", "model id"),
        ("company", "string", "maker (post-trainer for a fine-tune), 'unknown' if not known"),
        ("origin", "string", "maker's country, UNKNOWN if not known"),
        ("tier", "string", "platform, ai-native, lab or unknown"),
        ("open_weights", "boolean", "weights published"),
        ("base_model", "string", "model it was post-trained from"),
        ("info_json", "string", "the full metadata record"),
    ],
    "codes": [
        ("trial_key", "string", "trials.key"),
        ("turn", "Int64", "0 = first answer"),
        ("codebook", "string", "codebook id (`twinstudy codebooks`)"),
        ("coder", "string", "lexicon, judge:<model id> or human:<name>"),
        ("version", "string", "codebook version + coder version + hash of its keywords or prompt"),
        ("status", "string", "coded or uncodable"),
        ("categories", "string", "JSON list of category ids"),
        ("detail", "string", "keywords that fired, or the judge's CODES line"),
        ("coded_at", "Float64", "Unix seconds"),
    ],
}
_ORDER = {"trials": "key", "attempts": "id", "scores": "trial_key, scorer, turn", "models": "id",
          "codes": "trial_key, codebook, coder, turn"}


def _typed(df: pd.DataFrame, table: str) -> pd.DataFrame:
    out = pd.DataFrame(index=range(len(df)))
    for col, dtype, _ in SCHEMA[table]:
        s = df[col].reset_index(drop=True)
        if dtype == "boolean":
            s = s.map(lambda v: None if v is None or (isinstance(v, float) and v != v) else bool(v))
        out[col] = s.astype(pd.api.types.pandas_dtype(dtype))
    return out


def read_table(conn: object, table: str) -> pd.DataFrame:
    """One table of an open SQLite connection, in the export schema."""
    if table not in SCHEMA:
        raise UserError(f"unknown table '{table}'; tables are {', '.join(TABLES)}.")
    if table == "models":
        rows = conn.execute("SELECT id, info_json FROM models ORDER BY id").fetchall()  # type: ignore[attr-defined]
        recs = []
        for mid, info_json in rows:
            info = json.loads(info_json)
            recs.append({"id": mid, "company": info.get("company"), "origin": info.get("origin"),
                         "tier": info.get("tier"), "open_weights": info.get("open_weights"),
                         "base_model": info.get("base_model"), "info_json": info_json})
        return _typed(pd.DataFrame(recs, columns=[c for c, _, _ in SCHEMA["models"]]), table)
    cols = ", ".join(c for c, _, _ in SCHEMA[table])
    df = pd.read_sql_query(f"SELECT {cols} FROM {table} ORDER BY {_ORDER[table]}", conn)
    return _typed(df, table)


def read_tables(db: str | Path, tables: tuple[str, ...] = TABLES) -> dict[str, pd.DataFrame]:
    """The results database at ``db`` as pandas frames (see the module docstring for the schema)."""
    from twinstudy.store import Store

    store = Store(db, create=False)
    try:
        return {t: read_table(store.conn, t) for t in tables}
    finally:
        store.close()


def _need_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UserError("writing Parquet needs pyarrow, which is not installed: pip install 'twinstudy[parquet]' "
                        "(or pip install pyarrow), or export to .csv or .jsonl instead.") from None


def format_of(path: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise UserError(f"cannot tell the format of '{path}' from its extension; name it .parquet, .csv or .jsonl, "
                        "or pass --format.")
    return found


def write_frame(df: pd.DataFrame, path: Path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        _need_pyarrow()
        df.to_parquet(path, index=False)
    elif fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "jsonl":
        df.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        raise UserError(f"unknown format '{fmt}'; use parquet, csv or jsonl.")


def export(db: str | Path, output: str | Path, tables: tuple[str, ...] = (), fmt: str | None = None
           ) -> list[Path]:
    """Write the tables of ``db``: one table to ``output`` itself; several to ``<stem>.<table><suffix>``
    beside it. Returns the paths written."""
    out = Path(output)
    fmt = format_of(out, fmt)
    if fmt == "parquet":
        _need_pyarrow()  # before reading anything
    chosen = tables or TABLES
    frames = read_tables(db, chosen)
    written = []
    for t in chosen:
        path = out if len(chosen) == 1 else out.with_name(f"{out.stem}.{t}{out.suffix}")
        write_frame(frames[t], path, fmt)
        written.append(path)
    return written
