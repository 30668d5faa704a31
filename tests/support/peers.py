"""What the benchmark's peers must answer: RegServe's fields and predictions for the same input."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from benchmarks.bodies import multipart, pixels_json
from benchmarks.loadgen import canvas_png, sample_characters
from benchmarks.serving import PEERS, ServingSettings, start_server
from server.launcher import LiveServer
from tests.support.procnet import descendants, wait_gone


def peer_marks(peer: str, extra: str) -> list[pytest.MarkDecorator]:
    """A peer's test module: slow, and skipped where the peer is not installed."""
    module = PEERS[peer]["module"]
    return [pytest.mark.slow,
            pytest.mark.skipif(importlib.util.find_spec(module) is None,
                               reason=f"{module} is not installed (pip install '.[{extra}]')")]


@contextlib.contextmanager
def running_peer(peer: str, models_dir: Path, workdir: Path) -> Iterator[LiveServer]:
    """The peer with one worker, started as the benchmark starts it; once stopped, none of its
    processes may be left (LitServe's inference workers once outlived its stop)."""
    server = start_server(peer, ServingSettings(models_dir, workers=1), workdir)
    try:
        yield server
    finally:
        processes = descendants(server.pid)
        server.stop()
        for pid in processes:
            wait_gone(pid, f"a {peer} process outlived the stop", seconds=10)


def check_answers_like_regserve(peer_url: str, regserve_url: str,
                                unwrap: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """A canvas PNG (multipart ``images``) and preprocessed pixels (``/predict_pixels``, a batch
    of one) to the peer, the same to RegServe: the same variants, fields and predicted labels.
    ``unwrap`` turns a peer's JSON into one answer; the peer's pixels answer is returned."""
    characters, _ = sample_characters(2)
    png = canvas_png(characters[0])
    body, content_type = multipart("images", "0.png", png)
    theirs = requests.post(f"{peer_url}/predict", data=body,
                           headers={"Content-Type": content_type}, timeout=60)
    ours = requests.post(f"{regserve_url}/predict", data=png,
                         headers={"Content-Type": "image/png"}, timeout=60)
    assert theirs.status_code == ours.status_code == 200, theirs.text[:300]
    answer, expected = unwrap(theirs.json()), ours.json()
    assert set(answer["variants"]) == set(expected["variants"])
    for name, variant in expected["variants"].items():
        assert set(answer["variants"][name]) == set(variant)
        assert answer["variants"][name]["prediction"] == variant["prediction"]
    assert answer["input"]["pixels"] == expected["input"]["pixels"]
    pixels = json.loads(pixels_json(characters[1]))["pixels"]
    batch = requests.post(f"{peer_url}/predict_pixels", json={"pixels": [pixels]}, timeout=60)
    direct = requests.post(f"{regserve_url}/predict",
                           json={"pixels": pixels, "preprocessed": True}, timeout=60)
    assert batch.status_code == direct.status_code == 200, batch.text[:300]
    pixels_answer = unwrap(batch.json())
    assert ({k: v["prediction"] for k, v in pixels_answer["variants"].items()}
            == {k: v["prediction"] for k, v in direct.json()["variants"].items()})
    return pixels_answer
