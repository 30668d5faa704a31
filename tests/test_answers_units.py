"""The answer builder on made-up variants: what each field says, without a model or a server."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from regserve_contracts import metadata as md
from server.answers import (
    BLOB_DEPTH,
    TOO_LITTLE_INK,
    agreement,
    blob_depth,
    input_echo,
    may_be_blob,
    packed_answers,
    trained_on,
    variant_answer,
    variant_summary,
)
from server.runtime.loading import LoadedVariant

LABELS = ("0", "1", "A", "B")


def variant(name="l2", accuracy=0.9, test_size=1000, **blocks) -> LoadedVariant:
    metadata = {md.VARIANT: {"name": name, "label": f"{name}, lambda 0.01"},
                md.DATA: {"name": "synthetic-offline", "test_size": test_size},
                md.TEST: {"accuracy": accuracy, "loss": 0.3},
                md.WEIGHT_SPARSITY: {"all": {"0.001": 0.25}},
                md.TRAINING: {"epochs": 3, "seed": 7, "learning_rate": 0.1},
                md.SERVING: {"signature": "serving_default"}, md.SAMPLES_PER_SECOND: 1234.5,
                **blocks}
    return LoadedVariant(name, 3, None, metadata, LABELS, None)


def outputs(probabilities) -> dict:
    """One image's row of each output, as /predict takes it from a batch of one."""
    batch = {"probabilities": np.array([probabilities], np.float32),
             "conv1_zero_fraction": np.array([0.75], np.float32),
             "conv1_mean": np.array([0.5], np.float32),
             "dense1_zero_fraction": np.array([0.25], np.float32),
             "dense1_mean": np.array([2.0], np.float32)}
    return {key: value[0] for key, value in batch.items()}


def test_a_variants_answer_ranks_its_top_labels_and_keeps_ties_in_class_order():
    answer = variant_answer(variant(), outputs([0.1, 0.4, 0.1, 0.4]), top=3)
    assert answer["prediction"] == "1"
    assert [(t["label"], t["index"]) for t in answer["top"]] == [("1", 1), ("B", 3), ("0", 0)]
    assert [t["probability"] for t in answer["top"]] == pytest.approx([0.4, 0.4, 0.1])
    assert all(type(t["probability"]) is float for t in answer["top"])
    assert answer["activation_sparsity"] == {"conv1": 0.75, "dense1": 0.25}
    assert answer["activation_mean"] == {"conv1": 0.5, "dense1": 2.0}
    assert (answer["version"], answer["label"]) == (3, "l2, lambda 0.01")
    assert answer["weight_sparsity"] == {"all": {"0.001": 0.25}}
    assert (answer["collapsed"], answer["repeat"]) == (False, None)
    assert len(variant_answer(variant(), outputs([0.1, 0.4, 0.1, 0.4]), top=1)["top"]) == 1


def test_among_47_classes_tied_probabilities_keep_the_class_order():
    """A model at chance gives many classes the same probability: the top list must not
    depend on the sort's whim (an unstable sort reorders ties among this many)."""
    probabilities = np.random.default_rng(0).choice([0.01, 0.02], 47)
    labels = tuple(f"c{i}" for i in range(47))
    wide = LoadedVariant("w", 1, None, {}, labels, None)
    answer = variant_answer(wide, {"probabilities": probabilities}, top=47)
    expected = sorted(range(47), key=lambda i: (-probabilities[i], i))
    assert [t["index"] for t in answer["top"]] == expected


def test_a_variant_at_chance_is_flagged_and_one_without_its_test_size_cannot_be_judged():
    """1 of 4 classes right on 1,000 images is chance."""
    assert variant_answer(variant(accuracy=0.25), outputs([1, 0, 0, 0]), 1)["collapsed"] is True
    unknown = variant(test_size=None)
    assert variant_answer(unknown, outputs([1, 0, 0, 0]), 1)["collapsed"] is None
    repeat = {"group": "abc", "seed": 2, "index": 1, "of": 3}
    assert variant_answer(variant(repeat=repeat), outputs([1, 0, 0, 0]), 1)["repeat"] == repeat


def test_a_summary_copies_the_metadata_and_the_detailed_one_adds_labels_and_serving():
    summary = variant_summary(variant())
    assert summary["name"] == "l2" and summary["version"] == 3
    assert summary["label"] == "l2, lambda 0.01" and summary["repeat"] is None
    assert summary["penalty"] == {"name": "l2", "label": "l2, lambda 0.01"}
    assert summary["test"] == {"accuracy": 0.9, "loss": 0.3}
    assert summary["data"]["test_size"] == 1000 and summary["data_source"] == summary["data"]
    assert summary["training"] == {"epochs": 3, "seed": 7}  # only the listed fields
    assert summary["parameters"] is None and summary["collapsed"] is False
    assert "labels" not in summary and "serving" not in summary
    detailed = variant_summary(variant(), detailed=True)
    assert detailed["labels"] == list(LABELS)
    assert detailed["serving"] == {"signature": "serving_default"}
    assert detailed["samples_per_second"] == 1234.5
    bare = LoadedVariant("old", 1, None, {}, LABELS, None)
    assert variant_summary(bare)["penalty"] == {"name": "old"}
    assert variant_summary(bare)["data"] == {"name": "unknown"}


def test_the_data_source_is_the_shared_one_or_says_the_variants_differ():
    one, two = variant("a"), variant("b")
    assert trained_on([one, two]) == {"name": "synthetic-offline", "test_size": 1000}
    assert trained_on([]) == {"name": "unknown"}
    emnist = LoadedVariant("c", 1, None, {md.DATA: {"name": "emnist"}}, LABELS, None)
    mixed = trained_on([one, emnist])
    assert mixed["name"] == "mixed: emnist, synthetic-offline"
    assert mixed["description"] == "the variants were trained on different data"
    assert set(mixed["by_variant"]) == {"a", "c"}
    assert trained_on([LoadedVariant("d", 1, None, {}, LABELS, None)]) == {"name": "unknown"}


def vote(label: str, probability: float, collapsed=False) -> dict:
    return {"prediction": label, "collapsed": collapsed,
            "top": [{"label": label, "index": 0, "probability": probability}]}


def test_votes_are_listed_by_count_then_summed_probability_then_label():
    answers = {"a": vote("B", 0.3), "b": vote("B", 0.3), "c": vote("A", 0.9), "d": vote("C", 0.2),
               "e": vote("D", 0.2), "f": vote("A", 0.1)}
    result = agreement(answers)
    assert list(result["votes"].items()) == [("A", 2), ("B", 2), ("C", 1), ("D", 1)]
    assert (result["majority"], result["tie"], result["unanimous"]) == (None, True, False)
    assert (result["counted"], result["excluded"]) == (6, [])


def test_one_label_from_every_counted_variant_is_unanimous():
    result = agreement({"a": vote("7", 0.9), "b": vote("7", 0.2), "c": vote("1", 1, True)})
    assert (result["unanimous"], result["majority"], result["tie"]) == (True, "7", False)
    assert result["votes"] == {"7": 2} and result["excluded"] == ["c"]


def square(side: int, value: int = 255) -> np.ndarray:
    pixels = np.zeros((28, 28), np.uint8)
    pixels[2 : 2 + side, 3 : 3 + side] = value
    return pixels


def erosions(pixels: np.ndarray) -> int:
    """A second count: scipy's 3x3 binary erosion until no ink is left."""
    ink, count = pixels >= 128, 0
    while ink.any():
        ink, count = ndimage.binary_erosion(ink, np.ones((3, 3)), border_value=0), count + 1
    return count


@pytest.mark.parametrize("seed", range(4))
def test_the_blob_depth_is_the_number_of_erosions_scipy_counts(seed):
    rng = np.random.default_rng(seed)
    pixels = (ndimage.uniform_filter(rng.random((28, 28)), 5) > 0.5).astype(np.uint8) * 200
    pixels[rng.integers(0, 28, 20), rng.integers(0, 28, 20)] = 255
    assert blob_depth(pixels) == erosions(pixels)
    for side in (1, 12, 13, 14, 24):
        assert blob_depth(square(side)) == erosions(square(side)) == (side + 1) // 2


NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


@pytest.mark.parametrize("dy, dx", NEIGHBOURS)
def test_a_pixel_missing_any_of_its_eight_neighbours_is_eroded(dy, dx):
    """A 3x3 square lasts two erosions; without one neighbour of its centre, only one."""
    pixels = square(3)
    assert blob_depth(pixels) == 2
    pixels[3 + dy, 4 + dx] = 0
    assert blob_depth(pixels) == erosions(pixels) == 1


def test_the_blob_depth_of_a_wide_image_is_scipys_too():
    pixels = np.zeros((12, 28), np.uint8)
    pixels[1:11, 2:27] = 255
    assert blob_depth(pixels) == erosions(pixels) == 5


def test_ink_is_a_pixel_of_128_or_more():
    assert blob_depth(square(5, 128)) == 3 and blob_depth(square(5, 127)) == 0


@pytest.mark.parametrize("seed", range(6))
def test_the_blob_shortcut_never_rules_out_ink_that_lasts(seed):
    """may_be_blob is False only where scipy's erosions end before ``depth``; and it does rule
    out thin strokes, so the echo skips the erosions for most characters."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:28, :28]
    disks = [((rows - rng.integers(8, 20)) ** 2 + (cols - rng.integers(8, 20)) ** 2
              < rng.integers(30, 120)) & (rng.random((28, 28)) > 0.01) for _ in range(6)]
    blobs = [ndimage.uniform_filter(rng.random((28, 28)), size) > 0.5 for size in (3, 5, 9, 11)]
    for ink in blobs + disks:
        pixels = ink.astype(np.uint8) * 255
        for depth in range(1, 11):
            if erosions(pixels) >= depth:
                assert may_be_blob(pixels, depth), depth
    strokes = np.zeros((28, 28), np.uint8)
    strokes[4:24, 12:15] = strokes[12:15, 4:24] = 255  # a thick plus sign, depth 2
    assert not may_be_blob(strokes) and not may_be_blob(square(12))
    assert may_be_blob(square(13))


def test_the_echo_warns_from_a_blob_depth_of_seven_on():
    assert BLOB_DEPTH == 7
    warned = input_echo(square(13), "png", True)  # depth 7
    assert warned["warning"] == {"code": "too_little_ink", "detail": TOO_LITTLE_INK}
    assert "warning" not in input_echo(square(12), "png", True)  # depth 6


def test_the_echo_holds_the_image_the_models_saw_as_png_and_numbers():
    pixels = (np.arange(28 * 28).reshape(28, 28) % 251).astype(np.uint8)
    echo = input_echo(pixels, "pixels", False)
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(echo["image_png_base64"]))))
    assert np.array_equal(decoded, pixels) and echo["pixels"] == pixels.tolist()
    assert (echo["kind"], echo["preprocessed"]) == ("pixels", False)


@pytest.mark.parametrize("seed", range(4))
def test_all_variants_ranked_at_once_answer_as_each_ranked_alone(seed):
    """packed_answers (one argsort for every variant) against variant_answer on the unpacked
    outputs, one variant at a time: ties included (probabilities rounded to tenths), and rows of
    another width, which are answered one by one."""
    rng = np.random.default_rng(seed)
    columns = ["conv1_zero_fraction", "conv1_mean", "dense1_zero_fraction", "dense1_mean"]
    rows = {}
    for name in ("a", "b", "c", "d"):
        row = np.round(rng.random(len(LABELS) + len(columns)), 1).astype(np.float32)
        rows[name] = (variant(name=name), row, columns)
    if seed % 2:  # one variant with a fifth label: no common width
        wide = LoadedVariant("e", 1, None, {}, (*LABELS, "C"), None)
        rows["e"] = (wide, rng.random(len(LABELS) + 1 + len(columns)).astype(np.float32),
                     columns)
    for top in (1, 3, len(LABELS)):
        together = packed_answers(rows, top)
        assert list(together) == list(rows)
        for name, (loaded, row, names) in rows.items():
            classes = len(row) - len(names)
            alone = variant_answer(loaded, {"probabilities": row[:classes],
                                            **dict(zip(names, row[classes:], strict=True))}, top)
            assert together[name] == alone, (name, top)


def test_the_echo_as_an_array_encodes_to_the_same_json_as_the_list():
    from flask import Flask

    from server.jsonio import OrjsonProvider

    encoder = OrjsonProvider(Flask(__name__))
    pixels = (np.arange(28 * 28).reshape(28, 28) % 251).astype(np.uint8)
    for image in (pixels, pixels.T, np.asarray(pixels, np.int64)):  # a view, another dtype
        listed = input_echo(image, "pixels", True)
        assert encoder.dumpb(input_echo(image, "pixels", True, as_array=True)) == \
            encoder.dumpb(listed)
