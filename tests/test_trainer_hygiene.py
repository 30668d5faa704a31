"""The trainer cleans up after killed runs and refuses names the server could never serve."""

from __future__ import annotations

import os
import time

import pytest

from regserve_contracts import layout
from regserve_contracts.variants import RESERVED_NAMES
from server.routes.predict import ALL
from trainer.__main__ import main

HOUR = 3600


def age(path, seconds: float) -> None:
    """Set the mtime of ``path`` and everything under it ``seconds`` into the past."""
    then = time.time() - seconds
    for item in [path, *path.rglob("*")]:
        os.utime(item, (then, then))


def test_stale_staging_folders_go_and_fresh_ones_stay(tmp_path):
    """Untouched for over an hour: removed; touched a minute ago (a trainer still writing one,
    even inside an old folder): kept; numbered versions are never touched."""
    stale = tmp_path / "none" / ".staging-killed"
    (stale / "variables").mkdir(parents=True)
    (stale / "variables" / "variables.data").write_bytes(b"x")
    age(stale, 2 * HOUR)
    busy = tmp_path / "none" / ".staging-busy"
    (busy / "variables").mkdir(parents=True)
    age(busy, 2 * HOUR)
    (busy / "variables" / "fresh").write_bytes(b"y")
    version = tmp_path / "none" / "1"
    version.mkdir()
    age(version, 2 * HOUR)
    assert layout.remove_stale_staging(tmp_path) == [stale]
    assert not stale.exists() and busy.exists() and version.exists()


def test_the_next_trainer_run_removes_a_killed_runs_staging_folder(tmp_path, capsys):
    stale = tmp_path / "none" / ".staging-killed"
    stale.mkdir(parents=True)
    age(stale, 2 * HOUR)
    status = main(["--variant", "none", "--data", "synthetic", "--limit", "94", "--epochs", "1",
                   "--batch-size", "47", "--models-dir", str(tmp_path)])
    assert status == 0 and not stale.exists()
    assert f"removed {stale}" in capsys.readouterr().err
    assert layout.versions(tmp_path / "none") == [1]


@pytest.mark.parametrize("name", sorted(RESERVED_NAMES))
def test_a_custom_variant_with_a_reserved_name_is_refused_with_one_line(name, tmp_path, capsys):
    status = main(["--custom", f"l2:activity:0.01:{name}", "--models-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and "reserved" in err, err
    assert not any(tmp_path.iterdir())


def test_the_names_the_server_and_the_models_folder_reserve_are_reserved():
    assert {ALL, layout.REPORTS_DIR} <= RESERVED_NAMES
