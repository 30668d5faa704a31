"""One training of a sweep point or trainer run, the same on every engine: size the threads,
train, export, summarise."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.sweep.results import summarise
from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.tensorflow_log import import_tensorflow
from trainer.data import Dataset
from trainer.repeats import Job, repeat_metadata, training_settings


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of a run shares; plain values, so Ray can ship it to other nodes."""

    sweep: str | None  # None: a ``python -m trainer`` run, no sweep section in the metadata
    engine: str
    models_dir: str  # absolute: Ray runs each trial in a working folder of its own
    epochs: int
    batch_size: int
    validation_split: float
    seed: int
    limit: int | None
    cpus: int
    tensorboard: str | None = None  # absolute, like models_dir


def size_thread_pools(cpus: int) -> None:
    """Give TensorFlow as many threads as this trial has CPUs, so parallel trials do not fight.

    The environment variables cover a TensorFlow not imported yet; the config calls cover one
    that is imported but not started. Once TensorFlow has run an op its pools are fixed, which
    is harmless here because every trial of a sweep asks for the same number.
    """
    for key in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[key] = str(cpus)
    tf = import_tensorflow()  # once, without its start-up noise

    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)
    except RuntimeError:
        pass  # already started: see the docstring


def find_done(models_dir: Path, sweep: str, point: str, seed: int) -> Path | None:
    """The newest version of ``point`` this sweep already exported with ``seed``, if any."""
    variant_dir = Path(models_dir) / point
    for version in reversed(layout.versions(variant_dir)):
        version_dir = variant_dir / str(version)
        try:
            metadata = layout.read_metadata(version_dir)
            if (metadata.get(md.SWEEP, {}).get("name") == sweep
                    and int(metadata[md.TRAINING]["seed"]) == seed):
                return version_dir
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            continue  # an unreadable version is not ours to count
    return None



def run_point(point: dict[str, Any], dataset: Dataset, settings: TrialSettings, node: str,
              callbacks: Sequence = ()) -> dict[str, Any]:
    """Train and export one job (:meth:`trainer.repeats.Job.to_dict`), or reuse this sweep's
    earlier export of it; its summary."""
    started = time.time()  # the trial's start, TensorFlow's import included
    job = Job.from_dict(point, settings.seed)
    variant = job.variant
    models_dir = Path(settings.models_dir)
    done = find_done(models_dir, settings.sweep, variant.name, job.seed) if settings.sweep else None
    if done is not None:  # a resumed sweep, or a retry after the export already landed
        return summarise(done, layout.read_metadata(done), reused=True)
    # Fail before training, not after, when the point's folder cannot be made.
    (models_dir / variant.name).mkdir(parents=True, exist_ok=True)
    size_thread_pools(settings.cpus)
    from trainer.train import TrainConfig, train_variant

    config = TrainConfig(epochs=settings.epochs, batch_size=settings.batch_size,
                         validation_split=settings.validation_split, seed=job.seed,
                         limit=settings.limit, verbose=0)
    extra = repeat_metadata(job, dataset, training_settings(
        settings.epochs, settings.batch_size, settings.limit, settings.validation_split))
    stamps: dict[str, Any] = {}
    if settings.sweep:
        stamps = {"name": settings.sweep, "point": variant.name, "engine": settings.engine,
                  "node": node, "host": socket.gethostname(), "pid": os.getpid(),
                  "cpus": settings.cpus, "started": started}
        extra[md.SWEEP] = stamps
    import keras

    # "finished" is when training ended (the export follows at once, atomically); the
    # metadata is built after fit, so it sees the update.
    stamp = keras.callbacks.LambdaCallback(
        on_train_end=lambda logs: stamps.update(finished=time.time()))
    from trainer.tracking.runs import tensorboard_callbacks

    board = tensorboard_callbacks(settings.tensorboard, variant.name, job.seed)
    result = train_variant(variant, dataset, config, models_dir, extra_metadata=extra,
                           callbacks=[*callbacks, stamp, *board])
    return summarise(result.version_dir, layout.read_metadata(result.version_dir), reused=False)

