"""ONNX Runtime as the runtime: a version's ONNX twin, and merged graphs over the variants.

The variants' graphs are merged into one graph per served set (a shared input, each variant's
nodes under a prefix, its serving outputs packed into one ``(batch, k)`` output), so one
``InferenceSession.run`` computes every requested variant. ONNX Runtime computes every node of
a graph whatever outputs are fetched, so a subset gets a merged graph of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from regserve_contracts.signature import (
    ACTIVATION_LAYERS,
    FEATURE_MAP_LAYERS,
    INPUT_SHAPE,
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    feature_map_output,
    kernel_variable,
    mean_output,
    zero_fraction_output,
)
from server.runtime.engine import Fused, SubsetEngine

RUNTIME = "onnx"
#: What V2's model metadata calls this runtime (Triton's platform name).
PLATFORM = "onnxruntime_onnx"
#: The serving signature's outputs; the twin's other outputs are the feature maps.
SERVING_OUTPUTS: tuple[str, ...] = (SERVING_PROBABILITIES, *sorted(
    name for layer in ACTIVATION_LAYERS for name in (zero_fraction_output(layer),
                                                     mean_output(layer))))
_BUILD_LOCK = threading.Lock()
_ONNX_TYPES = {1: "float32", 11: "float64", 6: "int32", 7: "int64"}


def session(model, intra_op_threads: int = 1):
    """An ONNX Runtime session with the settings measured best for these graphs on CPU: one
    intra-op thread (two per session cost twice the CPU per image under load), sequential
    execution, every graph optimization (basic ones only: +35% CPU per image), and no memory
    arena: it kept its largest batch's buffers (about 10 MB per worker) at no measured gain in
    CPU per image. ``model`` is a ModelProto or its serialized bytes."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(intra_op_threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initializers are not the user's
    options.enable_cpu_mem_arena = False
    data = model if isinstance(model, bytes) else model.SerializeToString()
    return ort.InferenceSession(data, options,
                                providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class OnnxTwin:
    """One version's ONNX twin: its graph, its outputs for a blank image (the load-time check),
    and a session of its own for the feature maps, opened when first asked for: serving goes
    through the merged graph, and eight idle sessions would hold about 40 MB per worker."""

    model: Any = field(repr=False)  # onnx.ModelProto
    blank: dict[str, np.ndarray] = field(repr=False)
    intra_op_threads: int = 1
    _session: list = field(default_factory=list, repr=False, compare=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False, compare=False)
    runtime = RUNTIME
    platform = PLATFORM

    @classmethod
    def load(cls, path: Path, intra_op_threads: int = 1) -> OnnxTwin:
        """Read ``model.onnx`` and run it once on a blank image (raises if it cannot)."""
        import onnx

        model = onnx.load(str(path))
        names = {output.name for output in model.graph.output}
        missing = [name for name in SERVING_OUTPUTS if name not in names]
        if missing:
            raise ValueError(f"it has no output(s) {', '.join(missing)}")
        images = np.zeros((1, *INPUT_SHAPE), dtype=np.float32)
        values = session(model, intra_op_threads).run(list(SERVING_OUTPUTS),
                                                      {SERVING_INPUT: images})
        return cls(model, dict(zip(SERVING_OUTPUTS, values, strict=True)), intra_op_threads)

    def probe(self) -> dict[str, np.ndarray]:
        """The serving outputs for one blank image, as computed at load."""
        return dict(self.blank)

    @property
    def session(self):
        """This twin's own session (feature maps), opened on first use."""
        with self._lock:
            if not self._session:
                self._session.append(session(self.model, self.intra_op_threads))
            return self._session[0]

    def output_specs(self) -> list[tuple[str, str, list[int]]]:
        """(name, numpy dtype name, shape without the batch) of each serving output."""
        found = {output.name: output for output in self.model.graph.output}
        specs = []
        for name in SERVING_OUTPUTS:
            tensor = found[name].type.tensor_type
            shape = [dim.dim_value if dim.HasField("dim_value") else -1
                     for dim in tensor.shape.dim][1:]
            specs.append((name, _ONNX_TYPES.get(tensor.elem_type, "float32"), shape))
        return specs

    @property
    def has_feature_maps(self) -> bool:
        names = {output.name for output in self.model.graph.output}
        return all(feature_map_output(layer) in names for layer in FEATURE_MAP_LAYERS)

    def feature_maps(self, batch: np.ndarray) -> dict[str, np.ndarray] | None:
        """Each conv layer's maps for the first image of ``batch``, in Keras' (h, w, c) order."""
        if not self.has_feature_maps:
            return None
        names = [feature_map_output(layer) for layer in FEATURE_MAP_LAYERS]
        values = self.session.run(names, {SERVING_INPUT: np.ascontiguousarray(batch[:1])})
        return {layer: value[0] for layer, value in zip(FEATURE_MAP_LAYERS, values, strict=True)}

    def kernel(self, layer: str) -> np.ndarray | None:
        """``layer``'s kernel in Keras' layout (h, w, in, out), from the twin's (out, in, h, w)."""
        from onnx import numpy_helper

        wanted = kernel_variable(layer)
        for tensor in self.model.graph.initializer:
            if tensor.name == wanted:
                return numpy_helper.to_array(tensor).transpose(2, 3, 1, 0)
        return None


def merge(models: Mapping[str, Any]):
    """One graph over ``models`` (key -> ModelProto): a shared input, and per key one output
    named after it holding the probabilities, then the other serving outputs as columns."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, outputs = [], []
    initializers = [numpy_helper.from_array(np.array([1], np.int64), "axis1")]
    for index, (key, model) in enumerate(models.items()):
        prefix = f"m{index}/"

        def rename(tensor: str, prefix: str = prefix) -> str:
            return tensor if tensor in (SERVING_INPUT, "") else prefix + tensor

        kept, needed = _needed(model.graph, SERVING_OUTPUTS)
        for position, node in enumerate(kept):
            copy = onnx.NodeProto()
            copy.CopyFrom(node)
            copy.name = f"{prefix}{node.name or position}"
            copy.input[:] = [rename(name) for name in node.input]
            copy.output[:] = [rename(name) for name in node.output]
            nodes.append(copy)
        for tensor in model.graph.initializer:
            if tensor.name in needed:
                copy = onnx.TensorProto()
                copy.CopyFrom(tensor)
                copy.name = rename(tensor.name)
                initializers.append(copy)
        columns = [rename(SERVING_PROBABILITIES)]
        for name in SERVING_OUTPUTS[1:]:
            nodes.append(helper.make_node("Unsqueeze", [rename(name), "axis1"],
                                          [rename(name) + "/column"], name=f"{prefix}{name}/col"))
            columns.append(rename(name) + "/column")
        nodes.append(helper.make_node("Concat", columns, [key], axis=1, name=f"{prefix}pack"))
        outputs.append(helper.make_tensor_value_info(key, TensorProto.FLOAT, ["batch", None]))
    first = next(iter(models.values()))
    graph = helper.make_graph(nodes, "regserve_fused", list(first.graph.input), outputs,
                              initializers)
    merged = helper.make_model(graph, opset_imports=list(first.opset_import))
    merged.ir_version = first.ir_version
    return merged


def _needed(graph, outputs) -> tuple[list, set[str]]:
    """The nodes that ``outputs`` depend on, in graph order, and every tensor they read."""
    needed, kept = set(outputs), []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    return kept[::-1], needed


class OnnxEngine(SubsetEngine):
    """Every requested variant in one ONNX Runtime call on a merged graph."""

    def __init__(self, models: Mapping[str, Any], subset_cache: int = 16,
                 intra_op_threads: int = 1) -> None:
        self._models = dict(models)
        self._threads = intra_op_threads
        super().__init__({key: list(SERVING_OUTPUTS[1:]) for key in self._models}, subset_cache)

    def _build(self, names: tuple[str, ...]) -> Fused:
        # The merged ModelProto takes three times its serialized size in Python objects: drop
        # it before ONNX Runtime builds the session, so a reload's peak holds only the bytes.
        with _BUILD_LOCK:  # one graph at a time, so concurrent builds do not add their peaks
            data = merge({key: self._models[key] for key in names}).SerializeToString()
            fused = session(data, self._threads)
            del data
        fetch = list(names)

        def run(images: np.ndarray) -> dict[str, np.ndarray]:
            values = fused.run(fetch, {SERVING_INPUT: np.ascontiguousarray(images)})
            return dict(zip(fetch, values, strict=True))

        return run


def build_engine(models: Mapping[str, OnnxTwin], subset_cache: int,
                 intra_op_threads: int = 1) -> OnnxEngine:
    """The merged-graph engine over loaded twins, keyed as the registry addresses them."""
    return OnnxEngine({key: twin.model for key, twin in models.items()}, subset_cache,
                      intra_op_threads)
