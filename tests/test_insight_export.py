"""What the trainer measures at export for the insight views, checked against the saved weights:
weight histograms, the pruning curve and the activations signature (tests/test_reports.py
expects the pruning chart among the report files)."""

from __future__ import annotations

import numpy as np
import pytest

from regserve_contracts import layout
from regserve_contracts.signature import (
    ACTIVATIONS_SIGNATURE_KEY,
    FEATURE_MAP_LAYERS,
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    SIGNATURE_KEY,
    feature_map_output,
    kernel_variable,
    to_model_input,
)
from trainer.model import PENALIZED_LAYERS
from trainer.penalty_views import HISTOGRAM_EDGES, PRUNING_THRESHOLDS

#: The variants checked one by one: no penalty, one that drives weights to zero, one that shrinks.
CHECKED = ("none", "l1_kernel_bias", "l2_kernel_bias")


def newest(models_dir, name):
    version_dir = layout.newest_version(models_dir / name)
    return version_dir, layout.read_metadata(version_dir)


def saved_weights(version_dir) -> dict[str, np.ndarray]:
    """Every variable of the SavedModel on disk, by name (``conv1/kernel`` ...)."""
    import tensorflow as tf

    module = tf.saved_model.load(str(version_dir))
    return {v.name.split(":")[0]: v.numpy() for v in module.variables}


def layer_weights(weights: dict[str, np.ndarray], layer: str) -> np.ndarray:
    return np.concatenate([weights[kernel_variable(layer)].ravel(),
                           weights[f"{layer}/bias"].ravel()])


@pytest.mark.parametrize("name", CHECKED)
def test_histogram_counts_add_up_and_match_numpy_on_the_saved_weights(models_dir, name):
    version_dir, metadata = newest(models_dir, name)
    weights = saved_weights(version_dir)
    histogram = metadata["weight_histogram"]
    assert list(histogram) == list(PENALIZED_LAYERS)
    for layer in PENALIZED_LAYERS:
        values = layer_weights(weights, layer)
        entry = histogram[layer]
        assert entry["edges"] == list(HISTOGRAM_EDGES)
        assert sum(entry["counts"]) + entry["zeros"] == values.size
        assert entry["zeros"] == int(np.count_nonzero(values == 0))
        # Independently: the bin of each log10|w| by digitize, outer values in the end bins.
        logs = np.log10(np.abs(values[values != 0].astype(np.float64)))
        bins = np.digitize(logs, np.asarray(HISTOGRAM_EDGES[1:-1]))
        expected = np.bincount(bins, minlength=len(HISTOGRAM_EDGES) - 1)
        assert entry["counts"] == expected.tolist(), layer
    total = sum(layer_weights(weights, layer).size for layer in PENALIZED_LAYERS)
    assert total == metadata["parameters"]


def test_every_variant_shares_the_same_bins(models_dir):
    edges = {tuple(entry["edges"])
             for variant_dir in layout.variant_dirs(models_dir)
             for entry in newest(models_dir, variant_dir.name)[1]["weight_histogram"].values()}
    assert edges == {HISTOGRAM_EDGES}


@pytest.mark.parametrize("name", CHECKED)
def test_pruning_at_threshold_zero_is_exactly_the_models_own_test_accuracy(models_dir, name):
    version_dir, metadata = newest(models_dir, name)
    curve = metadata["pruning"]
    assert [point["threshold"] for point in curve] == list(PRUNING_THRESHOLDS)
    assert curve[0]["removed_share"] == 0.0
    assert curve[0]["test_accuracy"] == metadata["test"]["accuracy"]
    # The removed shares, from the saved weights (which are the unpruned ones).
    weights = np.concatenate([layer_weights(saved_weights(version_dir), layer)
                              for layer in PENALIZED_LAYERS])
    for point in curve:
        assert point["removed_share"] == pytest.approx(
            np.mean(np.abs(weights) < point["threshold"]), abs=1e-12)


def test_the_pruning_curve_matches_the_saved_model_pruned_by_hand(models_dir):
    """Zero the SavedModel's variables below each threshold and score the test set directly."""
    import tensorflow as tf

    from trainer.data.synthetic import load_synthetic

    version_dir, metadata = newest(models_dir, "none")
    data = metadata["data"]
    if data.get("name") != "synthetic-offline" or data.get("test_size") != 94:
        pytest.skip("REGSERVE_TEST_MODELS_DIR holds models trained on other data")
    dataset = load_synthetic(train_size=data["train_size"], test_size=94, seed=0)
    images = tf.constant(to_model_input(dataset.x_test))
    module = tf.saved_model.load(str(version_dir))
    penalized = [v for v in module.variables if v.name.split("/")[0] in PENALIZED_LAYERS]
    original = [v.numpy() for v in penalized]
    for point in metadata["pruning"]:
        for variable, values in zip(penalized, original, strict=True):
            variable.assign(np.where(np.abs(values) < point["threshold"], 0, values))
        outputs = module.signatures[SIGNATURE_KEY](**{SERVING_INPUT: images})
        predicted = np.argmax(outputs[SERVING_PROBABILITIES].numpy(), axis=1)
        accuracy = float(np.mean(predicted == dataset.y_test))
        assert point["test_accuracy"] == pytest.approx(accuracy, abs=1e-6), point


def test_the_activations_signature_returns_each_conv_layers_feature_maps(models_dir):
    import tensorflow as tf

    module = tf.saved_model.load(str(newest(models_dir, "none")[0]))
    outputs = module.signatures[ACTIVATIONS_SIGNATURE_KEY](
        **{SERVING_INPUT: tf.zeros([2, 28, 28, 1])})
    shapes = {layer: tuple(outputs[feature_map_output(layer)].shape)
              for layer in FEATURE_MAP_LAYERS}
    assert shapes == {"conv1": (2, 26, 26, 32), "conv2": (2, 11, 11, 64)}
    assert all(np.min(outputs[name].numpy()) >= 0 for name in outputs)  # ReLU outputs

