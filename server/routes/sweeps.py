"""GET /sweeps: every lambda sweep's report (``reports/sweep_<name>.json``), read through its
contract (regserve_contracts.sweep), so the page draws only documents that parse; a report that
does not is listed with the reason instead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify

from regserve_contracts import sweep as contract
from regserve_contracts.layout import REPORTS_DIR
from server.state import current_state

bp = Blueprint("sweeps", __name__)


def read_sweeps(folder: Path) -> dict[str, Any]:
    """``{"sweeps": [documents], "unreadable": [{"file", "detail"}]}``, by file name."""
    sweeps, unreadable = [], []
    files = sorted(p for p in folder.iterdir() if contract.sweep_name(p.name)) \
        if folder.is_dir() else []
    for path in files:
        try:
            sweeps.append(contract.parse(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as error:  # SweepReportError and JSONDecodeError too
            unreadable.append({"file": path.name, "detail": str(error)})
    return {"sweeps": sweeps, "unreadable": unreadable}


@bp.get("/sweeps")
def sweeps():
    """The sweep reports of the served models folder (an empty list when there are none)."""
    return jsonify(read_sweeps(current_state().settings.models_dir / REPORTS_DIR))


_POINTS = {"type": "array", "items": {"type": "object", "required": ["point", "lam"]}}
#: The OpenAPI schemas of the above (merged into server/routes/openapi.py's components).
SCHEMAS: dict[str, Any] = {
    "SweepList": {"type": "object", "required": ["sweeps", "unreadable"], "properties": {
        "sweeps": {"type": "array", "items": {"$ref": "#/components/schemas/Sweep"}},
        "unreadable": {"type": "array", "items": {
            "type": "object", "required": ["file", "detail"],
            "properties": {"file": {"type": "string"}, "detail": {"type": "string"}}}}}},
    "Sweep": {"type": "object", "required": ["schema_version", "sweep", "families"],
              "description": "reports/sweep_<name>.json (regserve_contracts/sweep.py).",
              "properties": {
                  "schema_version": {"const": contract.SCHEMA_VERSION},
                  "sweep": {"type": "string"}, "seeds": {"type": "integer"},
                  "families": {"type": "array", "items": {
                      "type": "object", "required": ["family", "points"], "properties": {
                          "family": {"type": "string"}, "points": _POINTS,
                          "picks": {"type": ["object", "null"]},
                          "refusal": {"type": ["string", "null"], "description":
                                      "Why the family picks no lambda (no validation images, "
                                      "every point at chance); null when it picks."},
                          "se_source": {"enum": [*contract.SE_SOURCES, None]}}}}}},
}
