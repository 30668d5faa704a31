"""models/ as a Triton model repository: every export writes ``<variant>/config.pbtxt``, parsed
here with Triton's own protobuf schema, matching its ``model.onnx`` and our V2 routes."""

from __future__ import annotations

import shutil

import onnx
import pytest

from regserve_contracts import layout
from regserve_contracts.signature import SERVING_INPUT
from regserve_contracts.variants import VARIANT_NAMES
from trainer.triton import (
    CONFIG_FILE,
    TritonConfigError,
    main,
    write_triton_config,
    write_triton_configs,
)

model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2",
                                       reason="Triton's schema ships with tritonclient[grpc]")
from google.protobuf import text_format  # noqa: E402


def parse(path) -> object:
    """The config as Triton reads it: text protobuf, unknown fields refused."""
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def graph_tensors(onnx_path) -> dict[str, tuple[int, list[int]]]:
    """{name: (ONNX element type, shape with -1 for a symbolic axis)} of inputs and outputs."""
    graph = onnx.load(str(onnx_path)).graph
    return {value.name: (value.type.tensor_type.elem_type,
                         [dim.dim_value if dim.dim_value > 0 else -1
                          for dim in value.type.tensor_type.shape.dim])
            for value in [*graph.input, *graph.output]}


def triton_shape(tensor) -> list[int]:
    """The shape Triton reports for a tensor of a batching model: the batch, then the dims (or
    what they are reshaped to)."""
    dims = tensor.reshape.shape if tensor.HasField("reshape") else tensor.dims
    return [-1, *dims]


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_every_exported_variant_has_a_config_matching_its_onnx_twin(models_dir, variant):
    """Triton's layout (config beside the version folders), the variant's name, the ONNX Runtime
    backend, dynamic batching, and each tensor's name, type and shape as in model.onnx."""
    config = parse(models_dir / variant / CONFIG_FILE)
    tensors = graph_tensors(layout.newest_version(models_dir / variant) / layout.ONNX_FILE)
    assert config.name == variant and config.backend == "onnxruntime"
    assert config.max_batch_size >= 1 and config.HasField("dynamic_batching")
    assert [tensor.name for tensor in config.input] == [SERVING_INPUT]
    assert config.output
    for tensor in [*config.input, *config.output]:
        element, shape = tensors[tensor.name]
        assert element == onnx.TensorProto.FLOAT and tensor.data_type == model_config_pb2.TYPE_FP32
        assert triton_shape(tensor) == shape, tensor.name
        assert len(tensor.dims) >= 1  # Triton refuses an empty dims list


def test_triton_would_describe_each_model_as_our_v2_routes_do(models_dir, live_server):
    """The same tritonclient call (model metadata) gets the same outputs, types and shapes from
    our V2 routes as Triton derives from config.pbtxt, and the same FP32 image input; only
    RegServe also takes encoded images (BYTES)."""
    httpclient = pytest.importorskip("tritonclient.http")
    client = httpclient.InferenceServerClient(live_server.url.removeprefix("http://"))
    try:
        for variant in VARIANT_NAMES:
            config = parse(models_dir / variant / CONFIG_FILE)
            ours = client.get_model_metadata(variant)

            def described(tensors):
                return {t.name: (model_config_pb2.DataType.Name(t.data_type).removeprefix("TYPE_"),
                                 triton_shape(t)) for t in tensors}

            def served(tensors):
                return {t["name"]: (t["datatype"], [int(x) for x in t["shape"]]) for t in tensors}

            assert described(config.output) == served(ours["outputs"])
            assert described(config.input) == {
                name: spec for name, spec in served(ours["inputs"]).items() if spec[0] != "BYTES"}
    finally:
        client.close()


def test_writing_every_config_again_gives_the_same_files(models_dir, tmp_path):
    """write_triton_configs rewrites one config per variant, byte for byte, atomically (no
    temporary file is left beside it)."""
    copy = tmp_path / "models"
    shutil.copytree(models_dir, copy)
    written = write_triton_configs(copy)
    assert sorted(path.parent.name for path in written) == sorted(VARIANT_NAMES)
    for path in written:
        assert path.read_bytes() == (models_dir / path.parent.name / CONFIG_FILE).read_bytes()
        assert sorted(p.name for p in path.parent.iterdir() if p.is_file()) == [CONFIG_FILE]


def test_a_version_without_its_twin_gets_a_clear_error(models_dir, tmp_path):
    version = tmp_path / "none" / "1"
    shutil.copytree(layout.newest_version(models_dir / "none"), version)
    (version / layout.ONNX_FILE).unlink()
    with pytest.raises(TritonConfigError, match="no model.onnx"):
        write_triton_config(version)
    assert not (tmp_path / "none" / CONFIG_FILE).exists()


def test_a_graph_whose_first_axis_is_not_the_batch_is_refused(models_dir, tmp_path):
    """Triton batches along the first axis; a fixed one cannot be described with batching on."""
    version = tmp_path / "fixed" / "1"
    version.mkdir(parents=True)
    model = onnx.load(str(layout.newest_version(models_dir / "none") / layout.ONNX_FILE))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 4
    onnx.save(model, str(version / layout.ONNX_FILE))
    with pytest.raises(TritonConfigError, match="first axis must be the batch"):
        write_triton_config(version)
    assert not (tmp_path / "fixed" / CONFIG_FILE).exists()


def test_the_command_writes_every_config_or_says_in_one_line_why_not(models_dir, tmp_path,
                                                                     capsys):
    copy = tmp_path / "models"
    shutil.copytree(models_dir, copy)
    for variant in VARIANT_NAMES:
        (copy / variant / CONFIG_FILE).unlink()
    assert main([str(copy)]) == 0
    assert capsys.readouterr().out.count(CONFIG_FILE) == len(VARIANT_NAMES)
    assert all((copy / variant / CONFIG_FILE).is_file() for variant in VARIANT_NAMES)
    assert main([str(tmp_path / "absent")]) == 1
    assert main([str(tmp_path)]) == 1  # a folder without any twin
    assert main(["--help"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3 and "does not exist" in errors[0] and "model.onnx" in errors[1]
