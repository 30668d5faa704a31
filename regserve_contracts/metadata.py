"""``metadata.json``, the contract between the trainer and everyone who reads a version folder.

The trainer writes each version's metadata through :func:`build_metadata`, keyed by the names
here; the server, the reports, the sweep and the benchmarks read it through :class:`Metadata`,
never by retyping a key. Blocks added after schema 1 are optional: an older export still serves,
and :meth:`Metadata.missing` names what it lacks so an answer can say "not available".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Bumped when a key changes meaning; new optional blocks do not bump it.
SCHEMA_VERSION = 1

# The keys of the top-level document. Schema 1's keys are always present in a valid export.
SCHEMA = "schema_version"
VARIANT = "variant"
LABELS = "labels"
DATA = "data"  #: {name, description, train_size, test_size, fingerprint (SHA-256; newer exports)}
TRAINING = "training"
HISTORY = "history"
TEST = "test"
PARAMETERS = "parameters"
WEIGHT_SPARSITY = "weight_sparsity"
WEIGHTS_SHA256 = "weights_sha256"
ACTIVATION_SPARSITY_TEST = "activation_sparsity_test"
SERVING = "serving"
TRAINING_SECONDS = "training_seconds"
SAMPLES_PER_SECOND = "samples_per_second"
CREATED = "created"
# Views of what a penalty did (trainer/penalty_views.py): weight histograms and the pruning curve.
WEIGHT_HISTOGRAM = "weight_histogram"
PRUNING = "pruning"
# Optional blocks, each written by the part of the trainer that computes it.
SWEEP = "sweep"  #: a sweep point: {name, point, engine, ...}
REPEAT = "repeat"  #: a repeat over seeds: {group, seed, index, of}
PREDICTIONS = "predictions"  #: test-set predictions file: {file, test_fingerprint, size}
CALIBRATION = "calibration"  #: {ece, mce, nll, brier, bins: [{count, confidence, accuracy}]}
GENERALIZATION = "generalization"  #: {train_accuracy, train_loss, test_accuracy, test_loss, gap}
ROBUSTNESS = "robustness"  #: {corruptions: {name: accuracy}, mean_accuracy, seed}
ONNX = "onnx"  #: the ONNX twin: {file, opset, max_abs_diff, ...}
#: Inside ``data``: SHA-256 of the arrays trained and tested on (equal digests, equal data).
DATA_FINGERPRINT = "fingerprint"
#: The data block's name for the bundled offline set (not EMNIST: every report says so).
SYNTHETIC_SOURCE = "synthetic-offline"

REQUIRED = (SCHEMA, VARIANT, LABELS, DATA, TRAINING, HISTORY, TEST, PARAMETERS, WEIGHT_SPARSITY)
OPTIONAL_BLOCKS = (SWEEP, REPEAT, PREDICTIONS, CALIBRATION, GENERALIZATION, ROBUSTNESS, ONNX)

#: Where ``weight_sparsity`` keeps the whole model's shares.
SPARSITY_ALL = "all"
#: How every variant is compiled, and what ``training`` records of it: one home for both.
OPTIMIZER = "adam"
LOSS = "categorical_crossentropy"
#: Blocks a training may add beside the required ones (views of the penalty, then the rest).
EXTRA_BLOCKS = (WEIGHT_HISTOGRAM, PRUNING, *OPTIONAL_BLOCKS)


class MetadataError(ValueError):
    """A ``metadata.json`` that is not a usable export (not an object, or a required key gone)."""


@dataclass(frozen=True)
class Metadata:
    """Read access to one version's metadata; ``raw`` is the JSON document as loaded."""

    raw: Mapping[str, Any]

    @classmethod
    def parse(cls, document: Any) -> Metadata:
        """Check the document's shape; raise :class:`MetadataError` naming what is wrong."""
        if not isinstance(document, Mapping):
            raise MetadataError("metadata.json does not hold a JSON object")
        labels = document.get(LABELS)
        if not isinstance(labels, Mapping):
            raise MetadataError(f"metadata.json has no {LABELS!r} mapping")
        return cls(document)

    def get(self, key: str, default: Any = None) -> Any:
        """The value under a top-level key (one of this module's constants)."""
        return self.raw.get(key, default)

    def block(self, key: str) -> dict[str, Any]:
        """A mapping-valued block, or ``{}`` where this export lacks it."""
        value = self.raw.get(key)
        return dict(value) if isinstance(value, Mapping) else {}

    def missing(self, keys: tuple[str, ...] = OPTIONAL_BLOCKS) -> list[str]:
        """Which of ``keys`` this export lacks (an older trainer did not write them)."""
        return [key for key in keys if key not in self.raw]

    @property
    def schema_version(self) -> int:
        return int(self.raw.get(SCHEMA, 1))

    @property
    def variant(self) -> dict[str, Any]:
        return self.block(VARIANT)

    @property
    def label(self) -> str | None:
        return self.variant.get("label")

    @property
    def data(self) -> dict[str, Any]:
        return self.block(DATA)

    @property
    def training(self) -> dict[str, Any]:
        return self.block(TRAINING)

    @property
    def history(self) -> dict[str, list[float]]:
        return {key: [float(v) for v in values] for key, values in self.block(HISTORY).items()}

    @property
    def test_accuracy(self) -> float:
        return float(self.block(TEST).get("accuracy", math.nan))

    @property
    def test_loss(self) -> float:
        return float(self.block(TEST).get("loss", math.nan))

    @property
    def weight_sparsity(self) -> dict[str, Any]:
        return self.block(WEIGHT_SPARSITY)

    @property
    def activation_sparsity_test(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.block(ACTIVATION_SPARSITY_TEST).items()}

    def label_names(self, classes: int) -> tuple[str, ...]:
        """The characters of classes ``0 .. classes-1`` (``KeyError`` if one is missing)."""
        labels = self.raw[LABELS]
        return tuple(str(labels[str(index)]) for index in range(classes))


def build_metadata(*, variant: Mapping[str, Any], labels: Mapping[str, str],
                   data: Mapping[str, Any], training: Mapping[str, Any],
                   history: Mapping[str, Any], test: Mapping[str, float], parameters: int,
                   weight_sparsity: Mapping[str, Any], weights_sha256: str,
                   activation_sparsity_test: Mapping[str, float], serving: Mapping[str, Any],
                   training_seconds: float, samples_per_second: float, created: str,
                   blocks: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The one builder of a version's ``metadata.json`` document.

    ``test`` is ``{loss, accuracy}`` on the whole test split, the loss as Keras' ``evaluate``
    reports it: cross-entropy plus the weight and activity penalties (the losses in
    ``calibration`` and ``generalization`` are cross-entropy alone). ``training`` gets
    :data:`OPTIMIZER` and :data:`LOSS`; ``blocks`` holds any of :data:`EXTRA_BLOCKS`.
    """
    unknown = sorted(set(blocks or {}) - set(EXTRA_BLOCKS))
    if unknown:
        raise MetadataError(f"not a metadata block: {', '.join(unknown)}")
    document = {
        SCHEMA: SCHEMA_VERSION, VARIANT: dict(variant), LABELS: dict(labels), DATA: dict(data),
        TRAINING: {**training, "optimizer": OPTIMIZER, "loss": LOSS},
        HISTORY: {key: [float(v) for v in values] for key, values in history.items()},
        TEST: {"loss": float(test["loss"]), "accuracy": float(test["accuracy"])},
        PARAMETERS: int(parameters), WEIGHT_SPARSITY: dict(weight_sparsity),
        WEIGHTS_SHA256: weights_sha256, ACTIVATION_SPARSITY_TEST: dict(activation_sparsity_test),
        SERVING: dict(serving), TRAINING_SECONDS: round(float(training_seconds), 3),
        SAMPLES_PER_SECOND: round(float(samples_per_second), 1), CREATED: created,
        **(blocks or {}),
    }
    Metadata.parse(document)
    return document
