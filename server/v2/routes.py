"""Open Inference Protocol V2 (KServe V2, as Triton and MLServer speak it) beside RegServe's API.

Each loaded variant is a model; its loaded versions (see the version policy) are its versions.
Errors are ``{"error": "<message>"}`` with a 4xx status, as the protocol says.
"""

from __future__ import annotations

import json

import numpy as np
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from regserve_contracts.decoding import ImageInputError
from regserve_contracts.signature import (
    INPUT_SHAPE,
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    to_model_input,
)
from server.errors import ApiError, image_api_error
from server.intake.files import read_images
from server.intake.forms import read_body
from server.lookup import missing_version
from server.runtime.registry import LoadedVariant, Snapshot
from server.runtime.selection import version_key
from server.settings import ServerSettings
from server.state import current_state
from server.v2.codec import (
    HEADER_LENGTH,
    MAX_BATCH_IMAGES,
    NUMPY_TYPES,
    InferRequest,
    InputTensor,
    OutputTensor,
    V2Error,
    encode_response,
    parse_request,
)

bp = Blueprint("v2", __name__, url_prefix="/v2")
#: The second input: encoded image files (PNG, JPEG, ...), brought to EMNIST's form here.
IMAGE_BYTES_INPUT = "image_bytes"
EXTENSIONS = ["binary_tensor_data", "classification", "model_repository"]
DATATYPES = {"float32": "FP32", "float64": "FP64", "int32": "INT32", "int64": "INT64"}
MODEL = "/models/<name>"
VERSION = "/models/<name>/versions/<version>"


@bp.errorhandler(V2Error)
def protocol_error(error: V2Error):
    return _error(str(error), error.status)


@bp.errorhandler(ImageInputError)
def image_error(error: ImageInputError):
    return api_error(image_api_error(error))


@bp.errorhandler(ApiError)
def api_error(error: ApiError):
    return _error(error.detail, error.status)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    return _error(str(error.description), error.code or 400)


def _error(message: str, status: int):
    response = jsonify({"error": message})
    response.status_code = status
    return response


@bp.get("")
def server_metadata():
    """The server's name, version and protocol extensions."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("regserve")
    except PackageNotFoundError:
        ours = "unknown"
    return jsonify({"name": "regserve", "version": ours, "extensions": EXTENSIONS})


@bp.get("/health/live")
def live():
    """The process answers."""
    return jsonify({"live": True})


@bp.get("/health/ready")
def ready():
    """200 once a model serves; 503 while none does."""
    snapshot = current_state().registry.snapshot
    is_ready = bool(snapshot.variants) and snapshot.engine is not None
    response = jsonify({"ready": is_ready})
    response.status_code = 200 if is_ready else 503
    return response


@bp.get(MODEL)
@bp.get(VERSION)
def model_metadata(name: str, version: str | None = None):
    """The model's versions, inputs and outputs (names, datatypes, shapes; -1 is the batch)."""
    snapshot = current_state().registry.snapshot
    _, variant = _model(snapshot, name, version)
    return jsonify({
        "name": name,
        "versions": [str(v.version) for v in snapshot.versions_of(name)],
        "platform": variant.model.platform,
        "inputs": [
            {"name": SERVING_INPUT, "datatype": "FP32", "shape": [-1, *INPUT_SHAPE]},
            {"name": IMAGE_BYTES_INPUT, "datatype": "BYTES", "shape": [-1]},
        ],
        "outputs": [{"name": n, "datatype": d, "shape": [-1, *s]}
                    for n, d, s in output_specs(variant)],
    })


@bp.get(MODEL + "/ready")
@bp.get(VERSION + "/ready")
def model_ready(name: str, version: str | None = None):
    """200 when the model (version) is loaded and serving; 404 otherwise."""
    _model(current_state().registry.snapshot, name, version)
    return jsonify({"name": name, "ready": True})


@bp.post(MODEL + "/infer")
@bp.post(VERSION + "/infer")
def infer(name: str, version: str | None = None):
    """Run one model (version) on a batch: FP32 ``image`` or BYTES ``image_bytes``."""
    state = current_state()
    snapshot = state.registry.snapshot  # this request keeps this model set, even over a reload
    key, variant = _model(snapshot, name, version)
    specs = output_specs(variant)
    with state.batcher.ticket() as ticket:
        parsed = parse_request(read_body(request), request.headers.get(HEADER_LENGTH))
        wanted = _check_outputs(parsed, specs)
        images = model_images(parsed.inputs, state.settings)
        outputs = ticket.run(snapshot.engine, [key], images)[key]
    state.metrics.predictions.labels(key).inc(len(images))
    tensors = [_tensor(output, outputs, variant, parsed.binary_output) for output in wanted]
    header = {"model_name": name, "model_version": str(variant.version)}
    if parsed.id is not None:
        header["id"] = parsed.id
    body, headers = encode_response(header, tensors)
    return Response(body, status=200, headers=headers)


@bp.post("/repository/index")
def repository_index():
    """Every version on disk of the variants considered: READY, or UNAVAILABLE and why."""
    body = read_body(request)
    try:
        options = json.loads(body) if body.strip() else {}
    except (ValueError, RecursionError) as error:
        raise V2Error(f"the body is not valid JSON: {error}") from None
    if not isinstance(options, dict) or not isinstance(options.get("ready", False), bool):
        raise V2Error("the body must be an object; 'ready', if given, true or false")
    state = current_state()
    snapshot, policy = state.registry.snapshot, state.registry.version_policy
    entries = []
    for name, on_disk in snapshot.on_disk.items():
        loaded = {v.version for v in snapshot.versions_of(name)}
        failures = {f.version: f.error for f in snapshot.failed.values() if f.name == name}
        for number in on_disk:
            entry = {"name": name, "version": str(number),
                     "state": "READY" if number in loaded else "UNAVAILABLE"}
            if number not in loaded:
                entry["reason"] = failures.get(number, f"not loaded (version policy {policy})")
            entries.append(entry)
    if options.get("ready"):
        entries = [entry for entry in entries if entry["state"] == "READY"]
    return jsonify(entries)


def _model(snapshot: Snapshot, name: str, version: str | None) -> tuple[str, LoadedVariant]:
    """The engine's key and the loaded variant for a model name and optional version."""
    if snapshot.engine is None or name not in snapshot.variants:
        loaded = ", ".join(snapshot.variants) or "(none loaded)"
        raise V2Error(f"unknown model {name!r}; loaded models: {loaded}", 404)
    if version is None:
        return name, snapshot.variants[name]
    key = version_key(name, int(version)) if version.isdigit() else f"{name}@{version}"
    resolved = snapshot.resolve(key)
    if resolved is None:
        versions = ", ".join(str(v.version) for v in snapshot.versions_of(name))
        raise V2Error(missing_version(snapshot, key) or f"no version {version!r} of {name}; "
                      f"versions: {versions}", 404)
    return resolved


def output_specs(variant: LoadedVariant) -> list[tuple[str, str, list[int]]]:
    """(name, datatype, shape without the batch) of each serving output, probabilities first."""
    specs = variant.model.output_specs()
    ordered = sorted(specs, key=lambda spec: (spec[0] != SERVING_PROBABILITIES, spec[0]))
    return [(name, DATATYPES.get(dtype, "FP32"), shape) for name, dtype, shape in ordered]


def model_images(inputs: list[InputTensor], settings: ServerSettings) -> np.ndarray:
    """The batch as float32 ``(B, 28, 28, 1)`` in [0, 1], from ``image`` or ``image_bytes``
    (through the server's image intake, like every upload)."""
    names = [tensor.name for tensor in inputs]
    if len(inputs) != 1 or names[0] not in (SERVING_INPUT, IMAGE_BYTES_INPUT):
        raise V2Error(f"send exactly one input, {SERVING_INPUT!r} (FP32 [B,28,28,1] in [0, 1]) "
                      f"or {IMAGE_BYTES_INPUT!r} (BYTES [B], encoded images); got {names}")
    tensor = inputs[0]
    batch = tensor.shape[0] if tensor.shape else 0
    if not 1 <= batch <= MAX_BATCH_IMAGES:
        raise V2Error(f"the batch must hold 1 to {MAX_BATCH_IMAGES} images, got {batch}")
    if tensor.name == IMAGE_BYTES_INPUT:
        if tensor.datatype != "BYTES" or len(tensor.data) != batch:
            raise V2Error(f"{IMAGE_BYTES_INPUT!r} must be BYTES with shape [B] (or [B, 1])")
        return to_model_input(read_images(tensor.data, settings))
    expected = [batch, *INPUT_SHAPE]
    if tensor.datatype != "FP32" or list(tensor.shape) != expected:
        raise V2Error(f"{SERVING_INPUT!r} must be FP32 with shape {expected}, "
                      f"got {tensor.datatype} {list(tensor.shape)}")
    images = tensor.data.reshape(expected)
    if not (np.all(np.isfinite(images)) and images.min() >= 0.0 and images.max() <= 1.0):
        raise V2Error(f"{SERVING_INPUT!r} values must lie in [0, 1] (white ink on black)")
    return np.ascontiguousarray(images, dtype=np.float32)


def _check_outputs(parsed: InferRequest, specs: list) -> list:
    available = [name for name, _, _ in specs]
    if parsed.outputs is None:
        return [_Default(name) for name in available]
    unknown = [output.name for output in parsed.outputs if output.name not in available]
    if unknown:
        raise V2Error(f"unknown output(s) {unknown}; the model has {available}")
    for output in parsed.outputs:
        if output.classification and (output.name != SERVING_PROBABILITIES
                                      or output.classification > len(_classes(specs))):
            raise V2Error(f"classification works on {SERVING_PROBABILITIES!r} only, with 1 to "
                          f"{len(_classes(specs))} classes")
    return parsed.outputs


class _Default:
    """An output nobody asked for by name: every output is returned with default settings."""

    binary, classification = None, 0

    def __init__(self, name: str) -> None:
        self.name = name


def _classes(specs: list) -> range:
    return range(next(shape[0] for name, _, shape in specs if name == SERVING_PROBABILITIES))


def _tensor(output, values: dict, variant: LoadedVariant, binary_default: bool) -> OutputTensor:
    binary = binary_default if output.binary is None else output.binary
    array = np.asarray(values[output.name])
    if output.classification:
        order = np.argsort(-array, axis=1, kind="stable")[:, : output.classification]
        items = [f"{array[row, i]:f}:{int(i)}:{variant.labels[int(i)]}".encode()
                 for row in range(len(array)) for i in order[row]]
        return OutputTensor(output.name, "BYTES", order.shape, items, binary)
    datatype = DATATYPES.get(array.dtype.name, "FP32")
    return OutputTensor(output.name, datatype, array.shape,
                        array.astype(NUMPY_TYPES[datatype]), binary)
