"""Statistics for comparing classifiers and training recipes on one test set: pure functions.

Accuracy gets a Wilson interval; two trained models answered on the same images get a 2x2
table and the exact McNemar test (Dietterich, 1998); several at once get Cochran's Q. Two
*recipes* trained with k matched seeds get a paired t over the seed pairs whose variance adds
the test-image term (:func:`recipe_difference`), Schuirmann's TOST for equivalence, and the
smallest difference the seeds could see; a family of p-values gets Holm's adjustment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from regserve_contracts import comparison as contract

#: Resamples of the paired bootstrap; the issue asks for at least 2,000.
BOOTSTRAP_RESAMPLES = 2000
#: Power at which :attr:`RecipeDifference.mde` is the smallest difference seen.
MDE_POWER = 0.8


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


@dataclass(frozen=True)
class RecipeDifference:
    """Variant recipe minus baseline recipe from k matched seed pairs on one test set.

    ``se`` squared is the between-seed variance of the k accuracy differences over k (training
    randomness) plus the image term: the variance over the n images of the per-image difference
    averaged over the pairs, over n (which test images were drawn). The image term counts each
    image's seed-to-seed noise a second time, so the sum errs on the wide side. Test and
    interval use Student's t with k - 1 degrees of freedom.
    """

    diff: float
    se: float
    df: int
    seed_sd: float
    image_se: float

    def _t(self, value: float) -> float:
        return value / self.se

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        half = _t_quantile(0.5 + confidence / 2, self.df) * self.se
        return (self.diff - half, self.diff + half)

    @property
    def p(self) -> float:
        """Two-sided p of "the recipes are equally accurate"."""
        if self.se == 0:
            return 1.0 if self.diff == 0 else 0.0
        return float(2 * _t_tail(abs(self._t(self.diff)), self.df))

    def p_equivalence(self, margin: float) -> float:
        """TOST (Schuirmann, 1987): the larger one-sided p of diff <= -margin, diff >= margin."""
        if self.se == 0:
            return 0.0 if abs(self.diff) < margin else 1.0
        return float(max(_t_tail(self._t(self.diff + margin), self.df),
                         _t_tail(-self._t(self.diff - margin), self.df)))

    def mde(self, alpha: float, power: float = MDE_POWER) -> float:
        """The true difference a two-sided test at ``alpha`` finds with ``power`` (t quantiles)."""
        return float((_t_quantile(1 - alpha / 2, self.df) + _t_quantile(power, self.df))
                     * self.se)


def recipe_difference(correct_a: np.ndarray, correct_b: np.ndarray) -> RecipeDifference:
    """The recipe difference of ``(k seeds, n images)`` booleans, row i of A matched with B's.

    Needs k >= 2 (a spread over seeds); a verdict needs :data:`contract.MIN_SEEDS`.
    """
    a, b = np.asarray(correct_a, dtype=np.float64), np.asarray(correct_b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"cannot pair answers of shapes {a.shape} and {b.shape}")
    k, n = a.shape
    if k < 2 or n < 2:
        raise ValueError(f"a recipe difference needs 2 seed pairs and 2 images, got {k}, {n}")
    per_image = a - b
    seed_diffs, image_diffs = per_image.mean(axis=1), per_image.mean(axis=0)
    seed_var = float(seed_diffs.var(ddof=1))
    image_var = float(image_diffs.var(ddof=1)) / n
    return RecipeDifference(float(seed_diffs.mean()), math.sqrt(seed_var / k + image_var), k - 1,
                            math.sqrt(seed_var), math.sqrt(image_var))


def verdict(seed_pairs: int, diff: float, p_holm: float | None,
            p_equivalence_holm: float | None, alpha: float = contract.ALPHA) -> str:
    """The verdict about two recipes: needs seeds below the minimum; better/worse when the
    Holm-adjusted p is below ``alpha``; equivalent when the Holm-adjusted TOST p is; else
    inconclusive."""
    if seed_pairs < contract.MIN_SEEDS:
        return contract.NEEDS_SEEDS
    if p_holm is not None and p_holm < alpha and diff != 0:
        return contract.BETTER if diff > 0 else contract.WORSE
    if p_equivalence_holm is not None and p_equivalence_holm < alpha:
        return contract.EQUIVALENT
    return contract.INCONCLUSIVE


def _t_tail(value: float, df: int) -> float:
    """P(T > value) for Student's t with ``df`` degrees of freedom."""
    from scipy import special  # ufuncs: far cheaper per call than scipy.stats

    return float(special.stdtr(df, -value))


def _t_quantile(probability: float, df: int) -> float:
    from scipy import special

    return float(special.stdtrit(df, probability))
