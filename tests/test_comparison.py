"""The comparison report: which models it pairs, its counts and verdicts, and its files, checked
against recomputations from the exported predictions and from the SavedModels themselves."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from analysis.comparison import build_comparison, write_comparison
from analysis.comparison.report import COMPARISON_CSV, COMPARISON_MD, COMPARISON_PNG
from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.labels import label_mapping
from regserve_contracts.predictions import (
    Predictions,
    fingerprint_test_set,
    read_predictions,
    write_predictions,
)
from trainer.__main__ import parse_options
from trainer.cli import run

TRUTH = np.arange(200) % 47
FINGERPRINT = "f" * 64


def answers(right: np.ndarray) -> np.ndarray:
    """Predicted classes that are right exactly where ``right`` is."""
    return np.where(right, TRUTH, (TRUTH + 1) % 47)


def export(models: Path, name: str, version: int, right: np.ndarray | None, *,
           fingerprint: str = FINGERPRINT, repeat: dict | None = None) -> Path:
    """A version folder as the trainer writes it, minus the model (the comparison reads only
    metadata.json and predictions.npz); ``right=None``: an older export without predictions."""
    folder = models / name / str(version)
    folder.mkdir(parents=True)
    (folder / layout.SAVED_MODEL_FILE).write_bytes(b"")
    metadata = {md.SCHEMA: 1, md.LABELS: label_mapping(), md.VARIANT: {"name": name},
                md.DATA: {"name": "npz:tiny.npz"}, md.TRAINING: {"seed": 42, "epochs": 1}}
    if right is not None:
        probabilities = np.eye(47, dtype=np.float16)[answers(right)]
        predictions = Predictions(answers(right).astype(np.uint8), probabilities,
                                  TRUTH.astype(np.uint8), fingerprint)
        with open(folder / layout.PREDICTIONS_FILE, "wb") as handle:
            write_predictions(handle, predictions)
        metadata[md.PREDICTIONS] = {"file": layout.PREDICTIONS_FILE,
                                    "test_fingerprint": fingerprint, "size": len(TRUTH)}
    if repeat is not None:
        metadata[md.REPEAT] = repeat
    (folder / layout.METADATA_FILE).write_text(json.dumps(metadata))
    return folder


def right_on(count: int, offset: int = 0) -> np.ndarray:
    right = np.zeros(len(TRUTH), dtype=bool)
    right[offset:offset + count] = True
    return right


def test_a_model_right_on_sixty_more_images_is_better_and_identical_ones_are_not(tmp_path):
    """none: right on images 0-99; good: also on 100-159; twin: exactly none's answers."""
    export(tmp_path, "none", 1, right_on(100))
    export(tmp_path, "good", 1, right_on(160))
    export(tmp_path, "twin", 1, right_on(100))
    document = build_comparison(tmp_path)
    good, twin = document["variants"]["good"], document["variants"]["twin"]
    assert good["verdict"] == "better" and twin["verdict"] == "no detectable difference"
    pairs = {(pair["a"], pair["b"]): pair for pair in document["pairs"]}
    assert len(pairs) == 3  # every pair, Holm over all three
    good_none = pairs[("good@1", "none@1")]
    assert (good_none["both_right"], good_none["only_a"], good_none["only_b"],
            good_none["both_wrong"]) == (100, 60, 0, 40)
    assert good_none["p_mcnemar"] == pytest.approx(binomtest(60, 60).pvalue)
    assert good_none["diff"] == pytest.approx(0.3)
    assert good_none["diff_ci95"][0] > 0.2
    twin_none = pairs[("twin@1", "none@1")]
    assert twin_none["p_mcnemar"] == 1.0 and twin_none["diff_ci95"] == [0.0, 0.0]
    ordered = sorted(pair["p_mcnemar"] for pair in document["pairs"])
    assert good_none["p_holm"] == pytest.approx(min(1.0, 3 * ordered[0]))
    assert document["variants"]["none"]["verdict"] == "baseline"
    assert document["test_set"] == {"fingerprint": FINGERPRINT, "size": 200,
                                    "data_source": "npz:tiny.npz"}
    assert "Holm-adjusted over all 3 pairs" in document["rule"]


def test_repeats_are_one_row_paired_seed_by_seed(tmp_path):
    """Two seeds each: accuracy is the mean, the table sums the seed pairs matched by index, an
    older run outside the group is ignored, and seeds disagreeing in sign give no verdict."""
    export(tmp_path, "none", 1, right_on(10))  # an older run: not part of the group
    for index, (base, other) in enumerate([(100, 130), (110, 100)]):
        group = {"group": "g1", "seed": 7 + index, "index": index, "of": 2}
        export(tmp_path, "none", 2 + index, right_on(base), repeat=group)
        export(tmp_path, "wide", 1 + index, right_on(other), repeat={**group, "group": "g2"})
    document = build_comparison(tmp_path)
    row = document["variants"]["wide"]
    assert row["seeds"] == 2 and row["versions"] == [1, 2] and row["model"] == "wide@2"
    assert row["seed_values"] == [7, 8]
    assert row["seed_accuracies"] == pytest.approx([0.65, 0.5])
    assert row["accuracy"] == pytest.approx(0.575)
    assert row["sd"] == pytest.approx(np.std([0.65, 0.5], ddof=1))
    assert document["variants"]["none"]["versions"] == [2, 3]
    (pair,) = document["pairs"]
    assert (pair["only_a"], pair["only_b"]) == (30 + 0, 0 + 10)
    assert pair["seed_diffs"] == pytest.approx([0.15, -0.05])
    assert pair["p_mcnemar"] == pytest.approx(binomtest(30, 40).pvalue)
    assert pair["p_mcnemar"] < 0.05 and pair["verdict"] == "no detectable difference"
    assert [p["seeds"] for p in pair["seed_pairs"]] == [[7, 7], [8, 8]]
    assert document["cochran_q"]["per_seed"][1]["q"] == pytest.approx((0 - 10) ** 2 / 10)


def test_a_seed_trained_again_replaces_its_older_version_and_a_lone_model_pairs_once(tmp_path):
    """Seed 8 of the group trained twice: its newest version counts. A model trained once,
    without repeats, pairs with the group's first seed only (its images are counted once)."""
    group = {"group": "g", "of": 2}
    export(tmp_path, "wide", 1, right_on(100), repeat={**group, "seed": 7, "index": 1})
    export(tmp_path, "wide", 2, right_on(10), repeat={**group, "seed": 8, "index": 2})
    export(tmp_path, "wide", 3, right_on(120), repeat={**group, "seed": 8, "index": 2})
    export(tmp_path, "none", 1, right_on(100))
    document = build_comparison(tmp_path)
    assert document["variants"]["wide"]["versions"] == [1, 3]
    (pair,) = document["pairs"]
    assert [(p["a"], p["b"]) for p in pair["seed_pairs"]] == [("wide@1", "none@1")]
    assert (pair["only_a"], pair["only_b"]) == (0, 0) and pair["p_mcnemar"] == 1.0


def test_models_of_another_test_set_and_older_exports_are_listed_not_paired(tmp_path):
    export(tmp_path, "none", 1, right_on(100))
    export(tmp_path, "l2_activity", 1, right_on(120))
    export(tmp_path, "other", 1, right_on(120), fingerprint="0" * 64)
    export(tmp_path, "old", 1, None)
    broken = export(tmp_path, "broken", 1, right_on(120))
    (broken / layout.PREDICTIONS_FILE).write_bytes(b"not a zip")
    document = build_comparison(tmp_path)
    assert set(document["variants"]) == {"none", "l2_activity"}
    assert [(p["a"], p["b"]) for p in document["pairs"]] == [("l2_activity@1", "none@1")]
    reasons = {item["variant"]: item["reason"] for item in document["missing"]}
    assert "another test set" in reasons["other"] and "never paired" in reasons["other"]
    assert "without test-set predictions" in reasons["old"]
    assert "unreadable" in reasons["broken"]


def test_a_missing_baseline_is_said_and_verdicts_stay_empty(tmp_path):
    export(tmp_path, "a", 1, right_on(100))
    export(tmp_path, "b", 1, right_on(150))
    document = build_comparison(tmp_path, baseline="none")
    assert all(row["verdict"] is None for row in document["variants"].values())
    assert any(item["variant"] == "none" and "not on disk" in item["reason"]
               for item in document["missing"])
    assert document["pairs"][0]["verdict"] == "worse"  # a vs b still has its verdict


def test_report_flag_writes_the_four_files_against_the_chosen_baseline(tmp_path):
    export(tmp_path, "none", 1, right_on(100))
    export(tmp_path, "l2_activity", 1, right_on(160))
    out, err = StringIO(), StringIO()
    options = parse_options(["--report", "--baseline", "l2_activity", "--models-dir",
                             str(tmp_path), "--quiet"])
    assert run(options, out, err) == 0, err.getvalue()
    reports = tmp_path / layout.REPORTS_DIR
    document = json.loads((reports / layout.COMPARISON_FILE).read_text())
    assert document["baseline"] == "l2_activity"
    assert document["variants"]["none"]["verdict"] == "worse"
    rows = list(csv.DictReader(io.StringIO((reports / COMPARISON_CSV).read_text())))
    assert [(r["variant"], r["verdict"]) for r in rows] == [("none", "worse"),
                                                            ("l2_activity", "baseline")]
    assert "worse than l2_activity" in (reports / COMPARISON_MD).read_text()
    assert (reports / COMPARISON_PNG).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_the_session_models_comparison_matches_their_predictions_and_savedmodels(
        models_dir, tmp_path):
    """On the session's trained models: the test set's fingerprint is the data's, and every
    table's counts are what the exported predictions and the SavedModels themselves give."""
    import tensorflow as tf

    from regserve_contracts.signature import SERVING_PROBABILITIES, SIGNATURE_KEY, to_model_input
    from tests.conftest import TINY_TRAIN_SIZE
    from trainer.data.synthetic import load_synthetic

    write_comparison(models_dir, tmp_path)
    document = json.loads((tmp_path / layout.COMPARISON_FILE).read_text())
    dataset = load_synthetic(train_size=TINY_TRAIN_SIZE, test_size=94, seed=0)
    if document["test_set"]["size"] != len(dataset.y_test):
        pytest.skip("REGSERVE_TEST_MODELS_DIR holds models of another test set")
    assert document["test_set"]["fingerprint"] == fingerprint_test_set(dataset.x_test,
                                                                       dataset.y_test)
    checked = ("none", "l2_activity")  # two SavedModels: loading each takes seconds
    right = {}
    for name in checked:
        version = layout.newest_version(models_dir / name)
        serve = tf.saved_model.load(str(version)).signatures[SIGNATURE_KEY]
        scores = serve(tf.constant(to_model_input(dataset.x_test)))[SERVING_PROBABILITIES]
        right[name] = np.argmax(scores.numpy(), axis=1) == dataset.y_test
        stored = read_predictions(version / layout.PREDICTIONS_FILE)
        assert np.array_equal(stored.correct, right[name])
        assert (stored.predicted.dtype, stored.probabilities.dtype) == (np.uint8, np.float16)
        assert layout.read_metadata(version)[md.PREDICTIONS] == {
            "file": layout.PREDICTIONS_FILE, "size": len(dataset.y_test),
            "test_fingerprint": document["test_set"]["fingerprint"]}
    for pair in document["pairs"]:
        a, b = pair["a"].split("@")[0], pair["b"].split("@")[0]
        if a in checked and b in checked:
            only_a = int(np.sum(right[a] & ~right[b]))
            only_b = int(np.sum(~right[a] & right[b]))
            assert (pair["only_a"], pair["only_b"]) == (only_a, only_b)
            assert pair["both_right"] == int(np.sum(right[a] & right[b]))
            expected = binomtest(only_a, only_a + only_b).pvalue if only_a + only_b else 1.0
            assert pair["p_mcnemar"] == pytest.approx(expected)
    assert len(document["pairs"]) == 28  # all eight variants answered the same test set


def test_the_test_set_fingerprint_is_sha256_of_images_and_labels_and_sees_any_change():
    images = np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.int32)  # any integer type: read as int64
    digest = hashlib.sha256()
    digest.update(b"|u1(5, 28, 28)" + images.tobytes())
    digest.update(b"<i8(5,)" + labels.astype("<i8").tobytes())
    assert fingerprint_test_set(images, labels) == digest.hexdigest()
    relabelled = labels.copy()
    relabelled[2] = 9
    assert fingerprint_test_set(images, relabelled) != digest.hexdigest()
    assert fingerprint_test_set(images[::-1], labels[::-1]) != digest.hexdigest()
