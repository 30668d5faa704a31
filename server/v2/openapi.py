"""The Open Inference Protocol V2 routes in the OpenAPI document (merged into /openapi.json)."""

from __future__ import annotations

from typing import Any

STRING = {"type": "string"}
JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: str, binary: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {JSON: {"schema": _ref(schema)}}
    if binary:  # Triton's binary tensor extension: JSON header, then raw tensors
        content["application/octet-stream"] = {"schema": {**STRING, "format": "binary"}}
    return {"description": description, "content": content}


def _error(description: str) -> dict[str, Any]:
    return _answer(description, "V2Error")


WRONG_METHOD = {"description": "Wrong method for this path.",
                "content": {JSON: {"schema": _ref("Error")}}}
TENSOR_META = {"type": "object", "required": ["name", "datatype", "shape"], "properties": {
    "name": STRING, "datatype": STRING, "shape": {"type": "array", "items": {"type": "integer"}}}}
PARAMETERS = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
TENSOR_DATA = {"type": "array"}

V2_SCHEMAS: dict[str, Any] = {
    "V2Error": {"type": "object", "required": ["error"], "properties": {"error": STRING}},
    "V2ServerMetadata": {"type": "object", "required": ["name", "version", "extensions"],
                         "properties": {"name": STRING, "version": STRING,
                                        "extensions": {"type": "array", "items": STRING}}},
    "V2Live": {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}},
    "V2Ready": {"type": "object", "required": ["ready"],
                "properties": {"ready": {"type": "boolean"}}},
    "V2ModelReady": {"type": "object", "required": ["name", "ready"],
                     "properties": {"name": STRING, "ready": {"type": "boolean"}}},
    "V2ModelMetadata": {"type": "object", "required": ["name", "platform", "inputs", "outputs"],
                        "properties": {"name": STRING, "platform": STRING,
                                       "versions": {"type": "array", "items": STRING},
                                       "inputs": {"type": "array", "items": TENSOR_META},
                                       "outputs": {"type": "array", "items": TENSOR_META}}},
    "V2InferRequest": {"type": "object", "required": ["inputs"], "properties": {
        "id": STRING, "parameters": PARAMETERS,
        "inputs": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "shape", "datatype"], "properties": {
                **TENSOR_META["properties"], "parameters": PARAMETERS, "data": TENSOR_DATA}}},
        "outputs": {"type": "array", "items": {"type": "object", "required": ["name"],
                                               "properties": {"name": STRING,
                                                              "parameters": PARAMETERS}}}}},
    "V2InferResponse": {"type": "object", "required": ["model_name", "outputs"], "properties": {
        "model_name": STRING, "model_version": STRING, "id": STRING, "parameters": PARAMETERS,
        "outputs": {"type": "array", "items": {
            "type": "object", "required": ["name", "shape", "datatype"], "properties": {
                **TENSOR_META["properties"], "parameters": PARAMETERS, "data": TENSOR_DATA}}}}},
    "V2RepositoryIndex": {"type": "array", "items": {
        "type": "object", "required": ["name", "version", "state"], "properties": {
            "name": STRING, "version": STRING, "state": {"enum": ["READY", "UNAVAILABLE"]},
            "reason": STRING}}},
}

NAME = {"name": "name", "in": "path", "required": True, "schema": STRING,
        "description": "A loaded variant."}
VERSION = {"name": "version", "in": "path", "required": True, "schema": STRING,
           "description": "One of the variant's loaded versions (see the version policy)."}
INFER_BODY = {"required": True, "description": "JSON; or, as Triton's binary tensor data "
              "extension, the JSON request (Inference-Header-Content-Length bytes) followed "
              "by the raw tensors.", "content": {
                  JSON: {"schema": _ref("V2InferRequest")},
                  "application/octet-stream": {"schema": {**STRING, "format": "binary"}}}}


def _get(summary: str, responses: dict[str, Any], parameters: list | None = None) -> dict:
    return {"get": {"summary": summary, **({"parameters": parameters} if parameters else {}),
                    "responses": {**responses, "405": WRONG_METHOD}}}


def _model_paths(prefix: str, parameters: list, which: str) -> dict[str, Any]:
    unknown = _error(f"Unknown model, or {which} not loaded.")
    return {
        prefix: _get(f"Model metadata ({which})", {
            "200": _answer("Versions, inputs and outputs.", "V2ModelMetadata"),
            "404": unknown}, parameters),
        prefix + "/ready": _get(f"Model readiness ({which})", {
            "200": _answer("Loaded and serving.", "V2ModelReady"), "404": unknown}, parameters),
        prefix + "/infer": {"post": {
            "summary": f"Inference ({which}): FP32 'image' [B,28,28,1] in [0, 1] or BYTES "
                       "'image_bytes' [B] (encoded image files)",
            "parameters": parameters, "requestBody": INFER_BODY,
            "responses": {"200": _answer("The requested outputs.", "V2InferResponse", True),
                          "400": _error("A malformed request, input, output or parameter."),
                          "404": unknown,
                          "413": _error("Body over the size limit, an image with too many "
                                        "pixels or too long a side, or images that declare "
                                        "more pixels together than a request may "
                                        "(REGSERVE_MAX_BATCH_PIXELS), refused from their "
                                        "headers before any is decoded."),
                          "503": _error("The worker is decoding other large images; retry."),
                          "405": WRONG_METHOD}}},
    }


V2_PATHS: dict[str, Any] = {
    "/v2": _get("V2 server metadata", {"200": _answer("Name, version, extensions.",
                                                      "V2ServerMetadata")}),
    "/v2/health/live": _get("V2 liveness", {"200": _answer("The process answers.", "V2Live")}),
    "/v2/health/ready": _get("V2 readiness", {
        "200": _answer("A model serves.", "V2Ready"),
        "503": _answer("No model is loaded yet.", "V2Ready")}),
    **_model_paths("/v2/models/{name}", [NAME], "its newest loaded version"),
    **_model_paths("/v2/models/{name}/versions/{version}", [NAME, VERSION], "this version"),
    "/v2/repository/index": {"post": {
        "summary": "Every version on disk: READY, or UNAVAILABLE with the reason",
        "requestBody": {"required": False, "content": {JSON: {"schema": {
            "type": "object", "properties": {"ready": {"type": "boolean"}}}}}},
        "responses": {"200": _answer("The index.", "V2RepositoryIndex"),
                      "400": _error("A body that is not the index request object."),
                      "405": WRONG_METHOD}}},
}
