"""Data sources (contract 1): each yields EMNIST-balanced arrays, a name and a description.

``load_dataset(spec)`` is the one entry point: ``"emnist"`` (the real data set, downloaded
once), ``"synthetic"`` (the bundled offline set, generated on the fly) or a path to a local
``matlab.zip`` / ``gzip.zip`` / IDX folder / ``.npz``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from regserve_contracts.labels import IMAGE_SIZE, NUM_CLASSES
from trainer.errors import CommandError


class DataSourceError(CommandError):
    """A data source cannot be loaded; the message says why and what to do instead."""


@dataclass(frozen=True)
class Dataset:
    """Images are uint8 ``(N, 28, 28)``, upright, white ink on black; labels int64 ``(N,)``."""

    name: str
    description: str
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)

    def summary(self) -> dict:
        """Name, description, sizes and content fingerprint, as stored in every model's metadata."""
        return {
            "name": self.name,
            "description": self.description,
            "train_size": int(len(self.x_train)),
            "test_size": int(len(self.x_test)),
            "fingerprint": self.fingerprint,
        }

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of every image and label, in order: equal only for the very same data.

        Repeats over seeds join one group only on the same data (regserve_contracts.repeats);
        computed once per dataset (about 0.2 s for all of EMNIST balanced).
        """
        digest = hashlib.sha256()
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.tobytes())
        return digest.hexdigest()


def validate(dataset: Dataset) -> Dataset:
    """Check shapes, dtypes and label range; raise :class:`DataSourceError` naming the problem."""
    for split in ("train", "test"):
        x, y = getattr(dataset, f"x_{split}"), getattr(dataset, f"y_{split}")
        if x.ndim != 3 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or x.dtype != np.uint8:
            raise DataSourceError(
                f"{dataset.name}: x_{split} must be uint8 (N, 28, 28), got {x.dtype} {x.shape}"
            )
        if y.shape != (len(x),):
            raise DataSourceError(f"{dataset.name}: y_{split} has {y.shape}, expected ({len(x)},)")
        if len(y) and (y.min() < 0 or y.max() >= NUM_CLASSES):
            raise DataSourceError(f"{dataset.name}: y_{split} labels must lie in 0..46")
    return dataset
