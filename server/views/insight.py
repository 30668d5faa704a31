"""What a penalty did, for one input and one model: feature maps, stability, conv1's filters."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from typing import Any

import numpy as np
from PIL import Image

from regserve_contracts import metadata as md
from regserve_contracts.decoding import to_png
from regserve_contracts.metadata import Metadata
from regserve_contracts.signature import (
    FILTER_LAYER,
    SERVING_PROBABILITIES,
    kernel_variable,
    to_model_input,
)
from server.errors import ApiError
from server.runtime.registry import LoadedVariant, Snapshot
from server.views import perturb, robustness

#: What ``POST /predict?include=`` may ask for.
INCLUDE_OPTIONS: tuple[str, ...] = ("activations", "stability", robustness.INCLUDE)
#: Feature-map mosaics: tiles per row and the grey gap between tiles.
MOSAIC_COLUMNS = 8
MOSAIC_GAP = 1
MOSAIC_GAP_VALUE = 96
#: Filter grid: each 3x3 kernel cell drawn as a square of this many pixels, gaps between tiles.
FILTER_COLUMNS = 8
FILTER_CELL = 8
FILTER_GAP = 2
FILTER_GAP_RGB = (64, 64, 64)
#: Metadata fields the trainer writes at export (trainer.penalty_views); older versions lack them.
METADATA_VIEWS = (md.WEIGHT_HISTOGRAM, md.PRUNING)


class FiltersUnavailableError(LookupError):
    """The loaded model has no conv1 kernel to draw."""


def parse_include(values: Iterable[str]) -> frozenset[str]:
    """``?include=`` values (repeated or comma-separated) -> the set asked for; 400 on others."""
    wanted = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = sorted(wanted - set(INCLUDE_OPTIONS))
    if unknown:
        # Echo a few, shortened: a hostile query string must not come back at full length.
        named = ", ".join(repr(u[:40]) for u in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ApiError(400, f"include takes a comma list of {', '.join(INCLUDE_OPTIONS)}; "
                       f"unknown: {named}", "invalid_parameter")
    return frozenset(wanted)


def add_views(answers: dict[str, dict], snapshot: Snapshot,
              served: dict[str, tuple[str, LoadedVariant]], pixels: np.ndarray,
              include: frozenset[str]) -> dict[str, Any]:
    """Add the asked-for views to each variant's answer, in place; return what the answer
    gets once for all variants (the corrupted images).

    ``served`` maps each answer's name (``name`` or ``name@version``) to the engine's key for
    it and the loaded variant, as :meth:`Snapshot.resolve` gives them.
    """
    shared: dict[str, Any] = {}
    if "activations" in include:
        batch = to_model_input(pixels)
        for name, answer in answers.items():
            answer["activations"] = activations_view(served[name][1], batch)
    if "stability" in include:
        keys = {name: served[name][0] for name in answers}
        for name, view in stability(snapshot, keys, pixels, answers).items():
            answers[name]["stability"] = view
    if robustness.INCLUDE in include:
        shared[robustness.INCLUDE] = robustness.corruptions_view(snapshot, served, pixels, answers)
    return shared


def feature_maps(variant: LoadedVariant, batch: np.ndarray) -> dict[str, np.ndarray] | None:
    """Each conv layer's feature maps for the first image of ``batch``, or None for a version
    exported before the activations signature existed."""
    return variant.model.feature_maps(batch)


def activations_view(variant: LoadedVariant, batch: np.ndarray) -> dict[str, Any]:
    """``{conv1: {...}, conv2: {...}}``, or ``{available: false, detail}`` for an old version."""
    maps = feature_maps(variant, batch)
    if maps is None:
        return {"available": False,
                "detail": f"version {variant.version} of {variant.name} was exported before "
                          "feature maps were saved; retrain it to see them"}
    return {layer: layer_view(values) for layer, values in maps.items()}


def layer_view(maps: np.ndarray) -> dict[str, Any]:
    """One layer's ``(h, w, channels)`` maps: a PNG mosaic, the shape and the silent channels."""
    height, width, channels = maps.shape
    peak = float(maps.max())
    return {
        "shape": [height, width, channels],
        "png_base64": base64.b64encode(to_png(mosaic(maps))).decode("ascii"),
        "columns": MOSAIC_COLUMNS,
        "gap": MOSAIC_GAP,
        "max": peak,
        # A ReLU channel that is zero everywhere says nothing about this input.
        "silent_channels": [int(c) for c in np.flatnonzero((maps <= 0).all(axis=(0, 1)))],
    }


def mosaic(maps: np.ndarray) -> np.ndarray:
    """Channels as grey tiles, :data:`MOSAIC_COLUMNS` a row, scaled by the layer's own maximum
    (so a silent channel is black and the strongest pixel of the layer white)."""
    height, width, channels = maps.shape
    rows = -(-channels // MOSAIC_COLUMNS)
    peak = float(maps.max())
    scaled = np.rint(255.0 * np.clip(maps, 0, None) / peak) if peak > 0 else np.zeros_like(maps)
    image = np.full((rows * (height + MOSAIC_GAP) - MOSAIC_GAP,
                     MOSAIC_COLUMNS * (width + MOSAIC_GAP) - MOSAIC_GAP), MOSAIC_GAP_VALUE,
                    dtype=np.uint8)
    for channel in range(channels):
        row, column = divmod(channel, MOSAIC_COLUMNS)
        top, left = row * (height + MOSAIC_GAP), column * (width + MOSAIC_GAP)
        image[top:top + height, left:left + width] = scaled[:, :, channel]
    return image


def stability(snapshot: Snapshot, keys: dict[str, str], pixels: np.ndarray,
              answers: dict[str, dict]) -> dict[str, dict[str, float]]:
    """Share of :mod:`perturb`'s perturbations each variant reads as it read the original, and
    its mean probability for that reading; every variant in one batched call.

    ``keys`` maps each answer's name to the engine's key for that variant (and version).
    """
    images = to_model_input(perturb.perturbations(pixels))
    outputs = snapshot.engine.run(images, list(dict.fromkeys(keys.values())))
    views = {}
    for name, key in keys.items():
        probabilities = np.asarray(outputs[key][SERVING_PROBABILITIES])
        original = int(answers[name]["top"][0]["index"])
        views[name] = {
            "agreement": float(np.mean(np.argmax(probabilities, axis=1) == original)),
            "mean_probability": float(np.mean(probabilities[:, original])),
            "perturbations": len(images),
        }
    return views


def filter_kernel(variant: LoadedVariant) -> np.ndarray:
    """conv1's kernel ``(3, 3, 1, 32)`` from the loaded model's own weights."""
    kernel = variant.model.kernel(FILTER_LAYER)
    if kernel is None:
        raise FiltersUnavailableError(f"{variant.name} version {variant.version} has no "
                                      f"{kernel_variable(FILTER_LAYER)!r} weights")
    return kernel


def filters_png(kernel: np.ndarray) -> bytes:
    """conv1's filters as a grid of tiles: blue negative, white zero, red positive, one colour
    scale for the whole layer, so a filter a penalty switched off is plain white."""
    size, _, _, count = kernel.shape
    weights = kernel[:, :, 0, :]
    scale = float(np.abs(weights).max()) or 1.0
    share = np.clip(weights / scale, -1, 1)[..., np.newaxis]
    white = np.array([255.0, 255.0, 255.0])
    red, blue = np.array([200.0, 30.0, 30.0]), np.array([30.0, 70.0, 200.0])
    colours = np.where(share >= 0, white + share * (red - white), white - share * (blue - white))
    tile = size * FILTER_CELL
    rows = -(-count // FILTER_COLUMNS)
    image = np.empty((rows * (tile + FILTER_GAP) + FILTER_GAP,
                      FILTER_COLUMNS * (tile + FILTER_GAP) + FILTER_GAP, 3), dtype=np.uint8)
    image[:] = FILTER_GAP_RGB
    for index in range(count):
        row, column = divmod(index, FILTER_COLUMNS)
        top = FILTER_GAP + row * (tile + FILTER_GAP)
        left = FILTER_GAP + column * (tile + FILTER_GAP)
        cells = np.rint(colours[:, :, index]).astype(np.uint8)
        image[top:top + tile, left:left + tile] = np.kron(
            cells, np.ones((FILTER_CELL, FILTER_CELL, 1), dtype=np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def variant_views(variant: LoadedVariant) -> dict[str, Any]:
    """What ``/variants/<name>`` adds: histogram, pruning curve, and which views it serves."""
    return {
        **{key: Metadata(variant.metadata).get(key) for key in METADATA_VIEWS},
        "feature_maps": variant.model.has_feature_maps,
        "filters": f"/variants/{variant.name}/filters.png",
    }
