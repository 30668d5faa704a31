"""The ONNX twin of each export: written beside the SavedModel, checked against it, recorded in
the metadata; a twin that does not match fails the export with one line; ``--onnx`` backfills."""

from __future__ import annotations

import json

import numpy as np
import pytest

from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.signature import (
    ACTIVATION_LAYERS,
    FEATURE_MAP_LAYERS,
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    SIGNATURE_KEY,
    mean_output,
    to_model_input,
    zero_fraction_output,
)
from regserve_contracts.variants import VARIANT_NAMES
from tests.support.models import copy_models
from trainer import onnx_export
from trainer.__main__ import main

SERVING = [SERVING_PROBABILITIES] + [name for layer in ACTIVATION_LAYERS
                                     for name in (zero_fraction_output(layer), mean_output(layer))]


def cli(capsys, *args) -> tuple[int, str, str]:
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def forgets_the_flatten_order(build):
    """A builder whose dense1 takes Keras' rows in Keras' (NHWC) order against ONNX's NCHW
    flatten: the slip the check guards against. The real builder's reordering is undone."""
    def broken(weights, name="regserve"):
        kernel, bias = weights["dense1"]
        channels = weights["conv2"][0].shape[3]
        side = int(round((kernel.shape[0] // channels) ** 0.5))
        order = np.arange(kernel.shape[0]).reshape(side, side, channels).transpose(2, 0, 1)
        undone = np.empty_like(kernel)
        undone[order.ravel()] = kernel
        return build({**weights, "dense1": (undone, bias)}, name)

    return broken


@pytest.mark.slow  # loads every SavedModel in TensorFlow
def test_every_export_has_its_twin_recorded_and_answering_as_its_savedmodel(models_dir):
    """model.onnx beside each SavedModel, its metadata block naming every output it was checked
    on; and, run here on images the export never saw, each twin's probabilities within 1e-5 of
    its SavedModel's (plain onnxruntime against plain TensorFlow)."""
    import onnxruntime as ort
    import tensorflow as tf

    rng = np.random.default_rng(2024)
    pixels = rng.integers(0, 256, (6, 28, 28)).astype(np.uint8)
    pixels[0] = 0
    pixels[1, 4:24, 12:16] = 255  # a bar on black: a character-like input
    images = to_model_input(pixels)
    for name in VARIANT_NAMES:
        version = layout.newest_version(models_dir / name)
        assert (version / layout.ONNX_FILE).stat().st_size > 100_000  # 1.7 MB of weights
        block = layout.read_metadata(version)[md.ONNX]
        assert block["file"] == layout.ONNX_FILE and block["opset"] == onnx_export.OPSET
        assert set(block["check"]["outputs"]) == {*SERVING, *FEATURE_MAP_LAYERS}
        session = ort.InferenceSession(str(version / layout.ONNX_FILE),
                                       providers=["CPUExecutionProvider"])
        twin = dict(zip([output.name for output in session.get_outputs()],
                        session.run(None, {SERVING_INPUT: images}), strict=True))
        module = tf.saved_model.load(str(version))
        saved = module.signatures[SIGNATURE_KEY](**{SERVING_INPUT: tf.constant(images)})
        saved = saved[SERVING_PROBABILITIES].numpy()
        assert saved.shape == (6, 47)
        np.testing.assert_allclose(twin[SERVING_PROBABILITIES], saved, atol=1e-5, rtol=0,
                                   err_msg=name)
    # The same comparison sees a real slip on these images, even in models at chance.
    slipped = forgets_the_flatten_order(onnx_export.build_twin)(
        onnx_export.saved_model_weights(module))
    session = ort.InferenceSession(slipped.SerializeToString(), providers=["CPUExecutionProvider"])
    wrong = session.run([SERVING_PROBABILITIES], {SERVING_INPUT: images})[0]
    assert np.abs(wrong - saved).max() > 1e-5


def test_the_twin_alone_answers_as_the_savedmodel_on_real_characters(models_dir, real_sample):
    """Plain onnxruntime on model.onnx against plain TensorFlow on the SavedModel: every serving
    output and both feature maps within 1e-5 on 64 real characters (zero fractions: see the
    server's test of 200, which accounts for activations on the edge of zero)."""
    import onnxruntime as ort
    import tensorflow as tf

    images = to_model_input(real_sample["x_test"][:64])
    version = layout.newest_version(models_dir / "l2_activity")
    session = ort.InferenceSession(str(version / layout.ONNX_FILE),
                                   providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    ours = dict(zip(names, session.run(None, {SERVING_INPUT: images}), strict=True))
    module = tf.saved_model.load(str(version))
    theirs = {key: value.numpy() for key, value in
              module.signatures[SIGNATURE_KEY](**{SERVING_INPUT: tf.constant(images)}).items()}
    theirs.update({key: value.numpy() for key, value in module.signatures["activations"](
        **{SERVING_INPUT: tf.constant(images)}).items()})
    assert set(theirs) <= set(ours)
    for key, value in theirs.items():
        if "zero_fraction" not in key:
            np.testing.assert_allclose(ours[key], value, atol=1e-5, rtol=0, err_msg=key)


def test_backfill_writes_the_missing_twins_only_and_records_them(models_dir, tmp_path, capsys):
    """``--onnx``: a version without a twin gets one (and its metadata block), one that has a
    twin is left as it is; a second run writes nothing."""
    models = copy_models(models_dir, tmp_path / "models", ["none", "l2_activity"])
    bare = models / "none" / "1"
    (bare / layout.ONNX_FILE).unlink()
    metadata = layout.read_metadata(bare)
    del metadata[md.ONNX]
    (bare / layout.METADATA_FILE).write_text(json.dumps(metadata))
    kept = models / "l2_activity" / "1" / layout.ONNX_FILE
    before = kept.stat().st_mtime_ns

    status, out, err = cli(capsys, "--onnx", "--models-dir", models)
    assert status == 0, err
    assert f"{bare}: {layout.ONNX_FILE} written" in out and "1 ONNX twin(s) written" in out
    assert (bare / layout.ONNX_FILE).is_file() and kept.stat().st_mtime_ns == before
    assert layout.read_metadata(bare)[md.ONNX]["check"]["max_abs_diff"] <= 1e-5
    assert [p.name for p in bare.iterdir() if p.name.startswith(".")] == []  # no temp files left
    status, out, _ = cli(capsys, "--onnx", "--models-dir", models)
    assert status == 0 and "0 ONNX twin(s) written" in out


def test_a_twin_that_differs_is_refused_with_one_line(models_dir, tmp_path, capsys, monkeypatch):
    """The check catches a real slip (dense1's rows in Keras' order): exit 1, one line naming
    the output and the difference, nothing written."""
    models = copy_models(models_dir, tmp_path / "models", ["none"])
    version = models / "none" / "1"
    (version / layout.ONNX_FILE).unlink()
    metadata_before = (version / layout.METADATA_FILE).read_text()
    monkeypatch.setattr(onnx_export, "build_twin",
                        forgets_the_flatten_order(onnx_export.build_twin))
    status, out, err = cli(capsys, "--onnx", "--models-dir", models)
    assert status == 1 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "differs from its SavedModel by" in err and "limit 1e-05" in err
    assert not (version / layout.ONNX_FILE).exists()
    assert (version / layout.METADATA_FILE).read_text() == metadata_before


@pytest.mark.slow
def test_training_with_a_twin_that_differs_writes_no_version(tmp_path, capsys, monkeypatch):
    """The same check inside training: the staged version is dropped, the run exits with one
    line, and no numbered folder appears."""
    monkeypatch.setattr(onnx_export, "build_twin",
                        forgets_the_flatten_order(onnx_export.build_twin))
    models = tmp_path / "models"
    status, _, err = cli(capsys, "--variant", "none", "--data", "synthetic", "--epochs", "1",
                         "--limit", "470", "--batch-size", "50", "--quiet", "--models-dir", models)
    assert status == 1 and len(err.strip().splitlines()) == 1, err
    assert "differs from its SavedModel" in err
    assert layout.versions(models / "none") == []
    assert [p.name for p in (models / "none").iterdir()] == []


def test_onnx_backfill_trains_nothing(tmp_path, capsys):
    """``--onnx`` with training flags, or on a folder without versions: one line, exit 2."""
    status, _, err = cli(capsys, "--onnx", "--all", "--models-dir", tmp_path)
    assert status == 2 and "--onnx trains nothing" in err
    status, _, err = cli(capsys, "--onnx", "--models-dir", tmp_path / "empty")
    assert status == 2 and "no trained versions" in err


def test_the_check_batch_is_fixed_and_spans_blank_to_saturated():
    first, second = onnx_export.check_batch(), onnx_export.check_batch()
    assert np.array_equal(first, second) and first.shape == (onnx_export.CHECK_IMAGES, 28, 28, 1)
    assert first.dtype == np.float32 and not first[0].any() and first[1].min() == 1.0
    assert len({image.tobytes() for image in first}) == onnx_export.CHECK_IMAGES
