"""Calibration, generalization and robustness in every export, recomputed here from each
SavedModel; ``--evaluate`` adds the same blocks to versions that lack them; the CE report."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from analysis.results import ResultRow
from analysis.robustness import corruption_errors, mce_by_variant, robustness_data
from regserve_contracts import corruptions, layout
from regserve_contracts import metadata as md
from regserve_contracts.signature import to_model_input
from regserve_contracts.variants import VARIANT_NAMES
from tests.support.reference_calibration import ece_by_loops
from trainer.backfill import BLOCKS, backfill, saved_model_predictor
from trainer.beyond import robustness_subset

#: Two variants are enough to check the recomputation (each SavedModel takes a second to load).
CHECKED = ("none", "l2_activity")


@pytest.fixture(scope="module")
def session_data():
    """The session fixture's data (tests/conftest.py: models_dir)."""
    from tests.conftest import TINY_TRAIN_SIZE
    from trainer.data.synthetic import load_synthetic

    return load_synthetic(train_size=TINY_TRAIN_SIZE, test_size=94, seed=0)


@pytest.fixture(scope="module")
def newest(models_dir) -> dict[str, tuple]:
    """variant -> (its newest version folder, its metadata)."""
    found = {}
    for name in VARIANT_NAMES:
        version = layout.newest_version(models_dir / name)
        found[name] = (version, layout.read_metadata(version))
    return found


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_every_export_has_the_three_blocks_in_the_documented_shape(newest, name):
    metadata = md.Metadata.parse(newest[name][1])
    assert metadata.missing((md.CALIBRATION, md.GENERALIZATION, md.ROBUSTNESS)) == []
    calibration = metadata.block(md.CALIBRATION)
    assert {"ece", "mce", "nll", "brier", "bins"} <= set(calibration)
    assert len(calibration["bins"]) == 15
    assert sum(b["count"] for b in calibration["bins"]) == calibration["images"] == 94
    assert_ece_is_its_bins(calibration)
    assert 0 <= calibration["brier"] <= 2
    general = metadata.block(md.GENERALIZATION)
    assert general["gap"] == pytest.approx(general["train_accuracy"] - general["test_accuracy"])
    # The same test split as Keras' own evaluation at export.
    assert general["test_accuracy"] == pytest.approx(metadata.test_accuracy, abs=1e-6)
    history = metadata.history
    assert general["curves"]["accuracy_gap"] == pytest.approx(
        history["accuracy"][-1] - history["val_accuracy"][-1])
    robust = metadata.block(md.ROBUSTNESS)
    assert len(robust["corruptions"]) >= 12
    assert set(robust["corruptions"]) == set(corruptions.CORRUPTIONS)
    assert all(0 <= value <= 1 for value in robust["corruptions"].values())
    assert robust["mean_accuracy"] == pytest.approx(np.mean(list(robust["corruptions"].values())))
    assert robust["seed"] == corruptions.SEED and robust["images"] == 94


@pytest.mark.parametrize("name", CHECKED)
def test_the_blocks_match_a_recomputation_from_the_saved_model(newest, session_data, name):
    version, metadata = newest[name]
    predict = saved_model_predictor(version)
    probabilities = np.asarray(predict(to_model_input(session_data.x_test)), dtype=np.float64)
    labels = session_data.y_test
    ece, mce = ece_by_loops(probabilities, labels)
    assert metadata["calibration"]["ece"] == pytest.approx(ece, abs=0.005)
    assert metadata["calibration"]["mce"] == pytest.approx(mce, abs=0.005)
    nll = -np.mean(np.log(probabilities[np.arange(len(labels)), labels]))
    assert metadata["calibration"]["nll"] == pytest.approx(nll, rel=1e-4)
    assert metadata["generalization"]["test_loss"] == pytest.approx(nll, rel=1e-4)
    rows = robustness_subset(len(labels), corruptions.SEED)
    for corruption in ("rotate", "fog", "canny_edges"):
        images = corruptions.corrupt(session_data.x_test[rows], corruption)
        right = np.argmax(predict(to_model_input(images)), axis=1) == labels[rows]
        assert metadata["robustness"]["corruptions"][corruption] == pytest.approx(right.mean())


def assert_ece_is_its_bins(calibration: dict) -> None:
    """ECE and MCE as the stored bins give them: share-weighted and largest |accuracy -
    confidence|; the interval says how it was made."""
    filled = [b for b in calibration["bins"] if b["count"]]
    total = sum(b["count"] for b in filled)
    gaps = [abs(b["accuracy"] - b["confidence"]) for b in filled]
    assert calibration["ece"] == pytest.approx(
        sum(b["count"] / total * gap for b, gap in zip(filled, gaps, strict=True)), abs=1e-12)
    assert calibration["mce"] == pytest.approx(max(gaps), abs=1e-12)
    interval = calibration["ece_interval"]
    assert interval["resamples"] == 1000 and interval["level"] == 0.95
    assert 0 <= interval["low"] <= interval["high"] <= 1


@pytest.fixture(scope="module")
def spread_model(tmp_path_factory):
    """``none`` trained long enough on the offline set that its confidences spread over the
    bins (the session's models are at chance: every confidence lies in the lowest bin)."""
    from regserve_contracts.variants import get_variant
    from trainer.data.synthetic import load_synthetic
    from trainer.train import TrainConfig, train_variant

    dataset = load_synthetic(train_size=1880, test_size=235, seed=3)
    target = tmp_path_factory.mktemp("spread-models")
    result = train_variant(get_variant("none"), dataset,
                           TrainConfig(epochs=2, batch_size=50, verbose=0), target)
    return result.version_dir, layout.read_metadata(result.version_dir), dataset


@pytest.mark.slow
def test_export_time_ece_of_a_model_whose_confidences_span_the_bins_matches_a_loop(spread_model):
    from analysis.calibration import ece_interval

    version, metadata, dataset = spread_model
    calibration = metadata["calibration"]
    assert sum(1 for b in calibration["bins"] if b["count"]) >= 5  # not one bin any more
    probabilities = np.asarray(saved_model_predictor(version)(to_model_input(dataset.x_test)),
                               dtype=np.float64)
    ece, mce = ece_by_loops(probabilities, dataset.y_test)
    assert calibration["ece"] == pytest.approx(ece, abs=1e-3)
    assert calibration["mce"] == pytest.approx(mce, abs=5e-3)
    assert_ece_is_its_bins(calibration)
    again = ece_interval(probabilities, dataset.y_test)
    for key in ("low", "high", "if_calibrated"):
        assert calibration["ece_interval"][key] == pytest.approx(again[key], abs=2e-3), key
    assert calibration["ece_interval"]["low"] <= calibration["ece"] \
        <= calibration["ece_interval"]["high"]


def strip(version_dir):
    metadata = layout.read_metadata(version_dir)
    for key in BLOCKS:
        metadata.pop(key)
    layout.write_json_atomic(version_dir / layout.METADATA_FILE, metadata)


def test_evaluate_adds_the_blocks_an_export_writes_and_leaves_the_model_alone(
        newest, session_data, tmp_path):
    for name in CHECKED:
        shutil.copytree(newest[name][0], tmp_path / name / "1")
        strip(tmp_path / name / "1")
    model_bytes = {name: (tmp_path / name / "1" / layout.SAVED_MODEL_FILE).read_bytes()
                   for name in CHECKED}
    outcomes = backfill(tmp_path, lambda seed, limit: session_data)
    assert [(o.version_dir.parent.name, o.status) for o in outcomes] == \
        [(name, "added") for name in sorted(CHECKED)]
    for name in CHECKED:
        exported, filled = newest[name][1], layout.read_metadata(tmp_path / name / "1")
        for key in ("ece", "mce", "nll", "brier", "temperature"):
            assert filled["calibration"][key] == pytest.approx(exported["calibration"][key],
                                                               rel=1e-4, abs=1e-6), key
        assert [b["count"] for b in filled["calibration"]["bins"]] == \
            [b["count"] for b in exported["calibration"]["bins"]]
        for key in ("train_accuracy", "train_loss", "test_accuracy", "train_images"):
            assert filled["generalization"][key] == pytest.approx(
                exported["generalization"][key], rel=1e-4), key
        assert filled["robustness"]["corruptions"] == pytest.approx(
            exported["robustness"]["corruptions"], abs=1.5 / 94)  # a near tie may flip
        assert (tmp_path / name / "1" / layout.SAVED_MODEL_FILE).read_bytes() == model_bytes[name]
    again = backfill(tmp_path, lambda seed, limit: pytest.fail("nothing left to evaluate"))
    assert {o.status for o in again} == {"present"}


def test_evaluate_skips_a_version_trained_on_other_data(newest, tmp_path):
    from trainer.data.synthetic import load_synthetic

    shutil.copytree(newest["none"][0], tmp_path / "none" / "1")
    strip(tmp_path / "none" / "1")
    before = (tmp_path / "none" / "1" / layout.METADATA_FILE).read_text()
    other = load_synthetic(train_size=94, test_size=47, seed=1)
    [outcome] = backfill(tmp_path, lambda seed, limit: other)
    assert outcome.status == "skipped" and "test_size 94" in outcome.detail
    assert (tmp_path / "none" / "1" / layout.METADATA_FILE).read_text() == before


def test_the_evaluate_flag_refuses_to_train_and_names_what_to_drop(capsys, tmp_path):
    from trainer.__main__ import main

    assert main(["--evaluate", "--all", "--models-dir", str(tmp_path)]) == 2
    assert "--evaluate trains nothing" in capsys.readouterr().err
    assert main(["--evaluate", "--data", "synthetic", "--models-dir", str(tmp_path)]) == 1
    assert "no trained models" in capsys.readouterr().err


def row(name: str, accuracies: dict[str, float], penalty: str = "l2") -> ResultRow:
    return ResultRow(name, "", penalty, "kernel_bias", 0.01, 1, "d", "", 0.1, 0.9, 0, 0, 0, 1,
                     10, 1.0, {}, corruptions=accuracies, corruption_images=200)


def test_corruption_error_is_the_error_ratio_to_the_baseline_and_mce_its_mean():
    """Hendrycks & Dietterich's CE typed out: baseline errors 0.2 and 0.5, a variant's 0.1 and
    0.5 -> CE 0.5 and 1.0, mCE 0.75; a corruption the baseline never gets wrong is left out."""
    base = row("none", {"fog": 0.8, "rotate": 0.5, "stripe": 1.0}, penalty="none")
    other = row("l2_kernel_bias", {"fog": 0.9, "rotate": 0.5, "stripe": 0.7})
    errors = corruption_errors(other, base)
    assert errors["fog"] == pytest.approx(0.5) and errors["rotate"] == pytest.approx(1.0)
    assert math.isnan(errors["stripe"])
    assert mce_by_variant([base, other]) == pytest.approx({"none": 1.0, "l2_kernel_bias": 0.75})
    data = robustness_data([base, other])
    assert data["baseline"] == "none"
    assert data["variants"][1]["ce"]["stripe"] is None
    json.dumps(data, allow_nan=False)  # valid JSON: no NaN
    assert math.isnan(mce_by_variant([other])["l2_kernel_bias"])  # no baseline, no mCE
