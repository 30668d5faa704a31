"""GET /variants and /variants/<name>: what is served, how it was trained and how it scored."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from server.answers import variant_summary
from server.errors import ApiError
from server.lookup import loaded, version_failed
from server.routes.comparison import variant_statistics
from server.runtime.registry import Snapshot
from server.state import current_state
from server.views import insight, robustness

bp = Blueprint("catalog", __name__)


@bp.get("/variants")
def list_variants():
    """Every loaded variant with its penalty, data, scores and sparsity; and what failed."""
    state = current_state()
    snapshot = state.registry.snapshot
    return jsonify({
        "variants": [{**variant_summary(variant), "versions": _versions(snapshot, name)}
                     for name, variant in snapshot.variants.items()],
        "failed": snapshot.failures(),
        # Loaded versions besides each variant's newest, addressable as name@version.
        "older_versions": [{**variant_summary(variant), "key": key}
                           for key, variant in snapshot.older.items()],
        "version_policy": str(state.registry.version_policy),
        "skipped": snapshot.skipped_note,
    })


def _versions(snapshot: Snapshot, name: str) -> dict[str, list[int]]:
    return {"loaded": [variant.version for variant in snapshot.versions_of(name)],
            "on_disk": list(snapshot.on_disk.get(name, ()))}


@bp.get("/variants/<name>")
def show_variant(name: str):
    """One loaded variant (``name`` or ``name@version``) in detail; 404 listing the valid names."""
    snapshot = current_state().registry.snapshot
    _, variant = loaded(snapshot, name)
    summary = {**variant_summary(variant, detailed=True),
               "versions": _versions(snapshot, variant.name),
               **insight.variant_views(variant),
               **variant_statistics(variant.name, variant.version),
               **robustness.variant_blocks(variant),  # calibration, generalization, robustness
               **version_failed(snapshot, name, variant)}  # an older version serves for it
    return jsonify(summary)


@bp.get("/variants/<name>/filters.png")
def variant_filters(name: str):
    """conv1's 32 filters as a PNG grid, drawn from the loaded SavedModel's variables."""
    _, variant = loaded(current_state().registry.snapshot, name)
    try:
        kernel = insight.filter_kernel(variant)
    except insight.FiltersUnavailableError as error:
        raise ApiError(404, str(error), "no_filters") from None
    response = current_app.response_class(insight.filters_png(kernel), mimetype="image/png")
    response.headers["Cache-Control"] = "no-cache"  # a new version may replace it any time
    return response

