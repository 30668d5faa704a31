"""Statistics for comparing classifiers on one test set: pure functions over arrays.

Accuracy gets a Wilson interval; two models answered on the same images get a 2x2 table, the
exact McNemar test and a paired-bootstrap interval of their accuracy difference (Dietterich,
1998); several models at once get Cochran's Q; a family of p-values gets Holm's adjustment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Resamples of the paired bootstrap; the issue asks for at least 2,000.
BOOTSTRAP_RESAMPLES = 2000
BETTER, WORSE, NO_DIFFERENCE = "better", "worse", "no detectable difference"


@dataclass(frozen=True)
class PairTable:
    """How two models did on the same images: both right, only A right, only B right, both wrong."""

    both_right: int
    only_a: int
    only_b: int
    both_wrong: int

    @property
    def size(self) -> int:
        return self.both_right + self.only_a + self.only_b + self.both_wrong

    @property
    def diff(self) -> float:
        """Accuracy of A minus accuracy of B: only the discordant images count."""
        return (self.only_a - self.only_b) / self.size if self.size else math.nan

    def __add__(self, other: PairTable) -> PairTable:
        return PairTable(self.both_right + other.both_right, self.only_a + other.only_a,
                         self.only_b + other.only_b, self.both_wrong + other.both_wrong)


def wilson_interval(successes: float, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial share (``successes`` may be a mean times ``trials``)."""
    if trials <= 0:
        return (math.nan, math.nan)
    from scipy import stats as scipy_stats  # heavy, and only the train extra has it

    z = float(scipy_stats.norm.ppf(0.5 + confidence / 2))
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(share * (1 - share) / trials
                                                + z * z / (4 * trials * trials))
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (``None`` for fewer than two values)."""
    array = np.asarray(values, dtype=float)
    return float(array.mean()), (float(array.std(ddof=1)) if len(array) > 1 else None)


def pair_table(correct_a: np.ndarray, correct_b: np.ndarray) -> PairTable:
    """The 2x2 table of two boolean arrays saying where A and where B was right."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"cannot pair answers of shapes {a.shape} and {b.shape}")
    return PairTable(int(np.sum(a & b)), int(np.sum(a & ~b)), int(np.sum(~a & b)),
                     int(np.sum(~a & ~b)))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Exact McNemar p-value: two-sided binomial test of the discordant counts at 1/2.

    With no discordant image there is nothing to test, and the answer is 1.
    """
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    from scipy import stats as scipy_stats  # heavy, and only the train extra has it

    tail = scipy_stats.binom.cdf(min(only_a, only_b), discordant, 0.5)
    return float(min(1.0, 2.0 * tail))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values, in the order given."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (len(p) - np.arange(len(p)))
    adjusted = np.minimum(1.0, np.maximum.accumulate(scaled))
    result = np.empty_like(adjusted)
    result[order] = adjusted
    return [float(value) for value in result]


def bootstrap_mean_interval(values: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                            seed: int = 0, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` under resampling with replacement.

    ``values`` take few distinct values (per-image differences of right and wrong), so a
    resample's mean depends only on how often each value is drawn: one multinomial draw per
    resample gives exactly the distribution of resampling the images, in O(resamples).
    """
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0:
        return (math.nan, math.nan)
    distinct, counts = np.unique(array, return_counts=True)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(array.size, counts / array.size, size=resamples)
    means = draws @ distinct / array.size
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return (float(low), float(high))


def paired_differences(correct_a: np.ndarray, correct_b: np.ndarray) -> np.ndarray:
    """Per image, A right minus B right, averaged over seed pairs (rows) when 2-D."""
    a = np.atleast_2d(np.asarray(correct_a, dtype=float))
    b = np.atleast_2d(np.asarray(correct_b, dtype=float))
    return (a - b).mean(axis=0)


def cochran_q(correct: np.ndarray) -> tuple[float, float]:
    """Cochran's Q and its chi-square p-value (df k-1) for ``(k models, n images)`` booleans.

    Tests whether k models are equally accurate on the same images; with k = 2 it is McNemar's
    chi-square without continuity correction. Images every model got right (or wrong) carry
    no information; when all are such, Q is 0 and p is 1.
    """
    table = np.asarray(correct, dtype=float)
    k = table.shape[0]
    if k < 2:
        return (math.nan, math.nan)
    per_model, per_image = table.sum(axis=1), table.sum(axis=0)
    total = per_model.sum()
    denominator = k * total - np.sum(per_image ** 2)
    if denominator == 0:
        return (0.0, 1.0)
    q = (k - 1) * (k * np.sum(per_model ** 2) - total ** 2) / denominator
    from scipy import stats as scipy_stats  # heavy, and only the train extra has it

    return (float(q), float(scipy_stats.chi2.sf(q, k - 1)))


def verdict(p_adjusted: float, diff: float, seed_diffs: Sequence[float] = (),
            alpha: float = 0.05) -> str:
    """``better``/``worse`` when the adjusted p is below ``alpha`` and, with several seed pairs,
    every seed pair's difference has the sign of the overall one; else no detectable difference."""
    if not p_adjusted < alpha or diff == 0 or math.isnan(diff):
        return NO_DIFFERENCE
    sign = 1 if diff > 0 else -1
    if len(seed_diffs) > 1 and not all(d * sign > 0 for d in seed_diffs):
        return NO_DIFFERENCE
    return BETTER if sign > 0 else WORSE
