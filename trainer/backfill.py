"""``python -m trainer --evaluate``: add calibration, generalization and robustness to versions
already on disk, from their SavedModel and the data they were trained on.

Only ``metadata.json`` is rewritten (atomically); the SavedModel is read, never touched. The
rows a model was fitted and validated on are found again from its recorded seed, limit and
validation split (:mod:`trainer.splits`), so the blocks equal the ones an export would write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from analysis.reports import ReportError, build_reports
from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.signature import (
    SERVING_INPUT,
    SERVING_PROBABILITIES,
    SIGNATURE_KEY,
    to_model_input,
)
from trainer.beyond import TRAIN_IMAGES, Predict, beyond_accuracy, predict_all
from trainer.data import Dataset
from trainer.progress import progress_log
from trainer.splits import split_rows

#: The blocks this command adds.
BLOCKS = (md.CALIBRATION, md.GENERALIZATION, md.ROBUSTNESS)
#: Dataset facts that must match the version's metadata before its figures are trusted.
MATCHED = ("name", "train_size", "test_size")

Loader = Callable[[int, "int | None"], Dataset]


@dataclass(frozen=True)
class Outcome:
    """What happened to one version: ``added``, ``present`` or ``skipped`` (and why)."""

    version_dir: Path
    status: str
    detail: str = ""


def saved_model_predictor(version_dir: Path) -> Predict:
    """The version's serving signature as a ``predict`` function."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(version_dir)).signatures[SIGNATURE_KEY]
    return lambda images: signature(**{SERVING_INPUT: tf.constant(images)})[
        SERVING_PROBABILITIES].numpy()


def evaluate_version_on_disk(version_dir: Path, metadata: dict, dataset: Dataset) -> dict:
    """The three blocks for one version, from its SavedModel and ``dataset``."""
    training = md.Metadata(metadata).training
    fit_rows, validation_rows = split_rows(len(dataset.x_train), int(training.get("seed", 0)),
                                           float(training.get("validation_split", 0.0)))
    fit_rows, validation_rows = fit_rows[:TRAIN_IMAGES], validation_rows[:TRAIN_IMAGES]
    predict = saved_model_predictor(version_dir)
    test = (predict_all(predict, to_model_input(dataset.x_test)), dataset.y_test)
    return beyond_accuracy(
        predict, test, dataset.x_test,
        (to_model_input(dataset.x_train[fit_rows]), dataset.y_train[fit_rows]),
        (to_model_input(dataset.x_train[validation_rows]), dataset.y_train[validation_rows]),
        md.Metadata(metadata).history)


def mismatch(metadata: dict, dataset: Dataset) -> str:
    """Why ``dataset`` is not the data the version was trained on ("" if it is)."""
    recorded, loaded = md.Metadata(metadata).data, dataset.summary()
    differing = [key for key in MATCHED if recorded.get(key) != loaded[key]]
    if not differing:
        return ""
    return ("trained on " + ", ".join(f"{key} {recorded.get(key)!r}" for key in differing)
            + "; --data gives " + ", ".join(f"{loaded[key]!r}" for key in differing))


def backfill(models_dir: Path, load: Loader, log: Callable[[str], None] = lambda line: None,
             force: bool = False) -> list[Outcome]:
    """Add the blocks to every version under ``models_dir`` that lacks one (all with ``force``).

    ``load(seed, limit)`` loads the data source as the trainer did for that seed and limit.
    """
    outcomes: list[Outcome] = []
    datasets: dict[tuple, Dataset] = {}
    for variant_dir in layout.variant_dirs(Path(models_dir)):
        for version in layout.versions(variant_dir):
            version_dir = variant_dir / str(version)
            try:
                metadata = layout.read_metadata(version_dir)
                lacking = md.Metadata.parse(metadata).missing(BLOCKS)
            except (OSError, ValueError) as exc:
                outcomes.append(Outcome(version_dir, "skipped", f"unreadable metadata: {exc}"))
                continue
            if not lacking and not force:
                outcomes.append(Outcome(version_dir, "present"))
                continue
            training = md.Metadata(metadata).training
            key = (int(training.get("seed", 0)), training.get("limit"))
            if key not in datasets:
                datasets[key] = load(*key)
            why = mismatch(metadata, datasets[key])
            if why:
                outcomes.append(Outcome(version_dir, "skipped", why))
                log(f"{version_dir}: skipped: {why}")
                continue
            metadata.update(evaluate_version_on_disk(version_dir, metadata, datasets[key]))
            layout.write_json_atomic(version_dir / layout.METADATA_FILE, metadata)
            outcomes.append(Outcome(version_dir, "added", ", ".join(lacking if not force
                                                                    else BLOCKS)))
            log(f"{version_dir}: added {outcomes[-1].detail}")
    return outcomes


def summary_lines(outcomes: list[Outcome]) -> list[str]:
    """One line per status, then each skipped version and why."""
    counts = {status: sum(o.status == status for o in outcomes)
              for status in ("added", "present", "skipped")}
    lines = [f"evaluated {counts['added']} version(s); {counts['present']} already had "
             f"{', '.join(BLOCKS)}; {counts['skipped']} skipped"]
    lines += [f"  skipped {o.version_dir}: {o.detail}" for o in outcomes if o.status == "skipped"]
    return lines


def run_evaluate(models_dir: Path, data: str, quiet: bool, out: TextIO, err: TextIO) -> int:
    """The ``--evaluate`` command: backfill from data source ``data``, rebuild the reports and
    say what was done; exit status 1 if a version had to be skipped."""
    from trainer.data.sources import load_dataset

    def load(seed: int, limit: int | None) -> Dataset:
        return load_dataset(data, seed=seed, limit=limit, progress=not quiet)

    outcomes = backfill(models_dir, load, progress_log(quiet, err))
    if not outcomes:
        raise ReportError(f"no trained models under {models_dir}; train some first, "
                          "e.g. python -m trainer --all")
    build_reports(models_dir)
    if not quiet:
        out.write("\n".join(summary_lines(outcomes)) + "\n")
    return 1 if any(o.status == "skipped" for o in outcomes) else 0
