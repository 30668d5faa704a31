"""How the trainer splits its training images into the rows it fits and the rows it validates on.

One home for the split, so an evaluation of a model already on disk (``--evaluate``) finds the
very images the model was fitted on and validated with.
"""

from __future__ import annotations

import math

import numpy as np


def shuffled_order(count: int, seed: int) -> np.ndarray:
    """The order the training images are fed in: Keras' ``validation_split`` takes the *last*
    rows, so they are shuffled once (seeded) to make validation a fair sample."""
    return np.random.default_rng(seed).permutation(count)


def fitted_count(count: int, validation_split: float) -> int:
    """How many of the shuffled rows are fitted: Keras keeps the first
    ``floor(count * (1 - split))`` and validates on the rest."""
    return int(math.floor(count * (1 - validation_split)))


def split_rows(count: int, seed: int, validation_split: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices into the dataset's training arrays: (fitted rows, validation rows)."""
    order = shuffled_order(count, seed)
    fitted = fitted_count(count, validation_split)
    return order[:fitted], order[fitted:]
