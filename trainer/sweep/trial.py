"""One sweep point, the same on every engine: size the threads, train, export, summarise."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regserve_contracts import layout
from regserve_contracts.variants import Variant
from trainer.data import Dataset
from trainer.results import SPARSITY_KEY
from trainer.sweep.spec import family


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of a sweep shares; plain values, so Ray can ship it to other nodes."""

    sweep: str
    engine: str
    models_dir: str  # absolute: Ray runs each trial in a working folder of its own
    epochs: int
    batch_size: int
    validation_split: float
    seed: int
    limit: int | None
    cpus: int


def size_thread_pools(cpus: int) -> None:
    """Give TensorFlow as many threads as this trial has CPUs, so parallel trials do not fight.

    The environment variables cover a TensorFlow not imported yet; the config calls cover one
    that is imported but not started. Once TensorFlow has run an op its pools are fixed, which
    is harmless here because every trial of a sweep asks for the same number.
    """
    for key in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[key] = str(cpus)
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)
    except RuntimeError:
        pass  # already started: see the docstring


def find_done(models_dir: Path, sweep: str, point: str) -> Path | None:
    """The newest version of ``point`` that this sweep already exported, if any."""
    variant_dir = Path(models_dir) / point
    for version in reversed(layout.versions(variant_dir)):
        version_dir = variant_dir / str(version)
        try:
            if layout.read_metadata(version_dir).get("sweep", {}).get("name") == sweep:
                return version_dir
        except (OSError, ValueError, AttributeError):
            continue  # an unreadable version is not ours to count
    return None


def summarise(version_dir: Path, metadata: dict[str, Any], reused: bool) -> dict[str, Any]:
    """The numbers a sweep reports for a point, from its exported metadata."""
    variant = Variant.from_dict(metadata["variant"])
    history = metadata.get("history", {})
    activations = list(metadata.get("activation_sparsity_test", {}).values())
    sweep = metadata.get("sweep", {})
    return {
        "point": variant.name, "family": family(variant), "penalty": variant.penalty,
        "where": variant.where, "lam": variant.lam, "version_dir": str(version_dir),
        "test_accuracy": float(metadata["test"]["accuracy"]),
        "val_accuracy": float((history.get("val_accuracy") or [float("nan")])[-1]),
        "weight_sparsity": float(metadata["weight_sparsity"]["all"][SPARSITY_KEY]),
        "activation_sparsity": sum(activations) / len(activations) if activations else 0.0,
        "training_seconds": float(metadata.get("training_seconds", 0.0)),
        "node": sweep.get("node", ""), "pid": sweep.get("pid", 0),
        "started": sweep.get("started", 0.0), "finished": sweep.get("finished", 0.0),
        "reused": reused,
    }


def run_point(point: dict[str, Any], dataset: Dataset, settings: TrialSettings, node: str,
              callbacks: Sequence = ()) -> dict[str, Any]:
    """Train and export one point (or reuse this sweep's earlier export of it); its summary."""
    started = time.time()  # the trial's start, TensorFlow's import included
    variant = Variant.from_dict(point)
    models_dir = Path(settings.models_dir)
    done = find_done(models_dir, settings.sweep, variant.name)
    if done is not None:  # a resumed sweep, or a retry after the export already landed
        return summarise(done, layout.read_metadata(done), reused=True)
    # Fail before training, not after, when the point's folder cannot be made.
    (models_dir / variant.name).mkdir(parents=True, exist_ok=True)
    size_thread_pools(settings.cpus)
    from trainer.train import TrainConfig, train_variant

    config = TrainConfig(epochs=settings.epochs, batch_size=settings.batch_size,
                         validation_split=settings.validation_split, seed=settings.seed,
                         limit=settings.limit, verbose=0)
    sweep = {"name": settings.sweep, "point": variant.name, "engine": settings.engine,
             "node": node, "host": socket.gethostname(), "pid": os.getpid(),
             "cpus": settings.cpus, "started": started}
    import keras

    # "finished" is when training ended (the export follows at once, atomically); the
    # metadata is built after fit, so it sees the update.
    stamp = keras.callbacks.LambdaCallback(
        on_train_end=lambda logs: sweep.update(finished=time.time()))
    result = train_variant(variant, dataset, config, models_dir, extra_metadata={"sweep": sweep},
                           callbacks=[*callbacks, stamp])
    return summarise(result.version_dir, layout.read_metadata(result.version_dir), reused=False)

