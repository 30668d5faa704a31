"""The one entry point to the data sources: ``load_dataset("emnist" | "synthetic" | PATH)``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from trainer.data import Dataset, DataSourceError, validate
from trainer.data.synthetic import load_synthetic

#: What ``--data`` accepts, for error messages and the CLI's help text.
SOURCES_HELP = (
    "'emnist' (the real EMNIST balanced, downloaded once and cached), "
    "'synthetic' (the bundled offline set, no network, not EMNIST), "
    "or PATH to a local EMNIST matlab.zip, gzip.zip, folder of IDX .gz files, "
    "or .npz with x_train, y_train, x_test, y_test"
)
#: The synthetic test set never shrinks below 10 images per class.
MIN_SYNTHETIC_TEST = 470


def load_dataset(spec: str, *, seed: int = 0, limit: int | None = None,
                 cache_dir: Path | None = None, progress: bool = True) -> Dataset:
    """Load a data source; ``limit`` keeps at most that many training images, class-balanced."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of images, got {limit}")
    key = str(spec).strip()
    # The EMNIST and local-file loaders are imported only when asked for: they need requests
    # and scipy, which the offline set does not.
    if key.lower() == "emnist":
        from trainer.data.emnist import load_emnist

        dataset = load_emnist(cache_dir, progress=progress)
    elif key.lower() == "synthetic":
        if limit is None:
            dataset = load_synthetic(seed=seed)
        else:
            dataset = load_synthetic(train_size=limit,
                                     test_size=max(MIN_SYNTHETIC_TEST, limit // 5), seed=seed)
    else:
        path = Path(key).expanduser()
        if not key or not path.exists():
            raise DataSourceError(f"unknown data source {key!r} (not a name, and no such file "
                                  f"or folder); use {SOURCES_HELP}")
        from trainer.data.local import load_local

        dataset = load_local(path)
    if limit is not None and len(dataset.x_train) > limit:
        keep = balanced_indices(dataset.y_train, limit, seed=seed)
        dataset = replace(dataset, x_train=dataset.x_train[keep], y_train=dataset.y_train[keep],
                          description=f"{dataset.description}; limited to {limit:,} training "
                                      f"images, class-balanced (seed {seed})")
    dataset = replace(dataset, y_train=np.asarray(dataset.y_train, dtype=np.int64),
                      y_test=np.asarray(dataset.y_test, dtype=np.int64))
    return validate(dataset)


def balanced_indices(labels: np.ndarray, limit: int, *, seed: int = 0) -> np.ndarray:
    """Pick ``limit`` indices with per-class counts as equal as the data allows, shuffled.

    Small classes give what they have and the rest is shared among the others; which images
    and which classes get the one-off remainder depend only on ``seed``. The result is
    shuffled because Keras's ``validation_split`` takes the tail of the training set.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = np.zeros_like(counts)
    remaining = min(int(limit), len(labels))
    active = np.flatnonzero(counts > 0)
    while remaining > 0 and active.size:
        share = remaining // active.size
        if share == 0:
            quota[rng.choice(active, size=remaining, replace=False)] += 1
            break
        added = np.minimum(share, counts[active] - quota[active])
        quota[active] += added
        remaining -= int(added.sum())
        active = active[quota[active] < counts[active]]
    chosen = [rng.permutation(np.flatnonzero(labels == cls))[:n]
              for cls, n in zip(classes, quota, strict=True)]
    return rng.permutation(np.concatenate(chosen))
