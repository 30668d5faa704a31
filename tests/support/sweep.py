"""Helpers for the sweep tests: tiny data on disk and the sweep command run in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regserve_contracts.labels import NUM_CLASSES


def tiny_npz(path: Path, train: int = 300, test: int = 94, seed: int = 0) -> Path:
    """Random 28x28 images with labels: enough to train and export, fast to load."""
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
             y_train=np.arange(train) % NUM_CLASSES,
             x_test=rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
             y_test=np.arange(test) % NUM_CLASSES)
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
