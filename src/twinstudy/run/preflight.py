"""Before a run: can each endpoint be reached, and does a hosted provider accept the key?

Without this an unreachable server or a wrong key showed up as 35 s of retries, an exit code 0 and
the reason only in SQLite. One cheap check per model, all at once, before the database is touched:

* every HTTP endpoint: a TCP connection to its host and port (no request is sent, so a local
  server sees nothing and a scripted test server keeps its script);
* hosted endpoints (not loopback): one ``GET /models`` with the key; HTTP 401/403 names the key
  variable to check. Any other answer (404 included: not every server lists models) is fine.

The embedded model has nothing to check. Keys never appear in a message.
"""

from __future__ import annotations

import asyncio
import os
from urllib.parse import urlsplit

import aiohttp

from twinstudy.models.base import ModelInfo
from twinstudy.models.http import _is_loopback, key_envs
from twinstudy.models.live_check import _headers, _models_url
from twinstudy.models.presets import get_preset

PREFLIGHT_TIMEOUT_S = 5.0


def _endpoint(info: ModelInfo) -> str | None:
    preset = get_preset(info.provider)
    if preset.api == "local":
        return None
    return info.base_url or preset.base_url


async def _check(info: ModelInfo, timeout: float) -> str | None:
    base = _endpoint(info)
    if not base:
        return None
    parts = urlsplit(base)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.close()
        await writer.wait_closed()
    except (OSError, TimeoutError) as exc:
        return (f"{info.id}: cannot connect to {base} ({type(exc).__name__}); is the server running and the "
                "base_url right?")
    if _is_loopback(base):
        return None
    preset = get_preset(info.provider)
    env = next((n for n in key_envs(info, preset) if os.environ.get(n, "").strip()), None)
    if env is None:
        return None  # no key needed, or missing keys were reported already
    probe = preset.model_copy(update={"base_url": base})
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, session.get(
                _models_url(probe), headers=_headers(probe, os.environ[env].strip()), allow_redirects=False) as resp:
            status = resp.status
    except (aiohttp.ClientError, TimeoutError):
        return None  # reachable but slow to list models: the run's own retries will tell
    if status in (401, 403):
        return f"{info.id}: {base} rejected the key in {env} (HTTP {status}); check that it holds a valid key."
    return None


def preflight(infos: list[ModelInfo], timeout: float = PREFLIGHT_TIMEOUT_S) -> dict[str, str]:
    """Model id -> what is wrong with its endpoint, for every model that failed its check."""

    async def run() -> list[str | None]:
        return await asyncio.gather(*(_check(m, timeout) for m in infos))

    return {m.id: why for m, why in zip(infos, asyncio.run(run()), strict=True) if why}
