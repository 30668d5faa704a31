"""A sweep's plan: its options, its manifest in ``MODELS_DIR/.sweeps/``, what a resume keeps."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from regserve_contracts import layout
from trainer.errors import UsageError
from trainer.sweep.spec import (
    BASELINE_NAME,
    SWEEP_PENALTIES,
    SWEEP_PLACES,
    SweepSpec,
    check_sweep_name,
    default_sweep_name,
    parse_choices,
    parse_lambdas,
)
from trainer.sweep.trial import TrialSettings
from trainer.train import TrainConfig

SWEEPS_DIR = ".sweeps"
DEFAULTS = {"penalty": ",".join(SWEEP_PENALTIES), "where": ",".join(SWEEP_PLACES),
            "lambdas": "1e-6..1e-1:6", "data": "emnist", "epochs": TrainConfig.epochs,
            "batch_size": TrainConfig.batch_size, "seed": TrainConfig.seed,
            "validation_split": TrainConfig.validation_split, "limit": None, "seeds": 1}


class SweepUsageError(UsageError):
    """The command line cannot be carried out as given (exit 2)."""


@dataclass(frozen=True)
class SweepOptions:
    """The sweep's command line; ``None`` means "not given" (a resumed sweep keeps its own)."""

    penalty: str | None = None
    where: str | None = None
    lambdas: str | None = None
    baseline: bool = True
    name: str | None = None
    engine: str | None = None
    address: str | None = None
    cpus_per_trial: int | None = None
    early_stop: str | None = None
    resume: bool = False
    data: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    validation_split: float | None = None
    seed: int | None = None
    seeds: int | None = None
    limit: int | None = None
    models_dir: Path = field(default_factory=lambda: Path("models"))
    quiet: bool = False
    command: str = ""
    track: str | None = None  # None: off; "": the default store; else an MLflow tracking URI
    tensorboard: Path | None = None


@dataclass(frozen=True)
class Plan:
    """What a sweep will do; ``manifest`` is what to store once the checks pass (None: resumed)."""

    spec: SweepSpec
    settings: TrialSettings
    data: str
    seeds: int
    manifest: dict | None


def plan(options: SweepOptions, engine: str, models_dir: Path) -> Plan:
    """The spec, trial settings, data and seeds of this sweep; a resumed one keeps its
    manifest's. Nothing is written: :func:`save_manifest` does that once the checks pass."""
    name = check_sweep_name(options.name) if options.name else None
    given = {"penalty": options.penalty, "where": options.where, "lambdas": options.lambdas,
             "data": options.data, "epochs": options.epochs, "batch_size": options.batch_size,
             "seed": options.seed, "validation_split": options.validation_split,
             "limit": options.limit, "seeds": options.seeds}
    if options.resume:
        if not name:
            raise SweepUsageError("--resume needs the --name of the sweep to continue")
        stored = read_manifest(models_dir, name)
        chosen = {**DEFAULTS, **stored["options"]}  # an older manifest has no "seeds": 1
        for key, value in given.items():
            if value is not None and value != chosen[key]:
                raise SweepUsageError(f"--{key.replace('_', '-')} {value} differs from sweep "
                                      f"{name!r}'s own ({chosen[key]}); drop it")
    else:
        name = name or default_sweep_name()
        if manifest_path(models_dir, name).exists():
            raise SweepUsageError(f"sweep {name!r} already exists in {models_dir}; add --resume "
                                  "to continue it, or choose another --name")
        chosen = {key: DEFAULTS[key] if value is None else value for key, value in given.items()}
    spec = SweepSpec(name, parse_choices(chosen["penalty"], SWEEP_PENALTIES, "--penalty"),
                     parse_choices(chosen["where"], SWEEP_PLACES, "--where"),
                     parse_lambdas(chosen["lambdas"]),
                     stored["spec"]["baseline"] if options.resume else options.baseline,
                     stored["spec"].get("baseline_name", BASELINE_NAME) if options.resume else "")
    cpus = options.cpus_per_trial or (max(1, (os.cpu_count() or 2) // 2) if engine == "ray"
                                      else os.cpu_count() or 1)
    try:
        TrainConfig(epochs=chosen["epochs"], batch_size=chosen["batch_size"],
                    validation_split=chosen["validation_split"], limit=chosen["limit"])
    except ValueError as exc:
        raise SweepUsageError(str(exc)) from None
    settings = TrialSettings(name, engine, str(models_dir), chosen["epochs"], chosen["batch_size"],
                             chosen["validation_split"], chosen["seed"], chosen["limit"], cpus)
    manifest = None if options.resume else {
        "name": name, "spec": spec.to_dict(), "options": chosen, "engine": engine,
        "command": options.command,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    return Plan(spec, settings, str(chosen["data"]), int(chosen["seeds"]), manifest)


def save_manifest(models_dir: Path, planned: Plan) -> None:
    """Store a new sweep's manifest in ``MODELS_DIR/.sweeps/`` (a resumed one has its own)."""
    if planned.manifest is not None:
        layout.write_json_atomic(manifest_path(models_dir, planned.spec.name), planned.manifest)


def manifest_path(models_dir: Path, name: str) -> Path:
    """``MODELS_DIR/.sweeps/<name>.json``: what the sweep was asked to do."""
    return Path(models_dir) / SWEEPS_DIR / f"{name}.json"


def read_manifest(models_dir: Path, name: str) -> dict:
    """A sweep's manifest, or a usage error naming the sweeps that do exist."""
    path = manifest_path(models_dir, name)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = sorted(p.stem for p in path.parent.glob("*.json")) if path.parent.is_dir() else []
        raise SweepUsageError(f"no sweep {name!r} to resume in {models_dir}"
                              + (f"; known: {', '.join(known)}" if known else "")) from None
    except (OSError, ValueError) as exc:
        raise SweepUsageError(f"cannot read {path}: {exc}") from None


