"""Fused inference: one TensorFlow call runs every requested variant on the same input batch."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from regserve_contracts.labels import IMAGE_SIZE
from regserve_contracts.signature import INPUT_SHAPE, SERVING_INPUT, SERVING_PROBABILITIES

log = logging.getLogger(__name__)

#: A variant's outputs for a batch: output name -> array whose first axis is the batch.
Outputs = dict[str, np.ndarray]


def configure_tensorflow(intra_op_threads: int, inter_op_threads: int) -> None:
    """Size TensorFlow's thread pools (0 keeps its default); only possible before its first op."""
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


class FusedEngine:
    """Runs any subset of a fixed set of signature functions with one call into TensorFlow.

    The all-variant function is traced once, up front. A single variant calls its own
    signature. Other subsets get their own fused function, kept in a small LRU cache: tracing
    one costs about 80 ms, while computing variants that nobody asked for costs on every
    request. The trace runs in a background thread; until it is ready the all-variant function
    answers the subset, so a new subset never stalls the batch it arrives in.
    """

    def __init__(self, functions: Mapping[str, Callable], subset_cache: int = 16) -> None:
        self.names: tuple[str, ...] = tuple(functions)
        self._functions = dict(functions)
        self._scalars = {
            name: sorted(key for key in fn.structured_outputs if key != SERVING_PROBABILITIES)
            for name, fn in self._functions.items()
        }
        self._cache: OrderedDict[frozenset, Callable] = OrderedDict()
        self._cache_size = subset_cache
        self._lock = threading.Lock()
        self._tracing: set[frozenset] = set()  # subsets whose trace runs in the background
        self._all = self._build(self.names) if len(self.names) > 1 else None

    def run(self, images: np.ndarray, names: Sequence[str]) -> dict[str, Outputs]:
        """Outputs of each of ``names`` for ``images`` (float32, (batch, 28, 28, 1))."""
        import tensorflow as tf

        wanted = frozenset(names)
        if len(wanted) == 1:
            (name,) = wanted
            raw = self._functions[name](**{SERVING_INPUT: tf.constant(images)})
            return {name: {key: value.numpy() for key, value in raw.items()}}
        function = self._function_for(wanted)
        packed = (function or self._all)(tf.constant(images))
        return {name: self._unpack(name, packed[name].numpy()) for name in names}

    def warm_up(self, batch_sizes: Iterable[int]) -> None:
        """Run the all-variant function once per batch size, so no request pays first-call costs."""
        for size in batch_sizes:
            images = np.zeros((int(size), IMAGE_SIZE, IMAGE_SIZE, 1), dtype=np.float32)
            self.run(images, self.names)

    def _function_for(self, wanted: frozenset) -> Callable | None:
        """The fused function for ``wanted``; ``None`` (use the all-variant one) while tracing."""
        if self._all is not None and wanted == frozenset(self.names):
            return self._all
        with self._lock:
            function = self._cache.get(wanted)
            if function is not None:
                self._cache.move_to_end(wanted)
                return function
            if wanted not in self._tracing:
                self._tracing.add(wanted)
                threading.Thread(target=self._trace, args=(wanted,), daemon=True,
                                 name="subset-trace").start()
        return None

    def _trace(self, wanted: frozenset) -> None:
        try:
            function = self._build(tuple(name for name in self.names if name in wanted))
        except Exception:  # noqa: BLE001 - the all-variant function keeps answering this subset
            log.exception("tracing the fused function for %s failed", sorted(wanted))
            return
        with self._lock:
            self._cache[wanted] = function
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            self._tracing.discard(wanted)

    def ready_subsets(self) -> list[frozenset]:
        """The subsets that have a fused function of their own (for tests and diagnostics)."""
        with self._lock:
            return list(self._cache)

    def _build(self, names: tuple[str, ...]) -> Callable:
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

        return tf.function(fused).get_concrete_function(input_spec())

    def _unpack(self, name: str, packed: np.ndarray) -> Outputs:
        scalars = self._scalars[name]
        classes = packed.shape[1] - len(scalars)
        outputs = {SERVING_PROBABILITIES: packed[:, :classes]}
        for offset, key in enumerate(scalars):
            outputs[key] = packed[:, classes + offset]
        return outputs
