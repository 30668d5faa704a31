"""Prometheus metrics: requests and latency by endpoint and variant, models loaded.

Under gunicorn every worker is its own process; the gunicorn config points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder, and ``/metrics`` then sums all workers
(prometheus_client's multiprocess mode). Without it (tests, the dev server) each app counts in
a registry of its own.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from server.runtime.registry import Snapshot

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class Metrics:
    """The app's metric families, registered in a registry of its own (no module globals)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        disable_created_metrics()  # the *_created series only double the size of /metrics
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("regserve_http_requests", "HTTP requests answered.",
                                ["endpoint", "method", "status"], registry=r)
        self.latency = Histogram("regserve_http_request_seconds", "Time to answer a request.",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.predictions = Counter("regserve_predictions", "Predictions answered, per variant.",
                                   ["variant"], registry=r)
        self.prediction_latency = Histogram(
            "regserve_prediction_seconds",
            "Time to answer /predict requests that included the variant.",
            ["variant"], buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("regserve_batch_size", "Images per runtime call.",
                                    buckets=BATCH_BUCKETS, registry=r)
        # livemax: every worker loads the same folder, so the largest live value is the truth.
        self.loaded = Gauge("regserve_models_loaded", "Variants loaded and served.",
                            registry=r, multiprocess_mode="livemax")
        self.failed = Gauge("regserve_models_failed", "Variants whose newest version failed.",
                            registry=r, multiprocess_mode="livemax")
        self.version = Gauge("regserve_model_version", "Version served, per variant.",
                             ["variant"], registry=r, multiprocess_mode="livemax")
        self.reloads = Counter("regserve_model_reloads", "Model set swaps (startup included).",
                               registry=r)
        self._children: dict[str, tuple] = {}

    def observe_prediction(self, names, seconds: float) -> None:
        """Count a /predict answer for each variant in ``names`` and its time."""
        for name in names:
            children = self._children.get(name)
            if children is None:  # labels() costs a locked lookup: keep each variant's pair
                children = (self.predictions.labels(name), self.prediction_latency.labels(name))
                self._children[name] = children
            children[0].inc()
            children[1].observe(seconds)

    def observe_snapshot(self, snapshot: Snapshot) -> None:
        """Record what a (re)load left being served."""
        self.loaded.set(len(snapshot.variants))
        self.failed.set(len(snapshot.failed))
        for name, variant in snapshot.variants.items():
            self.version.labels(name).set(variant.version)
        self.reloads.inc()

    def render(self) -> bytes:
        """The Prometheus text exposition: all gunicorn workers in multiprocess mode."""
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory and os.path.isdir(directory):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)
            return generate_latest(registry)
        return generate_latest(self.registry)
