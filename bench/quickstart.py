"""How long the README's quickstart takes here, and where the time goes.

Runs the bundled quickstart study on the embedded model into a fresh database (as `twinstudy run`
does, report included) and prints:

* wall time of the whole command and of the trial phase, trials per second;
* prompt tokens llama.cpp evaluated, next to the tokens a perfect prefix cache would need (the
  number of distinct prefixes over every distinct prompt of a model variant: each evaluated once),
  and the ratio of the two; tokens generated;
* llama.cpp's raw prompt speed on this machine (tokens/s evaluating one long prompt from scratch)
  and its speed on single generated tokens, so the wall time can be compared with the floor.

Counting wraps ``llama_cpp.Llama.eval``; nothing in the package changes for the benchmark.
The machine may be shared: run it when quiet, or read the ratio rather than the seconds.

Usage: PYTHONPATH=src python bench/quickstart.py [--no-report] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _trie_size(seqs: list[list[int]]) -> int:
    """Distinct prefixes over the sequences: what a perfect prefix cache evaluates."""
    prefixes: set[tuple[int, ...]] = set()
    for s in seqs:
        for i in range(1, len(s) + 1):
            prefixes.add(tuple(s[:i]))
    return len(prefixes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-report", action="store_true", help="skip writing the HTML report")
    ap.add_argument("--threads", type=int, default=0, help="TWINSTUDY_THREADS (0: every core)")
    args = ap.parse_args()
    if args.threads:
        os.environ["TWINSTUDY_THREADS"] = str(args.threads)

    import llama_cpp

    from twinstudy.cli.commands import run_study
    from twinstudy.models import local

    counts = {"eval_tokens": 0, "eval_calls": 0, "eval_s": 0.0, "single": 0, "single_s": 0.0}
    prompts: dict[str, set[tuple[int, ...]]] = {}
    orig_eval = llama_cpp.Llama.eval

    def counting_eval(self: Any, tokens: Any) -> None:
        t0 = time.perf_counter()
        orig_eval(self, tokens)
        dt = time.perf_counter() - t0
        n = len(tokens)
        counts["eval_calls"] += 1
        if n == 1:
            counts["single"] += 1
            counts["single_s"] += dt
        counts["eval_tokens"] += n
        counts["eval_s"] += dt

    llama_cpp.Llama.eval = counting_eval  # type: ignore[method-assign]
    orig_prime = local._prime

    def recording_prime(engine: Any, messages: list[dict[str, str]]) -> Any:
        if engine.formatter is not None:
            text = engine.formatter(messages=messages).prompt
            toks = engine.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            prompts.setdefault(str(id(engine)), set()).add(tuple(toks))
        return orig_prime(engine, messages)

    local._prime = recording_prime

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "results.db"
        t0 = time.perf_counter()
        result = run_study(None, db=db, report_path=Path(tmp) / "report.html",
                           write_report=not args.no_report, quiet=True)
        wall = time.perf_counter() - t0

    perfect = sum(_trie_size([list(p) for p in seqs]) for seqs in prompts.values())
    distinct = sum(len(s) for s in prompts.values())
    # Raw speeds on this machine, measured after the run on a cold context.
    engine = next(iter(local._engines.values()))
    llm = engine.llm
    long_prompt = llm.tokenize(("The quick brown fox jumps over the lazy dog. " * 40).encode(), add_bos=True)[:512]
    llm.reset()
    llm.n_tokens = 0
    t1 = time.perf_counter()
    orig_eval(llm, long_prompt)
    prompt_tps = len(long_prompt) / (time.perf_counter() - t1)
    t2 = time.perf_counter()
    for tok in long_prompt[:32]:
        orig_eval(llm, [tok])
    single_tps = 32 / (time.perf_counter() - t2)

    out = sys.stdout
    out.write(f"quickstart: {result.planned} trials, wall {wall:.1f} s (trials {result.wall_s:.1f} s, "
              f"{result.done / max(result.wall_s, 1e-9):.2f} trials/s){'' if args.no_report else ', report included'}\n")
    out.write(f"prompt tokens evaluated: {counts['eval_tokens'] - counts['single']:,} in batches + "
              f"{counts['single']:,} single tokens ({counts['eval_calls']:,} eval calls, {counts['eval_s']:.1f} s in eval)\n")
    out.write(f"distinct prompts: {distinct:,}; a perfect prefix cache needs {perfect:,} prompt tokens; "
              f"evaluated / perfect = {(counts['eval_tokens'] - counts['single']) / max(perfect, 1):.2f}\n")
    out.write(f"llama.cpp here: prompt {prompt_tps:.0f} tokens/s, generation {single_tps:.0f} tokens/s "
              f"(threads: {local.default_threads()})\n")
    floor = perfect / prompt_tps
    out.write(f"floor from distinct prompt tokens alone: {floor:.1f} s\n")


if __name__ == "__main__":
    main()
