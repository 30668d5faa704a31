"""The ``ray`` engine: every point is a Ray Tune trial, on an embedded Ray or a cluster."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainer.data import Dataset
from trainer.repeats import Job
from trainer.sweep.engines import (
    ATTEMPTS,
    INSTALL_HINT,
    EngineUnavailable,
    Log,
    PointOutcome,
    Progress,
)
from trainer.sweep.trial import TrialSettings, run_point

try:
    import ray
    from ray import tune
except ImportError as exc:  # the CLI checks first; this keeps a direct import honest
    raise EngineUnavailable(INSTALL_HINT) from exc

LOOPBACK = "127.0.0.1"


def start_embedded(num_cpus: int) -> None:
    """Start Ray on this machine only: loopback, no dashboard, no usage statistics.

    Call :func:`trainer.sweep.engines.prepare_ray_environment` before Ray is first imported.
    """
    ray.init(num_cpus=num_cpus, _node_ip_address=LOOPBACK, include_dashboard=False,
             log_to_driver=False, logging_level=logging.WARNING)
    node_ip = ray.util.get_node_ip_address()
    if node_ip != LOOPBACK:
        ray.shutdown()
        raise EngineUnavailable(f"embedded Ray took address {node_ip}, not {LOOPBACK}; set "
                                "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before Ray is imported")


def connect(address: str) -> None:
    """Join an existing cluster (``HOST:PORT`` or ``auto``), as its own docs say."""
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise EngineUnavailable(f"cannot join the Ray cluster at {address!r}: {exc}") from None


def run_ray(jobs: Sequence[Job], dataset: Dataset, settings: TrialSettings, log: Log, *,
            storage_dir: Path, name: str | None = None, address: str | None = None,
            resume: bool = False, early_stop: str | None = None,
            quiet: bool = False) -> list[PointOutcome]:
    """Run every job as a Tune trial, in the experiment ``name`` (default: the sweep's) under
    ``storage_dir``; Tune restores an interrupted one with ``resume``. ``quiet``: no progress
    lines."""
    name = name or settings.sweep
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            connect(address)
        else:
            start_embedded(os.cpu_count() or 1)
    try:
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, dataset=dataset, settings=settings,
                                 per_epoch=early_stop is not None),
            {"cpu": settings.cpus})
        experiment = str(Path(storage_dir) / name)
        if resume and tune.Tuner.can_restore(experiment):
            # Finished trials stay finished; failed ones get another try.
            tuner = tune.Tuner.restore(experiment, trainable=trainable, restart_errored=True)
        else:
            scheduler = None
            if early_stop == "asha":
                from ray.tune.schedulers import ASHAScheduler

                # max_t counts the final report after the export, so no trial is stopped
                # between its last epoch and its export.
                scheduler = ASHAScheduler(metric="val_accuracy", mode="max", grace_period=1,
                                          max_t=settings.epochs + 1)
            tuner = tune.Tuner(
                trainable,
                param_space={"point": tune.grid_search([job.to_dict() for job in jobs])},
                tune_config=tune.TuneConfig(scheduler=scheduler, trial_name_creator=_trial_name,
                                            trial_dirname_creator=_trial_name),
                run_config=tune.RunConfig(
                    name=name, storage_path=str(storage_dir), verbose=0,
                    failure_config=tune.FailureConfig(max_failures=ATTEMPTS - 1),
                    callbacks=[ProgressCallback(len(jobs), quiet)]),
            )
        grid = tuner.fit()
    finally:
        if started_here:
            ray.shutdown()
    return [_outcome(result, early_stop is not None) for result in grid]


def _trainable(config: dict[str, Any], dataset: Dataset, settings: TrialSettings,
               per_epoch: bool) -> None:
    """One Tune trial: a sweep point, reported once exported (and each epoch, for ASHA)."""
    callbacks = [_EpochReport()] if per_epoch else []
    node = ray.get_runtime_context().get_node_id()
    metrics = run_point(config["point"], dataset, settings, node, callbacks)
    tune.report({**metrics, "exported": True})


def _trial_name(trial) -> str:
    job = _job(trial.config)
    repeat = f"_s{job.seed}" if job.of > 1 else ""
    return f"{job.variant.name}{repeat}_{trial.trial_id}"


def _job(config: dict[str, Any] | None) -> Job:
    return Job.from_dict(config["point"])


def _label(config: dict[str, Any] | None) -> str:
    """A trial's job as the progress lines name it, e.g. ``none (repeat 2 of 3, seed 43)``."""
    return _job(config).label if config else "?"


def _EpochReport():  # noqa: N802 (a factory: Keras is imported only inside a trial)
    import keras

    return keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: tune.report(
        {"val_accuracy": float(logs.get("val_accuracy", 0.0)), "epoch": epoch + 1}))


def _outcome(result, scheduled: bool) -> PointOutcome:
    point = _label(result.config)
    if result.error is not None:
        return PointOutcome(point, error=_error_text(result.error))
    metrics = dict(result.metrics or {})
    if not metrics.get("exported"):
        if scheduled:  # ASHA ended it before its export: by design, not a failure
            return PointOutcome(point, stopped_early=True)
        # Without a scheduler only an interruption (Ctrl-C stops Tune cleanly) gets here.
        return PointOutcome(point, error="did not finish (interrupted); --resume continues it")
    return PointOutcome(point, metrics=metrics)


def _error_text(error: BaseException) -> str:
    cause = getattr(error, "cause", None) or error
    return f"{type(cause).__name__}: {cause}".strip()


class ProgressCallback(tune.Callback):
    """Prints one line per finished, failed, retried or stopped trial, as the local engine does.

    Tune pickles it with the experiment (for ``--resume``), so it holds only numbers and
    writes to the ``sys.stderr`` of the moment.
    """

    def __init__(self, total: int, quiet: bool = False) -> None:
        self.total = total
        self.quiet = quiet
        self._progress: Progress | None = None

    def setup(self, **info) -> None:
        self._progress = Progress(self.total, self._log, time.monotonic())

    def _log(self, line: str) -> None:
        if not getattr(self, "quiet", False):  # a callback pickled before quiet existed
            _stderr(line)

    def _get(self) -> Progress:
        if self._progress is None or self._progress.log is None:
            self._progress = Progress(self.total, self._log, time.monotonic())
        return self._progress

    def __getstate__(self) -> dict[str, Any]:
        return {"total": self.total, "quiet": self.quiet, "_progress": None}

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        result = trial.last_result or {}
        remaining = _remaining(trials, trial)
        if result.get("exported"):
            self._get().finished(result, remaining)
        else:
            self._get().stopped(_label(trial.config), remaining)

    def on_trial_recover(self, iteration, trials, trial, **info) -> None:
        self._get().failed(_label(trial.config), _trial_error(trial),
                           final=False, remaining=_remaining(trials, trial) + 1)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._get().failed(_label(trial.config), _trial_error(trial), final=True,
                           remaining=_remaining(trials, trial))


def _remaining(trials, current) -> int:
    return sum(1 for t in trials if t is not current and t.status not in ("TERMINATED", "ERROR"))


def _trial_error(trial) -> str:
    path = getattr(trial, "error_file", None)
    try:
        return Path(path).read_text(errors="replace") if path else "unknown error"
    except OSError:
        return "unknown error"


def _stderr(line: str) -> None:
    import sys

    sys.stderr.write(line + "\n")
    sys.stderr.flush()
