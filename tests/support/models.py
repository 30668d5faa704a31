"""Model folders for the server tests: copies of the session's models, new versions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from regserve_contracts import layout
from regserve_contracts.metadata import DATA, TEST


def copy_models(source: Path, target: Path, names: list[str] | None = None) -> Path:
    """Copy the newest version of some variants (all by default) into ``target`` as version 1."""
    for variant_dir in layout.variant_dirs(Path(source)):
        if names is None or variant_dir.name in names:
            shutil.copytree(layout.newest_version(variant_dir), target / variant_dir.name / "1")
    return target


def publish_version(variant_dir: Path, source_version: Path) -> Path:
    """Write a new version the way the trainer does: fill a hidden folder, rename it into place."""
    staging = variant_dir / f".staging-{source_version.name}"
    shutil.copytree(source_version, staging)
    target = variant_dir / str(max(layout.versions(variant_dir), default=0) + 1)
    staging.rename(target)
    return target


def set_test_score(version_dir: Path, accuracy: float, test_size: int) -> None:
    """Rewrite a copied version's test accuracy and test-set size, as if it had scored so.

    Only the numbers the chance rule reads change; the model itself stays what it is.
    """
    path = Path(version_dir) / layout.METADATA_FILE
    metadata = json.loads(path.read_text())
    metadata[TEST] = {**metadata[TEST], "accuracy": accuracy}
    metadata[DATA] = {**metadata[DATA], "test_size": test_size}
    layout.write_json_atomic(path, metadata)
