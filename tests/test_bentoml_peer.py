"""The benchmark's BentoML peer answers like RegServe: same models, fields and predictions."""

from __future__ import annotations

import pytest

from tests.support.peers import check_answers_like_regserve, peer_marks, running_peer

pytestmark = peer_marks("bentoml", "bench")


@pytest.fixture(scope="module")
def peer(models_dir, tmp_path_factory):
    with running_peer("bentoml", models_dir, tmp_path_factory.mktemp("bentoml")) as server:
        yield server


def test_peer_answers_uploads_and_pixels_with_regserves_fields_and_predictions(peer,
                                                                                live_server):
    """A canvas PNG and preprocessed pixels: the same variants, fields and predicted labels."""
    check_answers_like_regserve(peer.url, live_server.url, lambda answers: answers[0])
