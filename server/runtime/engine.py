"""Fused inference, whatever the runtime: one call runs every requested variant on one batch."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from regserve_contracts.labels import IMAGE_SIZE
from regserve_contracts.signature import SERVING_PROBABILITIES

log = logging.getLogger(__name__)

#: A variant's outputs for a batch: output name -> array whose first axis is the batch.
Outputs = dict[str, np.ndarray]
#: A fused function: images -> each of its variants' outputs packed into one ``(batch, k)`` array.
Fused = Callable[[np.ndarray], Mapping[str, np.ndarray]]


class SubsetEngine:
    """Runs any subset of a fixed set of variants with one call into the runtime.

    The all-variant function is built once, up front. Other subsets get their own fused
    function, kept in a small LRU cache: building one costs tens of milliseconds, while
    computing variants that nobody asked for costs on every request. The build runs in a
    background thread; until it is ready the all-variant function answers the subset, so a new
    subset never stalls the batch it arrives in. Subclasses say how to build and call one.
    """

    #: Whether one variant alone is answered by :meth:`_run_one` rather than a fused function.
    single_direct = False

    def __init__(self, scalars: Mapping[str, Sequence[str]], subset_cache: int = 16) -> None:
        #: Per variant, its outputs besides the probabilities, in the packed columns' order.
        self.names: tuple[str, ...] = tuple(scalars)
        self._scalars = {name: list(keys) for name, keys in scalars.items()}
        self._cache: OrderedDict[frozenset, Fused] = OrderedDict()
        self._cache_size = subset_cache
        self._lock = threading.Lock()
        self._building: set[frozenset] = set()  # subsets whose build runs in the background
        needed = len(self.names) > 1 or not self.single_direct
        self._all = self._build(self.names) if needed else None

    def run(self, images: np.ndarray, names: Sequence[str]) -> dict[str, Outputs]:
        """Outputs of each of ``names`` for ``images`` (float32, (batch, 28, 28, 1))."""
        wanted = frozenset(names)
        if self.single_direct and len(wanted) == 1:
            (name,) = wanted
            return {name: self._run_one(name, images)}
        packed = self.run_packed(images, names)
        return {name: self.unpack(name, packed[name]) for name in names}

    def run_packed(self, images: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
        """Each of ``names``' outputs for ``images`` packed into one ``(batch, classes + k)``
        array: the probabilities, then one column per name of :meth:`columns`, in that order.

        What the micro-batcher hands on: one slice per variant and request, not one per output.
        """
        wanted = frozenset(names)
        if self.single_direct and len(wanted) == 1:
            (name,) = wanted
            outputs = self._run_one(name, images)
            return {name: np.column_stack([outputs[SERVING_PROBABILITIES],
                                           *(outputs[key] for key in self._scalars[name])])}
        function = self._function_for(wanted)
        packed = (function or self._all)(images)
        return {name: packed[name] for name in names}

    def columns(self, name: str) -> list[str]:
        """The outputs after the probabilities in ``name``'s packed array, in column order."""
        return self._scalars[name]

    def unpack(self, name: str, packed: np.ndarray) -> Outputs:
        """``name``'s packed array (see :meth:`run_packed`) as one array per output."""
        scalars = self._scalars[name]
        classes = packed.shape[1] - len(scalars)
        outputs = {SERVING_PROBABILITIES: packed[:, :classes]}
        for offset, key in enumerate(scalars):
            outputs[key] = packed[:, classes + offset]
        return outputs

    def warm_up(self, batch_sizes: Iterable[int]) -> None:
        """Run the all-variant function once per batch size, so no request pays first-call costs."""
        for size in batch_sizes:
            images = np.zeros((int(size), IMAGE_SIZE, IMAGE_SIZE, 1), dtype=np.float32)
            self.run(images, self.names)

    def ready_subsets(self) -> list[frozenset]:
        """The subsets that have a fused function of their own (for tests and diagnostics)."""
        with self._lock:
            return list(self._cache)

    def _build(self, names: tuple[str, ...]) -> Fused:
        raise NotImplementedError

    def _run_one(self, name: str, images: np.ndarray) -> Outputs:
        raise NotImplementedError

    def _function_for(self, wanted: frozenset) -> Fused | None:
        """The fused function for ``wanted``; ``None`` (use the all-variant one) while building."""
        if self._all is not None and wanted == frozenset(self.names):
            return self._all
        with self._lock:
            function = self._cache.get(wanted)
            if function is not None:
                self._cache.move_to_end(wanted)
                return function
            if wanted not in self._building:
                self._building.add(wanted)
                # Not a daemon: a runtime torn down mid-build at exit aborts the process
                # (ONNX Runtime does), while waiting for a build costs at most a second.
                threading.Thread(target=self._build_subset, args=(wanted,),
                                 name="subset-build").start()
        return None

    def _build_subset(self, wanted: frozenset) -> None:
        try:
            function = self._build(tuple(name for name in self.names if name in wanted))
        except Exception:  # noqa: BLE001 - the all-variant function keeps answering this subset
            log.exception("building the fused function for %s failed", sorted(wanted))
            return
        with self._lock:
            self._cache[wanted] = function
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            self._building.discard(wanted)
