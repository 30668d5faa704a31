"""RegServe's HTTP server: ``create_app`` loads every variant's newest model and serves the API.

The factory lives in :mod:`server.app`; this package stays importable without Flask, so the
``regserve-server`` command can say which extra to install in a client-only install.
"""

from __future__ import annotations

from typing import Any


def create_app(settings: Any = None, **overrides: Any):
    """Build the Flask app (:func:`server.app.create_app`); gunicorn: ``server:create_app()``."""
    from server.app import create_app as build

    return build(settings, **overrides)
