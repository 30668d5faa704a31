"""TensorFlow as the runtime: a version's SavedModel, and fused tf.functions over the variants.

Imported only when a server serves SavedModels (``REGSERVE_RUNTIME=tensorflow``, or ``auto``
with a version that has no ONNX twin); TensorFlow itself is imported on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from regserve_contracts.signature import (
    ACTIVATIONS_SIGNATURE_KEY,
    FEATURE_MAP_LAYERS,
    INPUT_SHAPE,
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    SIGNATURE_KEY,
    feature_map_output,
    kernel_variable,
)
from regserve_contracts.tensorflow_log import import_tensorflow
from server.runtime.engine import Fused, Outputs, SubsetEngine

log = logging.getLogger(__name__)
RUNTIME = "tensorflow"
#: What V2's model metadata calls this runtime (Triton's platform name).
PLATFORM = "tensorflow_savedmodel"


def configure_tensorflow(intra_op_threads: int, inter_op_threads: int) -> None:
    """Size TensorFlow's thread pools (0 keeps its default); only possible before its first op."""
    import_tensorflow()  # first, so TensorFlow's GPU probe noise stays out of the log
    import tensorflow as tf

    try:
        if intra_op_threads:
            tf.config.threading.set_intra_op_parallelism_threads(int(intra_op_threads))
        if inter_op_threads:
            tf.config.threading.set_inter_op_parallelism_threads(int(inter_op_threads))
    except RuntimeError:
        # TensorFlow was already running in this process (e.g. a test that trained models).
        log.warning("TensorFlow is already initialised; its thread pool sizes stay as they are")


def input_spec():
    """The serving signature's input: float32 (batch, 28, 28, 1) in [0, 1]."""
    import tensorflow as tf

    return tf.TensorSpec([None, *INPUT_SHAPE], tf.float32, name=SERVING_INPUT)


@dataclass(frozen=True)
class SavedModel:
    """One version's SavedModel: its serving signature, and the views drawn from it."""

    module: Any = field(repr=False)  # the loaded SavedModel; its variables die with it
    runtime = RUNTIME
    platform = PLATFORM

    @classmethod
    def load(cls, path: Path) -> SavedModel:
        import tensorflow as tf

        return cls(tf.saved_model.load(str(path)))

    @property
    def signature(self):
        """The serving signature function."""
        return self.module.signatures[SIGNATURE_KEY]

    def probe(self) -> dict[str, np.ndarray]:
        """The serving outputs for one blank image (a load-time check)."""
        import tensorflow as tf

        outputs = self.signature(**{SERVING_INPUT: tf.zeros([1, *INPUT_SHAPE])})
        return {key: value.numpy() for key, value in outputs.items()}

    def output_specs(self) -> list[tuple[str, str, list[int]]]:
        """(name, numpy dtype name, shape without the batch) of each serving output."""
        specs = self.signature.structured_outputs
        return [(key, specs[key].dtype.name, [-1 if d is None else int(d)
                                              for d in list(specs[key].shape)[1:]])
                for key in specs]

    @property
    def has_feature_maps(self) -> bool:
        return ACTIVATIONS_SIGNATURE_KEY in self.module.signatures

    def feature_maps(self, batch: np.ndarray) -> dict[str, np.ndarray] | None:
        """Each conv layer's maps for the first image of ``batch``; None for an old export."""
        import tensorflow as tf

        signature = self.module.signatures.get(ACTIVATIONS_SIGNATURE_KEY)
        if signature is None:
            return None
        outputs = signature(**{SERVING_INPUT: tf.constant(batch[:1])})
        return {layer: outputs[feature_map_output(layer)].numpy()[0]
                for layer in FEATURE_MAP_LAYERS}

    def kernel(self, layer: str) -> np.ndarray | None:
        """``layer``'s kernel in Keras' layout (h, w, in, out), or None if it has none."""
        wanted = kernel_variable(layer)
        for variable in self.module.variables:
            if variable.name.split(":")[0] == wanted:
                return variable.numpy()
        return None


class FusedEngine(SubsetEngine):
    """Every requested variant in one TensorFlow call; one variant calls its own signature."""

    single_direct = True

    def __init__(self, functions: Mapping[str, Any], subset_cache: int = 16) -> None:
        self._functions = dict(functions)
        super().__init__({name: sorted(key for key in fn.structured_outputs
                                       if key != SERVING_PROBABILITIES)
                          for name, fn in self._functions.items()}, subset_cache)

    def _run_one(self, name: str, images: np.ndarray) -> Outputs:
        import tensorflow as tf

        raw = self._functions[name](**{SERVING_INPUT: tf.constant(images)})
        return {key: value.numpy() for key, value in raw.items()}

    def _build(self, names: tuple[str, ...]) -> Fused:
        """Trace one graph over ``names``; each variant's outputs packed into one (batch, k) tensor.

        Packing means one host copy per variant instead of one per output, which matters at
        hundreds of requests per second.
        """
        import tensorflow as tf

        def fused(image):
            packed = {}
            for name in names:
                outputs = self._functions[name](**{SERVING_INPUT: image})
                columns = [outputs[SERVING_PROBABILITIES]]
                columns += [outputs[key][:, tf.newaxis] for key in self._scalars[name]]
                packed[name] = tf.concat(columns, axis=1)
            return packed

        concrete = tf.function(fused).get_concrete_function(input_spec())
        return lambda images: {name: value.numpy()
                               for name, value in concrete(tf.constant(images)).items()}


def build_engine(models: Mapping[str, SavedModel], subset_cache: int) -> FusedEngine:
    """The fused engine over loaded SavedModels, keyed as the registry addresses them."""
    return FusedEngine({key: model.signature for key, model in models.items()}, subset_cache)
