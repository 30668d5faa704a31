"""The drawing page at / and its icon; the reports are in :mod:`server.routes.reports`."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("pages", __name__)
FAVICON = "favicon.svg"

PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>RegServe</title></head>
<body><h1>RegServe</h1>
<p>The drawing page is not installed. The API: <a href="/openapi.json">/openapi.json</a>,
<a href="/variants">/variants</a>, POST an image to <code>/predict</code>.</p></body></html>
"""


@bp.get("/")
def index():
    """The drawing page, or a short placeholder that points at the API."""
    static = Path(current_app.static_folder or "")
    if (static / "index.html").is_file():
        return send_from_directory(static, "index.html", max_age=0)
    return current_app.response_class(PLACEHOLDER, mimetype="text/html")


@bp.get("/favicon.ico")
def favicon():
    """The page's icon, also where browsers look for one without being told."""
    return send_from_directory(Path(current_app.static_folder or ""), FAVICON,
                               mimetype="image/svg+xml", max_age=86400)
