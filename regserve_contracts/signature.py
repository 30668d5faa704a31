"""The SavedModel serving signature every exported variant has: names, input spec, scaling.

The trainer writes it, the server and the benchmarks call it; each imports these names rather
than retyping them (as TensorFlow Serving keeps ``DEFAULT_SERVING_SIGNATURE_DEF_KEY`` in one
constants module).
"""

from __future__ import annotations

import numpy as np

from regserve_contracts.labels import IMAGE_SIZE

#: The signature's key in the SavedModel (TensorFlow Serving's default).
SIGNATURE_KEY = "serving_default"
#: The input: float32 ``(batch, 28, 28, 1)`` in [0, 1].
SERVING_INPUT = "image"
INPUT_SHAPE: tuple[int, int, int] = (IMAGE_SIZE, IMAGE_SIZE, 1)
#: The class probabilities, ``(batch, 47)``.
SERVING_PROBABILITIES = "probabilities"
#: Layers whose ReLU outputs are measured for activation sparsity, in forward order.
ACTIVATION_LAYERS: tuple[str, ...] = ("conv1", "conv2", "dense1")
#: Per-layer outputs ``<layer><suffix>``, each ``(batch,)``: share of exact zeros, mean.
ZERO_FRACTION_SUFFIX = "_zero_fraction"
MEAN_SUFFIX = "_mean"
#: uint8 pixels become model input by division by this.
PIXEL_MAX = 255.0


def zero_fraction_output(layer: str) -> str:
    """The output name of ``layer``'s share of exactly-zero activations."""
    return f"{layer}{ZERO_FRACTION_SUFFIX}"


def mean_output(layer: str) -> str:
    """The output name of ``layer``'s mean activation."""
    return f"{layer}{MEAN_SUFFIX}"


def to_model_input(pixels: np.ndarray) -> np.ndarray:
    """uint8 ``(28, 28)`` or ``(batch, 28, 28)`` -> float32 ``(batch, 28, 28, 1)`` in [0, 1]."""
    images = np.asarray(pixels)
    if images.ndim == 2:
        images = images[np.newaxis]
    return (images.astype(np.float32) / PIXEL_MAX)[..., np.newaxis]


#: The second signature, written at export beside :data:`SIGNATURE_KEY`: the feature maps of
#: each layer in :data:`FEATURE_MAP_LAYERS` for the same input. Versions exported before it
#: existed lack it; the server then says the maps are not available.
ACTIVATIONS_SIGNATURE_KEY = "activations"
#: Conv layers whose ReLU outputs the activations signature returns, ``(batch, h, w, channels)``,
#: each under an output named after the layer.
FEATURE_MAP_LAYERS: tuple[str, ...] = ("conv1", "conv2")
#: The layer whose kernels the filter grid shows (``(3, 3, 1, 32)``).
FILTER_LAYER = "conv1"


def feature_map_output(layer: str) -> str:
    """The activations signature's output name for ``layer``'s feature maps."""
    return layer


def kernel_variable(layer: str) -> str:
    """The SavedModel variable holding ``layer``'s kernel (Keras names it ``<layer>/kernel``);
    the ONNX twin's initializer of the same name holds it in ONNX's layout (a conv kernel as
    out, in, h, w)."""
    return f"{layer}/kernel"


def bias_variable(layer: str) -> str:
    """The SavedModel variable holding ``layer``'s bias (Keras names it ``<layer>/bias``)."""
    return f"{layer}/bias"
