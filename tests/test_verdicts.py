"""Verdicts about recipes: the interval over seed pairs, TOST, Holm and the rule, against formulas
and table values typed here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import t as student

from analysis import stats
from regserve_contracts import comparison as contract


def answers(seed: int, k: int, n: int, accuracy: float) -> np.ndarray:
    return np.random.default_rng(seed).random((k, n)) < accuracy


def test_the_recipe_interval_is_the_paired_t_over_seeds_plus_the_image_term_by_hand():
    a, b = answers(1, 4, 60, 0.8), answers(2, 4, 60, 0.7)
    k, n = a.shape
    rows = [[int(a[i][j]) - int(b[i][j]) for j in range(n)] for i in range(k)]
    seed_diffs = [sum(row) / n for row in rows]
    mean = sum(seed_diffs) / k
    seed_var = sum((d - mean) ** 2 for d in seed_diffs) / (k - 1)
    per_image = [sum(rows[i][j] for i in range(k)) / k for j in range(n)]
    image_var = sum((d - mean) ** 2 for d in per_image) / (n - 1) / n
    se = math.sqrt(seed_var / k + image_var)
    difference = stats.recipe_difference(a, b)
    assert (difference.diff, difference.se, difference.df) == pytest.approx((mean, se, k - 1))
    half = student.ppf(0.975, k - 1) * se
    assert difference.interval() == pytest.approx((mean - half, mean + half))
    assert difference.p == pytest.approx(2 * student.sf(abs(mean) / se, k - 1))
    mde = (student.ppf(1 - 0.05 / 2 / 3, k - 1) + student.ppf(0.8, k - 1)) * se
    assert difference.mde(0.05 / 3) == pytest.approx(mde)


def test_three_seeds_use_the_t_tables_4_303_not_a_normal_or_bootstrap_width():
    """Student's t table: the 97.5% point with 2 degrees of freedom is 4.303."""
    difference = stats.recipe_difference(answers(3, 3, 200, 0.8), answers(4, 3, 200, 0.8))
    low, high = difference.interval()
    assert (high - low) / 2 / difference.se == pytest.approx(4.303, abs=5e-4)


def test_tost_matches_the_ninety_percent_interval_rule_on_a_t_table_example():
    """Schuirmann (1987): TOST at 0.05 rejects exactly when the 90% interval lies inside the
    margins. Example: difference 0.2, standard error 0.1, 10 degrees of freedom; the t table's
    95% point for 10 df is 1.812, so the 90% interval is [0.0188, 0.3812]."""
    difference = stats.RecipeDifference(0.2, 0.1, 10, 0.0, 0.0)
    assert difference.interval(0.90) == pytest.approx((0.0188, 0.3812), abs=1e-4)
    assert difference.p_equivalence(0.5) == pytest.approx(student.sf(3.0, 10))
    assert difference.p_equivalence(0.3813) < 0.05 < difference.p_equivalence(0.3811)


def test_a_zero_difference_everywhere_is_equivalent_and_never_better():
    same = answers(5, 3, 100, 0.7)
    difference = stats.recipe_difference(same, same)
    assert (difference.diff, difference.se, difference.p) == (0.0, 0.0, 1.0)
    assert difference.interval() == (0.0, 0.0)
    assert difference.p_equivalence(0.01) == 0.0
    assert stats.verdict(3, 0.0, 0.0, 0.0) == contract.EQUIVALENT  # no sign: never better


def test_a_difference_with_no_spread_at_all_is_certain():
    right, wrong = np.ones((3, 10), bool), np.zeros((3, 10), bool)
    difference = stats.recipe_difference(right, wrong)
    assert (difference.diff, difference.se, difference.p) == (1.0, 0.0, 0.0)
    assert difference.p_equivalence(0.01) == 1.0
    assert stats.RecipeDifference(0.01, 0.0, 2, 0.0, 0.0).p_equivalence(0.01) == 1.0  # on the edge


def test_one_seed_pair_has_no_recipe_difference():
    with pytest.raises(ValueError, match="2 seed pairs"):
        stats.recipe_difference(answers(6, 1, 50, 0.7), answers(7, 1, 50, 0.7))


@pytest.mark.parametrize("seeds, expected", [(1, contract.NEEDS_SEEDS), (2, contract.NEEDS_SEEDS),
                                             (3, contract.BETTER), (5, contract.BETTER)])
def test_below_three_seed_pairs_the_verdict_is_needs_seeds_however_small_p_is(seeds, expected):
    assert stats.verdict(seeds, 0.05, 1e-12, 1.0) == expected
    assert contract.MIN_SEEDS == 3


def test_the_adjusted_p_must_be_below_alpha_not_at_it():
    assert stats.verdict(3, 0.02, 0.05, 1.0) == contract.INCONCLUSIVE
    assert stats.verdict(3, 0.02, 0.0499, 1.0) == contract.BETTER
    assert stats.verdict(3, -0.02, 0.0499, 1.0) == contract.WORSE
    assert stats.verdict(3, 0.002, 0.5, 0.05) == contract.INCONCLUSIVE
    assert stats.verdict(3, 0.002, 0.5, 0.0499) == contract.EQUIVALENT


def test_a_seen_difference_wins_over_equivalence():
    assert stats.verdict(10, 0.004, 0.001, 0.001) == contract.BETTER


def test_holm_gives_tied_p_values_the_same_adjustment():
    """Two p of 0.02 and one of 0.5: 0.02 * 3 = 0.06, 0.02 * 2 = 0.04 raised to the running
    maximum 0.06; 0.5 * 1 = 0.5."""
    assert stats.holm([0.02, 0.5, 0.02]) == pytest.approx([0.06, 0.5, 0.06])


def test_the_words_of_every_verdict():
    assert contract.verdict_text(contract.BETTER, "none", seed_pairs=3) == \
        "better than none (over 3 seeds)"
    assert contract.verdict_text(contract.EQUIVALENT, "none", seed_pairs=5, margin=0.01) == \
        "equivalent to none within ±1.0 points (over 5 seeds)"
    assert contract.verdict_text(contract.INCONCLUSIVE, "none", seed_pairs=3, mde=0.018) == \
        "inconclusive against none: a difference under 1.8 points could not be seen with 3 seeds"
    assert contract.verdict_text(contract.NEEDS_SEEDS, "none", seed_pairs=1).startswith(
        "needs seeds: 1 seed matched with none; a verdict about the recipes needs 3")
    with pytest.raises(ValueError, match="unknown verdict"):
        contract.verdict_text("no detectable difference", "none")
