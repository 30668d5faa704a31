"""The trainer's subcommands as typed settings: one frozen dataclass each, only what it uses.

``python -m trainer`` parses its command line straight into one of these (trainer/__main__.py)
and :func:`trainer.cli.run` carries it out; the sweep's own is
:class:`trainer.sweep.plan.SweepOptions`. Defaults are the original experiment's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trainer.train import TrainConfig

#: The variant the comparison tests every other against, unless ``--baseline`` names another.
BASELINE = "none"


def _models() -> Path:
    return Path("models")


#: ``equivalent`` means the difference's interval lies within this many points of zero.
MARGIN_POINTS = 1.0


@dataclass(frozen=True)
class TrainOptions:
    """``train``: which variants, how, how often, where they run and where they land."""

    all_variants: bool = False
    variants: tuple[str, ...] = ()
    custom: tuple[str, ...] = ()
    data: str = "emnist"
    epochs: int = TrainConfig.epochs
    batch_size: int = TrainConfig.batch_size
    validation_split: float = TrainConfig.validation_split
    seed: int = TrainConfig.seed
    limit: int | None = None
    models_dir: Path = field(default_factory=_models)
    quiet: bool = False
    baseline: str = BASELINE
    # Repeats over seeds and where they run (trainer/repeats.py, trainer/fanout.py).
    seeds: int = 1
    engine: str = "local"
    address: str | None = None
    cpus_per_trial: int | None = None
    name_suffix: str = ""
    track: str | None = None  # None: off; "": the default store; else an MLflow tracking URI
    tensorboard: Path | None = None


@dataclass(frozen=True)
class ListOptions:
    """``list``: the registered variants, and these ``--custom`` specs parsed."""

    custom: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportOptions:
    """``report``: rebuild every report in ``models_dir/reports`` from the models on disk."""

    models_dir: Path = field(default_factory=_models)
    baseline: str = BASELINE
    quiet: bool = False
    margin: float = MARGIN_POINTS


@dataclass(frozen=True)
class CompareOptions:
    """``compare``: print the comparison's verdicts of ``models_dir``; writes nothing."""

    models_dir: Path = field(default_factory=_models)
    baseline: str = BASELINE
    margin: float = MARGIN_POINTS


@dataclass(frozen=True)
class EvaluateOptions:
    """``evaluate``: add the beyond-accuracy blocks to old versions, from their ``data``."""

    data: str = "emnist"
    models_dir: Path = field(default_factory=_models)
    quiet: bool = False


@dataclass(frozen=True)
class OnnxOptions:
    """``onnx``: write the ONNX twin of every version in ``models_dir`` that lacks one, and with
    ``triton`` each variant's Triton ``config.pbtxt``."""

    models_dir: Path = field(default_factory=_models)
    quiet: bool = False
    triton: bool = False
