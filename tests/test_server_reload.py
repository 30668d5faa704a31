"""Hot reload and broken models: a version the trainer writes while the server runs is served
without a restart, swapped in whole; a variant that cannot load is reported and the rest serve."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import requests

from benchmarks.drawing import draw, encode
from regserve_contracts import layout
from server.launcher import start
from server.runtime.loading import RuntimeOptions
from server.runtime.registry import ModelRegistry
from tests.support.models import copy_models, publish_version

SERVED = ["none", "l2_activity"]
IMAGE = np.zeros((1, 28, 28, 1), dtype=np.float32)
IMAGE[0, 6:22, 12:16] = 1.0


def corrupt(version_dir: Path, what: str = "model") -> None:
    """Break a version folder the way a bad disk or a half-copied folder would (the model:
    the SavedModel and its ONNX twin, so it is broken for either runtime)."""
    if what == "model":
        (version_dir / layout.SAVED_MODEL_FILE).write_bytes(b"garbage, not a SavedModel")
        (version_dir / layout.ONNX_FILE).write_bytes(b"garbage, not an ONNX graph")
    else:
        (version_dir / layout.METADATA_FILE).write_text("{not json")


@pytest.fixture
def models(models_dir, tmp_path) -> Path:
    """A writable copy of two variants (version 1 each)."""
    return copy_models(models_dir, tmp_path / "models", SERVED)


def test_a_new_version_is_swapped_in_whole_and_old_requests_finish_on_the_old_set(models,
                                                                                 runtime):
    registry = ModelRegistry(models, options=RuntimeOptions(runtime))
    assert registry.refresh() is True
    old = registry.snapshot
    publish_version(models / "none", models / "none" / "1")
    assert registry.refresh() is True
    new = registry.snapshot
    assert {n: v.version for n, v in new.variants.items()} == {"none": 2, "l2_activity": 1}
    assert new.variants["l2_activity"] is old.variants["l2_activity"]  # unchanged: not reloaded
    assert new.engine is not old.engine and new.generation == old.generation + 1
    assert new.runtime == old.runtime == runtime
    # A request that took the old snapshot before the swap still computes on it.
    assert set(old.engine.run(IMAGE, SERVED)) == set(SERVED)
    assert registry.refresh() is False  # nothing changed on disk: nothing reloaded


def test_a_broken_only_version_is_reported_and_the_others_serve(models, caplog):
    broken = models / "broken"
    publish_version(broken, models / "none" / "1")
    corrupt(broken / "1")
    registry = ModelRegistry(models)
    registry.refresh()
    snapshot = registry.snapshot
    assert list(snapshot.variants) == SERVED
    failure = snapshot.failed["broken"]
    assert failure.version == 1 and f"{layout.ONNX_FILE} cannot be loaded" in failure.error
    assert "cannot load broken version 1" in caplog.text
    assert registry.refresh() is False  # the same broken folder is not retried on every scan


@pytest.mark.parametrize("what", ["model", "metadata"])
def test_a_broken_newer_version_leaves_the_older_one_serving(models, what, runtime):
    registry = ModelRegistry(models, options=RuntimeOptions(runtime))
    registry.refresh()
    corrupt(publish_version(models / "none", models / "none" / "1"), what)
    registry.refresh()
    assert registry.snapshot.variants["none"].version == 1
    assert registry.snapshot.failed["none"].version == 2
    assert registry.snapshot.failures() == [{"name": "none", "version": 2, "serving_version": 1,
                                             "error": registry.snapshot.failed["none"].error}]
    # Starting afresh, the server falls back to the newest version that loads.
    fresh = ModelRegistry(models, options=RuntimeOptions(runtime))
    fresh.refresh()
    assert fresh.snapshot.variants["none"].version == 1 and "none" in fresh.snapshot.failed
    # A good version 3 replaces both the old version and the failure.
    publish_version(models / "none", models / "none" / "1")
    registry.refresh()
    assert registry.snapshot.variants["none"].version == 3 and not registry.snapshot.failed


def test_hidden_and_incomplete_folders_are_ignored_and_removed_variants_unloaded(models):
    registry = ModelRegistry(models)
    registry.refresh()
    (models / "none" / ".staging-abc").mkdir()  # a trainer still writing
    (models / "none" / "7").mkdir()  # no saved_model.pb or metadata yet
    assert registry.refresh() is False
    for path in sorted((models / "l2_activity").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    assert registry.refresh() is True and list(registry.snapshot.variants) == ["none"]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
def test_gunicorn_serves_a_new_version_without_a_restart_and_reports_broken_ones(
        models, tmp_path):
    """Two workers, a broken variant among good ones; then the trainer writes version 2 of
    'none' (hidden folder, rename) and both workers serve it, same processes, no restart."""
    corrupt(publish_version(models / "broken", models / "none" / "1"))
    server = start(tmp_path / "gunicorn.log", models_dir=models, workers=2,
                   env={"REGSERVE_RELOAD_INTERVAL": "0.5", "REGSERVE_WARMUP_BATCH_SIZES": "1"})
    try:
        url, png = server.url, encode(draw("A"))
        ready = requests.get(f"{url}/readyz", timeout=10).json()
        assert ready["loaded"] == {"none": 1, "l2_activity": 1}
        assert [failure["name"] for failure in ready["failed"]] == ["broken"]
        listed = requests.get(f"{url}/variants", timeout=10).json()
        assert listed["failed"][0]["name"] == "broken"
        assert listed["failed"][0]["serving_version"] is None
        answer = requests.post(f"{url}/predict", data=png, timeout=30,
                               headers={"Content-Type": "image/png"})
        assert answer.status_code == 200 and list(answer.json()["variants"]) == SERVED
        pids = wait_for(server.worker_pids, 30, "two workers")

        publish_version(models / "none", models / "none" / "1")

        def both_workers_serve_version_2() -> bool:
            answers = [requests.get(f"{url}/readyz", timeout=10).json()["loaded"]["none"]
                       for _ in range(12)]
            return set(answers) == {2}

        wait_for(both_workers_serve_version_2, 90, "version 2 of 'none' in both workers")
        answer = requests.post(f"{url}/predict?variant=none", data=png, timeout=30,
                               headers={"Content-Type": "image/png"})
        assert answer.json()["variants"]["none"]["version"] == 2
        assert server.worker_pids() == pids and server.process.poll() is None
        metrics = requests.get(f"{url}/metrics", timeout=10).text
        assert 'regserve_model_version{variant="none"} 2.0' in metrics
        assert "regserve_models_failed 1.0" in metrics
    finally:
        server.stop()
    assert "Traceback" not in server.log()
