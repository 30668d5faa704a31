"""Liveness, readiness and Prometheus metrics: what orchestrators and monitoring ask."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from server.state import current_state

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers: alive, whatever the models' state."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """200 once at least one variant serves; 503 (JSON error) while none does."""
    snapshot = current_state().registry.snapshot
    body = {
        "loaded": {name: variant.version for name, variant in snapshot.variants.items()},
        "failed": snapshot.failures(),
        "generation": snapshot.generation,
        "runtime": snapshot.runtime,
    }
    if snapshot.variants and snapshot.engine is not None:
        return jsonify({"status": "ready", **body})
    response = jsonify({
        "status": "not ready",
        "error": "not_ready",
        "detail": "no variant is loaded: the models folder has no loadable version yet",
        **body,
    })
    response.status_code = 503
    return response


@bp.get("/metrics")
def metrics():
    """Prometheus text format: requests, latency, predictions per variant, models loaded."""
    state = current_state()
    return Response(state.metrics.render(), mimetype=state.metrics.content_type.split(";")[0],
                    headers={"Content-Type": state.metrics.content_type})
