"""The comparison statistics against independent computations: scipy, textbook values and
formulas typed here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest, chi2

from analysis import stats

Z95 = 1.959963984540054  # the 97.5% point of the standard normal


def correct_arrays(both_right: int, only_a: int, only_b: int, both_wrong: int):
    """Boolean right/wrong arrays of two models realising a given 2x2 table, shuffled."""
    a = [True] * both_right + [True] * only_a + [False] * only_b + [False] * both_wrong
    b = [True] * both_right + [False] * only_a + [True] * only_b + [False] * both_wrong
    order = np.random.default_rng(7).permutation(len(a))
    return np.array(a)[order], np.array(b)[order]


@pytest.mark.parametrize("only_a, only_b", [(0, 1), (5, 7), (10, 25), (3, 0), (60, 0), (100, 130),
                                            (41, 40)])
def test_exact_mcnemar_is_the_two_sided_binomial_test_of_the_discordant_counts(only_a, only_b):
    expected = binomtest(only_a, only_a + only_b, 0.5, alternative="two-sided").pvalue
    assert stats.mcnemar_exact(only_a, only_b) == pytest.approx(expected, rel=1e-12)


def test_no_discordant_image_gives_p_one():
    assert stats.mcnemar_exact(0, 0) == 1.0


def test_the_pair_table_counts_each_cell():
    a, b = correct_arrays(50, 12, 7, 31)
    table = stats.pair_table(a, b)
    assert (table.both_right, table.only_a, table.only_b, table.both_wrong) == (50, 12, 7, 31)
    assert table.diff == pytest.approx(a.mean() - b.mean())


def test_pairing_answers_of_different_lengths_is_refused():
    with pytest.raises(ValueError, match="shapes"):
        stats.pair_table(np.ones(3, bool), np.ones(4, bool))


@pytest.mark.parametrize("successes, trials", [(81, 100), (1, 20), (290, 304), (5, 9)])
def test_wilson_interval_matches_the_formula(successes, trials):
    p, n, z = successes / trials, trials, Z95
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert stats.wilson_interval(successes, trials) == pytest.approx((centre - half, centre + half))


def test_wilson_interval_of_no_success_in_ten_is_the_textbook_one():
    """Wilson's 95% interval for 0/10 is [0, 0.2775] (Newcombe, 1998, Table I)."""
    low, high = stats.wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=5e-5)


def test_holm_on_a_textbook_example():
    """p = .01, .04, .03, .005: sorted .005*4, .01*3, .03*2, .04*1, then running maximum."""
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_keeps_a_single_p():
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert stats.holm([0.02]) == pytest.approx([0.02])


def test_two_identical_models_are_not_different():
    a, _ = correct_arrays(70, 20, 0, 10)
    table = stats.pair_table(a, a)
    p = stats.mcnemar_exact(table.only_a, table.only_b)
    assert p == 1.0 and table.diff == 0.0
    diffs = a.astype(float) - a.astype(float)
    assert stats.bootstrap_mean_interval(diffs) == (0.0, 0.0)


def test_right_on_sixty_discordant_images_where_the_other_is_not_has_a_tiny_mcnemar_p():
    a, b = correct_arrays(200, 60, 0, 40)
    table = stats.pair_table(a, b)
    assert stats.mcnemar_exact(table.only_a, table.only_b) == pytest.approx(2 * 0.5**60)


def test_the_bootstrap_is_seeded_and_deterministic():
    a, b = correct_arrays(500, 40, 25, 135)
    diffs = a.astype(float) - b.astype(float)
    first = stats.bootstrap_mean_interval(diffs, seed=3)
    assert stats.bootstrap_mean_interval(diffs, seed=3) == first
    assert stats.bootstrap_mean_interval(diffs, seed=4) != first


def test_the_bootstrap_agrees_with_resampling_the_images():
    """The multinomial shortcut against the plain bootstrap: draw image indices, take means."""
    a, b = correct_arrays(500, 40, 25, 135)
    diffs = a.astype(float) - b.astype(float)
    rng = np.random.default_rng(11)
    means = [diffs[rng.integers(0, len(diffs), len(diffs))].mean() for _ in range(4000)]
    plain = np.percentile(means, [2.5, 97.5])
    assert stats.bootstrap_mean_interval(diffs, resamples=4000) == pytest.approx(plain, abs=0.004)
    low, high = stats.bootstrap_mean_interval(diffs)
    assert low < diffs.mean() < high


def test_cochran_q_of_two_models_is_mcnemars_chi_square():
    a, b = correct_arrays(80, 14, 5, 21)
    q, p = stats.cochran_q(np.stack([a, b]))
    assert q == pytest.approx((14 - 5) ** 2 / (14 + 5))
    assert p == pytest.approx(chi2.sf((14 - 5) ** 2 / (14 + 5), 1))


def test_cochran_q_matches_its_textbook_form():
    """Q = k(k-1) sum_j (C_j - mean C)^2 / sum_i R_i (k - R_i), on random answers of 4 models."""
    table = np.random.default_rng(5).random((4, 300)) < [[0.6], [0.65], [0.7], [0.55]]
    k = len(table)
    columns, rows = table.sum(axis=1), table.sum(axis=0)
    expected = k * (k - 1) * np.sum((columns - columns.mean()) ** 2) / np.sum(rows * (k - rows))
    q, p = stats.cochran_q(table)
    assert q == pytest.approx(expected)
    assert p == pytest.approx(chi2.sf(expected, k - 1))


def test_cochran_q_of_models_that_always_agree_is_zero():
    same = np.array([True, False, True])
    assert stats.cochran_q(np.stack([same, same, same])) == (0.0, 1.0)


def test_mean_and_sd_over_seeds():
    assert stats.mean_sd([0.8, 0.9]) == pytest.approx((0.85, math.sqrt(0.005)))
    assert stats.mean_sd([0.8]) == (0.8, None)
