"""How sure a model is against how often it is right: ECE, MCE, NLL, Brier, reliability bins.

Small pure functions over ``probabilities`` ``(N, classes)`` and integer ``labels`` ``(N,)``, as
Guo et al. (2017, "On Calibration of Modern Neural Networks") define them, plus temperature
scaling fitted on held-out images. :func:`calibration_block` is what ``metadata.json`` keeps.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np

#: Equal-width confidence bins over (0, 1], Guo et al.'s choice.
BINS = 15
#: Probabilities are clipped here before a logarithm: a float32 softmax can round to exactly 0.
TINY = 1e-12
#: Temperatures searched by :func:`fit_temperature` (golden section on log T).
TEMPERATURE_RANGE = (0.01, 100.0)
#: The ECE's bootstrap over test images: resamples, seed, interval level.
RESAMPLES = 1000
BOOTSTRAP_SEED = 20170614  # Guo et al.'s arXiv date: any fixed number would do
LEVEL = 0.95


def _checked(probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    if p.ndim != 2 or len(p) != len(y) or len(y) == 0:
        raise ValueError(f"need probabilities (N, classes) and N labels, N >= 1; got "
                         f"{p.shape} and {y.shape}")
    return p, y


def bin_index(confidence: np.ndarray, bins: int = BINS) -> np.ndarray:
    """The bin of each confidence: bin m (0-based) holds (m / bins, (m + 1) / bins]."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.clip(np.searchsorted(edges, np.asarray(confidence), side="left") - 1, 0, bins - 1)


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray,
                     bins: int = BINS) -> list[dict[str, Any]]:
    """Per bin: how many predictions, their mean confidence, the share right (None if empty)."""
    p, y = _checked(probabilities, labels)
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    which = bin_index(confidence, bins)
    counts = np.bincount(which, minlength=bins)
    sums = np.bincount(which, weights=confidence, minlength=bins)
    hits = np.bincount(which, weights=correct.astype(np.float64), minlength=bins)
    return [{"count": int(counts[m]),
             "confidence": float(sums[m] / counts[m]) if counts[m] else None,
             "accuracy": float(hits[m] / counts[m]) if counts[m] else None}
            for m in range(bins)]


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray,
                               bins: int = BINS) -> float:
    """Sum over bins of (bin share) x |accuracy - mean confidence|."""
    table = reliability_bins(probabilities, labels, bins)
    total = sum(b["count"] for b in table)
    return float(sum(b["count"] / total * abs(b["accuracy"] - b["confidence"])
                     for b in table if b["count"]))


def _binned_ece(which: np.ndarray, confidence: np.ndarray, correct: np.ndarray,
                bins: int) -> float:
    """ECE from each image's bin, confidence and rightness: sum over bins of |hits - confidence
    sum| / N, the same as sum of (share) x |accuracy - mean confidence|."""
    hits = np.bincount(which, weights=correct, minlength=bins)
    sure = np.bincount(which, weights=confidence, minlength=bins)
    return float(np.abs(hits - sure).sum() / len(which))


def ece_bootstrap(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS,
                  resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """The ECE of ``resamples`` bootstrap resamples of the test images: resample r draws its N
    rows as ``default_rng(seed).integers(0, N, size=N)``, the r-th such draw of one generator."""
    p, y = _checked(probabilities, labels)
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    which = bin_index(confidence, bins)
    rng = np.random.default_rng(seed)
    values = np.empty(resamples)
    for r in range(resamples):
        rows = rng.integers(0, len(y), size=len(y))
        values[r] = _binned_ece(which[rows], confidence[rows], correct[rows], bins)
    return values


def ece_if_calibrated(probabilities: np.ndarray, bins: int = BINS, resamples: int = RESAMPLES,
                      seed: int = BOOTSTRAP_SEED) -> float:
    """The mean ECE a perfectly calibrated model with these confidences shows on this many
    images: each answer right with probability equal to its confidence, ``resamples`` times.
    ECE is never negative, so even a calibrated model scores above 0 on a finite test set."""
    p = np.asarray(probabilities, dtype=np.float64)
    confidence = p.max(axis=1)
    which = bin_index(confidence, bins)
    rng = np.random.default_rng(seed)
    draws = [_binned_ece(which, confidence, (rng.random(len(confidence)) < confidence)
                         .astype(np.float64), bins) for _ in range(resamples)]
    return float(np.mean(draws))


def ece_interval(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS,
                 resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED,
                 level: float = LEVEL) -> dict[str, Any]:
    """The bias-corrected percentile bootstrap interval (Efron's BC) of the ECE over test
    images, how it was made, and :func:`ece_if_calibrated` beside it.

    A resample's ECE is mostly above the sample's own (ECE is never negative, and resampling
    adds noise to each bin), so the plain percentile interval can lie wholly above the ECE it
    describes. BC shifts the percentiles by z0, the normal quantile of the share of resamples
    below the sample's ECE: percentiles Phi(2 z0 -+ z) for a two-sided ``level`` with z its
    normal quantile.
    """
    values = ece_bootstrap(probabilities, labels, bins, resamples, seed)
    estimate = expected_calibration_error(probabilities, labels, bins)
    normal = statistics.NormalDist()
    below = float(np.mean(values < estimate))
    z0 = normal.inv_cdf(min(max(below, 0.5 / resamples), 1 - 0.5 / resamples))
    z = normal.inv_cdf(0.5 + level / 2)
    low, high = np.quantile(values, [normal.cdf(2 * z0 - z), normal.cdf(2 * z0 + z)])
    return {"low": float(low), "high": float(high), "level": level, "resamples": resamples,
            "seed": seed, "method": "bias-corrected percentile bootstrap over the test images",
            "if_calibrated": ece_if_calibrated(probabilities, bins, resamples, seed)}


def maximum_calibration_error(probabilities: np.ndarray, labels: np.ndarray,
                              bins: int = BINS) -> float:
    """The largest |accuracy - mean confidence| over the non-empty bins."""
    return float(max(abs(b["accuracy"] - b["confidence"])
                     for b in reliability_bins(probabilities, labels, bins) if b["count"]))


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray,
                            floor: float = TINY) -> float:
    """Mean of -log p(true class): the cross-entropy loss, without any weight penalty.

    ``floor``: probabilities are clipped to it first (Keras clips at its epsilon, 1e-7).
    """
    p, y = _checked(probabilities, labels)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], floor, 1.0))))


def brier_score(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean over images of the squared distance to the one-hot label, summed over classes
    (Brier's multi-class score: 0 is perfect, 2 the worst)."""
    p, y = _checked(probabilities, labels)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Share of images whose most probable class is the label."""
    p, y = _checked(probabilities, labels)
    return float(np.mean(p.argmax(axis=1) == y))


def scale_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): the same ranking, sharper (T < 1) or softer (T > 1)."""
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), TINY, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray,
                    steps: int = 60) -> float:
    """The temperature that minimises NLL on held-out images (golden section on log T; NLL is
    convex in 1 / T, so the search finds its one minimum)."""
    low, high = (math.log(t) for t in TEMPERATURE_RANGE)
    ratio = (math.sqrt(5) - 1) / 2

    def loss(log_t: float) -> float:
        return negative_log_likelihood(scale_temperature(probabilities, math.exp(log_t)), labels)

    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = loss(a), loss(b)
    for _ in range(steps):
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = loss(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss(b)
    return float(math.exp((low + high) / 2))


def calibration_block(probabilities: np.ndarray, labels: np.ndarray,
                      held_out: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """``metadata.json``'s calibration block for test ``probabilities`` and ``labels``.

    ``held_out``: (probabilities, labels) of the validation images; with it, the temperature
    fitted on them and the test ECE after scaling by it are added.
    """
    block: dict[str, Any] = {
        "ece": expected_calibration_error(probabilities, labels),
        "ece_interval": ece_interval(probabilities, labels),
        "mce": maximum_calibration_error(probabilities, labels),
        "nll": negative_log_likelihood(probabilities, labels),
        "brier": brier_score(probabilities, labels),
        "bins": reliability_bins(probabilities, labels),
        "images": int(len(labels)),
    }
    if held_out is not None and len(held_out[1]):
        temperature = fit_temperature(*held_out)
        block["temperature"] = temperature
        block["ece_temperature_scaled"] = expected_calibration_error(
            scale_temperature(probabilities, temperature), labels)
    return block
