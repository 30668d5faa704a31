"""The JSON the API answers with: per-variant predictions, agreement, summaries of variants."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from regserve_contracts import metadata as md
from regserve_contracts.chance import is_collapsed
from regserve_contracts.metadata import Metadata
from regserve_contracts.signature import MEAN_SUFFIX, SERVING_PROBABILITIES, ZERO_FRACTION_SUFFIX
from server.runtime.engine import Outputs
from server.runtime.registry import LoadedVariant

#: Metadata fields copied into the summary of a variant, as they are.
SUMMARY_FIELDS = (md.TEST, md.WEIGHT_SPARSITY, md.ACTIVATION_SPARSITY_TEST, md.HISTORY,
                  md.PARAMETERS, md.TRAINING_SECONDS, md.CREATED)
TRAINING_FIELDS = ("epochs", "batch_size", "validation_split", "seed", "limit", "train_samples",
                   "validation_samples", "optimizer", "loss", "versions")
#: The data block's name before answers called it ``data``, as metadata.json does: still sent
#: beside it for one release, marked deprecated in the OpenAPI document and docs/api.md.
DATA_ALIAS = "data_source"
#: Ink that survives this many 3x3 erosions (at half intensity) is a solid blob, not strokes:
#: none of 9,424 real EMNIST characters survives more than 5, a dot drawn on the page 8 or 9.
BLOB_DEPTH = 7
TOO_LITTLE_INK = ("the ink is one solid blob (a dot or a very short mark) that was scaled up to "
                  "fill the 28x28 frame, so no variant's answer means much: draw the whole "
                  "character")


def variant_answer(variant: LoadedVariant, outputs: Outputs, top: int) -> dict[str, Any]:
    """One variant's answer for one image: ``outputs`` holds that image's row of each output."""
    probabilities = np.asarray(outputs[SERVING_PROBABILITIES], dtype=np.float64).reshape(-1)
    scalars = {key: _first(value) for key, value in outputs.items()
               if key != SERVING_PROBABILITIES}
    return _answer(variant, probabilities.tolist(), scalars, top)


def packed_answer(variant: LoadedVariant, row: np.ndarray, columns: list[str],
                  top: int) -> dict[str, Any]:
    """The same answer from one image's row of the engine's packed array: the probabilities,
    then one value per name of ``columns`` (what :meth:`SubsetEngine.run_packed` gives)."""
    values = row.tolist()  # one conversion for the row: Python floats from here on
    classes = len(values) - len(columns)
    return _answer(variant, values[:classes],
                   dict(zip(columns, values[classes:], strict=True)), top)


def packed_answers(rows: dict[str, tuple[LoadedVariant, np.ndarray, list[str]]],
                   top: int) -> dict[str, dict[str, Any]]:
    """Every variant's answer for one image, ``rows`` giving each name its variant, its row of
    the packed array and the row's column names: the rows ranked in one call (eight answers
    in 38 us instead of 49, ranked one by one); rows of different widths one by one."""
    if len({(len(row), len(columns)) for _, row, columns in rows.values()}) != 1:
        return {name: packed_answer(variant, row, columns, top)
                for name, (variant, row, columns) in rows.items()}
    matrix = np.stack([row for _, row, _ in rows.values()])
    classes = matrix.shape[1] - len(next(iter(rows.values()))[2])
    # Highest first, ties in class order, as _answer ranks them.
    orders = np.argsort(-matrix[:, :classes], axis=1, kind="stable")[:, :top].tolist()
    return {name: _answer(variant, values[:classes],
                          dict(zip(columns, values[classes:], strict=True)), top, order)
            for (name, (variant, _, columns)), values, order
            in zip(rows.items(), matrix.tolist(), orders, strict=True)}


def _answer(variant: LoadedVariant, probabilities: list[float], scalars: dict[str, float],
            top: int, order: list[int] | None = None) -> dict[str, Any]:
    if order is None:
        # Highest first; sorted() is stable, so tied labels keep class order, as the stable
        # argsort in packed_answers does (for one row of 47 numbers sorted() is the cheaper).
        order = sorted(range(len(probabilities)), key=probabilities.__getitem__,
                       reverse=True)[:top]
    static = _static(variant, scalars)
    labels = variant.labels
    return {
        "prediction": labels[order[0]],
        "top": [{"label": labels[i], "index": i, "probability": probabilities[i]}
                for i in order],
        "weight_sparsity": static["weight_sparsity"],
        "activation_sparsity": {layer: scalars[key] for layer, key in static["sparsity_keys"]},
        "activation_mean": {layer: scalars[key] for layer, key in static["mean_keys"]},
        **static["tail"],
    }


def _first(value: Any) -> float:
    """The first number of ``value`` (a numpy scalar for one image's row, or any array)."""
    return float(value) if isinstance(value, np.generic) else float(
        np.asarray(value).reshape(-1)[0])


def _static(variant: LoadedVariant, scalars: dict[str, float]) -> dict[str, Any]:
    """What every answer of ``variant`` repeats, worked out on its first answer and kept."""
    static = variant.cache.get("answer")
    if static is None:
        static = {
            "weight_sparsity": Metadata(variant.metadata).weight_sparsity,
            "sparsity_keys": _layer_keys(scalars, ZERO_FRACTION_SUFFIX),
            "mean_keys": _layer_keys(scalars, MEAN_SUFFIX),
            "tail": {"version": variant.version, "label": variant.title,
                     "collapsed": collapsed(variant), "repeat": repeat_of(variant)},
        }
        variant.cache["answer"] = static
    return static


def _layer_keys(keys: Iterable[str], suffix: str) -> list[tuple[str, str]]:
    return [(key[: -len(suffix)], key) for key in keys if key.endswith(suffix)]


def repeat_of(variant: LoadedVariant) -> dict[str, Any] | None:
    """Which repeat over seeds this version is (``--seeds N``), or ``None`` if trained once."""
    return Metadata(variant.metadata).block(md.REPEAT) or None


def collapsed(variant: LoadedVariant) -> bool | None:
    """Whether the variant is at chance on its own test set (regserve_contracts.chance)."""
    metadata = Metadata(variant.metadata)
    return is_collapsed(metadata.test_accuracy, metadata.data.get("test_size"),
                        len(variant.labels))


def agreement(answers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Which labels the variants chose and how often, collapsed variants left out.

    ``majority`` is the one label with the most votes: ``None`` on a tie (``tie`` is then true)
    or when no variant counts. Tied labels are listed by their summed probability.
    """
    excluded: list[str] = []
    votes: dict[str, int] = {}
    confidence: dict[str, float] = {}
    for name, answer in answers.items():
        if answer.get("collapsed"):
            excluded.append(name)
            continue
        label = answer["prediction"]
        votes[label] = votes.get(label, 0) + 1
        confidence[label] = confidence.get(label, 0) + answer["top"][0]["probability"]
    ranked = sorted(votes, key=lambda label: (-votes[label], -confidence[label], label))
    leaders = [label for label in ranked if votes[label] == votes[ranked[0]]]
    return {
        "unanimous": len(votes) == 1,
        "votes": {label: votes[label] for label in ranked},
        "majority": leaders[0] if len(leaders) == 1 else None,
        "tie": len(leaders) > 1,
        "counted": sum(votes.values()),
        "excluded": excluded,
    }


def input_echo(pixels: np.ndarray, kind: str, preprocessed: bool,
               as_array: bool = False) -> dict[str, Any]:
    """The 28x28 image the models saw, as a PNG and as numbers; a warning if it is a blob.

    ``as_array`` leaves the numbers as the uint8 array, for an encoder that writes numpy
    arrays (the server's orjson writes the same JSON as for the list, without the 784 ints).
    """
    echo = {
        "image_png_base64": base64.b64encode(gray_png(pixels)).decode("ascii"),
        "pixels": np.ascontiguousarray(pixels, dtype=np.uint8) if as_array else pixels.tolist(),
        "kind": kind,
        "preprocessed": preprocessed,
    }
    if may_be_blob(pixels) and blob_depth(pixels) >= BLOB_DEPTH:
        echo["warning"] = {"code": "too_little_ink", "detail": TOO_LITTLE_INK}
    return echo


def may_be_blob(pixels: np.ndarray, depth: int = BLOB_DEPTH) -> bool:
    """False when the ink cannot survive ``depth - 1`` erosions: that takes a square of ink
    ``2 * depth - 1`` pixels wide, so at least that many rows with that many ink pixels. A
    character's strokes fail this at a fifth of :func:`blob_depth`'s cost."""
    side = 2 * depth - 1
    per_row = np.count_nonzero(np.asarray(pixels) >= 128, axis=1)
    return np.count_nonzero(per_row >= side) >= side


def gray_png(pixels: np.ndarray) -> bytes:
    """A small grayscale image as PNG bytes, written directly (a tenth of Pillow's time)."""
    image = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = image.shape
    rows = np.zeros((height, width + 1), np.uint8)  # each row: filter type 0, then its pixels
    rows[:, 1:] = image

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", _deflate(rows.tobytes())) + chunk(b"IEND", b""))


def _deflate(data: bytes) -> bytes:
    """The image's rows as a zlib stream of stored (uncompressed) blocks, from zlib's smallest
    state: 1 us where level 1 took 9 to 11 us (and more in a loaded worker, which clears its
    64 KiB hash table on every call), for about 500 more bytes in a 13 KB answer."""
    compressor = zlib.compressobj(0, zlib.DEFLATED, 10, 1)
    return compressor.compress(data) + compressor.flush()


def blob_depth(pixels: np.ndarray) -> int:
    """How many 3x3 erosions the ink (pixels >= 128) survives: about half its thickest width.

    The frame's edge counts as background. A 3x3 square erodes as a row of three and then a
    column of three, so each erosion is four ANDs on a padded copy.
    """
    ink = np.asarray(pixels) >= 128
    height, width = ink.shape
    padded = np.zeros((height + 2, width + 2), bool)
    depth = 0
    while ink.any():
        padded[1:-1, 1:-1] = ink
        rows = padded[:, :-2] & padded[:, 1:-1] & padded[:, 2:]
        ink, depth = rows[:-2] & rows[1:-1] & rows[2:], depth + 1
    return depth


def trained_on(variants: list[LoadedVariant]) -> dict[str, Any]:
    """The data the variants were trained on; says so plainly when they differ."""
    sources = {variant.name: _data_of(variant) for variant in variants}
    distinct = {str(source.get("name")) for source in sources.values()}
    if len(distinct) <= 1:
        return next(iter(sources.values()), {"name": "unknown"})
    return {"name": "mixed: " + ", ".join(sorted(distinct)),
            "description": "the variants were trained on different data", "by_variant": sources}


def _data_of(variant: LoadedVariant) -> dict[str, Any]:
    """The data block of ``variant``'s metadata, read once per loaded version and kept."""
    data = variant.cache.get("data")
    if data is None:
        data = variant.cache["data"] = Metadata(variant.metadata).data or {"name": "unknown"}
    return data


def variant_summary(variant: LoadedVariant, detailed: bool = False) -> dict[str, Any]:
    """What /variants says about a loaded variant (and /variants/<name>, ``detailed``)."""
    metadata = Metadata(variant.metadata)
    training = metadata.training
    summary = {
        "name": variant.name,
        "label": variant.title,
        "version": variant.version,
        "penalty": metadata.variant or {"name": variant.name},
        md.DATA: metadata.data or {"name": "unknown"},
        DATA_ALIAS: metadata.data or {"name": "unknown"},  # the old name, deprecated
        **{key: metadata.get(key) for key in SUMMARY_FIELDS},
        "collapsed": collapsed(variant),
        "repeat": repeat_of(variant),
        "training": {key: training.get(key) for key in TRAINING_FIELDS if key in training},
    }
    if detailed:
        summary.update(
            labels=list(variant.labels),
            serving=metadata.get(md.SERVING),
            samples_per_second=metadata.get(md.SAMPLES_PER_SECOND),
        )
    return summary
