"""Prometheus metrics: requests and latency by endpoint and variant, models loaded.

Under gunicorn every worker is its own process; the gunicorn config points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder, and ``/metrics`` then sums all workers
(prometheus_client's multiprocess mode). Without it (tests, the dev server) each app counts in
a registry of its own.
"""

from __future__ import annotations

import atexit
import bisect
import logging
import os
import threading
import time
import weakref

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
#: Seconds at most between a prediction and its count in the metric families.
FLUSH_SECONDS = 0.25
log = logging.getLogger(__name__)
#: Every Metrics of this process, for the one flusher (gone with their apps).
_LIVE: weakref.WeakSet = weakref.WeakSet()
_flusher_lock = threading.Lock()
_flusher_pid: int | None = None  # the process whose flusher runs (a fork needs its own)


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
        #: Per variant: answers, summed seconds and answers per latency bucket, not yet written.
        self._pending: dict[str, list] = {}
        self._pending_lock = threading.Lock()
        _LIVE.add(self)

    def observe_request(self, endpoint: str, method: str, status: int,
                        seconds: float | None) -> None:
        """Count an answered HTTP request under its route's pattern (never the raw path), and
        its time when it was measured."""
        self.requests.labels(endpoint, method, str(status)).inc()
        if seconds is not None:
            self.latency.labels(endpoint).observe(seconds)

    def observe_prediction(self, names, seconds: float) -> None:
        """Count a /predict answer for each variant in ``names`` and its time.

        Gathered in memory and written to the metric families by :meth:`flush_predictions`,
        at most :data:`FLUSH_SECONDS` later: under gunicorn each write is a locked write into
        a shared file, three per variant (count, sum, bucket), 24 for an all-variant answer.
        """
        bucket = bisect.bisect_left(LATENCY_BUCKETS, seconds)  # the first bound >= seconds
        with self._pending_lock:
            for name in names:
                pending = self._pending.get(name)
                if pending is None:
                    self._children_of(name)  # the series exists from the first answer on
                    pending = self._pending[name] = [0, 0.0, [0] * (len(LATENCY_BUCKETS) + 1)]
                pending[0] += 1
                pending[1] += seconds
                pending[2][bucket] += 1
        if _flusher_pid != os.getpid():
            _start_flusher()

    def flush_predictions(self) -> None:
        """Write what :meth:`observe_prediction` gathered into the metric families."""
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        for name, (count, seconds, buckets) in pending.items():
            counter, histogram = self._children_of(name)
            counter.inc(count)
            # What Histogram.observe does once per value, once per bucket; prometheus_client
            # has no public call that adds several observations.
            histogram._sum.inc(seconds)
            for index, observed in enumerate(buckets):
                if observed:
                    histogram._buckets[index].inc(observed)

    def _children_of(self, name: str) -> tuple:
        children = self._children.get(name)
        if children is None:  # labels() costs a locked lookup: keep each variant's pair
            children = (self.predictions.labels(name), self.prediction_latency.labels(name))
            self._children[name] = children
        return children

    def observe_snapshot(self, snapshot: Snapshot) -> None:
        """Record what a (re)load left being served."""
        self.loaded.set(len(snapshot.variants))
        self.failed.set(len(snapshot.failed))
        for name, variant in snapshot.variants.items():
            self.version.labels(name).set(variant.version)
        self.reloads.inc()

    def render(self) -> bytes:
        """The Prometheus text exposition: all gunicorn workers in multiprocess mode."""
        self.flush_predictions()  # this worker's answers so far; the others' within FLUSH_SECONDS
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory and os.path.isdir(directory):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)
            return generate_latest(registry)
        return generate_latest(self.registry)


def flush_all() -> None:
    """Write every live Metrics' gathered predictions (the flusher's round; also at exit)."""
    for metrics in list(_LIVE):
        try:
            metrics.flush_predictions()
        except Exception:  # noqa: BLE001 - a metrics write must never stop the flushing
            log.exception("writing the prediction metrics failed")


def _start_flusher() -> None:
    """One thread per process (a greenlet under gevent) that flushes every FLUSH_SECONDS;
    started by the first prediction, so in the gunicorn worker, never in a parent that forks."""
    global _flusher_pid
    with _flusher_lock:
        if _flusher_pid == os.getpid():
            return
        _flusher_pid = os.getpid()
    threading.Thread(target=_flush_loop, name="metrics-flush", daemon=True).start()
    atexit.register(flush_all)


def _flush_loop() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        flush_all()

