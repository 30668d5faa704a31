"""Calibration metrics against known answers and against formulas typed here, not the code's."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import calibration
from tests.support.reference_calibration import ece_by_loops

CLASSES = 47


def predictions(confidences, correct, classes: int = CLASSES):
    """Probability rows whose top class has ``confidence``; the label is it when ``correct``."""
    rows, labels = [], []
    for index, (confidence, right) in enumerate(zip(confidences, correct, strict=True)):
        top = index % classes
        row = np.full(classes, (1.0 - confidence) / (classes - 1))
        row[top] = confidence
        rows.append(row)
        labels.append(top if right else (top + 1) % classes)
    return np.array(rows), np.array(labels)


def test_perfectly_calibrated_bins_have_zero_ece():
    """In each bin the share right equals the confidence: 30% sure and right 3 of 10, ..."""
    confidences = [0.3] * 10 + [0.6] * 10 + [0.9] * 10
    correct = [True] * 3 + [False] * 7 + [True] * 6 + [False] * 4 + [True] * 9 + [False]
    probabilities, labels = predictions(confidences, correct)
    assert calibration.expected_calibration_error(probabilities, labels) < 1e-12
    assert calibration.maximum_calibration_error(probabilities, labels) < 1e-12


def test_always_ninety_percent_sure_and_right_half_the_time_gives_0_4():
    probabilities, labels = predictions([0.9] * 100, [True, False] * 50)
    assert calibration.expected_calibration_error(probabilities, labels) == pytest.approx(0.4)
    assert calibration.maximum_calibration_error(probabilities, labels) == pytest.approx(0.4)
    bins = calibration.reliability_bins(probabilities, labels)
    assert [b["count"] for b in bins] == [0] * 13 + [100, 0]  # 0.9 lies in (13/15, 14/15]
    assert bins[13]["confidence"] == pytest.approx(0.9) and bins[13]["accuracy"] == 0.5


@pytest.mark.parametrize("seed", range(6))
def test_ece_and_mce_agree_with_a_second_implementation(seed):
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.full(CLASSES, 0.05 + 0.3 * seed), size=400)
    labels = rng.integers(0, CLASSES, size=400)
    # Make most answers right so the bins span the range, as a trained model's do.
    right = rng.random(400) < 0.7
    labels[right] = probabilities[right].argmax(axis=1)
    ece, mce = ece_by_loops(probabilities, labels)
    assert abs(calibration.expected_calibration_error(probabilities, labels) - ece) < 1e-12
    assert abs(calibration.maximum_calibration_error(probabilities, labels) - mce) < 1e-12
    bins = calibration.reliability_bins(probabilities, labels)
    assert sum(b["count"] for b in bins) == 400


def test_a_confidence_on_a_bin_edge_belongs_to_the_lower_bin():
    """Guo et al.'s bins are (m/M, (m+1)/M]: a confidence of exactly 0.6 = 9/15 is in bin 8."""
    probabilities, labels = predictions([np.linspace(0, 1, 16)[9]] * 4, [True] * 4)
    assert [b["count"] for b in calibration.reliability_bins(probabilities, labels)][8] == 4


def test_nll_and_brier_match_the_numpy_formulas():
    rng = np.random.default_rng(7)
    probabilities = rng.dirichlet(np.ones(CLASSES), size=300)
    labels = rng.integers(0, CLASSES, size=300)
    nll = -np.mean(np.log(probabilities[np.arange(300), labels]))
    brier = np.mean(np.sum((probabilities - np.eye(CLASSES)[labels]) ** 2, axis=1))
    assert calibration.negative_log_likelihood(probabilities, labels) == pytest.approx(nll)
    assert calibration.brier_score(probabilities, labels) == pytest.approx(brier)
    perfect = np.eye(CLASSES)[labels]
    assert calibration.brier_score(perfect, labels) == 0.0
    assert calibration.negative_log_likelihood(perfect, labels) == pytest.approx(0.0, abs=1e-12)


def test_the_fitted_temperature_minimises_nll_on_a_fine_grid():
    """An overconfident model (probabilities sharpened by T = 1/3) is cooled back to about 3."""
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 1.5, size=(600, CLASSES))
    labels = np.array([rng.choice(CLASSES, p=np.exp(row) / np.exp(row).sum()) for row in logits])
    sharp = np.exp(3 * logits)
    sharp /= sharp.sum(axis=1, keepdims=True)
    temperature = calibration.fit_temperature(sharp, labels)

    def nll(t):
        scaled = np.exp(3 * logits / t)
        scaled /= scaled.sum(axis=1, keepdims=True)
        return -np.mean(np.log(scaled[np.arange(600), labels]))

    grid = np.exp(np.linspace(np.log(0.5), np.log(10), 4001))
    best = grid[np.argmin([nll(t) for t in grid])]
    assert temperature == pytest.approx(best, rel=2e-3)
    assert 2.0 < temperature < 4.5
    block = calibration.calibration_block(sharp, labels, held_out=(sharp, labels))
    assert block["ece_temperature_scaled"] < block["ece"]


def test_bad_shapes_are_refused_with_a_message():
    with pytest.raises(ValueError, match="probabilities"):
        calibration.expected_calibration_error(np.ones((3, 4)), np.zeros(2))


def quantile_by_hand(values, q):
    """The linear-interpolation quantile (numpy's default), typed out."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def test_the_ece_interval_is_the_bias_corrected_bootstrap_computed_the_long_way():
    """Resample the images with the documented generator, take each resample's ECE with the
    loop implementation, then Efron's bias-corrected percentiles: z0 from the share of
    resamples below the sample's ECE, percentiles Phi(2 z0 -+ 1.96)."""
    from scipy.stats import norm

    rng = np.random.default_rng(11)
    probabilities = rng.dirichlet(np.full(CLASSES, 0.1), size=150)
    labels = rng.integers(0, CLASSES, size=150)
    right = rng.random(150) < 0.6
    labels[right] = probabilities[right].argmax(axis=1)
    estimate = ece_by_loops(probabilities, labels)[0]
    draw = np.random.default_rng(5)
    values = []
    for _ in range(200):
        rows = draw.integers(0, 150, size=150)
        values.append(ece_by_loops(probabilities[rows], labels[rows])[0])
    z0 = norm.ppf(sum(v < estimate for v in values) / 200)
    interval = calibration.ece_interval(probabilities, labels, resamples=200, seed=5)
    assert interval["low"] == pytest.approx(
        quantile_by_hand(values, norm.cdf(2 * z0 - norm.ppf(0.975))), abs=1e-9)
    assert interval["high"] == pytest.approx(
        quantile_by_hand(values, norm.cdf(2 * z0 + norm.ppf(0.975))), abs=1e-9)
    assert interval["low"] < estimate < interval["high"]
    assert (interval["level"], interval["resamples"], interval["seed"]) == (0.95, 200, 5)


def test_the_ece_interval_holds_the_ece_even_where_most_resamples_lie_above_it():
    """A calibrated model: its resamples' ECE lies mostly above its own, and a plain percentile
    interval would leave the ECE out; the bias-corrected one keeps it in."""
    rng = np.random.default_rng(4)
    confidences = rng.uniform(0.2, 1.0, size=300)
    probabilities, labels = predictions(confidences, rng.random(300) < confidences)
    estimate = calibration.expected_calibration_error(probabilities, labels)
    values = calibration.ece_bootstrap(probabilities, labels)
    assert np.mean(values > estimate) > 0.9
    interval = calibration.ece_interval(probabilities, labels)
    assert interval["low"] <= estimate <= interval["high"]


def test_a_calibrated_model_on_few_images_still_shows_the_ece_binomial_noise_gives_it():
    """Always 90% sure on 300 images: a calibrated model is right k ~ Binomial(300, 0.9) times,
    and its ECE is |k/300 - 0.9|, whose mean is a sum over k typed here (about 0.014)."""
    from scipy.stats import binom

    probabilities, _ = predictions([0.9] * 300, [True] * 300)
    k = np.arange(301)
    expected = float(np.sum(binom.pmf(k, 300, 0.9) * np.abs(k / 300 - 0.9)))
    shown = calibration.ece_if_calibrated(probabilities, resamples=4000)
    assert shown == pytest.approx(expected, abs=0.001)
    assert 0.012 < expected < 0.016


def test_the_calibration_block_carries_the_interval_of_its_ece():
    rng = np.random.default_rng(2)
    probabilities = rng.dirichlet(np.full(CLASSES, 0.2), size=120)
    labels = probabilities.argmax(axis=1)
    block = calibration.calibration_block(probabilities, labels)
    interval = block["ece_interval"]
    assert interval == calibration.ece_interval(probabilities, labels)
    assert interval["resamples"] == 1000 and "percentile bootstrap" in interval["method"]
