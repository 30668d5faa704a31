"""What the trainer measures about a fitted model: one pass over the test set, then pure
measurements on its arrays.

:func:`evaluation_pass` runs the model over the test images once, in inference mode, and keeps
what every measurement needs: the probabilities, each ReLU layer's share of exact zeros and the
activity penalty. :func:`evaluate_version` turns that pass into the metadata blocks (keys from
:mod:`regserve_contracts.metadata`) and a writer of ``predictions.npz``; the test loss is the
cross-entropy of the probabilities plus the penalties, as Keras' ``evaluate`` reports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.calibration import accuracy, negative_log_likelihood
from regserve_contracts import metadata as md
from regserve_contracts.signature import ACTIVATION_LAYERS, INPUT_SHAPE, to_model_input
from trainer.beyond import TRAIN_IMAGES, beyond_accuracy, keras_predictor
from trainer.data import Dataset
from trainer.model import ACTIVATION_ZERO, PENALIZED_LAYERS
from trainer.predictions import record_predictions
from trainer.splits import split_rows

#: Images per forward pass: memory stays flat (conv1's output alone is 86 KB per image).
PASS_BATCH = 500
#: Keras clips probabilities here before its cross-entropy's logarithm.
KERAS_EPSILON = 1e-7


@dataclass(frozen=True)
class EvaluationPass:
    """A fitted model's one pass over the test images, in inference mode."""

    probabilities: np.ndarray  # (N, classes), float64
    activation_zeros: dict[str, float]  # per ReLU layer: share of activations <= 0
    activity_penalty: float  # the activity regularizers' mean per image (0 without)


@dataclass
class Evaluation:
    """Metadata blocks to merge into ``metadata.json`` and files to write beside the model."""

    metadata: dict[str, Any] = field(default_factory=dict)
    files: list[Callable[[Path], None]] = field(default_factory=list)


def evaluation_pass(model, images: np.ndarray, batch: int = PASS_BATCH) -> EvaluationPass:
    """Run ``model`` over ``images`` (model inputs) once; traced, so each batch is one call."""
    import keras
    import tensorflow as tf

    layers = [model.get_layer(name) for name in ACTIVATION_LAYERS]
    probe = keras.Model(model.inputs[0], [model.output, *[layer.output for layer in layers]])
    traced = tf.function(lambda x: probe(x, training=False),
                         input_signature=[tf.TensorSpec([None, *INPUT_SHAPE], tf.float32)])
    regularized = [(index, layer.activity_regularizer) for index, layer in
                   enumerate([model.get_layer(PENALIZED_LAYERS[-1]), *layers])
                   if layer.activity_regularizer is not None]
    parts, zeros, penalty = [], np.zeros(len(layers)), 0.0
    for start in range(0, len(images), batch):
        outputs = traced(tf.constant(images[start:start + batch]))
        parts.append(np.asarray(outputs[0], dtype=np.float64))
        zeros += [float(np.sum(np.asarray(out) <= ACTIVATION_ZERO)) / out.shape[1:].num_elements()
                  for out in outputs[1:]]
        penalty += sum(float(regularizer(outputs[index])) for index, regularizer in regularized)
    count = max(len(images), 1)
    probabilities = np.concatenate(parts) if parts else np.zeros((0, 0))
    return EvaluationPass(probabilities,
                          {name: float(z / count) for name, z in zip(ACTIVATION_LAYERS, zeros,
                                                                     strict=True)},
                          penalty / count)


def weight_penalty(model) -> float:
    """The kernel and bias regularizers' sum over the penalized layers (0 without)."""
    total = 0.0
    for name in PENALIZED_LAYERS:
        layer = model.get_layer(name)
        for regularizer, weights in ((layer.kernel_regularizer, layer.kernel),
                                     (layer.bias_regularizer, layer.bias)):
            if regularizer is not None:
                total += float(regularizer(weights))
    return total


def loss_and_accuracy(model, answers: EvaluationPass, labels: np.ndarray) -> dict[str, float]:
    """``test``: accuracy, and the loss as Keras' ``evaluate`` gives it: cross-entropy plus
    the weight penalty plus the activity penalty per image (Keras divides it by the batch)."""
    loss = (negative_log_likelihood(answers.probabilities, labels, floor=KERAS_EPSILON)
            + weight_penalty(model) + answers.activity_penalty)
    return {"loss": loss, "accuracy": accuracy(answers.probabilities, labels)}


def evaluate_version(model, answers: EvaluationPass, x_fit: np.ndarray, y_fit: np.ndarray,
                     dataset: Dataset, config) -> Evaluation:
    """Every export-time evaluation of a fitted ``model`` from its pass over the test set.

    ``x_fit``/``y_fit``: the model inputs it was fitted on (validation rows excluded) and their
    integer labels; ``answers``: its pass over ``dataset.x_test``, labelled by ``dataset.y_test``.
    """
    evaluation = Evaluation()
    evaluation.metadata[md.TEST] = loss_and_accuracy(model, answers, dataset.y_test)
    evaluation.metadata[md.ACTIVATION_SPARSITY_TEST] = answers.activation_zeros
    block, write = record_predictions(answers.probabilities, dataset)  # for pairing
    evaluation.metadata.update(block)
    evaluation.files.append(write)
    # How sure, how much it overfits, how robust (trainer/beyond.py).
    _, validation_rows = split_rows(len(dataset.x_train), config.seed, config.validation_split)
    validation = (to_model_input(dataset.x_train[validation_rows[:TRAIN_IMAGES]]),
                  dataset.y_train[validation_rows[:TRAIN_IMAGES]])
    history = getattr(getattr(model, "history", None), "history", None)  # set by model.fit
    evaluation.metadata.update(beyond_accuracy(
        keras_predictor(model), (answers.probabilities, dataset.y_test), dataset.x_test,
        (x_fit, y_fit), validation, history))
    return evaluation
