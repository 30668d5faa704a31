"""One variant's results as the reports show them, shared by the tables and the charts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regserve_contracts import metadata as md
from regserve_contracts.metadata import Metadata

#: The weight-sparsity threshold the reports show (a key of metadata's ``weight_sparsity``).
SPARSITY_KEY = "<1e-03"


def is_synthetic(source: str) -> bool:
    """Whether a data source name is the bundled offline set (not EMNIST)."""
    return source == md.SYNTHETIC_SOURCE


@dataclass(frozen=True)
class ResultRow:
    """What the reports show of one variant's newest version, read from its metadata."""

    variant: str
    label: str
    penalty: str
    where: str
    lam: float
    version: int
    data_source: str
    data_description: str
    test_loss: float
    test_accuracy: float
    weight_sparsity: float  # share of |w| < 1e-3 over all penalized layers
    weight_zero: float  # share of weights exactly 0
    activation_sparsity: float  # mean over the measured layers, on the test set
    epochs: int
    train_samples: int
    training_seconds: float
    history: dict[str, list[float]]
    pruning: tuple[dict[str, float], ...] = ()  # the export's pruning curve; older lack it
    # Beyond accuracy (trainer/beyond.py); NaN and {} for versions exported before it.
    ece: float = math.nan
    ece_low: float = math.nan  # the ECE's 95% interval over test images (newer exports)
    ece_high: float = math.nan
    nll: float = math.nan
    corruptions: dict[str, float] = field(default_factory=dict)  # corruption -> test accuracy
    corruption_images: int = 0  # test images each corrupted copy holds

    @classmethod
    def from_metadata(cls, version_dir: Path, document: Mapping[str, Any]) -> ResultRow:
        """Read a row from a version's metadata; missing fields become NaN or 0."""
        metadata = Metadata(document)
        variant, data, training = metadata.variant, metadata.data, metadata.training
        overall = metadata.weight_sparsity.get(md.SPARSITY_ALL, {})
        activations = list(metadata.activation_sparsity_test.values())
        return cls(
            variant=str(variant.get("name", version_dir.parent.name)),
            label=str(metadata.label or ""),
            penalty=str(variant.get("penalty", "none")),
            where=str(variant.get("where", "none")),
            lam=float(variant.get("lam", 0.0)),
            version=int(version_dir.name),
            data_source=str(data.get("name", "unknown")),
            data_description=str(data.get("description", "")),
            test_loss=metadata.test_loss,
            test_accuracy=metadata.test_accuracy,
            weight_sparsity=float(overall.get(SPARSITY_KEY, math.nan)),
            weight_zero=float(overall.get("==0", math.nan)),
            activation_sparsity=(sum(activations) / len(activations)) if activations else math.nan,
            epochs=int(training.get("epochs", 0)),
            train_samples=int(training.get("train_samples", 0)),
            training_seconds=float(metadata.get(md.TRAINING_SECONDS, math.nan)),
            history=metadata.history,
            pruning=tuple(metadata.get(md.PRUNING) or ()),
            **beyond_fields(document),
        )


def beyond_fields(metadata: dict[str, Any]) -> dict[str, Any]:
    """ECE, NLL and the corruption accuracies of a version's metadata, where it has them."""
    read = md.Metadata(metadata)
    calibration, robustness = read.block(md.CALIBRATION), read.block(md.ROBUSTNESS)
    interval = calibration.get("ece_interval") or {}
    return {"ece": float(calibration.get("ece", math.nan)),
            "ece_low": float(interval.get("low", math.nan)),
            "ece_high": float(interval.get("high", math.nan)),
            "nll": float(calibration.get("nll", math.nan)),
            "corruptions": {name: float(value) for name, value in
                            (robustness.get("corruptions") or {}).items()},
            "corruption_images": int(robustness.get("images", 0))}
