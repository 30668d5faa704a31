"""Open Inference Protocol V2 in process: JSON and binary tensors, outputs, parameters, errors."""

from __future__ import annotations

import base64
import json
import struct

import numpy as np
import pytest

from benchmarks.drawing import draw, encode
from regserve_contracts.emnist_form import preprocess_bytes
from regserve_contracts.labels import NUM_CLASSES
from regserve_contracts.signature import (
    ACTIVATION_LAYERS,
    SERVING_PROBABILITIES,
    to_model_input,
    zero_fraction_output,
)
from server.v2.codec import HEADER_LENGTH

SHAPES = ("A", "L", "T", "O")


@pytest.fixture(scope="module")
def pngs() -> list[bytes]:
    return [encode(draw(shape)) for shape in SHAPES]


@pytest.fixture(scope="module")
def images(pngs) -> np.ndarray:
    """The four characters as the model sees them: float32 (4, 28, 28, 1)."""
    return to_model_input(np.stack([preprocess_bytes(png) for png in pngs]))


def predict_probabilities(client, images: np.ndarray, variant: str = "none") -> np.ndarray:
    """What /predict answers for each image's pixels, as full 47-class rows (top=47)."""
    rows = []
    for image in images:
        pixels = np.rint(image[..., 0] * 255).astype(int).tolist()
        body = client.post(f"/predict?variant={variant}&top={NUM_CLASSES}",
                           json={"pixels": pixels, "preprocessed": True}).get_json()
        row = np.zeros(NUM_CLASSES)
        for entry in body["variants"][variant]["top"]:
            row[entry["index"]] = entry["probability"]
        rows.append(row)
    return np.array(rows)


def infer(client, body: dict, path: str = "/v2/models/none/infer"):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def image_input(images: np.ndarray, nested: bool = False) -> dict:
    data = images.tolist() if nested else images.reshape(-1).tolist()
    return {"name": "image", "datatype": "FP32", "shape": list(images.shape), "data": data}


def test_json_infer_answers_the_same_probabilities_as_predict(runtime_client, images):
    """FP32 JSON input, flat or nested: 4x47 probabilities equal to /predict's for the pixels."""
    client = runtime_client
    expected = predict_probabilities(client, images)
    for nested in (False, True):
        answer = infer(client, {"id": "r1", "inputs": [image_input(images, nested)]})
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        assert body["id"] == "r1" and body["model_name"] == "none" and body["model_version"]
        outputs = {output["name"]: output for output in body["outputs"]}
        probabilities = outputs[SERVING_PROBABILITIES]
        assert probabilities["shape"] == [4, NUM_CLASSES] and probabilities["datatype"] == "FP32"
        got = np.array(probabilities["data"]).reshape(4, NUM_CLASSES)
        np.testing.assert_allclose(got, expected, atol=1e-5)
        for layer in ACTIVATION_LAYERS:
            assert outputs[zero_fraction_output(layer)]["shape"] == [4]


def test_image_bytes_go_through_the_usual_preprocessing(client, pngs, images):
    """BYTES input (base64 in JSON) gives what FP32 input of the preprocessed images gives."""
    encoded = [base64.b64encode(png).decode() for png in pngs]
    body = infer(client, {"inputs": [{"name": "image_bytes", "datatype": "BYTES",
                                      "shape": [4], "data": encoded}],
                          "outputs": [{"name": SERVING_PROBABILITIES}]}).get_json()
    reference = infer(client, {"inputs": [image_input(images)],
                               "outputs": [{"name": SERVING_PROBABILITIES}]}).get_json()
    assert [o["name"] for o in body["outputs"]] == [SERVING_PROBABILITIES]
    np.testing.assert_allclose(body["outputs"][0]["data"], reference["outputs"][0]["data"],
                               atol=1e-6)


def test_binary_tensors_in_and_out(client, images):
    """Triton's binary extension: raw FP32 input after the JSON header, raw FP32 output back."""
    raw = images.astype("<f4").tobytes()
    header = json.dumps({"inputs": [{"name": "image", "datatype": "FP32",
                                     "shape": list(images.shape),
                                     "parameters": {"binary_data_size": len(raw)}}],
                         "parameters": {"binary_data_output": True}}).encode()
    answer = client.post("/v2/models/none/infer", data=header + raw,
                         headers={HEADER_LENGTH: str(len(header))},
                         content_type="application/octet-stream")
    assert answer.status_code == 200
    length = int(answer.headers[HEADER_LENGTH])
    meta = json.loads(answer.data[:length])
    offset, found = length, {}
    for output in meta["outputs"]:
        size = output["parameters"]["binary_data_size"]
        found[output["name"]] = np.frombuffer(answer.data[offset:offset + size], "<f4")
        offset += size
    assert offset == len(answer.data)
    expected = infer(client, {"inputs": [image_input(images)]}).get_json()
    for output in expected["outputs"]:
        np.testing.assert_allclose(found[output["name"]], output["data"], atol=1e-6)


def test_classification_parameter_returns_the_top_labels(client, images):
    """Triton's classification extension: 'score:index:label' strings, best first."""
    body = infer(client, {"inputs": [image_input(images)], "outputs": [
        {"name": SERVING_PROBABILITIES, "parameters": {"classification": 3}}]}).get_json()
    output = body["outputs"][0]
    assert output["datatype"] == "BYTES" and output["shape"] == [4, 3]
    probabilities = predict_probabilities(client, images)
    for row, start in zip(probabilities, range(0, 12, 3), strict=True):
        entries = [item.split(":") for item in output["data"][start:start + 3]]
        assert [int(index) for _, index, _ in entries] == list(np.argsort(-row, kind="stable")[:3])
        assert float(entries[0][0]) == pytest.approx(row.max(), abs=1e-5)


PLATFORMS = {"onnx": "onnxruntime_onnx", "tensorflow": "tensorflow_savedmodel"}


def test_metadata_readiness_and_the_repository_index(runtime_client):
    """Server and model metadata, readiness, and every loaded version READY in the index; the
    platform names the runtime that serves (Triton's names)."""
    client = runtime_client
    assert client.get("/v2").get_json()["name"] == "regserve"
    assert client.get("/v2/health/live").get_json() == {"live": True}
    assert client.get("/v2/health/ready").status_code == 200
    meta = client.get("/v2/models/none").get_json()
    assert meta["platform"] == PLATFORMS[client.get("/readyz").get_json()["runtime"]]
    assert meta["inputs"][0] == {"name": "image", "datatype": "FP32", "shape": [-1, 28, 28, 1]}
    assert {"name": SERVING_PROBABILITIES, "datatype": "FP32",
            "shape": [-1, NUM_CLASSES]} in meta["outputs"]
    version = meta["versions"][-1]
    assert client.get(f"/v2/models/none/versions/{version}/ready").get_json()["ready"] is True
    index = client.post("/v2/repository/index").get_json()
    assert {"name": "none", "version": version, "state": "READY"} in index


@pytest.mark.parametrize("path, body, status, words", [
    ("/v2/models/nope/infer", {"inputs": []}, 404, "unknown model"),
    ("/v2/models/none/versions/99/infer", {"inputs": []}, 404, "no version 99 of none"),
    ("/v2/models/none/infer", {"inputs": []}, 400, "non-empty list"),
    ("/v2/models/none/infer", {"inputs": [{"name": "image", "datatype": "FP32",
                                           "shape": [1, 28, 28, 1], "data": [0.5] * 10}]},
     400, "elements"),
    ("/v2/models/none/infer", {"inputs": [{"name": "image", "datatype": "FP32",
                                           "shape": [1, 28, 28, 1], "data": [2.0] * 784}]},
     400, "[0, 1]"),
    ("/v2/models/none/infer", {"inputs": [{"name": "pixels", "datatype": "FP32",
                                           "shape": [1], "data": [0]}]}, 400, "exactly one"),
    ("/v2/models/none/infer", {"inputs": [{"name": "image_bytes", "datatype": "BYTES",
                                           "shape": [1], "data": ["bm90IGFuIGltYWdl"]}]},
     400, "image"),
    ("/v2/models/none/infer", {"inputs": [{"name": "image", "datatype": "FP32",
                                           "shape": [1, 28, 28, 1], "data": [0.0] * 784}],
                               "outputs": [{"name": "nope"}]}, 400, "unknown output"),
    ("/v2/models/none/infer", {"inputs": [{"name": "image", "datatype": "FP32",
                                           "shape": [1, 28, 28, 1], "data": [0.0] * 784}],
                               "parameters": {"nested": {"no": 1}}}, 400, "parameters"),
])
def test_bad_requests_get_a_4xx_with_an_error_message(client, path, body, status, words):
    """Every protocol error is {"error": message} with a 4xx, never a 500."""
    answer = infer(client, body, path)
    assert answer.status_code == status
    assert set(answer.get_json()) == {"error"} and words in answer.get_json()["error"]


def test_a_body_that_is_not_json_or_lies_about_its_binary_part_is_refused(client):
    for data, headers in [(b"{nope", {}), (b"{}" + struct.pack("<I", 4), {HEADER_LENGTH: "2"}),
                          (b"{}", {HEADER_LENGTH: "99"})]:
        answer = client.post("/v2/models/none/infer", data=data, headers=headers,
                             content_type="application/octet-stream")
        assert answer.status_code == 400 and "error" in answer.get_json()


def test_the_openapi_document_with_the_v2_routes_is_valid_openapi():
    """openapi-spec-validator (a validator nobody here wrote) accepts the whole document."""
    validator = pytest.importorskip("openapi_spec_validator")
    from server.routes.openapi import DOCUMENT

    assert any(path.startswith("/v2/") for path in DOCUMENT["paths"])
    validator.validate(json.loads(json.dumps(DOCUMENT)))


def _image(**changes) -> dict:
    return {"name": "image", "datatype": "FP32", "shape": [1, 28, 28, 1], "data": [0.0] * 784,
            **changes}


DEEP = "[" * 5000 + "]" * 5000
HOSTILE = {
    "empty": b"", "null": b"null", "a list": b"[]", "deep nesting": DEEP.encode(),
    "inputs not a list": b'{"inputs": {}}',
    "huge shape": {"inputs": [_image(shape=[10**12, 28, 28, 1])]},
    "shape past 64 bits": {"inputs": [_image(shape=[2**64, 28, 28, 1])]},
    "strings as FP32": {"inputs": [_image(data=["x"] * 784)]},
    "nulls as FP32": {"inputs": [_image(data=[None] * 784)]},
    "booleans as FP32": {"inputs": [_image(data=[True] * 784)]},
    "NaN": b'{"inputs": [{"name": "image", "datatype": "FP32", "shape": [1, 28, 28, 1], '
           b'"data": [NaN]}]}',
    "UINT8 image": {"inputs": [_image(datatype="UINT8")]},
    "empty batch": {"inputs": [_image(shape=[0, 28, 28, 1], data=[])]},
    "scalar shape": {"inputs": [_image(shape=[], data=[0.5])]},
    "two images": {"inputs": [_image(), _image()]},
    "BYTES not strings": {"inputs": [{"name": "image_bytes", "datatype": "BYTES", "shape": [1],
                                      "data": [123]}]},
    "id not a string": {"id": 5, "inputs": [_image()]},
    "classification beyond 47": {"inputs": [_image()], "outputs": [
        {"name": SERVING_PROBABILITIES, "parameters": {"classification": 99}}]},
    "classification of a statistic": {"inputs": [_image()], "outputs": [
        {"name": zero_fraction_output("conv1"), "parameters": {"classification": 2}}]},
    "outputs not a list": {"inputs": [_image()], "outputs": "all"},
}
BINARY = {
    "BYTES length past the end": ({"name": "image_bytes", "datatype": "BYTES", "shape": [1]},
                                  struct.pack("<I", 100) + b"abcd"),
    "BYTES cut in its length": ({"name": "image_bytes", "datatype": "BYTES", "shape": [1]}, b"ab"),
    "FP32 wrong size": ({"name": "image", "datatype": "FP32", "shape": [1, 28, 28, 1]}, b"ab"),
    "FP32 NaN bytes": ({"name": "image", "datatype": "FP32", "shape": [1, 28, 28, 1]},
                       b"\xff" * 3136),
    "truncated GIF": ({"name": "image_bytes", "datatype": "BYTES", "shape": [1]},
                      struct.pack("<I", 5) + b"GIF89"),
}


@pytest.mark.parametrize("case", list(HOSTILE) + list(BINARY))
def test_hostile_bodies_get_a_4xx_error_never_a_500(client, case):
    if case in HOSTILE:
        body = HOSTILE[case]
        data, headers = (body if isinstance(body, bytes) else json.dumps(body).encode()), {}
    else:
        tensor, raw = BINARY[case]
        header = json.dumps({"inputs": [{**tensor, "parameters": {
            "binary_data_size": len(raw)}}]}).encode()
        data, headers = header + raw, {HEADER_LENGTH: str(len(header))}
    answer = client.post("/v2/models/none/infer", data=data, headers=headers,
                         content_type="application/json")
    assert 400 <= answer.status_code < 500 and set(answer.get_json()) == {"error"}


def test_the_repository_index_refuses_a_bad_body_with_a_400(client):
    for body in (DEEP, "[]", '{"ready": "yes"}', "{"):
        answer = client.post("/v2/repository/index", data=body, content_type="application/json")
        assert answer.status_code == 400 and "error" in answer.get_json()
    ready = client.post("/v2/repository/index", json={"ready": True}).get_json()
    assert ready and all(entry["state"] == "READY" for entry in ready)


def test_a_v2_batch_runs_through_the_micro_batcher(app, client, images, monkeypatch):
    """The batch is one job of the micro-batcher (which joins it with concurrent requests)."""
    batcher = app.extensions["regserve"].batcher
    seen: list[int] = []
    monkeypatch.setattr(batcher, "on_batch", seen.append)
    assert infer(client, {"inputs": [image_input(images)]}).status_code == 200
    assert seen == [len(images)]
