"""The benchmark's BentoML peer answers like RegServe: same models, fields and predictions."""

from __future__ import annotations

import importlib.util

import pytest

from benchmarks.serving import ServingSettings, start_server
from tests.support.peers import check_answers_like_regserve

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("bentoml") is None,
                       reason="BentoML is not installed (pip install '.[bench]')"),
]


@pytest.fixture(scope="module")
def peer(models_dir, tmp_path_factory):
    """The BentoML service with one worker, started as the benchmark starts it."""
    workdir = tmp_path_factory.mktemp("bentoml")
    server = start_server("bentoml", ServingSettings(models_dir, workers=1), workdir)
    yield server
    server.stop()


def test_peer_answers_uploads_and_pixels_with_regserves_fields_and_predictions(peer,
                                                                                live_server):
    """A canvas PNG and preprocessed pixels: the same variants, fields and predicted labels."""
    check_answers_like_regserve(peer.url, live_server.url, lambda answers: answers[0])
