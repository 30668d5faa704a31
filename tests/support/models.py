"""Model folders for the server tests: copies of the session's models, new versions."""

from __future__ import annotations

import shutil
from pathlib import Path

from regserve_contracts import layout


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
