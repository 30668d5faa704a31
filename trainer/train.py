"""Train, evaluate and export variants: the trainer's one path from a dataset to ``models/``."""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from analysis.calibration import accuracy
from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.labels import NUM_CLASSES, label_mapping
from regserve_contracts.signature import (
    ACTIVATION_LAYERS,
    INPUT_SHAPE,
    SERVING_INPUT,
    SIGNATURE_KEY,
    to_model_input,
)
from regserve_contracts.variants import Variant
from trainer.beyond import keras_predictor, predict_all
from trainer.data import Dataset
from trainer.errors import CommandError
from trainer.evaluation import evaluate_version, evaluation_pass
from trainer.model import PENALIZED_LAYERS, build_model, export_saved_model, weight_sparsity
from trainer.onnx_export import write_twin
from trainer.penalty_views import export_views
from trainer.progress import clock
from trainer.repeats import expand, repeat_metadata, training_settings
from trainer.splits import fitted_count, shuffled_order
from trainer.tracking.runs import RunHooks


class TrainingError(CommandError, ValueError):
    """The data and settings cannot train a model (e.g. too few images to split)."""


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; the defaults are the original experiment's."""

    epochs: int = 25
    batch_size: int = 250
    validation_split: float = 0.2
    seed: int = 42
    limit: int | None = None
    verbose: int = 2  # Keras: 0 silent, 1 progress bar, 2 one line per epoch

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")
        if not 0.0 <= self.validation_split < 1.0:
            raise ValueError(f"validation split must be in [0, 1), got {self.validation_split}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")


@dataclass(frozen=True)
class TrainResult:
    """Where a variant landed and how it did."""

    variant: str
    version_dir: Path
    test_accuracy: float
    test_loss: float
    seconds: float


def train_variant(
    variant: Variant, dataset: Dataset, config: TrainConfig, models_dir: Path,
    extra_metadata: dict | None = None, callbacks: Sequence | None = None,
) -> TrainResult:
    """Train one variant from scratch, evaluate it on the test set and export a new version.

    ``extra_metadata`` is merged into ``metadata.json`` (a sweep adds its ``sweep`` section);
    ``callbacks`` are Keras callbacks for ``fit`` (a sweep reports each epoch to its scheduler).
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    order = shuffled_order(len(dataset.x_train), config.seed)  # trainer/splits.py says why
    x_train = to_model_input(dataset.x_train[order])
    y_train = keras.utils.to_categorical(dataset.y_train[order], NUM_CLASSES)
    x_test = to_model_input(dataset.x_test)
    fitted = fitted_count(len(x_train), config.validation_split)
    if fitted < 1 or (config.validation_split > 0 and fitted == len(x_train)):
        raise TrainingError(
            f"{len(x_train)} training images cannot be split {1 - config.validation_split:.0%}"
            f" / {config.validation_split:.0%} into training and validation; use more images"
        )
    if len(x_test) == 0:
        raise TrainingError(f"data source {dataset.name!r} has no test images")

    model = build_model(variant)
    started = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_split=config.validation_split,
        shuffle=True,
        verbose=config.verbose,
        callbacks=list(callbacks or ()),
    )
    seconds = time.perf_counter() - started
    answers = evaluation_pass(model, x_test)  # the one pass over the test set
    evaluation = evaluate_version(model, answers, x_train[:fitted],
                                  dataset.y_train[order][:fitted], dataset, config)
    test = evaluation.metadata.pop(md.TEST)
    activations = evaluation.metadata.pop(md.ACTIVATION_SPARSITY_TEST)
    # Histograms and the pruning curve: threshold 0 is the pass's own accuracy; each other
    # threshold is another model (its weights pruned), so it is measured again.
    predict = keras_predictor(model)
    blocks = export_views(model, PENALIZED_LAYERS, lambda: accuracy(
        predict_all(predict, x_test), dataset.y_test), unpruned=test["accuracy"])
    blocks.update(evaluation.metadata)
    blocks.update(extra_metadata or {})
    settings = {key: value for key, value in asdict(config).items() if key != "verbose"}
    with layout.new_version(models_dir, variant.name) as staged:
        export_saved_model(model, staged.path)
        blocks[md.ONNX] = write_twin(staged.path)  # checked against the SavedModel, or raises
        for write in evaluation.files:
            write(staged.path)
        metadata = md.build_metadata(
            variant=variant.to_dict(), labels=label_mapping(), data=dataset.summary(),
            training={**settings, "train_samples": fitted,
                      "validation_samples": len(x_train) - fitted,
                      "versions": library_versions()},
            history=history.history, test=test, parameters=model.count_params(),
            weight_sparsity=weight_sparsity(model), weights_sha256=weights_digest(model),
            activation_sparsity_test=activations,
            serving={"signature": SIGNATURE_KEY, "input": SERVING_INPUT,
                     "input_shape": [None, *INPUT_SHAPE],
                     "activation_layers": list(ACTIVATION_LAYERS)},
            training_seconds=seconds, samples_per_second=fitted * config.epochs / seconds,
            created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), blocks=blocks)
        layout.write_json_atomic(staged.path / layout.METADATA_FILE, metadata)
    keras.backend.clear_session()
    return TrainResult(variant.name, staged.final, test["accuracy"], test["loss"], seconds)


def weights_digest(model) -> str:
    """SHA-256 of every weight array, in order: equal digests mean identical models."""
    digest = hashlib.sha256()
    for weights in model.get_weights():
        array = np.ascontiguousarray(weights)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries a result depends on, for the metadata."""
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def train_variants(
    variants: Sequence[Variant],
    dataset: Dataset,
    config: TrainConfig,
    models_dir: Path,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    seeds: int = 1,
    hooks: RunHooks | None = None,
) -> list[TrainResult]:
    """Train each variant ``seeds`` times in turn (seeds ``config.seed``, +1, ...), logging an
    overall line (k of n, which repeat, elapsed, ETA) around each; ``hooks`` track each
    training (MLflow, TensorBoard)."""
    jobs = expand(variants, config.seed, seeds)
    settings = training_settings(config.epochs, config.batch_size, config.limit,
                                 config.validation_split)
    results: list[TrainResult] = []
    started = time.perf_counter()
    for index, job in enumerate(jobs, start=1):
        variant = job.variant
        log(f"[{index}/{len(jobs)}] {job.label}: {variant.label} "
            f"(elapsed {clock(time.perf_counter() - started)})")
        job_config = replace(config, seed=job.seed)
        with (hooks or RunHooks()).training(variant, job_config, dataset.summary()) as run:
            result = train_variant(variant, dataset, job_config, models_dir,
                                   extra_metadata=repeat_metadata(job, dataset, settings),
                                   callbacks=run.callbacks)
            run.exported(result.version_dir)
        results.append(result)
        elapsed = time.perf_counter() - started
        eta = elapsed / index * (len(jobs) - index)
        log(f"[{index}/{len(jobs)}] {job.label}: test accuracy {result.test_accuracy:.4f}, "
            f"loss {result.test_loss:.4f} -> {result.version_dir} "
            f"(elapsed {clock(elapsed)}, ETA {clock(eta)})")
    return results
