"""Micro-batching happens: concurrent requests share runtime calls, as the batch-size
histogram's count (calls) and sum (images) show; one at a time, one call per image."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks.drawing import draw, encode
from tests.support.api import TEST_SETTINGS
from tests.support.models import copy_models

REQUESTS = 16
IMAGES = [encode(draw(shape, size)) for shape in "ALTO" for size in (120, 160, 200, 240)]


def histogram(app) -> tuple[float, float]:
    """(count, sum) of the batch-size histogram: runtime calls and images in them."""
    metric = app.extensions["regserve"].metrics.batch_size
    samples = {sample.name: sample.value for sample in metric.collect()[0].samples}
    return samples["regserve_batch_size_count"], samples["regserve_batch_size_sum"]


def predictions(app, threads: int) -> tuple[float, float, list]:
    """Send the REQUESTS images from ``threads`` threads; the histogram's growth, the answers."""
    client = app.test_client
    before = histogram(app)
    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(
            lambda data: client().post("/predict", data=data, content_type="image/png"), IMAGES))
    after = histogram(app)
    return after[0] - before[0], after[1] - before[1], answers


@pytest.fixture(scope="module")
def models(models_dir, tmp_path_factory):
    return copy_models(models_dir, tmp_path_factory.mktemp("batching"), ["none", "l2_activity"])


@pytest.fixture(scope="module")
def app(models):
    from server import create_app

    return create_app(**{**TEST_SETTINGS, "models_dir": models, "batch_window_ms": 50.0})


@pytest.mark.parametrize("threads", [REQUESTS, 1], ids=["at once", "one at a time"])
def test_concurrent_requests_share_runtime_calls(app, threads):
    """16 requests at once with a 50 ms window: every image counted once in the sum, in at
    most half as many calls; one at a time (the control), exactly one call per image."""
    calls, images, answers = predictions(app, threads)
    assert [answer.status_code for answer in answers] == [200] * REQUESTS
    assert images == REQUESTS
    if threads == 1:
        assert calls == REQUESTS
    else:
        print(f"\n{REQUESTS} concurrent requests: {calls:.0f} runtime calls")
        assert calls <= REQUESTS / 2, f"{calls} calls for {REQUESTS} images: little batching"
