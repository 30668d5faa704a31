"""``python -m trainer sweep``: parse the command line, plan the points, run them, report."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from regserve_contracts import layout
from trainer.data import DataSourceError
from trainer.reports import ReportError
from trainer.sweep import engines
from trainer.sweep.spec import (
    SWEEP_PENALTIES,
    SWEEP_PLACES,
    SpecError,
    SweepSpec,
    check_sweep_name,
    default_sweep_name,
    parse_choices,
    parse_lambdas,
)
from trainer.sweep.trial import TrialSettings
from trainer.train import TrainConfig

#: Where a sweep keeps its manifest and Tune's state: hidden, so servers and reports skip it.
SWEEPS_DIR = ".sweeps"
DEFAULTS = {"penalty": ",".join(SWEEP_PENALTIES), "where": ",".join(SWEEP_PLACES),
            "lambdas": "1e-6..1e-1:6", "data": "emnist", "epochs": TrainConfig.epochs,
            "batch_size": TrainConfig.batch_size, "seed": TrainConfig.seed,
            "validation_split": TrainConfig.validation_split, "limit": None}


class SweepUsageError(ValueError):
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
    limit: int | None = None
    models_dir: Path = field(default_factory=lambda: Path("models"))
    quiet: bool = False
    command: str = ""


def run(options: SweepOptions, out: TextIO | None = None, err: TextIO | None = None,
        prog: str = "python -m trainer sweep") -> int:
    """Carry out a sweep; return the exit status (0 all exported, 1 a point failed, 2 usage)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        return _sweep(options, out, err)
    except (SweepUsageError, SpecError) as exc:
        err.write(f"{prog}: error: {exc}\n")
        return 2
    except (DataSourceError, ReportError, engines.EngineUnavailable) as exc:
        err.write(f"{prog}: error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        err.write(f"interrupted; exported points stay in {options.models_dir}; continue with "
                  f"--resume --name {options.name or '<name>'}\n")
        return 130


def _sweep(options: SweepOptions, out: TextIO, err: TextIO) -> int:
    engine = options.engine or engines.default_engine()
    if engine == "ray" and not engines.ray_available():
        raise SweepUsageError(engines.INSTALL_HINT)
    if engine == "local" and (options.address or options.early_stop):
        raise SweepUsageError("--address and --early-stop need --engine ray")
    models_dir = Path(options.models_dir).resolve()
    spec, settings, data = plan(options, engine, models_dir)
    points = spec.points()
    from trainer.cli import UsageError, check_on_disk

    try:
        for variant in points:
            check_on_disk(variant, models_dir)
    except UsageError as exc:
        raise SweepUsageError(str(exc)) from None

    def log(line: str) -> None:
        if not options.quiet:
            err.write(line + "\n")
            err.flush()

    if options.quiet:
        from trainer.cli import import_tensorflow_silently

        import_tensorflow_silently()
    from trainer.data.sources import load_dataset

    before = versions_on_disk(models_dir, points)
    dataset = load_dataset(data, seed=settings.seed, limit=settings.limit,
                           progress=not options.quiet)
    log(f"sweep {spec.name}: {len(points)} points on {engine} ({settings.cpus} CPU(s) each); "
        f"data: {dataset.name}, {len(dataset.x_train):,} training images")
    if engine == "ray":
        engines.prepare_ray_environment(embedded=not options.address)
        try:
            from trainer.sweep.ray_engine import run_ray
        except engines.EngineUnavailable as exc:  # Ray without Tune's extras
            raise SweepUsageError(str(exc)) from None

        outcomes = run_ray(points, dataset, settings, log, storage_dir=models_dir / SWEEPS_DIR,
                           address=options.address, resume=options.resume,
                           early_stop=options.early_stop)
    else:
        outcomes = engines.run_local(points, dataset, settings, log)
    trained = sum(versions_on_disk(models_dir, points).values()) - sum(before.values())
    return finish(spec, outcomes, models_dir, options, out, trained)


def versions_on_disk(models_dir: Path, points) -> dict[str, int]:
    """How many complete versions each point has now (to count what a run trained)."""
    return {v.name: len(layout.versions(models_dir / v.name)) for v in points}


def plan(options: SweepOptions, engine: str, models_dir: Path
         ) -> tuple[SweepSpec, TrialSettings, str]:
    """The spec, trial settings and data of this sweep; a resumed one keeps its manifest's."""
    name = check_sweep_name(options.name) if options.name else None
    given = {"penalty": options.penalty, "where": options.where, "lambdas": options.lambdas,
             "data": options.data, "epochs": options.epochs, "batch_size": options.batch_size,
             "seed": options.seed, "validation_split": options.validation_split,
             "limit": options.limit}
    if options.resume:
        if not name:
            raise SweepUsageError("--resume needs the --name of the sweep to continue")
        stored = read_manifest(models_dir, name)
        for key, value in given.items():
            if value is not None and value != stored["options"][key]:
                raise SweepUsageError(f"--{key.replace('_', '-')} {value} differs from sweep "
                                      f"{name!r}'s own ({stored['options'][key]}); drop it")
        chosen = stored["options"]
    else:
        name = name or default_sweep_name()
        if manifest_path(models_dir, name).exists():
            raise SweepUsageError(f"sweep {name!r} already exists in {models_dir}; add --resume "
                                  "to continue it, or choose another --name")
        chosen = {key: DEFAULTS[key] if value is None else value for key, value in given.items()}
    spec = SweepSpec(name, parse_choices(chosen["penalty"], SWEEP_PENALTIES, "--penalty"),
                     parse_choices(chosen["where"], SWEEP_PLACES, "--where"),
                     parse_lambdas(chosen["lambdas"]),
                     stored["spec"]["baseline"] if options.resume else options.baseline)
    cpus = options.cpus_per_trial or (max(1, (os.cpu_count() or 2) // 2) if engine == "ray"
                                      else os.cpu_count() or 1)
    try:
        TrainConfig(epochs=chosen["epochs"], batch_size=chosen["batch_size"],
                    validation_split=chosen["validation_split"], limit=chosen["limit"])
    except ValueError as exc:
        raise SweepUsageError(str(exc)) from None
    settings = TrialSettings(name, engine, str(models_dir), chosen["epochs"], chosen["batch_size"],
                             chosen["validation_split"], chosen["seed"], chosen["limit"], cpus)
    if not options.resume:
        layout.write_json_atomic(manifest_path(models_dir, name), {
            "name": name, "spec": spec.to_dict(), "options": chosen, "engine": engine,
            "command": options.command,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
    return spec, settings, str(chosen["data"])


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


def finish(spec: SweepSpec, outcomes: list[engines.PointOutcome], models_dir: Path,
           options: SweepOptions, out: TextIO, trained: int) -> int:
    """Write the sweep report, summarise, and fail when any point finally failed."""
    exported = [o for o in outcomes if o.metrics]
    failed = [o for o in outcomes if o.error]
    stopped = [o for o in outcomes if o.stopped_early]
    reports = []
    if exported:
        from trainer.sweep.report import build_sweep_report

        manifest = read_manifest(models_dir, spec.name)
        reports = build_sweep_report(models_dir, spec.name, manifest.get("command", ""))
    if not options.quiet:
        out.write(f"\nSweep {spec.name}: {len(exported)} of {len(outcomes)} points exported "
                  f"({trained} trained now)"
                  + (f", {len(stopped)} stopped early" if stopped else "")
                  + (f", {len(failed)} failed" if failed else "") + f"; models in {models_dir}\n")
        out.writelines(f"  report: {path}\n" for path in reports if path.suffix == ".md")
        out.writelines(f"  FAILED {o.point}: {o.error.strip().splitlines()[-1]}\n"
                       for o in failed)
        if failed:
            out.write(f"  fix the cause, then: --resume --name {spec.name}\n")
    return 1 if failed else 0


def with_command(options: SweepOptions, argv: Sequence[str], prog: str) -> SweepOptions:
    """Remember the command line for the report."""
    return replace(options, command=" ".join([prog, *map(shlex.quote, argv)]))


def build_parser(prog: str) -> argparse.ArgumentParser:
    """The sweep's flags; defaults of None are filled in by :func:`plan`."""
    from trainer.__main__ import _Parser
    from trainer.data.sources import SOURCES_HELP

    parser = _Parser(prog=prog, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="Train one variant per penalty x place x lambda (plus the "
                                 "unpenalized baseline),\nexport each as MODELS_DIR/<point>/"
                                 "<version>/ and write the sweep report into MODELS_DIR/reports/.")
    what = parser.add_argument_group("what to sweep")
    what.add_argument("--penalty", metavar="LIST",
                      help=f"comma list of {','.join(SWEEP_PENALTIES)} or all (default: all)")
    what.add_argument("--where", metavar="LIST",
                      help=f"comma list of {','.join(SWEEP_PLACES)} or all (default: all)")
    what.add_argument("--lambdas", metavar="LO..HI:N|L1,L2,...",
                      help=f"N log-spaced lambdas or a list (default: {DEFAULTS['lambdas']})")
    what.add_argument("--no-baseline", dest="baseline", action="store_false",
                      help="do not train the unpenalized 'none' point")
    what.add_argument("--name", help="the sweep's name (default: sweep-<UTC time>)")
    run_group = parser.add_argument_group("where it runs")
    run_group.add_argument("--engine", choices=engines.ENGINES,
                           help="ray (Ray Tune; default when installed) or local (one by one)")
    run_group.add_argument("--address", metavar="HOST:PORT|auto",
                           help="join this Ray cluster instead of starting one on 127.0.0.1")
    run_group.add_argument("--cpus-per-trial", type=_positive_int, metavar="N",
                           help="CPUs (and TensorFlow threads) per point (default: half the "
                                "cores for ray, all for local)")
    run_group.add_argument("--early-stop", choices=("asha",),
                           help="stop hopeless points early with Ray Tune's ASHA scheduler")
    run_group.add_argument("--resume", action="store_true",
                           help="continue sweep --name, training only what is missing")
    train = parser.add_argument_group("training (defaults: the original experiment)")
    train.add_argument("--data", metavar="emnist|synthetic|PATH",
                       help=f"data source: {SOURCES_HELP} (default: emnist)")
    train.add_argument("--epochs", type=_positive_int, help=f"default {DEFAULTS['epochs']}")
    train.add_argument("--batch-size", type=_positive_int,
                       help=f"default {DEFAULTS['batch_size']}")
    train.add_argument("--validation-split", type=_split,
                       help=f"default {DEFAULTS['validation_split']}")
    train.add_argument("--seed", type=int, help=f"default {DEFAULTS['seed']}")
    train.add_argument("--limit", type=_positive_int, metavar="N",
                       help="use at most N training images, class-balanced")
    parser.add_argument("--models-dir", type=Path, default=Path("models"), metavar="DIR",
                        help="where the points and reports go (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


EPILOG = """\
examples:
  python -m trainer sweep --penalty l1 --where kernel_bias --lambdas 1e-6..1e-2:5 \\
      --epochs 2 --limit 6000 --data synthetic --models-dir /tmp/sweep
  python -m trainer sweep --penalty l1,l2,elasticnet --where kernel_bias,activity \\
      --lambdas 1e-6..1e-1:11 --name big --address auto       (on a Ray cluster)
  python -m trainer sweep --resume --name big --address auto  (continue an interrupted one)
"""


def parse_options(argv: Sequence[str], prog: str) -> SweepOptions:
    """Parse the command line straight into :class:`SweepOptions`."""
    args = build_parser(prog).parse_args(argv)
    fields = {key: value for key, value in vars(args).items()}
    return with_command(SweepOptions(**fields), argv, prog)


def main(argv: Sequence[str], prog: str = "python -m trainer sweep") -> int:
    """``python -m trainer sweep ...``; returns the exit status."""
    return run(parse_options(argv, prog), prog=prog)


def _positive_int(text: str) -> int:
    from trainer.__main__ import _positive_int as check

    return check(text)


def _split(text: str) -> float:
    from trainer.__main__ import _split as check

    return check(text)


_positive_int.__name__ = "positive integer"  # argparse names the type in its message
_split.__name__ = "fraction"
