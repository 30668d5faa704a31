"""A subset of variants never asked for before is answered at once and built in the background.

Both runtimes' engines share this behaviour (server.runtime.engine.SubsetEngine): TensorFlow's
traces a tf.function per subset, ONNX Runtime's merges the twins' graphs into a session.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from regserve_contracts import layout
from regserve_contracts.signature import INPUT_SHAPE, SERVING_INPUT, SERVING_PROBABILITIES
from regserve_contracts.variants import VARIANT_NAMES

BUILD_THREAD = "subset-build"


def signature(tf, scale: float):
    """A stand-in serving signature: probabilities and one scalar output, both from the input."""

    def serve(image):
        total = tf.reduce_sum(image, axis=[1, 2, 3])
        probabilities = tf.stack([total * scale, total * (1 + scale)], axis=1)
        return {SERVING_PROBABILITIES: probabilities, "conv1_mean": total + scale}

    spec = tf.TensorSpec([None, *INPUT_SHAPE], tf.float32, name=SERVING_INPUT)
    return tf.function(serve).get_concrete_function(**{SERVING_INPUT: spec})


@pytest.fixture(params=["tensorflow", "onnx"])
def engine(request):
    """Four variants ``a`` .. ``d`` on each runtime, and how each answers alone (``reference``)."""
    if request.param == "tensorflow":
        tf = pytest.importorskip("tensorflow")
        from server.runtime.tf_backend import FusedEngine

        engine = FusedEngine({name: signature(tf, index + 1.0)
                              for index, name in enumerate("abcd")})
        engine.reference = lambda images, name: {key: value.numpy() for key, value in
                                                 engine._functions[name](**{
                                                     SERVING_INPUT: tf.constant(images)}).items()}
        return engine
    from server.runtime.ort_backend import SERVING_OUTPUTS, OnnxEngine, OnnxTwin

    models_dir = request.getfixturevalue("models_dir")
    twins = {key: OnnxTwin.load(layout.newest_version(models_dir / name) / layout.ONNX_FILE)
             for key, name in zip("abcd", VARIANT_NAMES, strict=False)}
    engine = OnnxEngine({key: twin.model for key, twin in twins.items()})
    engine.reference = lambda images, name: dict(zip(SERVING_OUTPUTS, twins[name].session.run(
        list(SERVING_OUTPUTS), {SERVING_INPUT: images}), strict=True))
    return engine


def expected(engine, images: np.ndarray, names) -> dict:
    """Each variant's outputs from its own model, called alone."""
    return {name: engine.reference(images, name) for name in names}


def assert_same(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for name in want:
        for key in want[name]:
            np.testing.assert_allclose(got[name][key], want[name][key], rtol=1e-6)


def test_a_new_subset_is_answered_while_its_build_is_still_running(engine, monkeypatch):
    """The answer comes from the all-variant function before the subset's own build finishes."""
    release, started = threading.Event(), threading.Event()
    build = engine._build

    def slow_build(names):
        started.set()
        assert release.wait(10), "the build ran in the caller: the request waited for it"
        return build(names)

    monkeypatch.setattr(engine, "_build", slow_build)
    images = np.random.default_rng(0).random((3, *INPUT_SHAPE), dtype=np.float32)
    answer = engine.run(images, ["c", "a"])  # would block here if built in the caller
    assert started.wait(30) and engine.ready_subsets() == []
    assert_same(answer, expected(engine, images, ["c", "a"]))
    release.set()
    for thread in [t for t in threading.enumerate() if t.name == BUILD_THREAD]:
        thread.join(30)
    assert engine.ready_subsets() == [frozenset({"a", "c"})]
    assert_same(engine.run(images, ["a", "c"]), expected(engine, images, ["a", "c"]))


def test_a_subset_is_built_once_however_many_requests_ask_for_it(engine, monkeypatch):
    """Requests that arrive while a subset is being built do not start more builds."""
    release, calls = threading.Event(), []
    build = engine._build

    def counting_build(names):
        calls.append(names)
        release.wait(30)
        return build(names)

    monkeypatch.setattr(engine, "_build", counting_build)
    images = np.zeros((1, *INPUT_SHAPE), dtype=np.float32)
    for _ in range(5):
        engine.run(images, ["b", "d"])
    release.set()
    for thread in [t for t in threading.enumerate() if t.name == BUILD_THREAD]:
        thread.join(30)
    assert calls == [("b", "d")]
