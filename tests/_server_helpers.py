"""Helpers for the server tests: one shared in-process app per models folder, drawn characters."""

from __future__ import annotations

import dataclasses
import functools
import io
import shutil
from pathlib import Path

from PIL import Image, ImageDraw

from regserve_contracts import layout

#: Settings for in-process test apps: no reload thread, a short warm-up.
TEST_SETTINGS = {"reload_interval": 0, "warmup_batch_sizes": (1, 4)}


@functools.lru_cache(maxsize=4)
def shared_app(models_dir: str):
    """One app per models folder for the whole session: loading eight models takes seconds.

    Tests that change settings do it with :func:`override_settings`.
    """
    from server import create_app

    return create_app(**TEST_SETTINGS, models_dir=models_dir)


def override_settings(monkeypatch, app, **changes) -> None:
    """Give ``app`` changed settings until the test ends (the settings themselves are frozen)."""
    from server.state import EXTENSION

    state = app.extensions[EXTENSION]
    changed = dataclasses.replace(state, settings=dataclasses.replace(state.settings, **changes))
    monkeypatch.setitem(app.extensions, EXTENSION, changed)


def draw(shape: str = "A", size: int = 200, ink: int = 0, paper: int = 255,
         mode: str = "L", width: int = 18) -> Image.Image:
    """A character drawn with thick strokes: 'A', 'L', 'T' or 'O'."""
    image = Image.new(mode, (size, size), paper if mode != "RGBA" else (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    fill = ink if mode != "RGBA" else (20, 20, 20, 255)
    s = size / 200
    strokes = {
        "A": [[(40, 180), (100, 20), (160, 180)], [(65, 115), (135, 115)]],
        "L": [[(60, 20), (60, 180), (150, 180)]],
        "T": [[(30, 30), (170, 30)], [(100, 30), (100, 180)]],
    }
    if shape == "O":
        pen.ellipse([50 * s, 20 * s, 150 * s, 180 * s], outline=fill, width=int(width * s))
    for stroke in strokes.get(shape, []):
        pen.line([(x * s, y * s) for x, y in stroke], fill=fill, width=int(width * s))
    return image


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    """Image bytes in ``fmt`` (PNG, JPEG, GIF, BMP, WEBP)."""
    buffer = io.BytesIO()
    if fmt == "JPEG" and image.mode == "RGBA":
        image = image.convert("RGB")
    image.save(buffer, format=fmt)
    return buffer.getvalue()


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
