"""Each variant's ``config.pbtxt`` for Triton, from its ONNX twin: models/ as a Triton repository.

Triton's model repository is ``<model>/config.pbtxt`` beside ``<model>/<version>/model.onnx``,
which is this project's layout once every variant has a config. The inputs and outputs are read
from ``model.onnx`` itself (names, element types, shapes; the first axis is the batch), and only
the outputs RegServe's V2 routes serve are listed, so Triton and RegServe answer the same
``tritonclient`` calls; the feature maps stay in the graph for the page. Dynamic batching
mirrors the server's micro-batcher (up to 32 images gathered for up to 2 ms).
"""

from __future__ import annotations

from pathlib import Path

from regserve_contracts import layout
from regserve_contracts.signature import (
    ACTIVATION_LAYERS,
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    mean_output,
    zero_fraction_output,
)

CONFIG_FILE = "config.pbtxt"
BACKEND = "onnxruntime"
#: As the server's defaults (REGSERVE_MAX_BATCH, REGSERVE_BATCH_WINDOW_MS).
MAX_BATCH_SIZE = 32
QUEUE_DELAY_MICROSECONDS = 2000
#: What RegServe's V2 routes answer, in their order; Triton serves the same.
SERVED_OUTPUTS: tuple[str, ...] = (
    SERVING_PROBABILITIES,
    *(name for layer in ACTIVATION_LAYERS for name in (zero_fraction_output(layer),
                                                         mean_output(layer))),
)
#: ONNX element types (onnx.TensorProto) as Triton spells them.
TRITON_TYPES = {1: "TYPE_FP32", 2: "TYPE_UINT8", 6: "TYPE_INT32", 7: "TYPE_INT64",
                9: "TYPE_BOOL", 10: "TYPE_FP16", 11: "TYPE_FP64"}


class TritonConfigError(ValueError):
    """The ONNX twin cannot be described to Triton; the message says why."""


def tensor_specs(onnx_path: Path) -> dict[str, tuple[str, list[int]]]:
    """``{name: (Triton type, shape)}`` of every input and output of ``onnx_path``; an axis
    without a fixed size (the batch among them) is -1."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    specs = {}
    for value in [*graph.input, *graph.output]:
        tensor = value.type.tensor_type
        if tensor.elem_type not in TRITON_TYPES:
            raise TritonConfigError(f"{onnx_path}: {value.name!r} has ONNX element type "
                                    f"{tensor.elem_type}, which Triton's config cannot name")
        shape = [dim.dim_value if dim.HasField("dim_value") else -1 for dim in tensor.shape.dim]
        specs[value.name] = (TRITON_TYPES[tensor.elem_type], shape)
    return specs


def render_config(name: str, specs: dict[str, tuple[str, list[int]]]) -> str:
    """The text of ``config.pbtxt`` for the model ``name`` with these tensors."""
    missing = [key for key in (SERVING_INPUT, *SERVED_OUTPUTS) if key not in specs]
    if missing:
        raise TritonConfigError(f"{name}: model.onnx lacks {', '.join(missing)}")
    lines = [f'name: "{name}"', f'backend: "{BACKEND}"', f"max_batch_size: {MAX_BATCH_SIZE}",
             "version_policy: { latest { num_versions: 1 } }",
             "input [", _tensor(SERVING_INPUT, *specs[SERVING_INPUT]), "]", "output ["]
    lines.append(",\n".join(_tensor(key, *specs[key]) for key in SERVED_OUTPUTS))
    lines += ["]", "dynamic_batching {",
              f"  max_queue_delay_microseconds: {QUEUE_DELAY_MICROSECONDS}", "}",
              "instance_group [ { kind: KIND_CPU, count: 1 } ]"]
    return "\n".join(lines) + "\n"


def _tensor(name: str, data_type: str, shape: list[int]) -> str:
    if not shape or shape[0] != -1:
        raise TritonConfigError(f"{name!r} has shape {shape}: its first axis must be the batch")
    dims = shape[1:]
    # Triton wants at least one dim: a (batch,) tensor is dims [1], reshaped to no dims.
    reshape = "" if dims else ", reshape: { shape: [ ] }"
    body = ", ".join(map(str, dims or [1]))
    return f'  {{ name: "{name}", data_type: {data_type}, dims: [ {body} ]{reshape} }}'


def write_triton_config(version_dir: Path) -> Path:
    """Write Triton's ``config.pbtxt`` for the variant of ``version_dir`` (which may be a
    staged version) from its ``model.onnx``, atomically, beside the version folders; return
    its path. Every version of a variant has the same inputs and outputs, so one config
    describes them all; Triton serves the newest, as RegServe does."""
    version_dir = Path(version_dir)
    onnx_path = version_dir / layout.ONNX_FILE
    if not onnx_path.is_file():
        raise TritonConfigError(f"{version_dir} has no {layout.ONNX_FILE}: write its ONNX "
                                "twin first")
    variant_dir = version_dir.parent
    text = render_config(variant_dir.name, tensor_specs(onnx_path)).encode("utf-8")
    target = variant_dir / CONFIG_FILE
    layout.write_atomic(target, lambda handle: handle.write(text))
    return target


def write_triton_configs(models_dir: Path) -> list[Path]:
    """A ``config.pbtxt`` for every variant whose newest version has its twin; their paths."""
    written = []
    for variant_dir in layout.variant_dirs(Path(models_dir)):
        newest = layout.newest_version(variant_dir)
        if newest is not None and (newest / layout.ONNX_FILE).is_file():
            written.append(write_triton_config(newest))
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m trainer.triton [MODELS_DIR]``: a config for every variant already on disk."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: python -m trainer.triton [MODELS_DIR]  (default: models)", file=sys.stderr)
        return 2
    models_dir = Path(args[0] if args else "models")
    if not models_dir.is_dir():
        print(f"error: models folder {models_dir} does not exist", file=sys.stderr)
        return 1
    try:
        written = write_triton_configs(models_dir)
    except (TritonConfigError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    if not written:
        print(f"error: no variant in {models_dir} has a {layout.ONNX_FILE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
