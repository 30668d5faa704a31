"""The models directory (TensorFlow Serving's layout): ``<models>/<variant>/<version>/``.

A version folder is written under a hidden temporary name and renamed into place, so a server
scanning the folder never sees half a model; only integer-named folders holding both
``saved_model.pb`` and ``metadata.json`` count as versions.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

METADATA_FILE = "metadata.json"
SAVED_MODEL_FILE = "saved_model.pb"
#: The ONNX twin of the SavedModel, checked against it at export (ONNX Runtime serves it).
ONNX_FILE = "model.onnx"
#: Test-set predictions (labels, probabilities) and the test set's fingerprint, for pairing.
PREDICTIONS_FILE = "predictions.npz"
REPORTS_DIR = "reports"
#: The comparison of every variant (intervals, paired tests, verdicts) inside REPORTS_DIR.
COMPARISON_FILE = "comparison.json"
#: The embedded MLflow store of ``--track`` and its runs' artifacts (neither holds versions).
TRACKING_DB = "mlflow.db"
TRACKING_ARTIFACTS_DIR = "mlartifacts"
STAGING_PREFIX = ".staging-"
#: A staging folder untouched this long belongs to a trainer that was killed: no export takes
#: an hour between writes, so the next trainer run may remove it.
STALE_STAGING_SECONDS = 3600.0
#: Models are written once and read by servers that may run as another user.
READABLE_DIR, READABLE_FILE = 0o755, 0o644


def versions(variant_dir: Path) -> list[int]:
    """Complete version numbers under ``variant_dir``, oldest first."""
    found = []
    if variant_dir.is_dir():
        for child in variant_dir.iterdir():
            if child.name.isdigit() and is_complete(child):
                found.append(int(child.name))
    return sorted(found)


def is_complete(version_dir: Path) -> bool:
    """Whether a version folder holds a SavedModel and its metadata."""
    return (version_dir / SAVED_MODEL_FILE).is_file() and (version_dir / METADATA_FILE).is_file()


def newest_version(variant_dir: Path) -> Path | None:
    """The newest complete version folder of a variant, or ``None``."""
    found = versions(variant_dir)
    return variant_dir / str(found[-1]) if found else None


def variant_dirs(models_dir: Path) -> list[Path]:
    """Folders under ``models_dir`` that hold at least one complete version, by name."""
    if not models_dir.is_dir():
        return []
    return sorted(
        child
        for child in models_dir.iterdir()
        if child.is_dir() and not child.name.startswith(".") and child.name != REPORTS_DIR
        and versions(child)
    )


def read_metadata(version_dir: Path) -> dict[str, Any]:
    """Load a version's ``metadata.json``."""
    with open(version_dir / METADATA_FILE, encoding="utf-8") as handle:
        return json.load(handle)


@dataclass
class StagedVersion:
    """A version being written: fill ``path``; ``final`` is set once it is renamed into place."""

    path: Path
    final: Path | None = None


@contextlib.contextmanager
def new_version(models_dir: Path, variant: str) -> Iterator[StagedVersion]:
    """Yield a hidden folder to fill; on success it becomes the next version, atomically.

    If the body raises (or the process dies), no numbered folder appears; the hidden
    staging folder is removed when possible (servers ignore it either way).
    """
    variant_dir = Path(models_dir) / variant
    variant_dir.mkdir(parents=True, exist_ok=True)
    staged = StagedVersion(Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=variant_dir)))
    # mkdtemp makes it 0700; a server running as another user (the Docker image's) must read it.
    os.chmod(staged.path, READABLE_DIR)
    try:
        yield staged
        while staged.final is None:
            existing = [int(c.name) for c in variant_dir.iterdir() if c.name.isdigit()]
            target = variant_dir / str(max(existing, default=0) + 1)
            try:
                os.rename(staged.path, target)  # atomic; fails if a non-empty target exists
                staged.final = target
            except OSError:
                if not target.exists():
                    raise
    finally:
        if staged.path.exists():
            shutil.rmtree(staged.path, ignore_errors=True)


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, READABLE_FILE)  # mkstemp's 0600 would hide it from other users
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file and a rename."""
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def remove_stale_staging(models_dir: Path, max_age: float = STALE_STAGING_SECONDS) -> list[Path]:
    """Remove ``.staging-*`` folders left by killed trainers; return what was removed.

    A folder counts as stale when nothing in it changed for ``max_age`` seconds, so a trainer
    still exporting next to this one keeps its folder.
    """
    removed = []
    cutoff = time.time() - max_age
    for staging in sorted(Path(models_dir).glob(f"*/{STAGING_PREFIX}*")):
        try:
            newest = max([staging.stat().st_mtime] + [path.stat().st_mtime
                                                      for path in staging.rglob("*")])
        except OSError:  # removed meanwhile by its own trainer
            continue
        if staging.is_dir() and newest < cutoff:
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    return removed
