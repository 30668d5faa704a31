"""The OpenAPI 3.1 document of the whole API, served at /openapi.json and checked by the tests."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from regserve_contracts.chance import RULE as CHANCE_RULE
from regserve_contracts.labels import IMAGE_SIZE, NUM_CLASSES
from regserve_contracts.signature import FEATURE_MAP_LAYERS
from server.routes.comparison import COMPARISON_SCHEMAS
from server.routes.sweeps import SCHEMAS as SWEEP_SCHEMAS
from server.schema import INTEGER, NUMBER, NUMBERS, SHARE, STRING, error, json_response, obj, ref
from server.v2.openapi import V2_PATHS, V2_SCHEMAS
from server.views.insight import INCLUDE_OPTIONS
from server.views.robustness import DETAIL_PROPERTIES
from server.views.robustness import SCHEMAS as ROBUSTNESS_SCHEMAS

bp = Blueprint("openapi", __name__)

WRONG_METHOD = error("Wrong method for this path (the Allow header lists the right ones).")
IMAGE_ROW = {"type": "array", "minItems": IMAGE_SIZE, "maxItems": IMAGE_SIZE,
             "items": {"type": "integer", "minimum": 0, "maximum": 255}}
PIXELS = {"type": "array", "minItems": IMAGE_SIZE, "maxItems": IMAGE_SIZE, "items": IMAGE_ROW}
PER_LAYER = {"type": "object", "additionalProperties": NUMBER}
OLD_DATA = {**ref("DataSource"), "deprecated": True, "description": "The old name of 'data', "
            "sent beside it for one release; read 'data'."}

SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": {**STRING, "description": "Short code, e.g. unknown_variant."},
                  "detail": {"description": "What was wrong, for people."}},
                 {"valid_variants": {"type": "array", "items": STRING},
                  "valid_parameters": {"type": "array", "items": STRING},
                  "failed": {"type": "array", "items": ref("Failure")}}),
    "Failure": obj({"name": STRING, "version": INTEGER, "error": STRING},
                   {"serving_version": {"type": ["integer", "null"], "description":
                                        "An older version that still serves, or null."}}),
    "WeightSparsity": {"type": "object", "description": "Per layer and 'all': share of weights "
                       "with |w| below 1e-2, 1e-3, 1e-4 and exactly 0.",
                       "additionalProperties": {"type": "object", "additionalProperties": SHARE}},
    "TopEntry": obj({"label": STRING, "index": {"type": "integer", "minimum": 0},
                     "probability": SHARE}),
    "VariantPrediction": obj({
        "prediction": STRING,
        "top": {"type": "array", "minItems": 1, "maxItems": NUM_CLASSES, "items": ref("TopEntry")},
        "weight_sparsity": ref("WeightSparsity"),
        "activation_sparsity": {**PER_LAYER, "description": "Per layer: share of this input's "
                                "activations that are exactly zero."},
        "activation_mean": PER_LAYER,
        "version": INTEGER,
        "label": {**STRING, "description": "The penalty in words."},
        "collapsed": ref("Collapsed"),
    }, {
        "repeat": ref("Repeat"),
        "activations": {"oneOf": [ref("Activations"), ref("Unavailable")], "description":
                        "With ?include=activations: each conv layer's feature maps."},
        "stability": {**ref("Stability"), "description": "With ?include=stability."},
        "corruptions": {**ref("CorruptionReadings"), "description": "With ?include=corruptions."},
        "newest_version_failed": {**ref("Failure"), "description": "Present while the "
                                  "variant's newest version fails to load and 'version' serves."},
    }),
    "LayerMaps": obj({
        "shape": {"type": "array", "items": INTEGER, "minItems": 3, "maxItems": 3,
                  "description": "height, width, channels"},
        "png_base64": {**STRING, "contentEncoding": "base64", "contentMediaType": "image/png",
                       "description": "Every channel as a grey tile, `columns` a row, `gap` "
                       "pixels apart, scaled by the layer's maximum."},
        "columns": INTEGER, "gap": INTEGER, "max": NUMBER,
        "silent_channels": {"type": "array", "items": INTEGER, "description":
                            "Channels that are zero everywhere for this input."},
    }),
    "Activations": obj({layer: ref("LayerMaps") for layer in FEATURE_MAP_LAYERS}),
    "Unavailable": obj({"available": {"const": False}, "detail": STRING}),
    "Stability": obj({
        "agreement": {**SHARE, "description": "Share of the perturbed inputs read as the "
                      "original was."},
        "mean_probability": {**SHARE, "description": "Mean probability of the original's "
                             "prediction over the perturbed inputs."},
    }, {"perturbations": INTEGER}),
    "WeightHistogram": obj({
        "edges": {**NUMBERS, "description": "Bin edges of log10|w|, shared by every variant."},
        "counts": {"type": "array", "items": INTEGER},
        "zeros": {**INTEGER, "description": "Weights exactly 0, counted apart."}}),
    "PruningPoint": obj({"threshold": NUMBER, "removed_share": SHARE, "test_accuracy": SHARE}),
    "Repeat": {"type": ["object", "null"], "description": "Which repeat over seeds answers: "
               "the version trained with `seed`, `index` of `of` in its `group` (--seeds N); "
               "null for a model trained once.", "properties": {
                   "group": STRING, "seed": INTEGER, "index": INTEGER, "of": INTEGER}},
    "Collapsed": {"type": ["boolean", "null"], "description": f"True when the variant is at "
                  f"chance and so left out of the vote ({CHANCE_RULE}); null when its export "
                  "lacks its test accuracy or test-set size."},
    "Agreement": obj({"unanimous": {"type": "boolean", "description": "Every counted variant "
                                    "gives the same answer."},
                      "votes": {"type": "object", "additionalProperties": INTEGER,
                                "description": "Answers of the counted variants, most first."},
                      "majority": {"type": ["string", "null"], "description": "The one answer "
                                   "with the most votes; null on a tie or with no vote."},
                      "tie": {"type": "boolean", "description": "Two or more answers share the "
                              "most votes."},
                      "counted": INTEGER,
                      "excluded": {"type": "array", "items": STRING, "description":
                                   "Collapsed variants, left out of the vote."}}),
    "InputEcho": obj({"image_png_base64": {**STRING, "contentEncoding": "base64",
                                           "contentMediaType": "image/png"},
                      "pixels": PIXELS,
                      "kind": {"enum": ["multipart", "raw", "json_image", "json_pixels"]},
                      "preprocessed": {"type": "boolean"}},
                     {"warning": {**obj({"code": {"const": "too_little_ink"}, "detail": STRING}),
                                  "description": "Present when the ink is one solid blob (a "
                                  "dot) scaled up to fill the frame."}}),
    "DataSource": obj({"name": STRING},
                      {"description": STRING, "train_size": INTEGER, "test_size": INTEGER,
                       "fingerprint": STRING, "by_variant": {"type": "object"}}),
    "PredictResponse": obj({
        "variants": {"type": "object", "additionalProperties": ref("VariantPrediction")},
        "agreement": ref("Agreement"),
        "input": ref("InputEcho"),
        "data": ref("DataSource"),
    }, {"data_source": OLD_DATA,
        "corruptions": {**ref("CorruptionImages"), "description": "With ?include=corruptions: "
                        "the input under every corruption, identity first."}}),
    "Penalty": obj({"name": STRING},
                   {"penalty": {"enum": ["none", "l1", "l2", "elasticnet"]},
                    "where": {"enum": ["none", "kernel_bias", "activity"]},
                    "lam": NUMBER, "l1": NUMBER, "l2": NUMBER, "label": STRING, "title": STRING}),
    "VariantSummary": obj({
        "name": STRING, "label": STRING, "version": INTEGER, "penalty": ref("Penalty"),
        "data": ref("DataSource"),
        "test": {"type": ["object", "null"], "properties": {"loss": NUMBER, "accuracy": SHARE}},
        "weight_sparsity": {"oneOf": [ref("WeightSparsity"), {"type": "null"}]},
        "history": {"type": ["object", "null"], "additionalProperties": NUMBERS},
        "collapsed": ref("Collapsed"),
    }, {
        "repeat": ref("Repeat"), "data_source": OLD_DATA,
        "activation_sparsity_test": {"type": ["object", "null"], "additionalProperties": SHARE},
        "parameters": {"type": ["integer", "null"]},
        "training_seconds": {"type": ["number", "null"]},
        "created": {"type": ["string", "null"]},
        "training": {"type": "object"},
    }),
    "VariantDetail": {"allOf": [ref("VariantSummary"), obj(
        {"labels": {"type": "array", "items": STRING}},
        {"serving": {"type": ["object", "null"]},
         "samples_per_second": {"type": ["number", "null"]},
         "newest_version_failed": {**ref("Failure"), "description": "Present while the "
                                   "newest version fails to load and 'version' serves."},
         "weight_histogram": {"type": ["object", "null"], "additionalProperties":
                              ref("WeightHistogram"), "description": "Per layer; null for "
                              "versions exported before histograms were stored."},
         "pruning": {"type": ["array", "null"], "items": ref("PruningPoint"), "description":
                     "Test accuracy after zeroing every |w| below each threshold."},
         "feature_maps": {"type": "boolean", "description": "Whether ?include=activations "
                          "has maps for this version."},
         "filters": {**STRING, "description": "Where conv1's filters are drawn as a PNG."},
         "comparison": {"oneOf": [ref("ComparisonRow"), {"type": "null"}], "description":
                        "This variant's row of GET /comparison; null: comparison_note says why."},
         "comparison_note": {"type": ["string", "null"]},
         **DETAIL_PROPERTIES})]},
    "VariantList": obj({"variants": {"type": "array", "items": ref("VariantSummary")},
                        "failed": {"type": "array", "items": ref("Failure")}},
                       {"older_versions": {"type": "array", "items": ref("VariantSummary"),
                                           "description": "Versions loaded besides each "
                                           "variant's newest, addressable as 'key' (name@v)."},
                        "version_policy": STRING, "skipped": {"type": ["string", "null"]}}),
    "Readiness": obj({"status": {"enum": ["ready", "not ready"]},
                      "loaded": {"type": "object", "additionalProperties": INTEGER},
                      "failed": {"type": "array", "items": ref("Failure")},
                      "generation": INTEGER},
                     {"runtime": {"enum": ["onnx", "tensorflow", None], "description":
                                  "What runs the models: ONNX Runtime on each version's "
                                  "model.onnx, or TensorFlow on its SavedModel "
                                  "(REGSERVE_RUNTIME)."}}),
    "NotReady": {"allOf": [ref("Readiness"), ref("Error")]},
    "Health": obj({"status": {"const": "ok"}}),
    "ReportList": obj({"files": {"type": "array", "items": STRING}}),
    "JsonImage": obj({"image": {**STRING, "description": "Base64 image bytes; a data: URL "
                                "prefix (data:image/png;base64,...) is allowed."}}),
    "JsonPixels": obj({"pixels": {**PIXELS, "items": {"type": "array", "items": NUMBER}}},
                      {"preprocessed": {"type": "boolean", "default": False, "description":
                                        "true: already EMNIST form (white on black, centred); "
                                        "use as is."}}),
}

PREDICT = {
    "summary": "Predict the character in one image with one, several or all variants",
    "description": "One call into the runtime (ONNX Runtime or TensorFlow) runs every "
                   "requested variant on the image after it is brought to EMNIST's 28x28 "
                   "form (any size, PNG/JPEG/GIF/BMP/WebP, transparent canvas, dark on light "
                   "or light on dark).",
    "parameters": [
        {"name": "variant", "in": "query", "style": "form", "explode": True,
         "description": "Variant names, repeated or comma-separated; 'all' or absent: every one.",
         "schema": {"type": "array", "items": STRING}},
        {"name": "top", "in": "query", "description": "Labels listed per variant.",
         "schema": {"type": "integer", "minimum": 1, "maximum": NUM_CLASSES, "default": 3}},
        {"name": "include", "in": "query", "style": "form", "explode": False,
         "description": "Extra views per variant, comma-separated: activations (feature maps "
                        "of conv1 and conv2), stability (agreement over 32 perturbed copies), "
                        "corruptions (the input under 15 MNIST-C corruptions, as PNGs, and each "
                        "variant's reading of each).",
         "schema": {"type": "array", "items": {"enum": list(INCLUDE_OPTIONS)}}},
    ],
    "requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": obj({"image": {**STRING, "format": "binary",
                                                         "contentMediaType": "image/*"}})},
        "image/*": {"schema": {**STRING, "format": "binary"}},
        "application/octet-stream": {"schema": {**STRING, "format": "binary"}},
        "application/json": {"schema": {"oneOf": [ref("JsonImage"), ref("JsonPixels")]}},
    }},
    "responses": {
        "200": json_response("Every requested variant's answer.", "PredictResponse"),
        "400": error("No image, an empty or undecodable one, bad JSON, base64, pixels, top "
                     "or include, or a query parameter other than variant, top and include "
                     "(valid_parameters lists them)."),
        "404": error("Unknown variant; valid_variants lists the loaded ones."),
        "405": WRONG_METHOD,
        "413": error("Body over the size limit, or an image with too many pixels."),
        "415": error("A content type the API does not read."),
        "500": error("An unexpected server fault (logged); never caused by input."),
        "503": error("No model is loaded yet."),
    },
}


def get(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"get": {"summary": summary, **extra, "responses": {**responses, "405": WRONG_METHOD}}}


NAME_PARAMETER = {"name": "name", "in": "path", "required": True, "schema": STRING}
FILE_PARAMETER = {"name": "filename", "in": "path", "required": True, "schema": STRING}
DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "RegServe", "version": "1.0.0", "description":
             "One small CNN trained on EMNIST-balanced with different weight penalties, every "
             "variant served side by side. Every error is JSON {error, detail}; unknown paths "
             "answer 404 and wrong methods 405, in the same form."},
    "paths": {
        "/predict": {"post": PREDICT},
        "/variants": get("Every loaded variant, and the ones that failed to load",
                         {"200": json_response("Loaded and failed variants.", "VariantList")}),
        "/variants/{name}": get(
            "One loaded variant in detail",
            {"200": json_response("The variant.", "VariantDetail"),
             "404": error("Not a loaded variant; valid_variants lists the loaded ones.")},
            parameters=[NAME_PARAMETER]),
        "/variants/{name}/filters.png": get(
            "conv1's filters as an image grid (blue negative, white zero, red positive)",
            {"200": {"description": "PNG.", "content": {"image/png": {"schema": {
                **STRING, "format": "binary"}}}},
             "404": error("Not a loaded variant.")},
            parameters=[NAME_PARAMETER]),
        "/comparison": get(
            "Each recipe against the baseline over seeds: differences, intervals, verdicts",
            {"200": json_response("The trainer's comparison report.", "Comparison"),
             "404": error("No comparison report yet (the detail says how to make one)."),
             "503": error("reports/comparison.json is not a comparison this server reads "
                          "(invalid_comparison; the detail names the problem).")}),
        "/healthz": get("Liveness", {"200": json_response("The process answers.", "Health")}),
        "/readyz": get("Readiness: at least one variant loaded", {
            "200": json_response("Ready; what is loaded and what failed.", "Readiness"),
            "503": json_response("No variant loaded yet.", "NotReady")}),
        "/metrics": get("Prometheus metrics", {"200": {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain": {"schema": STRING}}}}),
        "/openapi.json": get("This document", {"200": {
            "description": "OpenAPI 3.1.", "content": {"application/json": {"schema":
                                                                            {"type": "object"}}}}}),
        "/": get("The drawing page", {"200": {"description": "HTML page.",
                                              "content": {"text/html": {"schema": STRING}}}}),
        "/favicon.ico": get("The page's icon", {"200": {"description": "SVG.", "content": {
            "image/svg+xml": {"schema": STRING}}}}),
        "/reports": get("Report files the trainer wrote",
                        {"200": json_response("File names under /reports/.", "ReportList")}),
        "/reports/{filename}": get(
            "One report file (comparison.json/.md/.csv/.png, curves_<variant>.png, results.md, "
            "results.csv); a .md file comes as an HTML page when Accept prefers text/html",
            {"200": {"description": "The file.", "content": {"*/*": {"schema": {
                **STRING, "format": "binary"}}}},
             "404": error("No such report.")},
            parameters=[FILE_PARAMETER]),
        "/sweeps": get("Every lambda sweep's report, read through its contract", {
            "200": json_response("Parsed sweep reports, and the ones that do not parse.",
                                 "SweepList")}),
        **V2_PATHS,  # Open Inference Protocol V2 (server/v2/routes.py)
    },
    "components": {"schemas": {**SCHEMAS, **COMPARISON_SCHEMAS, **ROBUSTNESS_SCHEMAS,
                               **SWEEP_SCHEMAS, **V2_SCHEMAS}},
}


@bp.get("/openapi.json")
def openapi_document():
    """The API's OpenAPI 3.1 document."""
    return jsonify(DOCUMENT)
