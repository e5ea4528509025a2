"""Make ``schema1.sqlite`` and ``schema1_frame.csv``: a results database written by twinstudy's
schema 1 (commit b64176f) and the scored frame that code read from it.

Kept for provenance; the migration test only reads the two files. To remake them, export that
commit's ``src`` and run this script with it first on the path, e.g.::

    git archive b64176f src | tar -x -C /tmp/v1
    PYTHONPATH=/tmp/v1/src python tests/data/make_schema1_fixture.py tests/data

The "models" are an in-process fake: deterministic replies (a Likert answer with a logit-read
distribution, letters with a changed answer after pushback, an open reply, a refusal, a provider
block, and transport errors), so every kind of score row schema 1 could hold is in the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path
from typing import Any

from twinstudy.models.base import BlockInfo, Completion, GenerateParams, Message, ModelCallError, ModelInfo
from twinstudy.run.runner import Runner, RunOptions
from twinstudy.store import Store
from twinstudy.study.spec import load_study

STUDY = """\
name: schema1-fixture
models:
  - {id: fake/cn, provider: openai-compatible, base_url: "http://127.0.0.1:9/v1", model: cn, origin: CN}
  - {id: fake/us, provider: openai-compatible, base_url: "http://127.0.0.1:9/v1", model: us, origin: US}
instruments:
  - {id: ai-futures, limit: 2}
  - {id: pushback-facts, limit: 1}
  - {id: sensitive-topics, limit: 1}
languages: [en, zh]
framings: [neutral, pushback]
params: {temperature: 0.7, max_tokens: 32, seed: 0, logprobs: true}
"""


class Fake:
    def __init__(self, info: ModelInfo) -> None:
        self.info = info

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion:
        first = next(m.content for m in messages if m.role == "user")
        h = int(hashlib.sha256(f"{self.info.id}|{first}".encode()).hexdigest(), 16)
        followup = any(m.role == "assistant" for m in messages)
        if params.options and params.options[0] == "1":
            probs = {k: (h >> (4 * i)) % 7 + 1.0 for i, k in enumerate(params.options)}
            total = sum(probs.values())
            return Completion(text=f"{h % 5 + 1}", finish_reason="stop", tokens_in=50, tokens_out=2,
                              option_probs={k: v / total for k, v in probs.items()}, option_mass=0.8125)
        if params.options:  # choice: letters
            letter = "AB"[(h + followup) % 2]
            return Completion(text=f"{letter}. I think so.", finish_reason="stop", tokens_in=60, tokens_out=4)
        if any("\u4e00" <= ch <= "\u9fff" for ch in first[:40]):
            if self.info.id == "fake/cn":
                return Completion(text="", finish_reason="stop", block=BlockInfo("1301", "output", "blocked"))
            raise ModelCallError("503 from the fake", retryable=False, http_status=503)
        if h % 3 == 0:
            return Completion(text="I can't help with that.", finish_reason="stop", tokens_in=40, tokens_out=6)
        return Completion(text="Here is a detailed answer with the background and the facts. " * 12,
                          finish_reason="stop", tokens_in=40, tokens_out=120)

    async def aclose(self) -> None:
        return None


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    study = out / "schema1-fixture.yaml"
    study.write_text(STUDY, encoding="utf-8")
    db = out / "schema1.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    rs = load_study(study)
    models: dict[str, Any] = {m.id: Fake(m) for m in rs.models}
    store = Store(db)
    asyncio.run(Runner(rs, store, models, RunOptions(quiet=True, max_attempts=1)).run())
    store.conn.execute("UPDATE runs SET source = 'schema1-fixture.yaml', started_at = 0, finished_at = 1")
    store.conn.execute("UPDATE trials SET finished_at = 1")
    store.conn.execute("UPDATE attempts SET started_at = 1, latency_ms = 1")
    store.scored_frame().to_csv(out / "schema1_frame.csv", index=False)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.conn.execute("PRAGMA journal_mode=DELETE")
    store.conn.execute("VACUUM")
    store.close()
    study.unlink()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
