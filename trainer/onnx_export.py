"""The ONNX twin of an exported SavedModel: built from its weights, checked against it, written.

The graph is typed here with ``onnx.helper`` from the SavedModel's own variables rather than
converted by tf2onnx: the architecture is the project's one CNN (trainer/model.py), so the graph
is a dozen nodes whose outputs are exactly the serving signature's (probabilities, each layer's
zero fraction and mean) plus the feature maps of the ``activations`` signature, with no
converter (and its pins on TensorFlow and protobuf) in the install. Every twin is run with ONNX
Runtime on a fixed batch beside the SavedModel and refused unless they agree within
:data:`TOLERANCE`, so a change of the Keras model that this file does not follow fails the export.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.signature import (
    ACTIVATION_LAYERS,
    ACTIVATIONS_SIGNATURE_KEY,
    FEATURE_MAP_LAYERS,
    INPUT_SHAPE,
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    SIGNATURE_KEY,
    bias_variable,
    feature_map_output,
    kernel_variable,
    mean_output,
    zero_fraction_output,
)
from trainer.errors import CommandError
from trainer.model import ACTIVATION_ZERO, PENALIZED_LAYERS
from trainer.triton import write_triton_config

#: Largest absolute difference allowed between any output of the twin and of the SavedModel.
TOLERANCE = 1e-5
#: ONNX operator set and IR version: old enough for any onnxruntime of the last years.
OPSET, IR_VERSION = 17, 8
#: Images in the fixed batch the twin is checked on.
CHECK_IMAGES = 32
CHECK_SEED = 20260521


class OnnxExportError(CommandError, ValueError):
    """The twin cannot be built or does not match its SavedModel; the message says how."""


def build_twin(weights: dict[str, tuple[np.ndarray, np.ndarray]], name: str = "regserve"):
    """The CNN as an ONNX graph from Keras-layout weights ``{layer: (kernel, bias)}``.

    Input ``image`` float32 ``(batch, 28, 28, 1)``; outputs the serving signature's, then each
    feature-map layer's ReLU output in Keras' NHWC order. Inside, the graph runs NCHW: the conv
    kernels go from Keras' (h, w, in, out) to ONNX's (out, in, h, w), and dense1's rows are
    reordered from Keras' NHWC flatten order to the NCHW one, so no activation is transposed.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    conv1, conv2, dense1, output = (weights[layer] for layer in PENALIZED_LAYERS)
    pooled = dense1[0].shape[0] // conv2[0].shape[3]
    side = int(round(pooled ** 0.5))
    if side * side * conv2[0].shape[3] != dense1[0].shape[0]:
        raise OnnxExportError(f"dense1's kernel {dense1[0].shape} does not follow conv2's "
                              f"{conv2[0].shape} through a square pooling")
    channels = conv2[0].shape[3]
    # Keras row h*side*C + w*C + c becomes c*side*side + h*side + w.
    order = np.arange(side * side * channels).reshape(side, side, channels).transpose(2, 0, 1)
    kernel, bias = kernel_variable, bias_variable  # named as in the SavedModel
    initializers = {
        kernel("conv1"): conv1[0].transpose(3, 2, 0, 1), bias("conv1"): conv1[1],
        kernel("conv2"): conv2[0].transpose(3, 2, 0, 1), bias("conv2"): conv2[1],
        kernel("dense1"): dense1[0][order.ravel()], bias("dense1"): dense1[1],
        kernel("output"): output[0], bias("output"): output[1],
        "nchw_shape": np.array([-1, INPUT_SHAPE[2], *INPUT_SHAPE[:2]], dtype=np.int64),
        "zero": np.array(ACTIVATION_ZERO, dtype=np.float32),
    }
    node = helper.make_node
    pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
    nodes = [
        node("Reshape", [SERVING_INPUT, "nchw_shape"], ["nchw"]),
        node("Conv", ["nchw", kernel("conv1"), bias("conv1")], ["conv1/pre"], kernel_shape=[3, 3]),
        node("Relu", ["conv1/pre"], ["conv1/relu"]),
        node("MaxPool", ["conv1/relu"], ["pool1"], **pool),
        node("Conv", ["pool1", kernel("conv2"), bias("conv2")], ["conv2/pre"], kernel_shape=[3, 3]),
        node("Relu", ["conv2/pre"], ["conv2/relu"]),
        node("MaxPool", ["conv2/relu"], ["pool2"], **pool),
        node("Flatten", ["pool2"], ["flat"]),
        node("Gemm", ["flat", kernel("dense1"), bias("dense1")], ["dense1/pre"]),
        node("Relu", ["dense1/pre"], ["dense1/relu"]),
        node("Gemm", ["dense1/relu", kernel("output"), bias("output")], ["logits"]),
        node("Softmax", ["logits"], [SERVING_PROBABILITIES], axis=-1),
    ]
    outputs = [_output(SERVING_PROBABILITIES, ["batch", output[0].shape[1]])]
    for layer in ACTIVATION_LAYERS:
        axes = [1] if layer == "dense1" else [1, 2, 3]
        zero, mean = zero_fraction_output(layer), mean_output(layer)
        nodes += [
            node("LessOrEqual", [f"{layer}/relu", "zero"], [f"{layer}/off"]),
            node("Cast", [f"{layer}/off"], [f"{layer}/off_float"], to=TensorProto.FLOAT),
            node("ReduceMean", [f"{layer}/off_float"], [zero], axes=axes, keepdims=0),
            node("ReduceMean", [f"{layer}/relu"], [mean], axes=axes, keepdims=0),
        ]
        outputs += [_output(zero, ["batch"]), _output(mean, ["batch"])]
    for layer in FEATURE_MAP_LAYERS:
        nodes.append(node("Transpose", [f"{layer}/relu"], [feature_map_output(layer)],
                          perm=[0, 2, 3, 1]))
        outputs.append(_output(feature_map_output(layer), ["batch", None, None, None]))
    graph = helper.make_graph(
        nodes, name, [_output(SERVING_INPUT, ["batch", *INPUT_SHAPE])], outputs,
        [numpy_helper.from_array(np.ascontiguousarray(value, dtype=value.dtype), key)
         for key, value in initializers.items()])
    model = helper.make_model(graph, producer_name="regserve",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def _output(name: str, shape: list):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def saved_model_weights(module) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{layer: (kernel, bias)}`` of every penalized layer, from a loaded SavedModel."""
    found = {variable.name.split(":")[0]: variable.numpy() for variable in module.variables}
    try:
        return {layer: (found[kernel_variable(layer)], found[bias_variable(layer)])
                for layer in PENALIZED_LAYERS}
    except KeyError as error:
        raise OnnxExportError(f"the SavedModel has no variable {error}; it is not this "
                              "project's CNN") from None


def check_batch() -> np.ndarray:
    """The fixed batch a twin is checked on: blank, saturated, noise of several densities, and
    blurred strokes, so every ReLU sees both signs."""
    rng = np.random.default_rng(CHECK_SEED)
    images = [np.zeros(INPUT_SHAPE), np.ones(INPUT_SHAPE)]
    while len(images) < CHECK_IMAGES:
        density = rng.uniform(0.05, 0.6)
        noise = rng.uniform(size=INPUT_SHAPE) * (rng.uniform(size=INPUT_SHAPE) < density)
        blur = (noise + np.roll(noise, 1, 0) + np.roll(noise, 1, 1) + np.roll(noise, -1, 0)) / 2
        images.append(np.clip(blur if len(images) % 2 else noise, 0, 1))
    return np.stack(images).astype(np.float32)


def compare(module, twin, images: np.ndarray) -> tuple[dict[str, float], int]:
    """Largest absolute difference per output between the SavedModel and the twin on ``images``,
    and how many activations lay within :data:`TOLERANCE` of zero.

    Such an activation may be zero in one runtime and not in the other (the two sum in
    different orders), which moves a zero fraction by one step of 1/size: a zero fraction's
    difference counts only beyond what those borderline activations explain.
    """
    import onnxruntime as ort
    import tensorflow as tf

    probe = _with_outputs(twin, [f"{layer}/pre" for layer in ACTIVATION_LAYERS])
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    ours = dict(zip([o.name for o in session.get_outputs()],
                    session.run(None, {SERVING_INPUT: images}), strict=True))
    theirs = {key: value.numpy() for key, value in module.signatures[SIGNATURE_KEY](
        **{SERVING_INPUT: tf.constant(images)}).items()}
    maps = module.signatures.get(ACTIVATIONS_SIGNATURE_KEY)
    if maps is not None:
        theirs.update({key: value.numpy() for key, value in maps(
            **{SERVING_INPUT: tf.constant(images)}).items()})
    missing = sorted(set(theirs) - set(ours))
    if missing:
        raise OnnxExportError(f"the twin lacks the SavedModel's output(s) {missing}")
    differences = {key: float(np.max(np.abs(ours[key] - value), initial=0.0))
                   for key, value in theirs.items()}
    borderline = 0
    for layer in ACTIVATION_LAYERS:
        pre = ours[f"{layer}/pre"].reshape(len(images), -1)
        near = np.sum(np.abs(pre) <= TOLERANCE, axis=1)
        borderline += int(near.sum())
        key = zero_fraction_output(layer)
        gap = np.abs(ours[key] - theirs[key]) - near / pre.shape[1]
        differences[key] = float(np.max(np.maximum(gap, 0.0), initial=0.0))
    return differences, borderline


def _with_outputs(model, names: list[str]):
    """A copy of ``model`` that also returns the inner tensors ``names`` (float32)."""
    from onnx import TensorProto, helper

    probe = type(model)()
    probe.CopyFrom(model)
    probe.graph.output.extend(helper.make_tensor_value_info(name, TensorProto.FLOAT, None)
                              for name in names)
    return probe


def write_twin(version_dir: Path) -> dict[str, Any]:
    """Build ``version_dir``'s twin from its SavedModel, check it, write it; return the
    metadata block (:data:`regserve_contracts.metadata.ONNX`). Raise :class:`OnnxExportError`."""
    import onnx
    import tensorflow as tf

    module = tf.saved_model.load(str(version_dir))
    twin = build_twin(saved_model_weights(module))
    differences, borderline = compare(module, twin, check_batch())
    worst = max(differences, key=differences.get)
    if not differences[worst] <= TOLERANCE:  # a NaN fails too
        raise OnnxExportError(
            f"the ONNX twin of {version_dir} differs from its SavedModel by "
            f"{differences[worst]:.3g} in {worst!r} (limit {TOLERANCE:g}); not written")
    data = twin.SerializeToString()
    layout.write_atomic(Path(version_dir) / layout.ONNX_FILE, lambda handle: handle.write(data))
    write_triton_config(Path(version_dir))  # <variant>/config.pbtxt: models/ as a Triton repository
    return {
        "file": layout.ONNX_FILE,
        "opset": OPSET,
        "builder": "onnx.helper from the SavedModel's weights (trainer/onnx_export.py)",
        "onnx": onnx.__version__,
        "check": {"images": CHECK_IMAGES, "seed": CHECK_SEED, "tolerance": TOLERANCE,
                  "max_abs_diff": differences[worst], "outputs": sorted(differences),
                  "borderline_activations": borderline},
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def backfill(models_dir: Path, log: Callable[[str], None], force: bool = False) -> list[Path]:
    """Write a twin beside every version on disk that lacks one (each file atomically), and
    record it in that version's metadata; return the folders written."""
    written = []
    for variant_dir in layout.variant_dirs(Path(models_dir)):
        for version in layout.versions(variant_dir):
            folder = variant_dir / str(version)
            if (folder / layout.ONNX_FILE).is_file() and not force:
                continue
            block = write_twin(folder)
            metadata = layout.read_metadata(folder)
            metadata[md.ONNX] = block
            layout.write_json_atomic(folder / layout.METADATA_FILE, metadata)
            log(f"{folder}: {layout.ONNX_FILE} written (max abs diff "
                f"{block['check']['max_abs_diff']:.2g})")
            written.append(folder)
    return written
