"""NVIDIA's own Triton HTTP client (tritonclient[http]) against the real gunicorn server."""

from __future__ import annotations

import numpy as np
import pytest
import requests

from benchmarks.drawing import draw, encode
from regserve_contracts.emnist_form import preprocess_bytes
from regserve_contracts.labels import NUM_CLASSES, char_to_label
from regserve_contracts.signature import (
    ACTIVATION_LAYERS,
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    mean_output,
    to_model_input,
    zero_fraction_output,
)
from regserve_contracts.variants import VARIANT_NAMES

httpclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402

pytestmark = pytest.mark.slow
CHARACTERS = "A7Kt"


@pytest.fixture(scope="module")
def triton(live_server):
    client = httpclient.InferenceServerClient(live_server.url.removeprefix("http://"))
    yield client
    client.close()


@pytest.fixture(scope="module")
def characters(request) -> tuple[np.ndarray, list[bytes]]:
    """Four characters as uint8 28x28 and as PNG files: real EMNIST when the sample is here."""
    try:
        sample = request.getfixturevalue("real_sample")
    except pytest.skip.Exception:
        pngs = [encode(draw(shape)) for shape in "ALTO"]
        return np.stack([preprocess_bytes(png) for png in pngs]), pngs
    indices = [int(np.flatnonzero(sample["y_test"] == char_to_label(c))[0]) for c in CHARACTERS]
    pixels = sample["x_test"][indices]
    from PIL import Image

    pngs = []
    for image in pixels:
        import io

        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    return pixels, pngs


def predict_rows(url: str, pixels: np.ndarray) -> np.ndarray:
    """/predict's full 47 probabilities for each 28x28 image sent as preprocessed pixels."""
    rows = []
    for image in pixels:
        answer = requests.post(f"{url}/predict?variant=none&top={NUM_CLASSES}", timeout=30,
                               json={"pixels": image.tolist(), "preprocessed": True}).json()
        row = np.zeros(NUM_CLASSES)
        for entry in answer["variants"]["none"]["top"]:
            row[entry["index"]] = entry["probability"]
        rows.append(row)
    return np.array(rows)


def test_the_server_is_live_and_ready_and_describes_itself(triton):
    assert triton.is_server_live() and triton.is_server_ready()
    assert triton.get_server_metadata()["name"] == "regserve"
    assert triton.is_model_ready("none")
    assert not triton.is_model_ready("no_such_model")


def test_the_repository_index_lists_every_variant_ready(triton):
    index = triton.get_model_repository_index()
    assert {entry["name"] for entry in index if entry["state"] == "READY"} == set(VARIANT_NAMES)


def test_model_metadata_names_the_inputs_and_outputs(triton):
    meta = triton.get_model_metadata("l2_activity")
    assert meta["name"] == "l2_activity" and meta["versions"]
    inputs = {tensor["name"]: tensor for tensor in meta["inputs"]}
    assert inputs[SERVING_INPUT]["datatype"] == "FP32"
    assert inputs[SERVING_INPUT]["shape"] == ["-1", "28", "28", "1"] or (
        inputs[SERVING_INPUT]["shape"] == [-1, 28, 28, 1])
    names = {tensor["name"] for tensor in meta["outputs"]}
    assert {SERVING_PROBABILITIES, *map(zero_fraction_output, ACTIVATION_LAYERS),
            *map(mean_output, ACTIVATION_LAYERS)} <= names


def test_fp32_infer_on_four_characters_equals_predict(triton, live_server, characters):
    """A batch of 4: 4x47 probabilities equal (1e-5) to /predict's for the same pixels."""
    pixels, _ = characters
    image = httpclient.InferInput(SERVING_INPUT, [4, 28, 28, 1], "FP32")
    image.set_data_from_numpy(to_model_input(pixels))  # binary tensor data, the client's default
    result = triton.infer("none", [image])
    probabilities = result.as_numpy(SERVING_PROBABILITIES)
    assert probabilities.shape == (4, NUM_CLASSES)
    np.testing.assert_allclose(probabilities, predict_rows(live_server.url, pixels), atol=1e-5)
    for layer in ACTIVATION_LAYERS:
        zeros = result.as_numpy(zero_fraction_output(layer))
        assert zeros.shape == (4,) and np.all((zeros >= 0) & (zeros <= 1))


def test_bytes_input_and_requested_outputs_in_json(triton, characters):
    """Encoded PNGs as BYTES; only the requested outputs come back, here as JSON."""
    pixels, pngs = characters
    files = httpclient.InferInput("image_bytes", [4], "BYTES")
    files.set_data_from_numpy(np.array(pngs, dtype=np.object_))
    wanted = [httpclient.InferRequestedOutput(SERVING_PROBABILITIES, binary_data=False),
              httpclient.InferRequestedOutput(zero_fraction_output("dense1"), binary_data=True)]
    result = triton.infer("none", [files], outputs=wanted, request_id="bytes-1")
    response = result.get_response()
    assert response["id"] == "bytes-1"
    assert [output["name"] for output in response["outputs"]] == [
        SERVING_PROBABILITIES, zero_fraction_output("dense1")]
    assert result.as_numpy(mean_output("conv1")) is None
    image = httpclient.InferInput(SERVING_INPUT, [4, 28, 28, 1], "FP32")
    image.set_data_from_numpy(to_model_input(np.stack([preprocess_bytes(p) for p in pngs])))
    reference = triton.infer("none", [image]).as_numpy(SERVING_PROBABILITIES)
    np.testing.assert_allclose(result.as_numpy(SERVING_PROBABILITIES), reference, atol=1e-6)


def test_classification_output_gives_the_top_labels(triton, characters):
    pixels, _ = characters
    image = httpclient.InferInput(SERVING_INPUT, [4, 28, 28, 1], "FP32")
    image.set_data_from_numpy(to_model_input(pixels))
    top = httpclient.InferRequestedOutput(SERVING_PROBABILITIES, class_count=2)
    classes = triton.infer("none", [image], outputs=[top]).as_numpy(SERVING_PROBABILITIES)
    assert classes.shape == (4, 2)
    full = triton.infer("none", [image]).as_numpy(SERVING_PROBABILITIES)
    for row, entries in zip(full, classes, strict=True):
        indices = [int(entry.decode().split(":")[1]) for entry in entries]
        assert indices == list(np.argsort(-row, kind="stable")[:2])


def test_a_bad_request_raises_the_servers_error_message(triton):
    wrong = httpclient.InferInput(SERVING_INPUT, [1, 28, 28], "FP32")
    wrong.set_data_from_numpy(np.zeros((1, 28, 28), dtype=np.float32))
    with pytest.raises(InferenceServerException, match=r"shape \[1, 28, 28, 1\]") as error:
        triton.infer("none", [wrong])
    assert error.value.status() == "400"
    with pytest.raises(InferenceServerException, match="unknown model"):
        triton.get_model_metadata("no_such_model")
