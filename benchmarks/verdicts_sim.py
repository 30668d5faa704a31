"""Test-set answers with a known truth, to prove the verdicts (``python -m benchmarks verdicts``).

Per image a latent difficulty shared by every model; per recipe a mean accuracy; per trained
model a seed effect (its sd over seeds is the setting's) and per-image idiosyncratic noise. A
model is right on image j when ``sqrt(r) * difficulty_j + sqrt(1 - r) * noise_mj`` falls below
its recipe's threshold plus its seed effect; ``r`` is set so that two seeds of one recipe
disagree (one right, one wrong) on the setting's share of images.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.comparison.models import Entry, Model
from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.labels import label_mapping
from regserve_contracts.predictions import Predictions, write_predictions

#: The baseline first, then the variants it is compared with (registry names).
VARIANTS = ("none", "l2_activity", "l1_kernel_bias", "l2_kernel_bias")
CLASSES = 47
DATA_NAME = "fabricated-verdicts"
FINGERPRINT = "0" * 64


@dataclass(frozen=True)
class Noise:
    """One point of the noise grid: sd over seeds (points of accuracy), test images, share of
    images on which two seeds of one recipe disagree, and the baseline's accuracy."""

    seed_sd: float
    images: int
    disagreement: float
    accuracy: float = 0.81


def shared_share(accuracy: float, disagreement: float) -> float:
    """The share ``r`` of the latent variance that is image difficulty, for two seeds of one
    recipe (no seed effect) to disagree on ``disagreement`` of the images (bisection)."""
    from scipy.stats import multivariate_normal, norm

    threshold = float(norm.ppf(accuracy))
    low, high = 0.0, 0.9999
    for _ in range(40):
        r = (low + high) / 2
        both = multivariate_normal([0, 0], [[1, r], [r, 1]]).cdf([threshold, threshold])
        if 2 * (accuracy - both) > disagreement:
            low = r
        else:
            high = r
    return (low + high) / 2


def simulate(rng: np.random.Generator, noise: Noise, gains: tuple[float, ...], seeds: int,
             reports: int) -> np.ndarray:
    """Booleans ``(reports, len(gains), seeds, images)``: where each model was right; recipe v's
    true accuracy is the baseline's plus ``gains[v]`` (a share)."""
    from scipy.stats import norm

    r = shared_share(noise.accuracy, noise.disagreement)
    thresholds = norm.ppf(noise.accuracy + np.asarray(gains, dtype=float))
    seed_probit = noise.seed_sd / 100 / norm.pdf(norm.ppf(noise.accuracy))
    shape = (reports, len(gains), seeds, noise.images)
    difficulty = rng.standard_normal((reports, 1, 1, noise.images), dtype=np.float32)
    idiosyncratic = rng.standard_normal(shape, dtype=np.float32)
    effect = rng.standard_normal((reports, len(gains), seeds, 1)) * seed_probit
    latent = math.sqrt(r) * difficulty + math.sqrt(1 - r) * idiosyncratic
    return latent < (thresholds[None, :, None, None] + effect).astype(np.float32)


def truth_labels(images: int) -> np.ndarray:
    return (np.arange(images) % CLASSES).astype(np.uint8)


def predictions_of(right: np.ndarray, truth: np.ndarray, full: bool) -> Predictions:
    """Answers right exactly where ``right`` is; ``full``: one-hot (N, 47) probabilities as an
    export writes them, else one column (in memory only, never read by the comparison)."""
    predicted = np.where(right, truth, (truth + 1) % CLASSES).astype(np.uint8)
    probabilities = (np.eye(CLASSES, dtype=np.float16)[predicted] if full
                     else np.ones((len(truth), 1), dtype=np.float16))
    return Predictions(predicted, probabilities, truth, FINGERPRINT)


def entries_of(report: np.ndarray) -> list[Entry]:
    """One report's ``(variants, seeds, images)`` answers as the comparison's entries."""
    truth = truth_labels(report.shape[-1])
    return [Entry(name, tuple(Model(name, index + 1, index, 42 + index,
                                    predictions_of(right, truth, full=False))
                              for index, right in enumerate(seeds)), f"group-{name}", DATA_NAME)
            for name, seeds in zip(VARIANTS, report, strict=False)]


def export_report(models_dir: Path, report: np.ndarray) -> None:
    """Write one report's models as the trainer exports them: ``<variant>/<version>/`` with
    metadata.json (repeat block, predictions block) and predictions.npz; the SavedModel is an
    empty placeholder, which the comparison never opens."""
    truth = truth_labels(report.shape[-1])
    for (name, seeds) in zip(VARIANTS, report, strict=False):
        for index, right in enumerate(seeds):
            folder = models_dir / name / str(index + 1)
            folder.mkdir(parents=True)
            (folder / layout.SAVED_MODEL_FILE).write_bytes(b"")
            predictions = predictions_of(right, truth, full=True)
            layout.write_atomic(folder / layout.PREDICTIONS_FILE,
                                lambda handle, p=predictions: write_predictions(handle, p))
            layout.write_json_atomic(folder / layout.METADATA_FILE, {
                md.SCHEMA: md.SCHEMA_VERSION, md.LABELS: label_mapping(),
                md.VARIANT: {"name": name}, md.DATA: {"name": DATA_NAME},
                md.TRAINING: {"seed": 42 + index},
                md.REPEAT: {"group": f"group-{name}", "seed": 42 + index, "index": index + 1,
                            "of": len(seeds)},
                md.PREDICTIONS: {"file": layout.PREDICTIONS_FILE, "test_fingerprint":
                                 FINGERPRINT, "size": len(truth)}})


def measure_noise(entries: list[Entry]) -> list[dict]:
    """Per recipe with 2+ seeds: its accuracies, the raw sd over seeds, the seed sd with the
    test-image noise taken out, and the share of images on which two seeds disagree.

    Two seeds' accuracy difference has variance 2 sd_seed^2 + (disagreement share) / n: the
    second term is test-image noise (the disagreeing images falling either way), so
    sd_seed^2 = (mean squared pairwise difference - mean disagreement / n) / 2.
    """
    found = []
    for entry in entries:
        if len(entry.models) < 2:
            continue
        pairs = list(itertools.combinations(entry.models, 2))
        squared = np.mean([(a.predictions.accuracy - b.predictions.accuracy) ** 2
                           for a, b in pairs])
        disagree = float(np.mean([np.mean(a.predictions.correct != b.predictions.correct)
                                  for a, b in pairs]))
        accuracies = [model.predictions.accuracy for model in entry.models]
        found.append({"variant": entry.name, "seeds": len(entry.models), "images": entry.size,
                      "accuracies": accuracies, "sd": float(np.std(accuracies, ddof=1)),
                      "seed_sd": math.sqrt(max(0.0, (squared - disagree / entry.size) / 2)),
                      "disagreement": disagree})
    return found
