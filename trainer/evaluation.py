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

from regserve_contracts.signature import to_model_input
from trainer.beyond import TRAIN_IMAGES, beyond_accuracy, keras_predictor, predict_all
from trainer.data import Dataset
from trainer.predictions import record_predictions
from trainer.splits import split_rows


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
    predict = keras_predictor(model)
    probabilities = predict_all(predict, x_test)
    block, write = record_predictions(probabilities, dataset)  # predictions.npz, for pairing
    evaluation.metadata.update(block)
    evaluation.files.append(write)
    # How sure, how much it overfits, how robust (trainer/beyond.py).
    _, validation_rows = split_rows(len(dataset.x_train), config.seed, config.validation_split)
    validation = (to_model_input(dataset.x_train[validation_rows[:TRAIN_IMAGES]]),
                  dataset.y_train[validation_rows[:TRAIN_IMAGES]])
    history = getattr(getattr(model, "history", None), "history", None)  # set by model.fit
    evaluation.metadata.update(beyond_accuracy(
        predict, (probabilities, dataset.y_test), dataset.x_test, (x_fit, y_fit), validation,
        history))
    return evaluation

