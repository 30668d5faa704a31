"""The trainer's runs in MLflow and TensorBoard: one run per trained model, a parent per sweep.

``python -m trainer`` logs each model live (params at the start, metrics every epoch); a sweep's
trials are logged by the driver once they come back, from their exported ``metadata.json``,
as children of the sweep's run, so only one process ever writes to the store.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regserve_contracts import layout
from regserve_contracts import metadata as md
from regserve_contracts.variants import Variant
from trainer.tracking import open_store, record
from trainer.tracking.store import FAILED, FINISHED, KILLED, PARENT_TAG, TrackingStore


@dataclass
class LiveRun:
    """What one training gets from its trackers: Keras callbacks; it reports where it exported."""

    callbacks: list = field(default_factory=list)
    version_dir: Path | None = None

    def exported(self, version_dir: Path) -> None:
        self.version_dir = Path(version_dir)


@dataclass(frozen=True)
class RunHooks:
    """The trackers of one command: an MLflow store, a TensorBoard folder, either or neither."""

    store: TrackingStore | None = None
    tensorboard: Path | None = None
    warn: Callable[[str], None] = lambda line: _stderr(line)

    @contextmanager
    def training(self, variant: Variant, config: Any, data: Mapping[str, Any]
                 ) -> Iterator[LiveRun]:
        """Around one training: a run with its params, per-epoch metrics, then the export's
        numbers; a run whose training raised is marked failed (or killed, for Ctrl-C)."""
        live = LiveRun(tensorboard_callbacks(self.tensorboard, variant.name, config.seed,
                                             self.warn))
        store, run_id = self.store, None
        if store is not None:
            planned = record.planned(variant.to_dict(), config, data)
            run_id = store.start(variant.name, {"variant": variant.name, "kind": "model"},
                                 record.params(planned))
            if run_id is not None:
                live.callbacks.append(epoch_logger(store, run_id))
        try:
            yield live
        except BaseException as exc:
            if store is not None:
                store.end(run_id, KILLED if isinstance(exc, KeyboardInterrupt) else FAILED)
            raise
        if store is not None and live.version_dir is not None:
            log_version(store, run_id, live.version_dir, history=False)


    def record(self, outcomes: Sequence[Any], jobs: Sequence[Any], settings: Any,
               data: Mapping[str, Any]) -> None:
        """Runs of trainings that ran on Ray (``python -m trainer --engine ray``), written
        here, in the driver: one writer, so an SQLite store is safe."""
        if self.store is not None:
            record_outcomes(self.store, outcomes, planned_jobs(jobs, settings, data), {})


def epoch_logger(store: TrackingStore, run_id: str):
    """A Keras callback that logs each epoch's loss and accuracy (training and validation)."""
    import keras

    def on_epoch_end(epoch: int, logs: dict | None) -> None:
        history = {key: [value] for key, value in (logs or {}).items()}
        store.log(run_id, metrics=[(name, value, epoch + 1)
                                   for name, value, _ in record.epoch_metrics(history)])

    return keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)


def log_version(store: TrackingStore, run_id: str | None, version_dir: Path, history: bool,
                end_time: float | None = None) -> None:
    """Params, final metrics, tags and artifacts of an exported version, then end the run."""
    if run_id is None:
        return

    def write() -> None:
        metadata = layout.read_metadata(version_dir)
        metrics = [(name, value, 0) for name, value in record.final_metrics(metadata).items()]
        if history:
            metrics += record.epoch_metrics(metadata.get(md.HISTORY, {}))
        store.log(run_id, metrics=metrics, params=record.params(metadata),
                  tags=record.tags(metadata, version_dir))
        store.artifact(run_id, version_dir / layout.METADATA_FILE)
        _log_curves(store, run_id, version_dir, metadata)
        name = f"{metadata.get(md.VARIANT, {}).get('name', version_dir.parent.name)} " \
               f"v{version_dir.name}"
        store.end(run_id, FINISHED, end_time, name=name)

    store.guard("record the exported version", write)


def _log_curves(store: TrackingStore, run_id: str, version_dir: Path, metadata: dict) -> None:
    """The reports' loss/accuracy chart of this version, as a PNG artifact."""
    from analysis.plots import draw_curves
    from analysis.reports import curves_file
    from analysis.results import ResultRow

    row = ResultRow.from_metadata(version_dir, metadata)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / curves_file(row.variant)
        with open(path, "wb") as handle:
            draw_curves(row, handle)
        store.artifact(run_id, path)


def training_times(metadata: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """When a training started and ended (epoch seconds): a sweep's trial stamps both; else
    the export's creation time, less the training's seconds. ``None`` where neither says."""
    stamps = metadata.get(md.SWEEP) or {}
    if stamps.get("started"):
        return stamps["started"], stamps.get("finished")
    try:
        created = dt.datetime.fromisoformat(metadata[md.CREATED]).timestamp()
        return created - float(metadata.get(md.TRAINING_SECONDS, 0.0)), created
    except (KeyError, TypeError, ValueError):
        return None, None


def tensorboard_callbacks(root: Path | str | None, variant: str, seed: int,
                          warn: Callable[[str], None] | None = None) -> list:
    """Keras' TensorBoard callback writing to ``root/<variant>/<UTC time>-seed<seed>/`` with
    weight histograms every epoch; ``[]`` (and a warning) if that folder cannot be made."""
    if root is None:
        return []
    import keras

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    log_dir = Path(root) / variant / f"{stamp}-seed{seed}"
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        (warn or _stderr)(f"warning: no TensorBoard logs for {variant}: cannot create "
                          f"{log_dir} ({exc})")
        return []
    return [keras.callbacks.TensorBoard(log_dir=str(log_dir), histogram_freq=1,
                                        write_graph=False)]


def open_hooks(track: str | None, tensorboard: Path | None, models_dir: Path,
               warn: Callable[[str], None]) -> RunHooks:
    """The trackers a command asked for (raises ``TrackingUnavailable`` without MLflow)."""
    return RunHooks(open_store(track, models_dir, warn, tensorboard), tensorboard, warn)


class SweepRun:
    """A sweep's parent run; a resumed sweep finds and continues its own."""

    def __init__(self, store: TrackingStore, spec: Any, jobs: Sequence[Any], settings: Any,
                 data: Mapping[str, Any]) -> None:
        """``spec``: the ``SweepSpec``; ``jobs``: its trainings (``trainer.repeats.Job``);
        ``settings``: its ``TrialSettings``; ``data``: the dataset's ``summary()``."""
        self.store, self.name = store, spec.name
        self.planned = planned_jobs(jobs, settings, data)
        params = {"penalties": ",".join(spec.penalties), "places": ",".join(spec.places),
                  "lambdas": ",".join(f"{lam:g}" for lam in spec.lambdas),
                  "baseline": str(spec.baseline),
                  "seeds": str(max((job.of for job in jobs), default=1)),
                  **record.params(record.planned({}, settings, data))}
        # Tags, not params: a resumed sweep may run on another engine or with other CPUs.
        tags = {"engine": settings.engine, "cpus_per_trial": str(settings.cpus)}
        mine = {"sweep": self.name, "kind": "sweep"}
        found = store.find(mine)
        self.run_id: str | None = found[0].info.run_id if found else None
        if self.run_id is not None:
            store.guard("reopen the sweep's run",
                        lambda: store.client.update_run(self.run_id, status="RUNNING"))
            store.log(self.run_id, params=params, tags=tags)
        else:
            self.run_id = store.start(self.name, {**mine, **tags}, params)

    def record(self, outcomes: Sequence[Any]) -> None:
        """A child run per outcome not logged before, then the parent ends."""
        if self.run_id is None:
            return
        logged = {run.data.tags.get("export_path")
                  for run in self.store.find({PARENT_TAG: self.run_id})}
        record_outcomes(self.store, outcomes, self.planned, {"sweep": self.name},
                        parent=self.run_id, logged=logged)
        exported = sum(1 for outcome in outcomes if outcome.metrics)
        self.store.log(self.run_id, metrics=[("points", float(len(outcomes)), 0),
                                             ("exported", float(exported), 0)])
        self.store.end(self.run_id, FINISHED if exported == len(outcomes) else FAILED)


def planned_jobs(jobs: Sequence[Any], settings: Any, data: Mapping[str, Any]) -> dict:
    """Each job's params source (:func:`record.planned`), by the label its outcome carries."""
    return {job.label: record.planned(job.variant.to_dict(), settings, data, seed=job.seed)
            for job in jobs}


def record_outcomes(store: TrackingStore, outcomes: Sequence[Any], planned: Mapping[str, dict],
                    tags: Mapping[str, str], parent: str | None = None,
                    logged: set | frozenset = frozenset()) -> None:
    """A run per outcome of trainings that ran elsewhere (``PointOutcome``s: exported, failed
    or stopped early), from their exports, written here; ``logged``: export paths to skip."""
    for outcome in outcomes:
        if outcome.metrics and outcome.metrics["version_dir"] not in logged:
            _exported(store, Path(outcome.metrics["version_dir"]), tags, parent)
        elif not outcome.metrics:
            why = "stopped early" if outcome.stopped_early else str(outcome.error)
            run_id = store.start(outcome.point, {**tags, "kind": "model", "error": why[-5000:]},
                                 record.params(planned.get(outcome.point, {})), parent=parent)
            store.end(run_id, KILLED if outcome.stopped_early else FAILED)


def _exported(store: TrackingStore, version_dir: Path, tags: Mapping[str, str],
              parent: str | None) -> None:
    def write() -> None:
        started, finished = training_times(layout.read_metadata(version_dir))
        run_id = store.start(version_dir.parent.name, {**tags, "kind": "model"},
                             parent=parent, start_time=started)
        log_version(store, run_id, version_dir, history=True, end_time=finished)

    store.guard("record a training", write)


def _stderr(line: str) -> None:
    import sys

    sys.stderr.write(line + "\n")
    sys.stderr.flush()
