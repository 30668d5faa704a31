"""Experiment tracking: every trained model an MLflow run (``--track``), TensorBoard logs too.

This module is the command lines' side: the flags, which store a run goes to, and the one-line
refusal when MLflow is not installed. MLflow itself is imported only once tracking is on.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from regserve_contracts import layout
from trainer.tracking.store import TrackingStore

#: ``REGSERVE_TRACK=1`` is ``--track``; any value but 1/0/true/false/yes/no/on/off is a URI.
TRACK_ENV = "REGSERVE_TRACK"
#: MLflow's own conventions, honoured as MLflow's fluent API does.
URI_ENV, EXPERIMENT_ENV = "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"
DEFAULT_EXPERIMENT = "regserve"
INSTALL_HINT = "{flag} needs {package}, which is not installed: pip install 'regserve[track]'"
_ON, _OFF = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}


class TrackingUnavailable(RuntimeError):
    """Tracking was asked for but cannot start at all (MLflow or TensorBoard is missing)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The tracking flags, shared by ``python -m trainer`` and its ``sweep``."""
    group = parser.add_argument_group("tracking (docs/tracking.md)")
    group.add_argument("--track", nargs="?", const="", default=None, metavar="URI",
                       help="record every trained model as an MLflow run, in URI, else "
                            f"${URI_ENV}, else sqlite:///MODELS_DIR/{layout.TRACKING_DB} "
                            f"(also {TRACK_ENV}=1); needs the track extra")
    group.add_argument("--tensorboard", type=Path, metavar="DIR",
                       help="write TensorBoard logs, weight histograms every epoch, to "
                            "DIR/<variant>/<time>-seed<seed>/")


def requested(flag: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """What tracking was asked for: ``None`` (off), ``""`` (the default store) or a URI."""
    if flag is not None:
        return flag
    value = (os.environ if environ is None else environ).get(TRACK_ENV, "").strip()
    if value.lower() in _OFF:
        return None
    return "" if value.lower() in _ON else value


def store_uri(requested: str, models_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """The URI given, else ``$MLFLOW_TRACKING_URI``, else an SQLite file in the models folder."""
    environ = os.environ if environ is None else environ
    if requested:
        return requested
    if environ.get(URI_ENV):
        return environ[URI_ENV]
    return f"sqlite:///{Path(models_dir).resolve() / layout.TRACKING_DB}"


def open_store(requested: str | None, models_dir: Path, warn: Callable[[str], None],
               tensorboard: Path | None = None) -> TrackingStore | None:
    """The store runs go to, or ``None`` when tracking is off; opened on first use, so a store
    that cannot be written costs a warning later, never the training. Checks first that what
    ``--track`` and ``--tensorboard`` need is installed (TensorFlow no longer brings TensorBoard).
    """
    for flag, wanted, package in (("--track", requested is not None, "mlflow"),
                                  ("--tensorboard", tensorboard is not None, "tensorboard")):
        if wanted and importlib.util.find_spec(package) is None:
            raise TrackingUnavailable(INSTALL_HINT.format(flag=flag, package=package))
    if requested is None:
        return None
    uri = store_uri(requested, models_dir)
    experiment = os.environ.get(EXPERIMENT_ENV) or DEFAULT_EXPERIMENT
    return TrackingStore(uri, experiment, warn)
