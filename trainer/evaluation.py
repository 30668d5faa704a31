"""What the trainer measures about a fitted model beyond its test loss, at export.

:func:`evaluate_version` is the one place where export-time evaluations are added: each returns
metadata blocks (keys from :mod:`regserve_contracts.metadata`) and, where it keeps arrays, a
writer that puts its file into the staged version folder before the folder is renamed into place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainer.data import Dataset
from trainer.predictions import record_predictions

#: Images per forward pass over the test set.
_BATCH = 500


@dataclass
class Evaluation:
    """Metadata blocks to merge into ``metadata.json`` and files to write beside the model."""

    metadata: dict[str, Any] = field(default_factory=dict)
    files: list[Callable[[Path], None]] = field(default_factory=list)


def evaluate_version(model, x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray,
                     dataset: Dataset, config) -> Evaluation:
    """Every export-time evaluation of a fitted ``model``.

    ``x_fit``/``y_fit``: the model inputs it was fitted on (validation rows excluded) and their
    integer labels; ``x_test``: the test inputs in ``dataset``'s order, labelled by
    ``dataset.y_test``. The test probabilities are computed once here and shared by every
    evaluation that needs them.
    """
    evaluation = Evaluation()
    probabilities = predict_test_set(model, x_test)
    record_predictions(evaluation, probabilities, dataset)
    return evaluation


def predict_test_set(model, x_test: np.ndarray) -> np.ndarray:
    """The model's class probabilities for every test input, ``(N, classes)``.

    Called eagerly in batches: ``model.predict`` builds a tf.function per model, and a run of
    several variants then prints TensorFlow's retracing warning (even with --quiet).
    """
    return np.concatenate([np.asarray(model(x_test[start:start + _BATCH], training=False))
                           for start in range(0, len(x_test), _BATCH)])
