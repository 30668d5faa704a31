"""ONNX Runtime serves what TensorFlow served: the same answers on real characters, the same
views; which runtime serves, and what a version without its twin is told."""

from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from regserve_contracts import layout
from regserve_contracts.signature import (
    ACTIVATION_LAYERS,
    ACTIVATIONS_SIGNATURE_KEY,
    FEATURE_MAP_LAYERS,
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    SIGNATURE_KEY,
    bias_variable,
    kernel_variable,
    mean_output,
    to_model_input,
    zero_fraction_output,
)
from regserve_contracts.variants import VARIANT_NAMES
from server.runtime import loading
from server.runtime.loading import RuntimeOptions
from server.runtime.registry import ModelRegistry
from server.state import EXTENSION
from tests.support.models import copy_models, publish_version

TOLERANCE = 1e-5
CHARACTERS = 200


def savedmodel_outputs(version: Path, images: np.ndarray) -> tuple[dict, dict, dict]:
    """Plain TensorFlow on the SavedModel: serving outputs, feature maps, variables."""
    import tensorflow as tf

    module = tf.saved_model.load(str(version))
    batch = tf.constant(images)
    serving = {k: v.numpy() for k, v in module.signatures[SIGNATURE_KEY](
        **{SERVING_INPUT: batch}).items()}
    maps = {k: v.numpy() for k, v in module.signatures[ACTIVATIONS_SIGNATURE_KEY](
        **{SERVING_INPUT: batch}).items()}
    return serving, maps, {v.name.split(":")[0]: v.numpy() for v in module.variables}


def dense1_near_zero(conv2_maps: np.ndarray, variables: dict) -> np.ndarray:
    """Per image, dense1 units whose input to ReLU lies within the tolerance of zero, computed
    in float64 with numpy from TensorFlow's conv2 maps: 2x2 max pool, Keras' (NHWC) flatten."""
    batch, height, width, channels = conv2_maps.shape
    side = height // 2
    pooled = conv2_maps[:, :2 * side, :2 * side].reshape(batch, side, 2, side, 2, channels)
    flat = pooled.max(axis=(2, 4)).reshape(batch, -1).astype(np.float64)
    pre = flat @ variables[kernel_variable("dense1")] + variables[bias_variable("dense1")]
    return np.sum(np.abs(pre) <= TOLERANCE, axis=1)


@pytest.mark.slow
def test_on_200_real_characters_every_variant_answers_as_its_savedmodel(app, real_sample):
    """/predict on ONNX Runtime against each SavedModel called with plain TensorFlow, on 200
    real characters: probabilities, mean activations and feature maps within 1e-5; the zero
    fractions too, but for activations within 1e-5 of zero, which the two runtimes (summing
    in different orders) may put on either side: those are counted and allowed for."""
    client = app.test_client()
    pixels = real_sample["x_test"][:CHARACTERS]
    answers = [client.post("/predict?top=47", json={"pixels": image.tolist(),
                                                    "preprocessed": True}).get_json()
               for image in pixels]
    assert all(np.array_equal(a["input"]["pixels"], p) for a, p in zip(answers, pixels,
                                                                       strict=True))
    snapshot = app.extensions[EXTENSION].registry.snapshot
    assert snapshot.runtime == "onnx"
    images = to_model_input(pixels)
    borderline = 0
    for name, variant in snapshot.variants.items():
        expected, tf_maps, variables = savedmodel_outputs(
            layout.newest_version(Path(app.extensions[EXTENSION].settings.models_dir) / name),
            images)
        got = {key: np.zeros((CHARACTERS, *value.shape[1:])) for key, value in expected.items()}
        for row, answer in enumerate(answers):
            result = answer["variants"][name]
            for entry in result["top"]:
                got[SERVING_PROBABILITIES][row, entry["index"]] = entry["probability"]
            for layer in ACTIVATION_LAYERS:
                got[zero_fraction_output(layer)][row] = result["activation_sparsity"][layer]
                got[mean_output(layer)][row] = result["activation_mean"][layer]
        for key in [SERVING_PROBABILITIES, *map(mean_output, ACTIVATION_LAYERS)]:
            np.testing.assert_allclose(got[key], expected[key], atol=TOLERANCE, rtol=0,
                                       err_msg=f"{name}: {key}")
        # The served twin's own session, on the whole batch (the view asks for one image).
        ort_maps = dict(zip(FEATURE_MAP_LAYERS, variant.model.session.run(
            list(FEATURE_MAP_LAYERS), {SERVING_INPUT: images}), strict=True))
        for layer in FEATURE_MAP_LAYERS:
            ours = ort_maps[layer]
            np.testing.assert_allclose(ours, tf_maps[layer], atol=TOLERANCE, rtol=0,
                                       err_msg=f"{name}: {layer} maps")
            # A flip is an activation zero in one runtime and (within 1e-5 of zero) not in the
            # other; the zero fractions differ by exactly the flips' balance.
            size = ours[0].size
            balance = (np.sum(ours == 0, axis=(1, 2, 3)) - np.sum(tf_maps[layer] == 0,
                                                                   axis=(1, 2, 3))) / size
            borderline += int(np.sum((ours == 0) != (tf_maps[layer] == 0)))
            key = zero_fraction_output(layer)
            np.testing.assert_allclose(got[key] - expected[key], balance, atol=1e-6, rtol=0,
                                       err_msg=f"{name}: {key}")
        near = dense1_near_zero(tf_maps["conv2"], variables)
        key = zero_fraction_output("dense1")
        gap = np.abs(got[key] - expected[key])
        assert np.all(gap <= near / 256 + 1e-6), f"{name}: dense1 zero fraction"
        borderline += int(np.sum(gap > TOLERANCE))
    print(f"\n{CHARACTERS} characters x {len(snapshot.variants)} variants: "
          f"{borderline} activation(s) on the edge of zero flipped between the runtimes")


def mosaic(view: dict) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(view["png_base64"]))) as image:
        return np.asarray(image).astype(int)


def test_the_views_and_filter_grids_are_the_same_on_both_runtimes(app, tf_app, real_sample):
    """?include=activations,stability and every filters.png: ONNX Runtime's answers against
    TensorFlow's, for real characters (mosaics within one grey level: their scale is the max)."""
    ours, theirs = app.test_client(), tf_app.test_client()
    for image in real_sample["x_test"][200:204]:
        body = {"pixels": image.tolist(), "preprocessed": True}
        query = "/predict?include=activations,stability"
        a, b = (c.post(query, json=body).get_json()["variants"] for c in (ours, theirs))
        for name in VARIANT_NAMES:
            assert a[name]["stability"]["agreement"] == b[name]["stability"]["agreement"]
            assert a[name]["stability"]["mean_probability"] == pytest.approx(
                b[name]["stability"]["mean_probability"], abs=TOLERANCE)
            for layer in FEATURE_MAP_LAYERS:
                x, y = a[name]["activations"][layer], b[name]["activations"][layer]
                assert (x["shape"], x["silent_channels"]) == (y["shape"], y["silent_channels"])
                assert x["max"] == pytest.approx(y["max"], abs=TOLERANCE)
                assert np.abs(mosaic(x) - mosaic(y)).max() <= 1, (name, layer)
    for name in VARIANT_NAMES:
        grids = [c.get(f"/variants/{name}/filters.png").data for c in (ours, theirs)]
        assert grids[0] == grids[1], name
        assert ours.get(f"/variants/{name}").get_json()["feature_maps"] is True


@pytest.fixture
def models(models_dir, tmp_path) -> Path:
    return copy_models(models_dir, tmp_path / "models", ["none", "l2_activity"])


def strip_twin(version: Path) -> None:
    (version / layout.ONNX_FILE).unlink()


def test_auto_serves_the_twins_and_falls_back_to_tensorflow_when_one_is_missing(models):
    registry = ModelRegistry(models)
    registry.refresh()
    assert registry.snapshot.runtime == "onnx" and list(registry.snapshot.variants) == [
        "none", "l2_activity"]
    strip_twin(models / "none" / "1")
    fresh = ModelRegistry(models)
    fresh.refresh()
    assert fresh.snapshot.runtime == "tensorflow" and len(fresh.snapshot.variants) == 2
    assert all(v.runtime == "tensorflow" for v in fresh.snapshot.variants.values())


def test_a_version_without_its_twin_is_refused_with_one_line_naming_the_fix(models):
    """On ONNX Runtime: the backfill command and the extra that brings TensorFlow."""
    strip_twin(models / "none" / "1")
    registry = ModelRegistry(models, options=RuntimeOptions("onnx"))
    registry.refresh()
    assert list(registry.snapshot.variants) == ["l2_activity"]
    error = registry.snapshot.failed["none"].error
    assert "\n" not in error and f"no {layout.ONNX_FILE}" in error
    assert f"python -m trainer --onnx --models-dir {models}" in error
    assert "pip install 'regserve[serve-tf]'" in error


def test_without_tensorflow_auto_serves_the_twins_and_refuses_the_rest(models, monkeypatch):
    """A serving install (no TensorFlow): auto picks ONNX Runtime although a twin is missing."""
    real = loading.installed
    monkeypatch.setattr(loading, "installed", lambda runtime: runtime != "tensorflow"
                        and real(runtime))
    strip_twin(models / "none" / "1")
    registry = ModelRegistry(models)
    registry.refresh()
    assert registry.snapshot.runtime == "onnx" and list(registry.snapshot.variants) == [
        "l2_activity"]
    assert "python -m trainer --onnx" in registry.snapshot.failed["none"].error
    refused = ModelRegistry(models, options=RuntimeOptions("tensorflow"))
    refused.refresh()
    assert "TensorFlow is not installed" in refused.snapshot.failed["l2_activity"].error


def test_the_runtime_chosen_at_start_stays_over_hot_reload(models, tmp_path):
    """A version without its twin arriving later fails alone; the others stay on ONNX Runtime,
    and its twin arriving serves it."""
    registry = ModelRegistry(models)
    registry.refresh()
    source = models / "none" / "1"
    staged = tmp_path / "twinless"
    shutil.copytree(source, staged)
    strip_twin(staged)
    version = publish_version(models / "none", staged)
    registry.refresh()
    snapshot = registry.snapshot
    assert snapshot.runtime == "onnx" and snapshot.variants["none"].version == 1
    failure = snapshot.failed["none"]
    assert failure.version == int(version.name) and "--onnx" in failure.error
    shutil.copy2(source / layout.ONNX_FILE, version / layout.ONNX_FILE)
    registry.refresh()
    assert registry.snapshot.variants["none"].version == int(version.name)
    assert not registry.snapshot.failed


def test_a_gunicorn_worker_serving_twins_never_loads_tensorflow(live_server):
    """Neither gunicorn's master (its config, server.__main__'s settings) nor a worker maps a
    TensorFlow library when the runtime is ONNX Runtime."""
    ready = requests.get(f"{live_server.url}/readyz", timeout=30).json()
    assert ready["runtime"] == "onnx"
    for pid in [live_server.pid, *live_server.worker_pids()]:
        maps = Path(f"/proc/{pid}/maps").read_text()
        assert "onnxruntime" in maps or pid == live_server.pid
        assert "tensorflow" not in maps, pid
