"""The one CNN every variant shares, its weight sparsity, and its SavedModel serving signature."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainer.labels import IMAGE_SIZE, NUM_CLASSES
from trainer.variants import Variant

#: Layers whose ReLU outputs are measured for activation sparsity, in forward order.
ACTIVATION_LAYERS: tuple[str, ...] = ("conv1", "conv2", "dense1")
#: Layers that carry the penalty (every Conv2D/Dense layer), in forward order.
PENALIZED_LAYERS: tuple[str, ...] = ("conv1", "conv2", "dense1", "output")
#: |w| below each threshold counts as near zero; 0.0 means exactly zero.
SPARSITY_THRESHOLDS: tuple[float, ...] = (1e-2, 1e-3, 1e-4, 0.0)
#: Activations at or below this are counted as "off" (ReLU outputs exact zeros).
ACTIVATION_ZERO = 0.0
SERVING_INPUT = "image"
SERVING_PROBABILITIES = "probabilities"


def build_model(variant: Variant, dropout_rate: float = 0.25):
    """Build and compile the seed's CNN with ``variant``'s penalty on all four weighted layers."""
    import keras
    from keras import layers

    penalty = variant.layer_kwargs

    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name=SERVING_INPUT)
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
    model.compile(
        loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(), metrics=["accuracy"]
    )
    return model


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
            outputs[f"{name}_zero_fraction"] = tf.reduce_mean(
                tf.cast(flat <= ACTIVATION_ZERO, tf.float32), axis=1
            )
            outputs[f"{name}_mean"] = tf.reduce_mean(flat, axis=1)
        return outputs

    archive = keras.export.ExportArchive()
    archive.track(probe)
    archive.add_endpoint(
        name="serving_default",
        fn=serve,
        input_signature=[
            tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 1], tf.float32, name=SERVING_INPUT)
        ],
    )
    archive.write_out(str(path), verbose=False)
