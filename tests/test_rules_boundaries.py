"""The collapse rule at its edges: Wilson bounds just above and just below 1/47 and 2/47.

The accuracies that put a bound exactly on a threshold are computed here from the Wilson
interval's defining equation, not from the code under test: a bound b of the interval around
an observed share p satisfies (p - b)^2 = z^2 b (1 - b) / n, so the share whose upper bound is b
is b - z sqrt(b (1 - b) / n), and the share whose lower bound is b is b + z sqrt(b (1 - b) / n).
"""

from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest, norm

from regserve_contracts.chance import RULE, is_collapsed, wilson_interval

CLASSES = 47
CHANCE = 1 / CLASSES
TWICE_CHANCE = 2 / CLASSES
Z = norm.ppf(0.975)
#: How far from a boundary "just above" and "just below" are: 0.02 of an image at n = 18,800.
STEP = 1e-6


def share_with_upper_bound(bound: float, n: int) -> float:
    return bound - Z * math.sqrt(bound * (1 - bound) / n)


def share_with_lower_bound(bound: float, n: int) -> float:
    return bound + Z * math.sqrt(bound * (1 - bound) / n)


@pytest.mark.parametrize("n", [300, 18_800])
@pytest.mark.parametrize("bound", [CHANCE, TWICE_CHANCE])
def test_the_computed_shares_put_the_wilson_bounds_on_the_thresholds(bound, n):
    """The inverse above agrees with the interval the rule uses (else every case below is moot)."""
    assert wilson_interval(share_with_upper_bound(bound, n) * n, n)[1] == pytest.approx(bound)
    assert wilson_interval(share_with_lower_bound(bound, n) * n, n)[0] == pytest.approx(bound)


def test_on_emnists_test_set_an_upper_bound_just_under_twice_chance_is_collapsed():
    """n = 18,800: the interval is narrow, so "wholly below 2/47" decides, at 3.97%."""
    edge = share_with_upper_bound(TWICE_CHANCE, 18_800)
    assert 0.039 < edge < 0.040
    assert is_collapsed(edge - STEP, 18_800, CLASSES) is True
    assert is_collapsed(edge + STEP, 18_800, CLASSES) is False


def test_on_emnists_test_set_whole_counts_either_side_of_the_edge():
    """The same edge in right answers out of 18,800: 745 is collapsed, 746 is not."""
    last = math.floor(share_with_upper_bound(TWICE_CHANCE, 18_800) * 18_800)
    assert last == 745
    assert is_collapsed(last / 18_800, 18_800, CLASSES) is True
    assert is_collapsed((last + 1) / 18_800, 18_800, CLASSES) is False


def test_on_emnists_test_set_a_lower_bound_just_above_chance_is_still_collapsed():
    """Measurably above chance (2.3%), yet under twice chance: the second clause holds."""
    edge = share_with_lower_bound(CHANCE, 18_800)
    assert wilson_interval((edge + STEP) * 18_800, 18_800)[0] > CHANCE
    assert is_collapsed(edge + STEP, 18_800, CLASSES) is True
    assert is_collapsed(edge - STEP, 18_800, CLASSES) is True


def test_on_300_images_a_lower_bound_just_under_chance_is_collapsed():
    """n = 300: the interval is wide, so "contains chance" decides, at 3.76%."""
    edge = share_with_lower_bound(CHANCE, 300)
    assert 0.037 < edge < 0.038
    assert is_collapsed(edge - STEP, 300, CLASSES) is True
    assert is_collapsed(edge + STEP, 300, CLASSES) is False
    assert is_collapsed(11 / 300, 300, CLASSES) is True
    assert is_collapsed(12 / 300, 300, CLASSES) is False


def test_on_300_images_an_upper_bound_either_side_of_chance_is_collapsed():
    """Just above its edge the interval contains chance; just below it lies under chance, so
    under twice chance: collapsed both ways."""
    edge = share_with_upper_bound(CHANCE, 300)
    assert wilson_interval((edge - STEP) * 300, 300)[1] < CHANCE
    assert is_collapsed(edge + STEP, 300, CLASSES) is True
    assert is_collapsed(edge - STEP, 300, CLASSES) is True


def test_on_300_images_an_upper_bound_either_side_of_twice_chance_is_collapsed():
    """1.97% on 300 images: the interval contains chance whichever side of 2/47 it ends."""
    edge = share_with_upper_bound(TWICE_CHANCE, 300)
    assert is_collapsed(edge - STEP, 300, CLASSES) is True
    assert is_collapsed(edge + STEP, 300, CLASSES) is True


def test_with_four_classes_the_thresholds_are_one_and_two_quarters():
    """The thresholds follow the number of classes: chance is 1/4, twice chance 1/2."""
    assert is_collapsed(0.25, 100, 4) is True
    edge = share_with_upper_bound(0.5, 100)
    assert share_with_lower_bound(0.25, 100) < edge  # here "wholly below 1/2" decides
    assert is_collapsed(edge - STEP, 100, 4) is True
    assert is_collapsed(edge + STEP, 100, 4) is False


@pytest.mark.parametrize("accuracy, n, classes", [
    (True, 94, CLASSES), (0.5, True, CLASSES), (0.5, 94.0, CLASSES), (float("inf"), 94, CLASSES),
    ("0.5", 94, CLASSES), (0.5, -3, CLASSES), (0.5, 94, 1),
])
def test_what_cannot_be_judged_is_none(accuracy, n, classes):
    """A flag, a fractional size, an infinite accuracy or a single class: no verdict."""
    assert is_collapsed(accuracy, n, classes) is None


def test_with_two_classes_one_half_is_chance_and_only_a_perfect_score_is_not_collapsed():
    """Twice chance is 1 here: every interval short of a perfect score lies wholly below it."""
    assert is_collapsed(0.5, 100, 2) is True
    assert is_collapsed(0.99, 100, 2) is True
    assert is_collapsed(1.0, 100, 2) is False


def test_a_test_set_of_one_image_is_judged():
    """One image wrong: [0, 79%] contains chance. One right: [21%, 100%] does not."""
    assert is_collapsed(0.0, 1, CLASSES) is True and is_collapsed(1.0, 1, CLASSES) is False
    expected = binomtest(1, 1).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(1, 1) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_an_interval_never_leaves_zero_to_one():
    """All right on n images: the upper bound is 1, never above it (unclipped, the formula
    overshoots 1 by a rounding error for some n: 16, 40, 46, ...). All wrong: 0 or above."""
    for n in range(1, 100):
        assert 1.0 - 1e-12 < wilson_interval(n, n)[1] <= 1.0
        assert 0.0 <= wilson_interval(0, n)[0] < 1e-15


def test_an_interval_of_no_images_is_refused_with_a_message():
    with pytest.raises(ValueError, match="n must be positive, got 0"):
        wilson_interval(0, 0)


def test_the_rule_as_the_api_states_it_names_both_clauses():
    assert "contains chance, 1/classes" in RULE
    assert "wholly below twice chance, 2/classes" in RULE
