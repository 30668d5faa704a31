"""The trainer's reports under /reports/: the files as written, Markdown as a readable page."""

from __future__ import annotations

import html
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, request, send_from_directory
from werkzeug.security import safe_join

from regserve_contracts.layout import REPORTS_DIR
from server.state import current_state

bp = Blueprint("reports", __name__)
MARKDOWN = "text/markdown"
HTML = "text/html"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - RegServe</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60em; margin: 0 auto; padding: 16px;
       line-height: 1.45; color: #1d2330; }}
.scroll {{ overflow-x: auto; }}
table {{ border-collapse: collapse; margin: 12px 0; }}
th, td {{ border: 1px solid #dde1e8; padding: 3px 8px; text-align: left; }}
code, pre {{ font-family: ui-monospace, Menlo, Consolas, monospace; }}
pre {{ overflow-x: auto; background: #f4f6f9; padding: 8px; }}
img {{ max-width: 100%; }}
</style></head>
<body><p><a href="/">RegServe</a> / reports / {title}
<span style="color: #5d6678">(the Markdown as written: <code>curl {url}</code>)</span></p>
<main class="scroll">
{body}</main></body></html>
"""


@bp.get("/reports")
def list_reports():
    """The files the trainer wrote under MODELS_DIR/reports (plots and results tables)."""
    folder = reports_dir()
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) \
        if folder.is_dir() else []
    return jsonify({"files": files})


@bp.get("/reports/<path:filename>")
def report(filename: str):
    """One report file; send_from_directory refuses any path that leaves the folder (404).

    A Markdown report asked for by a browser (``Accept`` prefers HTML) comes as a page, rendered
    with raw HTML escaped; any other client (curl, scripts) gets the Markdown as written.
    """
    if filename.endswith(".md") and prefers_html():
        path = safe_join(str(reports_dir()), filename)
        if path is None or not Path(path).is_file():
            abort(404)
        response = html_response(render_markdown(Path(path).read_text(encoding="utf-8"),
                                                 Path(filename).name, request.base_url))
    else:
        response = send_from_directory(reports_dir(), filename, max_age=60)
    if filename.endswith(".md"):
        response.vary.add("Accept")
    return response


def prefers_html() -> bool:
    """Whether the request ranks HTML above Markdown (a browser's ``Accept`` does; ``*/*`` not)."""
    accept = request.accept_mimetypes
    return accept.quality(HTML) > accept.quality(MARKDOWN)


def render_markdown(text: str, title: str, url: str) -> str:
    """A Markdown report as an HTML page: CommonMark plus tables, every raw HTML tag escaped."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return PAGE.format(title=html.escape(title), url=html.escape(url), body=body)


def html_response(page: str):
    """An HTML answer that browsers may keep for as long as the files (a minute)."""
    response = current_app.response_class(page, mimetype=HTML)
    response.cache_control.max_age = 60
    return response


def reports_dir() -> Path:
    """MODELS_DIR/reports, resolved."""
    return (current_state().settings.models_dir / REPORTS_DIR).resolve()
