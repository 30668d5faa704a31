"""Helpers for the tracking tests: train with ``--track``, read an MLflow store back, a
read-only folder that holds even for root."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest


def train(*args) -> tuple[int, str, str]:
    """``python -m trainer ARGS`` in-process, with no ``MLFLOW_TRACKING_URI`` or
    ``REGSERVE_TRACK`` from the calling shell; (exit status, stdout, stderr)."""
    from trainer.__main__ import parse_options
    from trainer.cli import run

    out, err = StringIO(), StringIO()
    saved = {key: os.environ.pop(key) for key in ("MLFLOW_TRACKING_URI", "REGSERVE_TRACK")
             if key in os.environ}
    try:
        status = run(parse_options([str(arg) for arg in args]), out, err)
    finally:
        os.environ.update(saved)
    return status, out.getvalue(), err.getvalue()


def store_runs(uri: str, experiment: str = "regserve") -> list:
    """Every run of ``experiment`` in the store at ``uri``, oldest first."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r} in {uri}"
    return list(client.search_runs([found.experiment_id], order_by=["attributes.start_time"]))


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[Path]:
    """``folder`` with no write permission; for root, who ignores permissions, also the
    immutable attribute (``chattr +i``). Skips when neither holds here."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    immutable = False
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
        immutable = done.returncode == 0
    try:
        try:
            (folder / "probe").touch()
        except OSError:
            pass
        else:
            (folder / "probe").unlink()
            pytest.skip(f"cannot make {folder} read-only here (root without chattr +i)")
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)
