"""The self-contained HTML report: one file, no network, every model output escaped.

Model output is untrusted input. It reaches the page only through Jinja2 autoescaping (and
JSON data embedded with every '<' escaped), never through a template string or innerHTML.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from twinstudy import __version__
from twinstudy.store import Store


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("twinstudy.report", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )


def safe_json(obj: Any) -> str:
    """JSON for a <script type="application/json"> block that cannot close the tag early."""
    text = json.dumps(obj, ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(df.to_json(orient="records", force_ascii=False))
    return out


def build_report(store: Store, output: Path) -> Path:
    from twinstudy.report.context import report_context

    ctx = report_context(store, output)
    page = _env().get_template("report.html.j2").render(**ctx, version=__version__, safe_json=safe_json,
                                                        esc=html.escape)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return output
