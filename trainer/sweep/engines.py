"""Where a sweep's points (and a trainer run's repeats) run: ``local`` (one after another,
here) or ``ray`` (Ray Tune)."""

from __future__ import annotations

import importlib.util
import socket
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trainer.data import Dataset
from trainer.errors import CommandError
from trainer.progress import clock
from trainer.repeats import Job
from trainer.sweep.trial import TrialSettings, run_point

ENGINES = ("ray", "local")
#: Every point is tried this many times before it counts as failed (Ray: FailureConfig).
ATTEMPTS = 2
INSTALL_HINT = ("Ray is not installed: pip install 'regserve[sweep]' (or 'ray[tune]'), "
                "or use --engine local")

Log = Callable[[str], None]


class EngineUnavailable(CommandError, RuntimeError):
    """The chosen engine cannot run here (Ray missing, or its cluster unreachable)."""


@dataclass
class PointOutcome:
    """How one point ended: ``metrics`` when exported, ``error`` when it finally failed."""

    point: str
    metrics: dict[str, Any] | None = None
    error: str | None = None
    stopped_early: bool = False


@dataclass
class Progress:
    """One line per finished point: lambda, accuracy, sparsity, elapsed and ETA."""

    total: int
    log: Log
    started: float = field(default_factory=time.monotonic)
    done: int = 0

    def finished(self, metrics: dict[str, Any], remaining: int | None = None) -> None:
        self.done += 1
        self.log(self._prefix(remaining) + point_line(metrics))

    def failed(self, point: str, error: str, final: bool, remaining: int | None = None) -> None:
        if final:
            self.done += 1
        what = "FAILED" if final else f"failed, retrying once ({_last_line(error)})"
        self.log(self._prefix(remaining) + f"{point}: {what}"
                 + (f": {_last_line(error)}" if final else ""))

    def stopped(self, point: str, remaining: int | None = None) -> None:
        self.done += 1
        self.log(self._prefix(remaining) + f"{point}: stopped early by the scheduler (ASHA)")

    def _prefix(self, remaining: int | None) -> str:
        elapsed = time.monotonic() - self.started
        left = self.total - self.done if remaining is None else remaining
        eta = elapsed / max(self.done, 1) * left
        return f"[{self.done}/{self.done + left}] (elapsed {clock(elapsed)}, ETA {clock(eta)}) "


def point_line(metrics: dict[str, Any]) -> str:
    """What a finished point shows: its lambda, accuracy and sparsity."""
    lam = "-" if metrics["penalty"] == "none" else f"{metrics['lam']:.3g}"
    again = " (already done)" if metrics.get("reused") else ""
    repeat = (f" (repeat {metrics['index']} of {metrics['of']}, seed {metrics['seed']})"
              if metrics.get("of", 1) > 1 else "")
    return (f"{metrics['point']}{repeat}: lambda {lam}, "
            f"test accuracy {metrics['test_accuracy']:.4f}, "
            f"val accuracy {metrics['val_accuracy']:.4f}, weights |w|<1e-3 "
            f"{metrics['weight_sparsity']:.3f}, zero activations "
            f"{metrics['activation_sparsity']:.3f}{again}")


def default_engine() -> str:
    """``ray`` when Ray Tune can be imported, else ``local``."""
    return "ray" if ray_available() else "local"


def ray_available() -> bool:
    """Whether Ray is installed, without importing it: that takes seconds, and Ray reads
    settings from the environment when imported (see :func:`prepare_ray_environment`)."""
    return importlib.util.find_spec("ray") is not None


def run_local(jobs: Sequence[Job], dataset: Dataset, settings: TrialSettings,
              log: Log) -> list[PointOutcome]:
    """Run the jobs one after another in this process; a failing job is tried twice."""
    progress, outcomes = Progress(len(jobs), log), []
    node = socket.gethostname()
    for job in jobs:
        outcome = PointOutcome(job.label)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                outcome.metrics = run_point(job.to_dict(), dataset, settings, node)
                progress.finished(outcome.metrics)
                break
            except Exception as exc:  # noqa: BLE001 (one point's failure must not stop the rest)
                error = f"{type(exc).__name__}: {exc}"
                progress.failed(job.label, error, final=attempt == ATTEMPTS)
                outcome.error = error if attempt == ATTEMPTS else None
                if attempt == ATTEMPTS and not isinstance(exc, OSError | ValueError):
                    log(traceback.format_exc().rstrip())  # a bug, not bad input: show where
        outcomes.append(outcome)
    return outcomes


def _last_line(error: str) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"


def prepare_ray_environment(embedded: bool) -> None:
    """Environment Ray reads when it is imported; call before the first ``import ray``.

    Usage statistics would phone home; Tune's newer console output ignores ``verbose=0``. For an
    embedded Ray, ``ray.init(_node_ip_address="127.0.0.1")`` alone is not enough: Ray rewrites
    a loopback address into the host's own (it expects other nodes to join) unless multi-node
    support is off, and then every server it starts listens on 127.0.0.1 only.
    """
    import os

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if embedded:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
