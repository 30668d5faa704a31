"""Beyond accuracy in the API: the calibration, generalization and robustness blocks of a variant,
their mean +- sd over its seeds, and ``?include=corruptions`` (the drawing under every MNIST-C
corruption, read by each variant).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np

from regserve_contracts import corruptions
from regserve_contracts import metadata as md
from regserve_contracts.decoding import to_png
from regserve_contracts.seeds import group_members, over_seeds
from regserve_contracts.signature import SERVING_PROBABILITIES, to_model_input
from server.runtime.registry import LoadedVariant, Snapshot

#: The metadata blocks ``GET /variants/<name>`` carries, as the trainer wrote them.
BLOCKS = (md.CALIBRATION, md.GENERALIZATION, md.ROBUSTNESS)
INCLUDE = "corruptions"
#: The key of the figures over seeds in ``/variants/<name>``.
OVER_SEEDS = "beyond_over_seeds"


def variant_blocks(variant: LoadedVariant, models_dir: Path | None = None) -> dict[str, Any]:
    """Each block from the version's metadata, or ``{available: false, detail}`` where the
    version was exported before it was measured; with ``models_dir`` (default: the served
    one), their mean +- sd over the seeds of the version's repeat group."""
    metadata = md.Metadata(variant.metadata)
    lacking = set(metadata.missing(BLOCKS))
    blocks = {key: ({"available": False,
                     "detail": f"version {variant.version} of {variant.name} was exported "
                               f"before {key} was measured; `python -m trainer --evaluate` "
                               "adds it"}
                    if key in lacking else metadata.block(key))
              for key in BLOCKS}
    if models_dir is None:
        from server.state import current_state

        models_dir = current_state().settings.models_dir
    return {**blocks, OVER_SEEDS: seeds_view(variant, Path(models_dir))}


def seeds_view(variant: LoadedVariant, models_dir: Path) -> dict[str, Any] | None:
    """Mean +- sd over the seeds of the served version's repeat group; ``None`` when it was
    trained once, or when the served version is not in the newest group on disk."""
    members = group_members(models_dir / variant.name)
    if variant.version not in {int(folder.name) for folder, _ in members}:
        return None
    return over_seeds(members)


def corruption_images(pixels: np.ndarray, seed: int = corruptions.SEED) -> dict[str, np.ndarray]:
    """The 28x28 input under every corruption of the suite, ``identity`` first."""
    return corruptions.suite(np.asarray(pixels, dtype=np.uint8), seed)


def corruptions_view(snapshot: Snapshot, served: dict[str, tuple[str, LoadedVariant]],
                     pixels: np.ndarray, answers: dict[str, dict]) -> dict[str, Any]:
    """Add each variant's reading of every corrupted copy to its answer (in place) and return
    the copies themselves, once for all variants; one batched call into the engine.

    ``served`` maps each answer's name to the engine's key for it and the loaded variant.
    """
    images = corruption_images(pixels)
    keys = {name: served[name][0] for name in answers}
    outputs = snapshot.engine.run(to_model_input(np.stack(list(images.values()))),
                                  list(dict.fromkeys(keys.values())))
    for name, key in keys.items():
        probabilities = np.asarray(outputs[key][SERVING_PROBABILITIES], dtype=np.float64)
        labels = served[name][1].labels
        original = int(answers[name]["top"][0]["index"])
        readings = []
        for corruption, row in zip(images, probabilities, strict=True):
            index = int(np.argmax(row))
            readings.append({"name": corruption, "prediction": labels[index], "index": index,
                             "probability": float(row[index]), "same": index == original})
        kept = [r["same"] for r in readings if r["name"] != corruptions.IDENTITY]
        answers[name][INCLUDE] = {"readings": readings, "kept": float(np.mean(kept))}
    return {"seed": corruptions.SEED,
            "images": [{"name": name, "severity": corruptions.BY_NAME[name].default,
                        "png_base64": base64.b64encode(to_png(image)).decode("ascii")}
                       for name, image in images.items()]}


# --- the OpenAPI schemas of the above (merged into server/routes/openapi.py's components) --

_NUMBER, _INTEGER, _STRING = {"type": "number"}, {"type": "integer"}, {"type": "string"}
_SHARE = {"type": "number", "minimum": 0, "maximum": 1}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": list(required),
            "properties": {**required, **(optional or {})}}


def _or_unavailable(name: str) -> dict[str, Any]:
    return {"oneOf": [{"$ref": f"#/components/schemas/{name}"},
                      {"$ref": "#/components/schemas/Unavailable"}]}


SCHEMAS: dict[str, Any] = {
    "ReliabilityBin": _obj({"count": _INTEGER, "confidence": {"type": ["number", "null"]},
                            "accuracy": {"type": ["number", "null"]}}),
    "Calibration": _obj({
        "ece": {**_SHARE, "description": "Expected calibration error, 15 equal-width "
                "confidence bins (Guo et al., 2017), on the test split."},
        "mce": {**_SHARE, "description": "Maximum calibration error over the bins."},
        "nll": {**_NUMBER, "description": "Mean -log p(true class), no penalty term."},
        "brier": {**_NUMBER, "description": "Multi-class Brier score (0 best, 2 worst)."},
        "bins": {"type": "array", "items": {"$ref": "#/components/schemas/ReliabilityBin"},
                 "description": "Bin m holds confidences in (m/15, (m+1)/15]."},
    }, {"images": _INTEGER, "temperature": _NUMBER, "ece_temperature_scaled": _SHARE,
        "ece_interval": {**_obj({"low": _SHARE, "high": _SHARE, "level": _SHARE}, {
            "resamples": _INTEGER, "seed": _INTEGER, "method": _STRING,
            "if_calibrated": {**_SHARE, "description": "The mean ECE a perfectly calibrated "
                              "model with these confidences shows on as many images."}}),
            "description": "The ECE's interval over test images (bias-corrected percentile "
                           "bootstrap); newer exports only."}}),
    "Generalization": _obj({
        "train_accuracy": _SHARE, "train_loss": _NUMBER, "test_accuracy": _SHARE,
        "test_loss": _NUMBER,
        "gap": {**_NUMBER, "description": "train_accuracy - test_accuracy, both measured in "
                "inference mode (no dropout)."},
    }, {"loss_gap": _NUMBER, "train_images": _INTEGER,
        "curves": {"type": ["object", "null"], "description": "The last epoch's accuracy - "
                   "val_accuracy and val_loss - loss of the training curves."}}),
    "Robustness": _obj({
        "corruptions": {"type": "object", "additionalProperties": _SHARE, "description":
                        "Test accuracy under each MNIST-C corruption."},
        "mean_accuracy": _SHARE, "seed": _INTEGER,
    }, {"clean_accuracy": _SHARE, "images": _INTEGER, "severities": {"type": "object"},
        "suite": _STRING}),
    "CorruptionReadings": _obj({
        "readings": {"type": "array", "items": _obj({
            "name": _STRING, "prediction": _STRING, "index": _INTEGER, "probability": _SHARE,
            "same": {"type": "boolean", "description": "Read as the uncorrupted input was."}})},
        "kept": {**_SHARE, "description": "Share of the corruptions (identity aside) read as "
                 "the uncorrupted input was."},
    }),
    "CorruptionImages": _obj({
        "seed": _INTEGER,
        "images": {"type": "array", "items": _obj({
            "name": _STRING, "severity": {"type": ["integer", "null"]},
            "png_base64": {**_STRING, "contentEncoding": "base64",
                           "contentMediaType": "image/png"}})},
    }),
}
#: Properties ``/variants/<name>`` adds (VariantDetail).
_SPREAD = {"type": ["object", "null"], "properties": {
    "mean": _NUMBER, "sd": _NUMBER, "values": {"type": "array", "items": _NUMBER}}}
DETAIL_PROPERTIES = {"calibration": _or_unavailable("Calibration"),
                     "generalization": _or_unavailable("Generalization"),
                     "robustness": _or_unavailable("Robustness"),
                     OVER_SEEDS: {"type": ["object", "null"], "description": "Mean and sample "
                                  "sd over the seeds of this version's repeat group (null when "
                                  "trained once).", "properties": {
                                      "seeds": _INTEGER, "versions": {"type": "array"},
                                      "ece": _SPREAD, "nll": _SPREAD, "gap": _SPREAD,
                                      "corrupted_accuracy": _SPREAD, "definition": _STRING}}}
