"""The benchmark's LitServe peer answers like RegServe, and listens on loopback only."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from benchmarks.serving import ServingSettings, start_server
from server.launcher import child_pids
from tests.support.peers import check_answers_like_regserve
from tests.support.procnet import LOOPBACK_V4, listeners

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("litserve") is None,
                       reason="LitServe is not installed (pip install '.[test]')"),
]


@pytest.fixture(scope="module")
def peer(models_dir, tmp_path_factory):
    """The LitServe service with one inference worker, started as the benchmark starts it."""
    workdir = tmp_path_factory.mktemp("litserve")
    server = start_server("litserve", ServingSettings(models_dir, workers=1), workdir)
    yield server
    processes = family(server.pid)
    server.stop()
    deadline = time.monotonic() + 10
    while left := {pid for pid in processes if Path(f"/proc/{pid}").exists()
                   and not Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1]
                   .startswith("Z")}:  # LitServe's workers once outlived its stop
        assert time.monotonic() < deadline, f"LitServe processes {left} outlived the stop"
        time.sleep(0.2)


def family(root: int) -> set[int]:
    """``root`` and every process below it."""
    processes, frontier = {root}, {root}
    while frontier:
        frontier = set().union(*(child_pids(pid) for pid in frontier)) - processes
        processes |= frontier
    return processes


def test_peer_answers_uploads_and_pixels_with_regserves_fields_and_predictions(peer,
                                                                                live_server):
    answer = check_answers_like_regserve(peer.url, live_server.url, lambda answer: answer)
    assert answer["input"]["kind"] == "pixels"


def test_every_peer_process_listens_on_loopback_only(peer):
    processes = family(peer.pid)  # LitServe's API server, inference workers and queue manager
    assert len(processes) >= 3
    found = listeners(processes)
    assert found and {(entry.address, entry.family) for entry in found} <= {
        (LOOPBACK_V4, "tcp"), ("0000000000000000FFFF00000100007F", "tcp6")}
