"""What a tracked run records of one model, read from its ``metadata.json`` (no MLflow here).

The run's params, final metrics and tags are taken from the exported version's metadata, so the
tracker and the models folder cannot disagree. Blocks that other parts of the trainer add
(calibration, robustness, generalization, ...) are logged generically: every finite number in
them becomes a metric named by its path, e.g. ``calibration.ece``; lists (histograms, bins,
curves) are left to the artifacts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from regserve_contracts import metadata as md

#: (param name, metadata block, key in that block), in the order the MLflow UI lists them.
PARAMS: tuple[tuple[str, str, str], ...] = (
    ("variant", md.VARIANT, "name"),
    ("penalty", md.VARIANT, "penalty"),
    ("where", md.VARIANT, "where"),
    ("lambda", md.VARIANT, "lam"),
    ("seed", md.TRAINING, "seed"),
    ("epochs", md.TRAINING, "epochs"),
    ("batch_size", md.TRAINING, "batch_size"),
    ("limit", md.TRAINING, "limit"),
    ("validation_split", md.TRAINING, "validation_split"),
    ("data", md.DATA, "name"),
    ("data_fingerprint", md.DATA, md.DATA_FINGERPRINT),
    ("train_size", md.DATA, "train_size"),
    ("test_size", md.DATA, "test_size"),
)
#: Top-level numbers of metadata.json that are metrics of the run.
SCALAR_METRICS = (md.PARAMETERS, md.TRAINING_SECONDS, md.SAMPLES_PER_SECOND)
#: Blocks whose numbers are metrics, flattened by path; a block an export lacks is skipped.
METRIC_BLOCKS = (md.TEST, md.WEIGHT_SPARSITY, md.ACTIVATION_SPARSITY_TEST, md.GENERALIZATION,
                 md.CALIBRATION, md.ROBUSTNESS, md.ONNX)
#: Numbers inside those blocks that are settings, not measurements.
NOT_MEASURED = frozenset({"seed", "opset"})
#: MLflow accepts letters, digits and ``_ - . / : space`` in names; sparsity keys are "<1e-03".
_SYMBOLS = (("<=", "le"), (">=", "ge"), ("==", "eq"), ("<", "lt"), (">", "gt"))
_INVALID = re.compile(r"[^\w.\-/: ]")


def metric_name(key: str) -> str:
    """A metadata key as an MLflow name: ``<1e-03`` -> ``lt1e-03``, ``==0`` -> ``eq0``."""
    for symbol, word in _SYMBOLS:
        key = key.replace(symbol, word)
    return _INVALID.sub("_", key)


def params(metadata: Mapping[str, Any]) -> dict[str, str]:
    """The run's params (strings, as MLflow stores them); keys an export lacks are left out."""
    found = {}
    for name, block, key in PARAMS:
        section = metadata.get(block)
        if isinstance(section, Mapping) and key in section:
            found[name] = str(section[key])
    return found


def final_metrics(metadata: Mapping[str, Any]) -> dict[str, float]:
    """Every finite number of the known blocks, by dotted path (``test.accuracy``)."""
    found: dict[str, float] = {}
    for key in SCALAR_METRICS:
        _flatten(metadata.get(key), metric_name(key), found)
    for block in METRIC_BLOCKS:
        _flatten(metadata.get(block), metric_name(block), found)
    return found


def _flatten(value: Any, path: str, found: dict[str, float]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if str(key) not in NOT_MEASURED:
                _flatten(inner, f"{path}.{metric_name(str(key))}", found)
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        found[path] = float(value)


def epoch_metrics(history: Mapping[str, Any]) -> list[tuple[str, float, int]]:
    """``(name, value, epoch)`` for every epoch of the history, epochs counted from 1."""
    return [(metric_name(key), float(value), epoch)
            for key, values in history.items()
            for epoch, value in enumerate(values, start=1)
            if isinstance(value, int | float) and math.isfinite(value)]


def tags(metadata: Mapping[str, Any], version_dir: Path) -> dict[str, str]:
    """Where the model went, and the sweep and repeat group it belongs to, if any."""
    found = {"variant": str(metadata.get(md.VARIANT, {}).get("name", version_dir.parent.name)),
             "export_path": str(version_dir), "version": version_dir.name, "kind": "model"}
    sweep, repeat = metadata.get(md.SWEEP), metadata.get(md.REPEAT)
    if isinstance(sweep, Mapping) and sweep.get("name"):
        found["sweep"] = str(sweep["name"])
    if isinstance(repeat, Mapping) and repeat.get("group") is not None:
        found["repeat_group"] = str(repeat["group"])
    return found


def planned(variant: Mapping[str, Any], settings: Any, data: Mapping[str, Any],
            seed: int | None = None) -> dict:
    """The metadata blocks a run's params come from, known before training: the variant's
    ``to_dict()``, the training settings (a dataclass; ``seed`` overrides its seed) and the
    data's ``summary()``."""
    training = {key: value for key, value in asdict(settings).items() if key != "verbose"}
    if seed is not None:
        training["seed"] = seed
    return {md.VARIANT: dict(variant), md.TRAINING: training, md.DATA: dict(data)}
