"""``twinstudy models --check``: compare the registry with the model ids providers serve today.

For every hosted provider whose key is set, ``GET {base_url}/models`` (OpenAI shape ``{"data":
[{"id": ...}]}``, also Z.ai, DeepSeek, Moonshot, DashScope, xAI, OpenRouter; Anthropic's
``/v1/models`` has the same ``data[].id`` with ``x-api-key``; Gemini's compatibility layer prefixes
ids with ``models/``). Each registry entry on that provider is then *missing* (the provider no
longer lists it), *retired* (the registry says so) or fine, and every listed id the registry does not
know is *new*. Nothing is sent but the listing request, and the key never leaves the headers.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from twinstudy.models.base import ModelInfo
from twinstudy.models.presets import Preset, all_presets
from twinstudy.models.registry import all_models, is_retired

Status = Literal["ok", "error", "offline"]
CHECK_TIMEOUT_S = 15.0


@dataclass
class ProviderCheck:
    provider: str
    status: Status
    message: str = ""
    live: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # registry ids the provider does not list
    new: list[str] = field(default_factory=list)  # listed model ids the registry lacks
    retired: list[str] = field(default_factory=list)  # registry ids marked retired
    still_listed_retired: list[str] = field(default_factory=list)  # retired ids still listed


def _key(preset: Preset) -> str | None:
    for name in (preset.api_key_env, *preset.legacy_key_envs):
        value = os.environ.get(name or "", "").strip()
        if name and value:
            return value
    return None


def checkable(presets: dict[str, Preset] | None = None) -> tuple[dict[str, tuple[Preset, str]], list[str]]:
    """Presets whose key is set (with the key), and the names of those skipped for want of one."""
    out: dict[str, tuple[Preset, str]] = {}
    skipped: list[str] = []
    for name, p in sorted((presets or all_presets()).items()):
        if p.api == "local" or not p.base_url or not p.api_key_env:
            continue
        key = _key(p)
        if key:
            out[name] = (p, key)
        else:
            skipped.append(name)
    return out, skipped


def _models_url(p: Preset) -> str:
    base = str(p.base_url).rstrip("/")
    if p.api == "anthropic":
        return (base if base.endswith("/v1") else base + "/v1") + "/models?limit=1000"
    return base + "/models"


def _headers(p: Preset, key: str) -> dict[str, str]:
    if p.api == "anthropic":
        from twinstudy.models.anthropic import ANTHROPIC_VERSION

        return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION, "accept": "application/json"}
    return {"authorization": f"Bearer {key}", "accept": "application/json"}


def parse_ids(body: Any) -> list[str]:
    """Model ids from a listing (``data[].id``; Gemini's ``models/`` prefix removed)."""
    data = body.get("data") if isinstance(body, dict) else body
    ids = [str(d["id"]) for d in data or () if isinstance(d, dict) and d.get("id")] if isinstance(data, list) else []
    return sorted({i.removeprefix("models/") for i in ids})


def compare(provider: str, live: list[str], registry: list[ModelInfo]) -> ProviderCheck:
    mine = [m for m in registry if m.provider == provider]
    live_set = set(live)
    known = {m.model for m in mine}
    out = ProviderCheck(provider, "ok", live=live)
    for m in mine:
        if is_retired(m):
            out.retired.append(m.id)
            if m.model in live_set:
                out.still_listed_retired.append(m.id)
        elif m.model not in live_set:
            out.missing.append(m.id)
    out.new = sorted(live_set - known)
    return out


async def _one(session: aiohttp.ClientSession, name: str, p: Preset, key: str,
               registry: list[ModelInfo]) -> ProviderCheck:
    try:
        async with session.get(_models_url(p), headers=_headers(p, key), allow_redirects=False) as resp:
            status = resp.status
            text = await resp.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return ProviderCheck(name, "offline", f"could not reach {p.base_url} ({type(exc).__name__})")
    if status >= 400:
        return ProviderCheck(name, "error", f"HTTP {status} from {_models_url(p).split('?')[0]}")
    try:
        ids = parse_ids(json.loads(text))
    except ValueError:
        return ProviderCheck(name, "error", "the model list is not JSON")
    return compare(name, ids, registry)


async def check_providers_async(presets: dict[str, Preset] | None = None,
                                timeout: float = CHECK_TIMEOUT_S) -> tuple[list[ProviderCheck], list[str]]:
    targets, skipped = checkable(presets)
    registry = all_models()
    if not targets:
        return [], skipped
    client_timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10.0))
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        results = await asyncio.gather(*(_one(session, n, p, k, registry) for n, (p, k) in targets.items()))
    return list(results), skipped


def check_providers(presets: dict[str, Preset] | None = None,
                    timeout: float = CHECK_TIMEOUT_S) -> tuple[list[ProviderCheck], list[str]]:
    """Check every provider whose key is set; also returns the providers skipped for want of a key."""
    return asyncio.run(check_providers_async(presets, timeout))


def summary_line(results: list[ProviderCheck], skipped: list[str]) -> str | None:
    """The one line printed when nothing could be checked (no key, or no network)."""
    if not results:
        return ("no provider key is set, so nothing was checked; set e.g. ZAI_API_KEY or OPENAI_API_KEY "
                "and run `twinstudy models --check` again.")
    if all(r.status == "offline" for r in results):
        return (f"offline: none of {', '.join(r.provider for r in results)} could be reached; "
                "check the network and run again.")
    return None
