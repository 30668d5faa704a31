"""``predictions.npz``: one model's answers on its test set, and the fingerprint of that test set.

Written beside every exported version (:data:`regserve_contracts.layout.PREDICTIONS_FILE`), so
any two models answered on the same test set can be compared image by image later, without
running them again. The fingerprint is the only thing that says "the same test set": two files
with different fingerprints are never paired.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

# The arrays inside the file.
PREDICTED = "predicted"  #: uint8 ``(N,)``: each test image's predicted class
PROBABILITIES = "probabilities"  #: float16 ``(N, classes)``: the softmax output
TRUTH = "truth"  #: uint8 ``(N,)``: each test image's true class, so no data is needed to pair
FINGERPRINT = "test_fingerprint"  #: a 0-d string array: :func:`fingerprint_test_set`
ARRAYS = (PREDICTED, PROBABILITIES, TRUTH, FINGERPRINT)


class PredictionsError(ValueError):
    """A predictions file that cannot be read or does not hold what this module writes."""


def fingerprint_test_set(images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 over the test images (uint8) and labels (as little-endian int64), with shapes.

    Equal fingerprints mean the same images with the same labels in the same order, whatever
    file or source they were loaded from.
    """
    pixels = np.ascontiguousarray(images, dtype=np.uint8)
    classes = np.ascontiguousarray(labels, dtype="<i8")
    if len(pixels) != len(classes):
        raise ValueError(f"{len(pixels)} images but {len(classes)} labels")
    digest = hashlib.sha256()
    for array in (pixels, classes):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Predictions:
    """A model's test-set answers: predicted and true classes, probabilities, the fingerprint."""

    predicted: np.ndarray
    probabilities: np.ndarray
    truth: np.ndarray
    fingerprint: str

    @property
    def size(self) -> int:
        return int(len(self.truth))

    @property
    def correct(self) -> np.ndarray:
        """Boolean ``(N,)``: where the model was right."""
        return self.predicted == self.truth

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.correct)) if self.size else float("nan")


def from_probabilities(probabilities: np.ndarray, truth: np.ndarray,
                       fingerprint: str) -> Predictions:
    """The compact form of a model's test answers: argmax labels, float16 probabilities."""
    scores = np.asarray(probabilities)
    return Predictions(np.argmax(scores, axis=1).astype(np.uint8),
                       scores.astype(np.float16), np.asarray(truth).astype(np.uint8), fingerprint)


def write_predictions(handle: BinaryIO, predictions: Predictions) -> None:
    """Write ``predictions`` as a compressed ``.npz`` (no pickled objects) to ``handle``."""
    np.savez_compressed(handle, **{
        PREDICTED: predictions.predicted.astype(np.uint8),
        PROBABILITIES: predictions.probabilities.astype(np.float16),
        TRUTH: predictions.truth.astype(np.uint8),
        FINGERPRINT: np.array(predictions.fingerprint),
    })


def read_predictions(path: Path) -> Predictions:
    """Load a predictions file; :class:`PredictionsError` says what is wrong with it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in ARRAYS if key not in data.files]
            if missing:
                raise PredictionsError(f"{path} lacks {', '.join(missing)}")
            loaded = Predictions(data[PREDICTED], data[PROBABILITIES], data[TRUTH],
                                 str(data[FINGERPRINT]))
    except PredictionsError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise PredictionsError(f"{path} is unreadable ({error})") from None
    if loaded.predicted.shape != loaded.truth.shape or len(loaded.probabilities) != loaded.size:
        raise PredictionsError(f"{path}: {loaded.predicted.shape} predictions, "
                               f"{loaded.truth.shape} labels, {loaded.probabilities.shape} "
                               "probabilities do not match")
    return loaded
