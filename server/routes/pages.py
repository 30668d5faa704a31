"""The drawing page at / and the trainer's reports (plots, results table) under /reports/."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, send_from_directory

from regserve_contracts.layout import REPORTS_DIR
from server.state import current_state

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


@bp.get("/reports")
def list_reports():
    """The files the trainer wrote under MODELS_DIR/reports (plots and results tables)."""
    folder = reports_dir()
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) \
        if folder.is_dir() else []
    return jsonify({"files": files})


@bp.get("/reports/<path:filename>")
def report(filename: str):
    """One report file; send_from_directory refuses any path that leaves the folder (404)."""
    return send_from_directory(reports_dir(), filename, max_age=60)


def reports_dir() -> Path:
    """MODELS_DIR/reports, resolved."""
    return (current_state().settings.models_dir / REPORTS_DIR).resolve()
