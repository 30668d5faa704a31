"""Beyond accuracy, per model: how sure it is, how much it overfits, how it bears corruptions.

The three ``metadata.json`` blocks (:data:`~regserve_contracts.metadata.CALIBRATION`,
``GENERALIZATION``, ``ROBUSTNESS``), computed from a ``predict`` function so that the same code
serves the export (a Keras model in memory) and ``python -m trainer --evaluate`` (a SavedModel
on disk). Losses here are cross-entropy alone, without the weight penalty that Keras adds to
``test.loss``, so train and test figures compare like with like.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from analysis.calibration import accuracy, calibration_block, negative_log_likelihood
from regserve_contracts import corruptions
from regserve_contracts import metadata as md
from regserve_contracts.signature import to_model_input

#: A model as these evaluations see it: float32 ``(n, 28, 28, 1)`` -> probabilities ``(n, 47)``.
Predict = Callable[[np.ndarray], np.ndarray]
BATCH = 500
#: At most this many fitted (and validation) images are read again in inference mode: the
#: train accuracy's standard error is then below 0.005, at a fraction of a full pass.
TRAIN_IMAGES = 10_000
#: At most this many test images are corrupted (15 copies each): on the full EMNIST test split
#: (18,800) this keeps the suite to a few seconds per model while each accuracy's standard
#: error stays near 0.01.
ROBUSTNESS_IMAGES = 2_000
_cache: dict[tuple, tuple[np.ndarray, dict[str, np.ndarray]]] = {}


def keras_predictor(model) -> Predict:
    """Inference mode (no dropout) of a Keras model, traced once: an eager call costs ~0.1 s
    of overhead on two cores, and the suite makes dozens."""
    import tensorflow as tf

    from regserve_contracts.signature import INPUT_SHAPE

    traced = tf.function(lambda images: model(images, training=False),
                         input_signature=[tf.TensorSpec([None, *INPUT_SHAPE], tf.float32)])
    return lambda images: traced(tf.constant(images)).numpy()


def predict_all(predict: Predict, images: np.ndarray, batch: int = BATCH) -> np.ndarray:
    """``predict`` over ``images`` in batches, as one float64 array."""
    parts = [np.asarray(predict(images[start:start + batch]), dtype=np.float64)
             for start in range(0, len(images), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, 0))


def generalization_block(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
                         history: Mapping[str, Sequence[float]] | None) -> dict[str, Any]:
    """Train and test accuracy and loss in inference mode, their gaps, and the last epoch's
    train/validation gap of the curves (``None`` without validation)."""
    (train_p, train_y), (test_p, test_y) = train, test
    block: dict[str, Any] = {
        "train_accuracy": accuracy(train_p, train_y),
        "train_loss": negative_log_likelihood(train_p, train_y),
        "test_accuracy": accuracy(test_p, test_y),
        "test_loss": negative_log_likelihood(test_p, test_y),
    }
    block["gap"] = block["train_accuracy"] - block["test_accuracy"]
    block["loss_gap"] = block["test_loss"] - block["train_loss"]
    block["train_images"] = int(len(train_y))
    block["curves"] = curves_gap(history or {})
    return block


def curves_gap(history: Mapping[str, Sequence[float]]) -> dict[str, float] | None:
    """The last epoch's accuracy minus val_accuracy and val_loss minus loss, as recorded while
    training (dropout on, averaged over the epoch), or ``None`` without validation curves."""
    keys = ("accuracy", "val_accuracy", "loss", "val_loss")
    if not all(history.get(key) for key in keys):
        return None
    return {"accuracy_gap": float(history["accuracy"][-1]) - float(history["val_accuracy"][-1]),
            "loss_gap": float(history["val_loss"][-1]) - float(history["loss"][-1]),
            "epochs": len(history["accuracy"])}


def robustness_subset(count: int, seed: int, limit: int = ROBUSTNESS_IMAGES) -> np.ndarray:
    """Which test images are corrupted: all of them, or ``limit`` chosen by ``seed``."""
    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=limit, replace=False))


def corrupted_copies(x_test: np.ndarray, seed: int,
                     limit: int = ROBUSTNESS_IMAGES) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The chosen test rows and their copy under every corruption.

    The copies depend on the images and the seed alone, so the variants of one training run
    share them: the last set is kept.
    """
    key = (hashlib.sha1(np.ascontiguousarray(x_test).tobytes()).hexdigest(), seed, limit)
    if key not in _cache:
        rows = robustness_subset(len(x_test), seed, limit)
        images = x_test[rows]
        _cache.clear()
        _cache[key] = (rows, {name: corruptions.corrupt(images, name, seed)
                              for name in corruptions.CORRUPTIONS})
    return _cache[key]


def robustness_block(predict: Predict, x_test: np.ndarray, y_test: np.ndarray,
                     seed: int = corruptions.SEED, limit: int = ROBUSTNESS_IMAGES,
                     probabilities: np.ndarray | None = None) -> dict[str, Any]:
    """Accuracy on a corrupted copy of the test split per corruption, their mean, and the
    accuracy on the same images uncorrupted (from the test ``probabilities`` when given)."""
    rows, copies = corrupted_copies(x_test, seed, limit)
    labels = np.asarray(y_test)[rows]
    clean = accuracy(probabilities[rows] if probabilities is not None else
                     predict_all(predict, to_model_input(x_test[rows])), labels)
    # One pass over every copy: fewer, larger batches.
    everything = predict_all(predict, to_model_input(np.concatenate(list(copies.values()))))
    scores = {name: accuracy(part, labels) for name, part in
              zip(copies, np.split(everything, len(copies)), strict=True)}
    return {
        "corruptions": scores,
        "mean_accuracy": float(np.mean(list(scores.values()))),
        "clean_accuracy": clean,
        "seed": int(seed),
        "images": int(len(rows)),
        "severities": {c.name: c.default for c in corruptions.SUITE
                       if c.name in corruptions.CORRUPTIONS},
        "suite": "MNIST-C (Mu & Gilmer, 2019), each corruption at MNIST-C's severity",
    }


def beyond_accuracy(predict: Predict, test: tuple[np.ndarray, np.ndarray], x_test: np.ndarray,
                    fitted: tuple[np.ndarray, np.ndarray],
                    validation: tuple[np.ndarray, np.ndarray] | None,
                    history: Mapping[str, Sequence[float]] | None) -> dict[str, Any]:
    """The three metadata blocks of one model.

    ``test``: (probabilities, labels) of the whole test split; ``x_test``: its uint8 images;
    ``fitted`` and ``validation``: (model inputs, labels) of the rows it was fitted and
    validated on (at most :data:`TRAIN_IMAGES` of each are used).
    """
    x_fit, y_fit = fitted
    train = (predict_all(predict, x_fit[:TRAIN_IMAGES]), np.asarray(y_fit)[:TRAIN_IMAGES])
    held_out = None
    if validation is not None and len(validation[1]):
        x_val, y_val = validation
        held_out = (predict_all(predict, x_val[:TRAIN_IMAGES]), np.asarray(y_val)[:TRAIN_IMAGES])
    return {
        md.CALIBRATION: calibration_block(*test, held_out=held_out),
        md.GENERALIZATION: generalization_block(train, test, history),
        md.ROBUSTNESS: robustness_block(predict, x_test, test[1], probabilities=test[0]),
    }
