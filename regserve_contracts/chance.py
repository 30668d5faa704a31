"""When a model is at chance ("collapsed"): one rule for the API, the page and the reports.

A model that always answers the same class reads 1 of 47 balanced test characters right. Its
answers are no evidence about the input, so the server flags it and leaves it out of the vote.
The rule, on the model's own test-set size n (a small test set makes a wide interval):

    collapsed  <=>  the 95% Wilson interval of its test accuracy contains chance (1/47),
                    or lies wholly below twice chance (2/47).

The first clause catches a model that cannot be told apart from chance; the second one a model
on a large test set (EMNIST's 18,800) that is measurably above chance but still useless.
"""

from __future__ import annotations

import math

#: The normal quantile of a two-sided 95% interval.
Z95 = 1.959963984540054
#: The rule in one sentence, as the API document and the docs state it.
RULE = ("collapsed: the 95% Wilson interval of the test accuracy (on the model's own test-set "
        "size) contains chance, 1/classes, or lies wholly below twice chance, 2/classes")


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / n`` (Wilson, 1927)."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def is_collapsed(accuracy: object, test_size: object, classes: int) -> bool | None:
    """Whether a model with this test accuracy on ``test_size`` images is at chance.

    ``None`` when it cannot be said: an older export without its accuracy or test-set size.
    """
    if isinstance(accuracy, bool) or not isinstance(accuracy, int | float):
        return None
    if isinstance(test_size, bool) or not isinstance(test_size, int) or test_size <= 0:
        return None
    if not math.isfinite(accuracy) or classes < 2:
        return None
    chance = 1.0 / classes
    low, high = wilson_interval(accuracy * test_size, test_size)
    return bool(low <= chance <= high or high < 2 * chance)
