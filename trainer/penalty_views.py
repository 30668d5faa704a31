"""What a penalty did, measured at export: weight histograms, pruning curve, feature maps."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from regserve_contracts import metadata as md
from regserve_contracts.signature import (
    ACTIVATIONS_SIGNATURE_KEY,
    FEATURE_MAP_LAYERS,
    INPUT_SHAPE,
    SERVING_INPUT,
    feature_map_output,
)

#: Bin edges of log10|w|, shared by every variant and layer so their histograms line up:
#: 1e-7 .. 1e1 in quarter decades. Non-zero weights outside fall into the end bins.
HISTOGRAM_EDGES: tuple[float, ...] = tuple(float(x) for x in np.linspace(-7.0, 1.0, 33))
#: Pruning thresholds: 0 (nothing removed: the model as exported), then 1e-5 .. 1e-1.
PRUNING_THRESHOLDS: tuple[float, ...] = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def weight_histogram(layers: dict[str, Sequence[np.ndarray]]) -> dict[str, dict]:
    """Per layer: counts of log10|w| in :data:`HISTOGRAM_EDGES`, exact zeros counted apart.

    ``layers`` maps a layer name to its weight arrays (kernel and bias); the counts plus the
    zeros add up to the layer's weight count.
    """
    edges = np.asarray(HISTOGRAM_EDGES)
    result = {}
    for name, arrays in layers.items():
        magnitudes = np.concatenate([np.abs(np.asarray(a, dtype=np.float64)).ravel()
                                     for a in arrays])
        nonzero = magnitudes[magnitudes != 0]
        # Clip into the outer bins: a weight of 1e-9 is "tiny", not "missing".
        logs = np.clip(np.log10(nonzero), edges[0], edges[-1])
        counts, _ = np.histogram(logs, bins=edges)
        result[name] = {"edges": list(HISTOGRAM_EDGES), "counts": [int(c) for c in counts],
                        "zeros": int(magnitudes.size - nonzero.size)}
    return result


def pruning_curve(model, layers: Sequence[str], evaluate: Callable[[], float],
                  thresholds: Sequence[float] = PRUNING_THRESHOLDS,
                  unpruned: float | None = None) -> list[dict[str, float]]:
    """Test accuracy after zeroing every weight of ``layers`` with |w| below each threshold.

    ``evaluate`` returns the model's test accuracy as it stands. The original weights are put
    back afterwards, so the model exported is the model trained. Threshold 0 removes nothing,
    so its accuracy is the model's own: ``unpruned`` when given (no pass is run again for it).
    """
    original = {name: model.get_layer(name).get_weights() for name in layers}
    total = sum(w.size for arrays in original.values() for w in arrays)
    curve = []
    try:
        for threshold in thresholds:
            removed = 0
            for name, arrays in original.items():
                kept = [np.where(np.abs(w) < threshold, 0, w).astype(w.dtype) for w in arrays]
                removed += sum(int(np.sum(np.abs(w) < threshold)) for w in arrays)
                model.get_layer(name).set_weights(kept)
            own = threshold == 0 and unpruned is not None
            curve.append({"threshold": float(threshold), "removed_share": removed / total,
                          "test_accuracy": float(unpruned if own else evaluate())})
    finally:
        for name, arrays in original.items():
            model.get_layer(name).set_weights(arrays)
    return curve


def add_feature_map_endpoint(archive, layer_outputs: Callable) -> None:
    """Add the ``activations`` signature: each conv layer's ReLU feature maps for the input.

    ``layer_outputs(image)`` returns ``{layer: tensor}`` for at least :data:`FEATURE_MAP_LAYERS`.
    """
    import tensorflow as tf

    def feature_maps(image):
        outputs = layer_outputs(image)
        return {feature_map_output(layer): outputs[layer] for layer in FEATURE_MAP_LAYERS}

    archive.add_endpoint(
        name=ACTIVATIONS_SIGNATURE_KEY,
        fn=feature_maps,
        input_signature=[tf.TensorSpec([None, *INPUT_SHAPE], tf.float32, name=SERVING_INPUT)],
    )


def export_views(model, layers: Sequence[str], evaluate: Callable[[], float],
                 unpruned: float | None = None) -> dict:
    """The metadata fields this module adds: ``weight_histogram`` and ``pruning``
    (``unpruned``: the model's own test accuracy, threshold 0's)."""
    return {
        md.WEIGHT_HISTOGRAM: weight_histogram(
            {name: model.get_layer(name).get_weights() for name in layers}),
        md.PRUNING: pruning_curve(model, layers, evaluate, unpruned=unpruned),
    }
