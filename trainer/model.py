"""The one CNN every variant shares, its weight sparsity, and its SavedModel serving signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from regserve_contracts.labels import NUM_CLASSES
from regserve_contracts.metadata import LOSS, OPTIMIZER
from regserve_contracts.signature import (
    ACTIVATION_LAYERS,
    INPUT_SHAPE,
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    SIGNATURE_KEY,
    mean_output,
    zero_fraction_output,
)
from regserve_contracts.variants import Variant
from trainer.penalty_views import add_feature_map_endpoint

#: Layers that carry the penalty (every Conv2D/Dense layer), in forward order.
PENALIZED_LAYERS: tuple[str, ...] = ("conv1", "conv2", "dense1", "output")
#: |w| below each threshold counts as near zero; 0.0 means exactly zero.
SPARSITY_THRESHOLDS: tuple[float, ...] = (1e-2, 1e-3, 1e-4, 0.0)
#: Activations at or below this are counted as "off" (ReLU outputs exact zeros).
ACTIVATION_ZERO = 0.0


def build_model(variant: Variant, dropout_rate: float = 0.25):
    """Build and compile the original experiment's CNN, ``variant``'s penalty on all four
    weighted layers."""
    import keras
    from keras import layers

    def penalty():
        return regularizer_kwargs(variant)

    inputs = keras.Input(shape=INPUT_SHAPE, name=SERVING_INPUT)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1", **penalty())(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Dropout(dropout_rate, name="dropout1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2", **penalty())(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Dropout(dropout_rate, name="dropout2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, activation="relu", name="dense1", **penalty())(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="output", **penalty())(x)
    model = keras.Model(inputs, outputs, name=f"cnn_{variant.name}")
    # The names metadata.json records: "adam" is keras.optimizers.Adam() with its defaults.
    model.compile(loss=LOSS, optimizer=OPTIMIZER, metrics=["accuracy"])
    return model


def regularizer_kwargs(variant: Variant) -> dict[str, Any]:
    """Keras keyword arguments that attach ``variant``'s penalty to a Conv2D or Dense layer.

    Each call makes new regularizer objects, so no two layers share one.
    """
    if variant.penalty == "none":
        return {}
    from keras import regularizers

    def make():
        if variant.penalty == "l1":
            return regularizers.L1(variant.lam)
        if variant.penalty == "l2":
            return regularizers.L2(variant.lam)
        return regularizers.L1L2(l1=variant.lam, l2=variant.lam)

    if variant.where == "activity":
        return {"activity_regularizer": make()}
    return {"kernel_regularizer": make(), "bias_regularizer": make()}


def weight_sparsity(model) -> dict[str, dict[str, float]]:
    """Share of weights with |w| below each threshold, per penalized layer and overall.

    Keys are layer names plus ``"all"``; inner keys are ``"<1e-02"`` ... and ``"==0"``.
    """
    result: dict[str, dict[str, float]] = {}
    everything = []
    for name in PENALIZED_LAYERS:
        weights = np.concatenate([np.abs(w).ravel() for w in model.get_layer(name).get_weights()])
        everything.append(weights)
        result[name] = _shares(weights)
    result["all"] = _shares(np.concatenate(everything))
    return result


def _shares(magnitudes: np.ndarray) -> dict[str, float]:
    shares = {}
    for threshold in SPARSITY_THRESHOLDS:
        if threshold == 0:
            shares["==0"] = float(np.mean(magnitudes == 0))
        else:
            shares[f"<{threshold:.0e}"] = float(np.mean(magnitudes < threshold))
    return shares


def export_saved_model(model, path: Path) -> None:
    """Write ``model`` as a SavedModel whose ``serving_default`` signature serves the server.

    Input ``image``: float32 ``(batch, 28, 28, 1)`` in [0, 1]. Outputs: ``probabilities``
    ``(batch, 47)``, and per layer in :data:`ACTIVATION_LAYERS` ``<layer>_zero_fraction``
    (share of that example's activations that are exactly zero) and ``<layer>_mean``
    (mean activation), each ``(batch,)``. TensorFlow Serving can serve the folder as it is.
    A second signature, ``activations``, returns the conv layers' feature maps
    (trainer.penalty_views).
    """
    import keras
    import tensorflow as tf

    probe = keras.Model(
        model.inputs,
        [model.output] + [model.get_layer(name).output for name in ACTIVATION_LAYERS],
        name=f"{model.name}_probe",
    )

    def serve(image):
        probabilities, *activations = probe(image, training=False)
        outputs = {SERVING_PROBABILITIES: probabilities}
        for name, activation in zip(ACTIVATION_LAYERS, activations, strict=True):
            flat = tf.reshape(activation, [tf.shape(activation)[0], -1])
            outputs[zero_fraction_output(name)] = tf.reduce_mean(
                tf.cast(flat <= ACTIVATION_ZERO, tf.float32), axis=1
            )
            outputs[mean_output(name)] = tf.reduce_mean(flat, axis=1)
        return outputs

    archive = keras.export.ExportArchive()
    archive.track(probe)
    archive.add_endpoint(
        name=SIGNATURE_KEY,
        fn=serve,
        input_signature=[
            tf.TensorSpec([None, *INPUT_SHAPE], tf.float32, name=SERVING_INPUT)
        ],
    )
    add_feature_map_endpoint(archive, lambda image: dict(
        zip(ACTIVATION_LAYERS, probe(image, training=False)[1:], strict=True)))
    archive.write_out(str(path), verbose=False)
