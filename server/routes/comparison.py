"""GET /comparison: the trainer's comparison of the variants (intervals, paired tests, verdicts).

The trainer writes ``comparison.json`` into the models folder's reports; the server only reads
it, so what the page shows is what the report says. ``/variants/<name>`` carries its row.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, jsonify

from regserve_contracts.layout import COMPARISON_FILE, REPORTS_DIR
from server.errors import ApiError
from server.state import current_state

bp = Blueprint("comparison", __name__)

NO_REPORT = ("no comparison report yet: the trainer writes reports/comparison.json after "
             "training, or run python -m trainer --report")


class ComparisonUnavailable(Exception):
    """There is no readable comparison report; the message says why."""


def read_comparison() -> dict[str, Any]:
    """The comparison document of the served models folder."""
    path = current_state().settings.models_dir / REPORTS_DIR / COMPARISON_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ComparisonUnavailable(NO_REPORT) from None
    except (OSError, ValueError) as error:
        raise ComparisonUnavailable(f"{COMPARISON_FILE} is unreadable ({error}); rebuild it "
                                    "with python -m trainer --report") from None
    if not isinstance(document, dict) or not isinstance(document.get("variants"), dict):
        raise ComparisonUnavailable(f"{COMPARISON_FILE} does not hold a comparison; rebuild it "
                                    "with python -m trainer --report")
    return document


@bp.get("/comparison")
def comparison():
    """The comparison report as the trainer wrote it; 404 saying why when there is none."""
    try:
        return jsonify(read_comparison())
    except ComparisonUnavailable as error:
        raise ApiError(404, str(error), "no_comparison") from None


def variant_statistics(name: str, version: int) -> dict[str, Any]:
    """``{"comparison": row or None, "comparison_note": why it is None}`` for one variant."""
    try:
        document = read_comparison()
    except ComparisonUnavailable as error:
        return {"comparison": None, "comparison_note": str(error)}
    row = document["variants"].get(name)
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
    return {"comparison": {**row, "baseline": document.get("baseline"),
                           "test_set": document.get("test_set")}, "comparison_note": None}


_NUMBER, _STRING, _INTEGER = {"type": "number"}, {"type": "string"}, {"type": "integer"}
_INTERVAL = {"type": "array", "items": _NUMBER, "minItems": 2, "maxItems": 2}
_VERDICT = {"enum": ["better", "worse", "no detectable difference"]}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": list(required),
            "properties": {**required, **(optional or {})}}


#: Merged into the OpenAPI document's components by server/routes/openapi.py.
COMPARISON_SCHEMAS: dict[str, Any] = {
    "ComparisonRow": _obj({
        "model": {**_STRING, "description": "name@version of the newest model in the row."},
        "accuracy": {**_NUMBER, "description": "Test accuracy, the mean over seeds."},
        "ci95": {**_INTERVAL, "description": "Wilson 95% interval of the accuracy."},
        "seeds": _INTEGER,
        "seed_accuracies": {"type": "array", "items": _NUMBER},
        "verdict": {"enum": [*_VERDICT["enum"], "baseline", None],
                    "description": "Against the baseline; null when not compared."},
    }, {"versions": {"type": "array", "items": _INTEGER}, "sd": {"type": ["number", "null"]},
        "diff": _NUMBER, "diff_ci95": _INTERVAL, "p_holm": _NUMBER,
        "baseline": _STRING, "test_set": {"type": "object"}}),
    "ComparisonPair": _obj({
        "a": _STRING, "b": _STRING, "both_right": _INTEGER, "only_a": _INTEGER,
        "only_b": _INTEGER, "both_wrong": _INTEGER,
        "p_mcnemar": {**_NUMBER, "description": "Exact McNemar: binomial on only_a, only_b."},
        "p_holm": {**_NUMBER, "description": "Holm-adjusted over every pair of the report."},
        "diff": {**_NUMBER, "description": "Accuracy of a minus accuracy of b."},
        "diff_ci95": {**_INTERVAL, "description": "Paired bootstrap over the test images."},
        "verdict": _VERDICT,
    }, {"seed_diffs": {"type": "array", "items": _NUMBER}, "seed_pairs": {"type": "array"}}),
    "Comparison": _obj({
        "baseline": _STRING,
        "test_set": _obj({"fingerprint": {"type": ["string", "null"]},
                          "size": {"type": ["integer", "null"]}}),
        "rule": {**_STRING, "description": "How a verdict is reached, in words."},
        "variants": {"type": "object",
                     "additionalProperties": {"$ref": "#/components/schemas/ComparisonRow"}},
        "pairs": {"type": "array", "items": {"$ref": "#/components/schemas/ComparisonPair"}},
        "cochran_q": {"type": ["object", "null"], "properties": {"q": _NUMBER, "p": _NUMBER}},
        "missing": {"type": "array", "items": _obj({"variant": _STRING, "reason": _STRING},
                                                   {"model": {"type": ["string", "null"]}}),
                    "description": "Models left out of the pairs, and why."},
    }),
}
