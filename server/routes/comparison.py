"""GET /comparison: the analysis's comparison of the recipes (differences, intervals, verdicts).

The trainer writes ``comparison.json`` into the models folder's reports; the server only reads
it, through :func:`regserve_contracts.comparison.parse_comparison`, so what the page shows is
what the report says. ``/variants/<name>`` carries its row.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, jsonify

from regserve_contracts import comparison as contract
from regserve_contracts.layout import COMPARISON_FILE, REPORTS_DIR
from server.errors import ApiError
from server.state import current_state

bp = Blueprint("comparison", __name__)

NO_REPORT = ("no comparison report yet: the trainer writes reports/comparison.json after "
             "training, or run python -m trainer --report")
REBUILD = "rebuild it with python -m trainer --report"


class ComparisonUnavailable(Exception):
    """There is no comparison report; the message says why."""


class ComparisonInvalid(Exception):
    """A comparison.json is there but is not a comparison this server reads; the message says
    what is wrong with it."""


def read_comparison() -> dict[str, Any]:
    """The comparison document of the served models folder."""
    path = current_state().settings.models_dir / REPORTS_DIR / COMPARISON_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ComparisonUnavailable(NO_REPORT) from None
    except (OSError, ValueError) as error:
        raise ComparisonInvalid(f"{COMPARISON_FILE} is unreadable ({error}); {REBUILD}") from None
    try:
        return contract.parse_comparison(data)
    except contract.ComparisonError as error:
        raise ComparisonInvalid(f"{COMPARISON_FILE} is not a comparison this server reads: "
                                f"{error}; {REBUILD}") from None


@bp.get("/comparison")
def comparison():
    """The comparison report as the trainer wrote it; 404 when there is none, 503 when the file
    there is not a comparison (the detail names the problem)."""
    try:
        return jsonify(read_comparison())
    except ComparisonUnavailable as error:
        raise ApiError(404, str(error), "no_comparison") from None
    except ComparisonInvalid as error:
        raise ApiError(503, str(error), "invalid_comparison") from None


def variant_statistics(name: str, version: int) -> dict[str, Any]:
    """``{"comparison": row or None, "comparison_note": why it is None}`` for one variant."""
    try:
        document = read_comparison()
    except (ComparisonUnavailable, ComparisonInvalid) as error:
        return {"comparison": None, "comparison_note": str(error)}
    row = document[contract.VARIANTS].get(name)
    if row is None:
        reasons = [item.get("reason") for item in document.get("missing", ())
                   if isinstance(item, dict) and item.get("variant") == name]
        note = "; ".join(str(r) for r in reasons if r) or (
            "not in the comparison report (trained after it was built?); rebuild it with "
            "python -m trainer --report")
        return {"comparison": None, "comparison_note": note}
    if version not in row.get("versions", ()):
        return {"comparison": None, "comparison_note": f"the comparison covers {row['model']}, "
                f"not version {version}"}
    return {"comparison": {**row, "baseline": document[contract.BASELINE_KEY],
                           "test_set": document.get("test_set")}, "comparison_note": None}


_NUMBER, _STRING, _INTEGER = {"type": "number"}, {"type": "string"}, {"type": "integer"}
_OPTIONAL_NUMBER = {"type": ["number", "null"]}
_INTERVAL = {"type": "array", "items": _NUMBER, "minItems": 2, "maxItems": 2}
_OPTIONAL_INTERVAL = {"oneOf": [_INTERVAL, {"type": "null"}]}
_VERDICT = {"enum": list(contract.VERDICTS)}
_WORDS = {**_STRING, "description": "The verdict in the words every reader shows."}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": list(required),
            "properties": {**required, **(optional or {})}}


#: Merged into the OpenAPI document's components by server/routes/openapi.py.
COMPARISON_SCHEMAS: dict[str, Any] = {
    "ComparisonRow": _obj({
        "model": {**_STRING, "description": "name@version of the newest model in the row."},
        "label": {**_STRING, "description": "none@3, or none (3 seeds: v1, v2, v3)."},
        "versions": {"type": "array", "items": _INTEGER},
        "accuracy": {**_NUMBER, "description": "Test accuracy, the mean over seeds."},
        "ci95": {**_INTERVAL, "description": "Wilson 95% interval of the accuracy (images)."},
        "seeds": _INTEGER,
        "verdict": {"enum": list(contract.ROW_VERDICTS),
                    "description": "Against the baseline; null when not compared."},
        "verdict_text": _WORDS,
    }, {"sd": _OPTIONAL_NUMBER, "seed_accuracies": {"type": "array", "items": _NUMBER},
        "diff": _NUMBER, "diff_ci95": _OPTIONAL_INTERVAL, "p_holm": _OPTIONAL_NUMBER,
        "p_equivalence_holm": _OPTIONAL_NUMBER, "mde": _OPTIONAL_NUMBER,
        "seed_pairs": _INTEGER, "models_text": _STRING,
        "baseline": _STRING, "test_set": {"type": "object"}}),
    "ComparisonPair": _obj({
        "a": _STRING, "b": _STRING,
        "seed_pairs": {"type": "array", "items": {"type": "object"}, "description":
                       "Matched seed pairs with their 2x2 counts and exact McNemar p (about "
                       "those two trained models)."},
        "diff": {**_NUMBER, "description": "Mean accuracy of a minus b over the seed pairs."},
        "diff_ci95": {**_OPTIONAL_INTERVAL, "description":
                      "Paired t over seed pairs plus the test-image term; null with one pair."},
        "p_holm": {**_OPTIONAL_NUMBER, "description": "Holm-adjusted within its family."},
        "verdict": _VERDICT,
        "verdict_text": _WORDS,
    }, {"p": _OPTIONAL_NUMBER, "p_equivalence_holm": _OPTIONAL_NUMBER, "mde": _OPTIONAL_NUMBER,
        "se": _OPTIONAL_NUMBER, "df": {"type": ["integer", "null"]}, "models_text": _STRING}),
    "Comparison": _obj({
        "schema_version": {"const": contract.SCHEMA_VERSION},
        "baseline": _STRING,
        "method": _STRING,
        "margin": {**_NUMBER, "description": "Equivalence margin as a share (0.01: a point)."},
        "test_set": _obj({"fingerprint": {"type": ["string", "null"]},
                          "size": {"type": ["integer", "null"]}}),
        "rule": {**_STRING, "description": "How a verdict is reached, in words."},
        "variants": {"type": "object",
                     "additionalProperties": {"$ref": "#/components/schemas/ComparisonRow"}},
        "comparisons": {"type": "array", "description": "Each variant against the baseline: "
                        "the report's Holm family.",
                        "items": {"$ref": "#/components/schemas/ComparisonPair"}},
        "pairs": {"type": "array", "description": "Between the other variants: a Holm family "
                  "of its own.", "items": {"$ref": "#/components/schemas/ComparisonPair"}},
        "cochran_q": {"type": ["object", "null"], "properties": {"q": _NUMBER, "p": _NUMBER}},
        "missing": {"type": "array", "items": _obj({"variant": _STRING, "reason": _STRING},
                                                   {"model": {"type": ["string", "null"]}}),
                    "description": "Models left out of the pairs, and why."},
    }),
}
