"""The comparison report: which models it pairs, its counts and verdicts, and its files, checked
against recomputations from the exported predictions and from the SavedModels themselves."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from analysis.comparison import build_comparison, write_comparison
from analysis.comparison.report import COMPARISON_MD
from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.labels import label_mapping
from regserve_contracts.predictions import (
    Predictions,
    fingerprint_test_set,
    read_predictions,
    write_predictions,
)

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


def seeds(models: Path, name: str, rights: list[np.ndarray], first_version: int = 1,
          **options) -> None:
    """One variant trained with ``len(rights)`` seeds (42, 43, ...), a repeat group."""
    for index, right in enumerate(rights):
        export(models, name, first_version + index, right, repeat={
            "group": f"g-{name}", "seed": 42 + index, "index": index + 1, "of": len(rights)},
            **options)


def holm_by_hand(p: list[float]) -> list[float]:
    """Holm for two p-values: the smaller times 2, the larger times 1 but not below it."""
    low, high = sorted(p)
    adjusted = {low: min(1.0, 2 * low), high: min(1.0, max(2 * low, high))}
    return [adjusted[value] for value in p]


def test_three_seeds_right_on_sixty_more_images_are_better_and_identical_ones_equivalent(tmp_path):
    seeds(tmp_path, "none", [right_on(100), right_on(104), right_on(96)])
    seeds(tmp_path, "good", [right_on(160), right_on(158), right_on(166)])
    seeds(tmp_path, "twin", [right_on(100), right_on(104), right_on(96)])
    document = build_comparison(tmp_path)
    good, twin = document["variants"]["good"], document["variants"]["twin"]
    assert (good["verdict"], twin["verdict"]) == ("better", "equivalent")
    assert good["verdict_text"] == "better than none (over 3 seeds)"
    assert twin["verdict_text"] == "equivalent to none within ±1.0 points (over 3 seeds)"
    assert good["diff"] == pytest.approx(np.mean([60, 54, 70]) / 200)
    comparisons = {item["a"]: item for item in document["comparisons"]}
    assert set(comparisons) == {"good", "twin"}  # the family: each variant against none
    assert [comparisons[n]["p_holm"] for n in ("good", "twin")] == pytest.approx(
        holm_by_hand([comparisons["good"]["p"], comparisons["twin"]["p"]]))
    (pair,) = document["pairs"]  # good against twin: a family of its own
    assert (pair["a"], pair["b"], pair["p_holm"]) == ("good", "twin", pair["p"])
    assert "Holm-adjusted over the 2 comparisons with the baseline" in document["rule"]
    assert document["variants"]["none"]["verdict"] == "baseline"
    assert document["test_set"] == {"fingerprint": FINGERPRINT, "size": 200,
                                    "data_source": "npz:tiny.npz"}


def test_inconclusive_says_the_difference_its_seeds_could_see_at_the_familys_strictest_level(
        tmp_path):
    """Two comparisons with none: the smallest difference seen is at 0.05 / 2 with 80% power."""
    from scipy.stats import t as student

    seeds(tmp_path, "none", [right_on(100), right_on(104), right_on(96)])
    seeds(tmp_path, "noisy", [right_on(110), right_on(96), right_on(104)])
    seeds(tmp_path, "good", [right_on(160), right_on(158), right_on(166)])
    item = {i["a"]: i for i in build_comparison(tmp_path)["comparisons"]}["noisy"]
    expected = (student.ppf(1 - 0.05 / 2 / 2, 2) + student.ppf(0.8, 2)) * item["se"]
    assert item["verdict"] == "inconclusive" and item["mde"] == pytest.approx(expected)
    assert item["verdict_text"] == (f"inconclusive against none: a difference under "
                                    f"{100 * expected:.1f} points could not be seen with 3 seeds")


def test_one_seed_each_needs_seeds_and_mcnemar_speaks_only_of_the_two_trained_models(tmp_path):
    """Right on 60 more images is certain for these two models, and says nothing of recipes."""
    export(tmp_path, "none", 1, right_on(100))
    export(tmp_path, "good", 1, right_on(160))
    document = build_comparison(tmp_path)
    row = document["variants"]["good"]
    assert row["verdict"] == "needs seeds" and row["p_holm"] is None and row["seed_pairs"] == 1
    assert row["verdict_text"].startswith("needs seeds: 1 seed matched with none")
    assert "better" not in row["verdict_text"] and row["diff_ci95"] is None
    assert row["models_text"] == (
        "about the trained models good@1 and none@1 only (not their recipes): 60 test images "
        f"only good@1 got right, 0 only none@1; exact McNemar p {binomtest(60, 60).pvalue:.2g}")
    (item,) = document["comparisons"]
    assert (item["seed_pairs"][0]["only_a"], item["seed_pairs"][0]["only_b"]) == (60, 0)


def test_repeats_are_one_row_paired_seed_by_seed(tmp_path):
    """Two seeds each: the accuracy is the mean, seed pairs match by seed, an older run outside
    the group is ignored, and two seed pairs still need seeds."""
    export(tmp_path, "none", 1, right_on(10))  # an older run: not part of the group
    for index, (base, other) in enumerate([(100, 130), (110, 100)]):
        group = {"group": "g1", "seed": 7 + index, "index": index, "of": 2}
        export(tmp_path, "none", 2 + index, right_on(base), repeat=group)
        export(tmp_path, "wide", 1 + index, right_on(other), repeat={**group, "group": "g2"})
    document = build_comparison(tmp_path)
    row = document["variants"]["wide"]
    assert row["seeds"] == 2 and row["versions"] == [1, 2] and row["model"] == "wide@2"
    assert row["label"] == "wide (2 seeds: v1, v2)"
    assert document["variants"]["none"]["label"] == "none (2 seeds: v2, v3)"
    assert row["seed_accuracies"] == pytest.approx([0.65, 0.5])
    assert row["accuracy"] == pytest.approx(0.575)
    assert row["sd"] == pytest.approx(np.std([0.65, 0.5], ddof=1))
    (item,) = document["comparisons"]
    assert [(p["only_a"], p["only_b"]) for p in item["seed_pairs"]] == [(30, 0), (0, 10)]
    assert [p["diff"] for p in item["seed_pairs"]] == pytest.approx([0.15, -0.05])
    assert [p["seeds"] for p in item["seed_pairs"]] == [[7, 7], [8, 8]]
    assert item["verdict"] == "needs seeds" and item["diff_ci95"] is not None
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
    (item,) = document["comparisons"]
    assert [(p["a"], p["b"]) for p in item["seed_pairs"]] == [("wide@1", "none@1")]
    assert item["seed_pairs"][0]["p_mcnemar"] == 1.0 and item["verdict"] == "needs seeds"


def test_models_of_another_test_set_and_older_exports_are_listed_not_paired(tmp_path):
    export(tmp_path, "none", 1, right_on(100))
    export(tmp_path, "l2_activity", 1, right_on(120))
    export(tmp_path, "other", 1, right_on(120), fingerprint="0" * 64)
    export(tmp_path, "old", 1, None)
    broken = export(tmp_path, "broken", 1, right_on(120))
    (broken / layout.PREDICTIONS_FILE).write_bytes(b"not a zip")
    document = build_comparison(tmp_path)
    assert set(document["variants"]) == {"none", "l2_activity"}
    assert [(p["a"], p["b"]) for p in document["comparisons"]] == [("l2_activity", "none")]
    reasons = {item["variant"]: item["reason"] for item in document["missing"]}
    assert "another test set" in reasons["other"] and "never paired" in reasons["other"]
    assert "without test-set predictions" in reasons["old"]
    assert "unreadable" in reasons["broken"]


def test_a_missing_baseline_is_said_and_verdicts_stay_empty(tmp_path):
    export(tmp_path, "a", 1, right_on(100))
    export(tmp_path, "b", 1, right_on(150))
    document = build_comparison(tmp_path, baseline="none")
    assert all(row["verdict"] is None for row in document["variants"].values())
    assert document["variants"]["a"]["verdict_text"] == "not compared with none"
    assert any(item["variant"] == "none" and "not on disk" in item["reason"]
               for item in document["missing"])
    assert document["comparisons"] == [] and document["pairs"][0]["verdict"] == "needs seeds"


def test_without_the_baseline_the_test_set_most_models_answered_is_the_reports(tmp_path):
    """a answered test set X; b and c answered Y: Y is the report's, a is listed as left out.
    On a tie (a on X, b on Y) the first variant in the report's order decides."""
    export(tmp_path / "most", "a", 1, right_on(100), fingerprint="1" * 64)
    export(tmp_path / "most", "b", 1, right_on(100))
    export(tmp_path / "most", "c", 1, right_on(120))
    document = build_comparison(tmp_path / "most")
    assert document["test_set"]["fingerprint"] == FINGERPRINT
    assert set(document["variants"]) == {"b", "c"}
    assert any(item["variant"] == "a" and "another test set" in item["reason"]
               for item in document["missing"])
    export(tmp_path / "tie", "a", 1, right_on(100), fingerprint="1" * 64)
    export(tmp_path / "tie", "b", 1, right_on(100))
    assert build_comparison(tmp_path / "tie")["test_set"]["fingerprint"] == "1" * 64


def test_one_variant_has_nothing_to_compare_and_its_mean_over_seeds_is_named(tmp_path):
    seeds(tmp_path, "none", [right_on(100), right_on(110)])
    document = build_comparison(tmp_path)
    assert document["comparisons"] == [] and document["pairs"] == []
    assert document["nothing_to_compare"].startswith("Nothing to compare: only none answered")
    write_comparison(tmp_path, tmp_path / "reports")
    text = (tmp_path / "reports" / COMPARISON_MD).read_text()
    assert "Nothing to compare" in text and "none (2 seeds: v1, v2)" in text
    assert "none@2" not in text and "Between the other variants" not in text


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
    (item,) = [item for item in document["comparisons"] if item["a"] == "l2_activity"]
    (pair,) = item["seed_pairs"]
    only_a = int(np.sum(right["l2_activity"] & ~right["none"]))
    only_b = int(np.sum(~right["l2_activity"] & right["none"]))
    assert (pair["only_a"], pair["only_b"]) == (only_a, only_b)
    expected = binomtest(only_a, only_a + only_b).pvalue if only_a + only_b else 1.0
    assert pair["p_mcnemar"] == pytest.approx(expected)
    assert item["verdict"] == "needs seeds"  # one seed each: nothing about the recipes
    # All eight variants answered the same test set: 7 against none, 21 between the others.
    assert (len(document["comparisons"]), len(document["pairs"])) == (7, 21)


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
