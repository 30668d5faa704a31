"""Helpers for the sweep tests: tiny data on disk and the sweep command run in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regserve_contracts.labels import NUM_CLASSES


def tiny_npz(path: Path, train: int = 300, test: int = 94, seed: int = 0,
             two_classes: bool = False) -> Path:
    """Random 28x28 images with labels: enough to train and export, fast to load.

    ``two_classes``: only labels 0 and 1, the top or bottom half brighter, so every model
    answers well above chance (1/47) and a sweep has points to pick from.
    """
    rng = np.random.default_rng(seed)
    classes = 2 if two_classes else NUM_CLASSES

    def images(count: int) -> tuple[np.ndarray, np.ndarray]:
        pixels = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = np.arange(count) % classes
        if two_classes:
            pixels[labels == 0, :14] |= 0xC0
            pixels[labels == 1, 14:] |= 0xC0
        return pixels, labels

    (x_train, y_train), (x_test, y_test) = images(train), images(test)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def sweep(*args, capsys) -> tuple[int, str, str]:
    """Run ``python -m trainer sweep ARGS`` in-process; (exit status, stdout, stderr)."""
    from trainer.__main__ import main

    try:
        status = main(["sweep", *map(str, args)])
    except SystemExit as exc:  # argparse exits by itself
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def staging_left(models_dir: Path) -> list[Path]:
    """Hidden half-written version folders anywhere under the models folder."""
    return sorted(Path(models_dir).glob("*/.staging-*"))
