"""The Flask application factory: load the models, register the blueprints, count requests."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from flask import Flask, g, request

from server.errors import register_error_handlers
from server.jsonio import OrjsonProvider
from server.metrics import Metrics
from server.routes import catalog, comparison, health, openapi, pages, predict, reports, sweeps
from server.runtime.batcher import MicroBatcher
from server.runtime.loading import RuntimeOptions
from server.runtime.memory import return_large_buffers
from server.runtime.registry import ModelRegistry
from server.settings import ServerSettings, load_settings
from server.state import EXTENSION, ServerState
from server.v2 import routes as v2

log = logging.getLogger(__name__)


def create_app(settings: ServerSettings | None = None, **overrides: Any) -> Flask:
    """Build the app: settings, models, routes, handlers.

    Settings are ``settings`` if given, else defaults < environment; then ``overrides`` (field
    names of :class:`ServerSettings`, e.g. ``create_app(models_dir="models", max_batch=1)``).

    Models are loaded here, so under gunicorn (``preload_app = False``) each worker loads its own
    after the fork; TensorFlow does not survive a fork, and ONNX Runtime's sessions are not
    shared between processes either.
    """
    if settings is None:
        settings = load_settings(**overrides)
    elif overrides:
        settings = dataclasses.replace(settings, **overrides)
    return_large_buffers()  # a large image's pages go back when it is freed
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length  # Flask enforces it (413)
    app.json = OrjsonProvider(app)
    app.json.sort_keys = False  # keep variants in the order asked for
    _attach_logging()

    models_dir = settings.models_dir
    options = RuntimeOptions(settings.runtime, settings.tf_intra_op_threads,
                             settings.tf_inter_op_threads, settings.ort_intra_op_threads)
    registry = ModelRegistry(models_dir, settings.warmup_batch_sizes, settings.subset_cache,
                             settings.version_policy, settings.variants, settings.max_variants,
                             options)
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
    registry.start_polling(settings.reload_interval)
    batcher = MicroBatcher(settings.batch_window_ms / 1000.0, settings.max_batch,
                           metrics.batch_size.observe)
    app.extensions[EXTENSION] = ServerState(registry, batcher, metrics, settings)

    for module in (predict, catalog, comparison, health, openapi, pages, reports, sweeps, v2):
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
        metrics.observe_request(endpoint, request.method, response.status_code,
                                time.perf_counter() - g.started if "started" in g else None)
        return response


def _attach_logging() -> None:
    """Under gunicorn, log through its error log; elsewhere leave logging to the caller."""
    ours = logging.getLogger("server")
    gunicorn_log = logging.getLogger("gunicorn.error")
    if gunicorn_log.handlers and not ours.handlers:
        ours.handlers = list(gunicorn_log.handlers)
        ours.setLevel(logging.INFO)
        ours.propagate = False
