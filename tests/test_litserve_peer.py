"""The benchmark's LitServe peer answers like RegServe, and listens on loopback only."""

from __future__ import annotations

import pytest

from tests.support.peers import check_answers_like_regserve, peer_marks, running_peer
from tests.support.procnet import LOOPBACK_V4, descendants, listeners

pytestmark = peer_marks("litserve", "test")


@pytest.fixture(scope="module")
def peer(models_dir, tmp_path_factory):
    with running_peer("litserve", models_dir, tmp_path_factory.mktemp("litserve")) as server:
        yield server


def test_peer_answers_uploads_and_pixels_with_regserves_fields_and_predictions(peer,
                                                                                live_server):
    answer = check_answers_like_regserve(peer.url, live_server.url, lambda answer: answer)
    assert answer["input"]["kind"] == "pixels"


def test_every_peer_process_listens_on_loopback_only(peer):
    processes = descendants(peer.pid)  # LitServe's API server, inference workers, queue manager
    assert len(processes) >= 3
    found = listeners(processes)
    assert found and {(entry.address, entry.family) for entry in found} <= {
        (LOOPBACK_V4, "tcp"), ("0000000000000000FFFF00000100007F", "tcp6")}
