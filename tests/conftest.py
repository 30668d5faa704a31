"""Shared fixtures: one tiny set of trained models for the whole session, then app and client."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The helpers' asserts report values like the tests' own (before any of them is imported).
pytest.register_assert_rewrite("tests.support")

from regserve_contracts.tensorflow_log import quiet_log_level  # noqa: E402
from tests.support import NO_SAMPLE, SHARED_SAMPLE  # noqa: E402

quiet_log_level()

#: Training images per session fixture: tiny, so every variant trains in a few seconds.
TINY_TRAIN_SIZE = 470


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """Every registered variant, trained one epoch on a tiny synthetic set and exported.

    Set ``REGSERVE_TEST_MODELS_DIR`` to reuse a folder trained earlier (it is read, never written).
    """
    reuse = os.environ.get("REGSERVE_TEST_MODELS_DIR")
    if reuse:
        return Path(reuse)
    from regserve_contracts.variants import VARIANTS
    from trainer.data.synthetic import load_synthetic
    from trainer.train import TrainConfig, train_variants

    target = tmp_path_factory.mktemp("models")
    dataset = load_synthetic(train_size=TINY_TRAIN_SIZE, test_size=94, seed=0)
    train_variants(VARIANTS, dataset, TrainConfig(epochs=1, batch_size=50, verbose=0), target,
                   log=lambda line: None)
    return target


@pytest.fixture(scope="session")
def app(models_dir):
    """The app in process, serving ``models_dir``: loading eight models takes seconds, so one
    for the session. Tests that change settings use ``tests.support.api.override_settings``."""
    from server import create_app
    from tests.support.api import TEST_SETTINGS

    # Not app.testing: it would let exceptions through, and the 500 handler is under test.
    return create_app(**TEST_SETTINGS, models_dir=models_dir)


@pytest.fixture(scope="session")
def client(app):
    """Flask's test client for :func:`app`."""
    return app.test_client()


#: What can run the models: the key server paths are tested on each.
RUNTIMES = ("onnx", "tensorflow")


@pytest.fixture(params=RUNTIMES)
def runtime(request) -> str:
    """Each runtime in turn (``REGSERVE_RUNTIME``), for tests that build their own registry."""
    return request.param


@pytest.fixture(scope="session")
def tf_app(models_dir):
    """The app as :func:`app`, serving the SavedModels with TensorFlow (``app`` serves the
    ONNX twins: ``auto`` chooses ONNX Runtime where every version has one)."""
    from server import create_app
    from tests.support.api import TEST_SETTINGS

    return create_app(**TEST_SETTINGS, models_dir=models_dir, runtime="tensorflow")


@pytest.fixture(scope="session", params=RUNTIMES)
def runtime_app(request):
    """The app on each runtime in turn (:func:`app`, :func:`tf_app`), for the key server paths."""
    from server.state import EXTENSION

    target = request.getfixturevalue("app" if request.param == "onnx" else "tf_app")
    assert target.extensions[EXTENSION].registry.snapshot.runtime == request.param
    return target


@pytest.fixture(scope="session")
def runtime_client(runtime_app):
    """The test client of :func:`runtime_app`."""
    return runtime_app.test_client()


@pytest.fixture(scope="session")
def real_sample():
    """The shared sample of real EMNIST, or a skip when this checkout does not have it."""
    if not SHARED_SAMPLE.exists():
        pytest.skip(NO_SAMPLE)
    import numpy as np

    with np.load(SHARED_SAMPLE) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="session")
def png() -> bytes:
    """A drawn 'A' as PNG bytes."""
    from benchmarks.drawing import draw, encode

    return encode(draw("A"))


@pytest.fixture(scope="session")
def real_png(request) -> bytes:
    """A real handwritten 'A' from the shared EMNIST sample, else a drawn one."""
    import numpy as np

    from benchmarks.drawing import draw, encode
    from regserve_contracts.decoding import to_png
    from regserve_contracts.labels import char_to_label

    try:
        sample = request.getfixturevalue("real_sample")
    except pytest.skip.Exception:
        return encode(draw("A"))
    index = int(np.flatnonzero(sample["y_test"] == char_to_label("A"))[0])
    return to_png(sample["x_test"][index])


@pytest.fixture(scope="session")
def live_server(models_dir, tmp_path_factory):
    """A real gunicorn process (the project's config, one worker) serving ``models_dir``."""
    from server.launcher import start

    with start(tmp_path_factory.mktemp("gunicorn") / "server.log", models_dir=models_dir) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (skips cleanly when it or Playwright is missing)."""
    from tests.support.browser import chromium_browser

    with chromium_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def details(live_server) -> dict:
    """/variants/<name> of every loaded variant: what the page's model views are drawn from."""
    import requests

    listing = requests.get(f"{live_server.url}/variants", timeout=30).json()["variants"]
    return {v["name"]: requests.get(f"{live_server.url}/variants/{v['name']}", timeout=30).json()
            for v in listing}
