"""Turn the built page into HTML: the Jinja environment, JSON that cannot break out of its script
tag, and the transcript payload (plain JSON, or gzip + base64 when large).

Model output is untrusted input. It reaches the page only through Jinja2 autoescaping or inside
the transcript JSON blob (embedded with '<', '>' and '&' escaped, so it cannot close its script
tag), which the page renders with textContent. A Content-Security-Policy with a per-report nonce
allows only the report's own script, so even an injection that slipped past escaping could not run.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import secrets
from importlib import resources
from typing import TYPE_CHECKING, Any

import jinja2

from twinstudy import __version__
from twinstudy.report.numbers import ci, fmt, pct
from twinstudy.report.sections.transcripts import (
    TEXT_BUDGET_BYTES,
    TranscriptInfo,
    TranscriptSource,
    build_blob,
)

if TYPE_CHECKING:
    from twinstudy.report.build import ReportPage

#: Plain JSON up to this size; above it the transcripts are embedded gzip-compressed (base64).
PLAIN_LIMIT_BYTES = 4_000_000
#: Size of the compressed transcript payload (base64 characters) that the text caps are fitted to.
PAYLOAD_LIMIT_BYTES = 19_000_000


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("twinstudy.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def safe_json(obj: Any) -> str:
    """JSON for a <script type="application/json"> block that cannot close the tag early."""
    text = json.dumps(obj, ensure_ascii=False, default=str, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def embed_transcripts(src: TranscriptSource) -> tuple[str, str, TranscriptInfo]:
    """(payload, encoding, info) for the page's transcript data block.

    Small studies embed plain JSON (``json``). When that would exceed PLAIN_LIMIT_BYTES, the JSON is
    gzip-compressed and base64-encoded (``gzip-base64``; the page inflates it with the browser's
    DecompressionStream), which holds about three times more text in the same file size; the text
    budget is then fitted to PAYLOAD_LIMIT_BYTES by compressing and measuring.
    """
    blob, info = build_blob(src, TEXT_BUDGET_BYTES)
    plain = safe_json(blob)
    if len(plain) <= PLAIN_LIMIT_BYTES or not src.rows:
        info.encoding = "json"
        return plain, "json", info
    budget = TEXT_BUDGET_BYTES * 3
    payload = ""
    for _ in range(5):
        blob, info = build_blob(src, budget)
        raw = json.dumps(blob, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        payload = base64.b64encode(gzip.compress(raw, compresslevel=6)).decode("ascii")
        if len(payload) <= PAYLOAD_LIMIT_BYTES:
            break
        budget = int(budget * PAYLOAD_LIMIT_BYTES / len(payload) * 0.95)
    info.encoding = "gzip-base64"
    return payload, "gzip-base64", info


def _script() -> str:
    js = resources.files("twinstudy.report").joinpath("templates/transcripts.js").read_text(encoding="utf-8")
    # the script is ours, but make sure it cannot end its own tag by accident
    return js.replace("</", "<\\/")


def render_page(page: ReportPage) -> str:
    """The HTML of a page built by :func:`twinstudy.report.build.build_page`."""
    names = {f.name: getattr(page, f.name) for f in dataclasses.fields(page)}
    return _env().get_template("report.html").render(
        **names, version=__version__, safe_json=safe_json, script=_script(), nonce=secrets.token_urlsafe(18),
        fmt=fmt, ci=ci, pct=pct)
