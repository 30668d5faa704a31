"""``python -m trainer --engine ray``: a run's trainings (variants x seeds) as Ray Tune trials.

The sweep's Ray engine does the scheduling (trainer/sweep/ray_engine.py); this module only
turns a run's variants, seeds and settings into its jobs, and its outcomes into version folders.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from regserve_contracts.variants import Variant
from trainer.data import Dataset
from trainer.errors import CommandError
from trainer.repeats import expand
from trainer.train import TrainConfig, TrainingError

#: Tune keeps each run's experiment state here (the sweeps keep theirs beside it).
RUNS_DIR = ".runs"


class EngineError(CommandError, RuntimeError):
    """The chosen engine cannot run here; the message says what to install or change."""


def check_engine(engine: str, address: str | None, cpus_per_trial: int | None) -> None:
    """Refuse engine flags that cannot work, before any data is loaded."""
    from trainer.sweep import engines

    if engine != "ray" and (address or cpus_per_trial):
        raise EngineError("--address and --cpus-per-trial need --engine ray")
    if engine == "ray" and not engines.ray_available():
        raise EngineError(engines.INSTALL_HINT)


def run_name(now: dt.datetime | None = None) -> str:
    """``train-YYYYMMDD-HHMMSS-PID`` in UTC: Tune's experiment folder for this run."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")
    return f"train-{stamp}-{os.getpid()}"


def train_on_ray(variants: Sequence[Variant], dataset: Dataset, config: TrainConfig,
                 models_dir: Path, seeds: int, log: Callable[[str], None], *,
                 address: str | None = None, cpus_per_trial: int | None = None,
                 quiet: bool = False, hooks: Any = None) -> list[Path]:
    """Train every variant ``seeds`` times as Ray trials; the version folders written.

    Only plain values reach the trials (:class:`trainer.sweep.trial.TrialSettings`). A
    training that fails twice fails the run (after the others finished) with one line per
    failure. ``hooks`` (:class:`trainer.tracking.runs.RunHooks`) records every outcome, failed
    ones too; ``address`` joins a running Ray cluster instead of starting one.
    """
    from trainer.sweep import engines
    from trainer.sweep.trial import TrialSettings

    models_dir = Path(models_dir).resolve()
    jobs = expand(variants, config.seed, seeds)
    cpus = cpus_per_trial or max(1, (os.cpu_count() or 2) // 2)
    board = getattr(hooks, "tensorboard", None)  # absolute: each trial runs in its own folder
    settings = TrialSettings(None, "ray", str(models_dir), config.epochs, config.batch_size,
                             config.validation_split, config.seed, config.limit, cpus,
                             str(Path(board).resolve()) if board else None)
    log(f"{len(jobs)} trainings ({len(variants)} variants x {seeds} seeds) on Ray, "
        f"{cpus} CPU(s) each")
    engines.prepare_ray_environment(embedded=not address)
    try:
        from trainer.sweep.ray_engine import run_ray
    except engines.EngineUnavailable as exc:  # Ray without Tune's extras
        raise EngineError(str(exc)) from None
    try:
        outcomes = run_ray(jobs, dataset, settings, log, storage_dir=models_dir / RUNS_DIR,
                           name=run_name(), address=address, quiet=quiet)
    except engines.EngineUnavailable as exc:
        raise EngineError(str(exc)) from None
    if hooks is not None:
        hooks.record(outcomes, jobs, settings, dataset.summary())
    failed = [outcome for outcome in outcomes if not outcome.metrics]
    if failed:
        raise TrainingError("; ".join(f"{o.point}: {_last_line(o.error)}" for o in failed)
                            + f" ({len(failed)} of {len(outcomes)} trainings failed; the others "
                            f"are in {models_dir})")
    order = {job.label: index for index, job in enumerate(jobs)}
    done = sorted(outcomes, key=lambda outcome: order.get(outcome.point, len(order)))
    return [Path(outcome.metrics["version_dir"]) for outcome in done]


def _last_line(error: str | None) -> str:
    lines = [line for line in str(error or "did not finish").strip().splitlines() if line]
    return lines[-1].strip() if lines else "unknown error"
