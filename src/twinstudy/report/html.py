"""The self-contained HTML report: one file, no network, every model output escaped.

Model output is untrusted input. It reaches the page only through Jinja2 autoescaping or inside
the transcript JSON blob (embedded with '<', '>' and '&' escaped, so it cannot close its script
tag), which the page renders with textContent. A Content-Security-Policy with a per-report nonce
allows only the report's own script, so even an injection that slipped past escaping could not run.

The template is ``templates/report.html`` (named .html so that it ships as package data).
"""

from __future__ import annotations

import json
import secrets
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from twinstudy import __version__
from twinstudy.store import Store

if TYPE_CHECKING:
    from twinstudy.report.context import Analysis


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


def _script() -> str:
    js = resources.files("twinstudy.report").joinpath("templates/transcripts.js").read_text(encoding="utf-8")
    # the script is ours, but make sure it cannot end its own tag by accident
    return js.replace("</", "<\\/")


def render_report(ctx: dict[str, Any]) -> str:
    """Render the page from a context built by :func:`twinstudy.report.context.report_context`."""
    return _env().get_template("report.html").render(
        **ctx, version=__version__, safe_json=safe_json, script=_script(), nonce=secrets.token_urlsafe(18))


def build_report(store: Store, output: Path, *, twins: list[tuple[str, str]] | None = None,
                 analysis: Analysis | None = None) -> Path:
    """Write the report to ``output`` (figures to ``output``'s folder / figures) and return its path.

    ``twins``: model pairs for section 3 (default: every pair, cross-origin pairs plotted).
    """
    from twinstudy.report.context import report_context

    output = Path(output)
    ctx = report_context(store, output, twins=twins, analysis=analysis)
    page = render_report(ctx)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return output
