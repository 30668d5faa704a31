"""Keep every exported model's test-set answers (``predictions.npz``) for paired comparisons."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.predictions import (
    fingerprint_test_set,
    from_probabilities,
    write_predictions,
)
from trainer.data import Dataset


def record_predictions(probabilities: np.ndarray, dataset: Dataset
                       ) -> tuple[dict[str, Any], Callable[[Path], None]]:
    """The predictions' metadata block and the writer of their file into a version folder.

    ``probabilities``: the model's ``(N, classes)`` answers on ``dataset.x_test``, in order.
    """
    fingerprint = fingerprint_test_set(dataset.x_test, dataset.y_test)
    predictions = from_probabilities(probabilities, dataset.y_test, fingerprint)

    def write(version_dir: Path) -> None:
        layout.write_atomic(version_dir / layout.PREDICTIONS_FILE,
                            lambda handle: write_predictions(handle, predictions))

    block: dict[str, Any] = {"file": layout.PREDICTIONS_FILE, "test_fingerprint": fingerprint,
                             "size": predictions.size}
    return {md.PREDICTIONS: block}, write
