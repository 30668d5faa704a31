"""RegServe's HTTP server: ``create_app`` loads every variant's newest model and serves the API."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, g, request

from server.config import load_settings

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings (defaults < environment < ``config``), models, routes, handlers.

    Models are loaded here, so under gunicorn (``preload_app = False``) each worker loads its own
    after the fork; TensorFlow does not survive a fork.
    """
    from server import catalog, health, openapi, pages, predict, v2
    from server.batcher import MicroBatcher
    from server.engine import configure_tensorflow
    from server.errors import register_error_handlers
    from server.metrics import Metrics
    from server.registry import ModelRegistry
    from server.selection import selection_settings
    from server.state import EXTENSION, ServerState

    app = Flask(__name__)
    app.config.from_mapping(load_settings(config))
    app.json.sort_keys = False  # keep variants in the order asked for
    _attach_logging()

    configure_tensorflow(app.config["TF_INTRA_OP_THREADS"], app.config["TF_INTER_OP_THREADS"])
    models_dir = Path(app.config["MODELS_DIR"])
    registry = ModelRegistry(models_dir, app.config["WARMUP_BATCH_SIZES"],
                             app.config["SUBSET_CACHE"], **selection_settings(app.config))
    metrics = Metrics()
    registry.listeners.append(metrics.observe_snapshot)
    started = time.perf_counter()
    try:
        registry.refresh()
    except Exception:  # serve /healthz and /readyz (503) rather than die in a restart loop
        log.exception("loading models from %s failed", models_dir)
    snapshot = registry.snapshot
    log.info("%d variant(s) ready from %s in %.1f s; %d failed", len(snapshot.variants),
             models_dir, time.perf_counter() - started, len(snapshot.failed))
    registry.start_polling(float(app.config["RELOAD_INTERVAL"]))
    batcher = MicroBatcher(float(app.config["BATCH_WINDOW_MS"]) / 1000.0,
                           int(app.config["MAX_BATCH"]), metrics.batch_size.observe)
    app.extensions[EXTENSION] = ServerState(registry, batcher, metrics)

    for module in (predict, catalog, health, openapi, pages, v2):
        app.register_blueprint(module.bp)
    register_error_handlers(app)
    _count_requests(app, metrics)
    return app


def _count_requests(app: Flask, metrics) -> None:
    @app.before_request
    def start_clock():
        g.started = time.perf_counter()

    @app.after_request
    def count(response):
        # The route's pattern, never the raw path: unknown URLs must not grow the label set.
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
        if "started" in g:
            metrics.latency.labels(endpoint).observe(time.perf_counter() - g.started)
        return response


def _attach_logging() -> None:
    """Under gunicorn, log through its error log; elsewhere leave logging to the caller."""
    ours = logging.getLogger("server")
    gunicorn_log = logging.getLogger("gunicorn.error")
    if gunicorn_log.handlers and not ours.handlers:
        ours.handlers = list(gunicorn_log.handlers)
        ours.setLevel(logging.INFO)
        ours.propagate = False
