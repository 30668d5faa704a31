"""The benchmark's BentoML peer answers like RegServe: same models, fields and predictions."""

from __future__ import annotations

import importlib.util
import json

import pytest
import requests

from benchmarks.bodies import multipart, pixels_json
from benchmarks.loadgen import canvas_png, sample_characters
from benchmarks.serving import ServingSettings, start_server

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
    characters, _ = sample_characters(2)
    png = canvas_png(characters[0])
    body, content_type = multipart("images", "0.png", png)
    theirs = requests.post(f"{peer.url}/predict", data=body,
                           headers={"Content-Type": content_type}, timeout=60)
    ours = requests.post(f"{live_server.url}/predict", data=png,
                         headers={"Content-Type": "image/png"}, timeout=60)
    assert theirs.status_code == ours.status_code == 200, theirs.text[:300]
    (answer,) = theirs.json()
    expected = ours.json()
    assert set(answer["variants"]) == set(expected["variants"])
    for name, variant in expected["variants"].items():
        assert set(answer["variants"][name]) == set(variant)
        assert answer["variants"][name]["prediction"] == variant["prediction"]
    assert answer["input"]["pixels"] == expected["input"]["pixels"]
    pixels = json.loads(pixels_json(characters[1]))["pixels"]
    batch = requests.post(f"{peer.url}/predict_pixels", json={"pixels": [pixels]}, timeout=60)
    direct = requests.post(f"{live_server.url}/predict",
                           json={"pixels": pixels, "preprocessed": True}, timeout=60)
    assert batch.status_code == direct.status_code == 200, batch.text[:300]
    assert ({k: v["prediction"] for k, v in batch.json()[0]["variants"].items()}
            == {k: v["prediction"] for k, v in direct.json()["variants"].items()})
