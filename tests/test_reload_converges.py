"""Reload converges: a version seen half-copied is tried again once the copy completes (or after
a backoff), and while it fails the answers say so and name the version serving instead."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import requests

from benchmarks.drawing import draw, encode
from regserve_contracts import layout
from server.launcher import start
from server.runtime import registry as registry_module
from server.runtime.loading import RuntimeOptions
from server.runtime.registry import ModelRegistry
from tests.support.models import copy_models

VARIANT = "none"


def copy_in_two_steps(source: Path, target: Path) -> None:
    """The first step of a cp/rsync/object-store sync that copies the top-level files first,
    the ONNX twin (the largest of them) last: the version lacks what either runtime reads."""
    target.mkdir(parents=True)
    for child in source.iterdir():
        if child.is_file() and child.name != layout.ONNX_FILE:
            shutil.copy2(child, target / child.name)


def finish_copy(source: Path, target: Path) -> None:
    for child in source.iterdir():
        if child.is_dir():
            shutil.copytree(child, target / child.name)
        elif child.name == layout.ONNX_FILE:
            shutil.copy2(child, target / child.name)


@pytest.fixture
def models(models_dir, tmp_path) -> Path:
    return copy_models(models_dir, tmp_path / "models", [VARIANT])


def counting_loads(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = registry_module.load_variant

    def load(name, path, version, *args, **kwargs):
        calls.append(version)
        return real(name, path, version, *args, **kwargs)

    monkeypatch.setattr(registry_module, "load_variant", load)
    return calls


def test_a_half_copied_version_loads_once_its_variables_arrive(models, monkeypatch, runtime):
    """pb and metadata first: v2 fails, v1 serves; unchanged, v2 is not tried again; the
    variables and the twin arriving change its fingerprint, and the next scan serves v2."""
    registry = ModelRegistry(models, options=RuntimeOptions(runtime))
    registry.refresh()
    source = models / VARIANT / "1"
    copy_in_two_steps(source, models / VARIANT / "2")
    loads = counting_loads(monkeypatch)
    registry.refresh()
    snapshot = registry.snapshot
    assert snapshot.variants[VARIANT].version == 1 and snapshot.failed[VARIANT].version == 2
    assert snapshot.failures() == [{**snapshot.failed[VARIANT].to_dict(), "serving_version": 1}]
    assert registry.refresh() is False and loads == [2]  # nothing changed: not tried again
    finish_copy(source, models / VARIANT / "2")
    assert registry.refresh() is True
    assert registry.snapshot.variants[VARIANT].version == 2 and not registry.snapshot.failed
    assert loads == [2, 2]


def test_a_failed_version_is_tried_again_after_the_backoff(models, monkeypatch):
    """A version that fails for a reason outside its folder gets retried though unchanged."""
    monkeypatch.setattr(registry_module, "RETRY_BACKOFF", 0.0)
    registry = ModelRegistry(models)
    registry.refresh()
    copy_in_two_steps(models / VARIANT / "1", models / VARIANT / "2")
    loads = counting_loads(monkeypatch)
    registry.refresh()
    registry.refresh()
    assert loads == [2, 2]
    assert registry.snapshot.failed[VARIANT].version == 2


@pytest.mark.slow
def test_a_version_copied_in_two_steps_serves_within_ten_seconds_without_a_restart(
        models, tmp_path):
    """Through real gunicorn with the default 5 s reload interval: pb and metadata, then the
    variables 5 s later; v2 serves within 10 s of the copy completing, same process."""
    server = start(tmp_path / "server.log", models_dir=models, workers=1)
    try:
        source, target = models / VARIANT / "1", models / VARIANT / "2"
        copy_in_two_steps(source, target)
        first_step = time.monotonic()
        while not requests.get(f"{server.url}/readyz", timeout=10).json()["failed"]:
            assert time.monotonic() - first_step < 15, "the half copy was never seen"
            time.sleep(0.2)
        time.sleep(max(0.0, 5 - (time.monotonic() - first_step)))  # at least 5 s between steps
        png = encode(draw("A"))
        answer = requests.post(f"{server.url}/predict", data=png, timeout=30,
                               headers={"Content-Type": "image/png"}).json()["variants"][VARIANT]
        assert answer["version"] == 1
        assert answer["newest_version_failed"]["version"] == 2
        assert answer["newest_version_failed"]["serving_version"] == 1
        detail = requests.get(f"{server.url}/variants/{VARIANT}", timeout=10).json()
        assert detail["newest_version_failed"] == answer["newest_version_failed"]
        finish_copy(source, target)
        completed = time.monotonic()
        while time.monotonic() - completed < 15:
            ready = requests.get(f"{server.url}/readyz", timeout=10).json()
            if ready["loaded"][VARIANT] == 2:
                break
            time.sleep(0.2)
        took = time.monotonic() - completed
        print(f"\nversion 2 served {took:.1f} s after the copy completed")
        assert ready["loaded"][VARIANT] == 2 and not ready["failed"], ready
        assert took < 10
        assert server.process.poll() is None
    finally:
        server.stop()
    assert layout.versions(models / VARIANT) == [1, 2]
