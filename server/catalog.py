"""GET /variants and /variants/<name>: what is served, how it was trained and how it scored."""

from __future__ import annotations

from flask import Blueprint, jsonify

from server.answers import variant_summary
from server.errors import ApiError
from server.state import current_state

bp = Blueprint("catalog", __name__)


@bp.get("/variants")
def list_variants():
    """Every loaded variant with its penalty, data, scores and sparsity; and what failed."""
    snapshot = current_state().registry.snapshot
    return jsonify({
        "variants": [variant_summary(variant) for variant in snapshot.variants.values()],
        "failed": snapshot.failures(),
    })


@bp.get("/variants/<name>")
def show_variant(name: str):
    """One loaded variant in detail; 404 listing the valid names when it is not served."""
    snapshot = current_state().registry.snapshot
    variant = snapshot.variants.get(name)
    if variant is None:
        valid = list(snapshot.variants)
        reason = (f"variant {name!r} failed to load: {snapshot.failed[name].error}"
                  if name in snapshot.failed else f"unknown variant {name!r}")
        raise ApiError(404, f"{reason}; valid names: {', '.join(valid) or '(none loaded)'}",
                       "unknown_variant", valid_variants=valid)
    summary = variant_summary(variant, detailed=True)
    if name in snapshot.failed:  # an older version serves while the newest one is broken
        summary["newer_version_failed"] = {**snapshot.failed[name].to_dict(),
                                           "serving_version": variant.version}
    return jsonify(summary)
