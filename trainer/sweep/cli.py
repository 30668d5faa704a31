"""What ``python -m trainer sweep`` does once parsed: plan, load the data, run, report."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from regserve_contracts import layout
from trainer.errors import carry_out
from trainer.sweep import engines
from trainer.sweep.plan import (
    SWEEPS_DIR,
    SweepOptions,
    SweepUsageError,
    plan,
    read_manifest,
    save_manifest,
)
from trainer.sweep.spec import SweepSpec


def run(options: SweepOptions, out: TextIO | None = None, err: TextIO | None = None,
        prog: str = "python -m trainer sweep") -> int:
    """Carry out a sweep; return the exit status (0 all exported, 1 a point failed, 2 usage)."""
    out, err = out or sys.stdout, err or sys.stderr
    return carry_out(lambda: _sweep(options, out, err), prog, err,
                     f"interrupted; exported points stay in {options.models_dir}; continue with "
                     f"--resume --name {options.name or '<name>'}")


def _sweep(options: SweepOptions, out: TextIO, err: TextIO) -> int:
    engine = options.engine or engines.default_engine()
    if engine == "ray" and not engines.ray_available():
        raise SweepUsageError(engines.INSTALL_HINT)
    if engine == "local" and (options.address or options.early_stop):
        raise SweepUsageError("--address and --early-stop need --engine ray")
    models_dir = Path(options.models_dir).resolve()
    from trainer.tracking import TrackingUnavailable, open_store

    try:  # before anything is written: a missing extra must leave nothing behind
        store = open_store(options.track, models_dir, lambda line: err.write(line + "\n"),
                           options.tensorboard)
    except TrackingUnavailable as exc:
        raise SweepUsageError(str(exc)) from None
    planned = plan(options, engine, models_dir)
    spec, settings = planned.spec, planned.settings
    if options.tensorboard:  # absolute: Ray runs each trial in a folder of its own
        settings = replace(settings, tensorboard=str(Path(options.tensorboard).resolve()))
    points = spec.points()
    from trainer.data.sources import load_dataset
    from trainer.progress import progress_log
    from trainer.repeats import SettingsConflict, check_settings, expand, training_settings
    from trainer.selection import check_on_disk

    for variant in points:
        check_on_disk(variant, models_dir)
    log = progress_log(options.quiet, err)
    before = versions_on_disk(models_dir, points)
    dataset = load_dataset(planned.data, seed=settings.seed, limit=settings.limit,
                           progress=not options.quiet)
    try:
        check_settings(points, dataset, training_settings(
            settings.epochs, settings.batch_size, settings.limit, settings.validation_split),
            models_dir)
    except SettingsConflict as exc:
        raise SweepUsageError(f"{exc}; sweep into another --models-dir") from None
    save_manifest(models_dir, planned)
    jobs = expand(points, settings.seed, planned.seeds)
    repeats = f" x {planned.seeds} seeds ({len(jobs)} trainings)" if planned.seeds > 1 else ""
    log(f"sweep {spec.name}: {len(points)} points{repeats} on {engine} ({settings.cpus} CPU(s) "
        f"each); data: {dataset.name}, {len(dataset.x_train):,} training images")
    from trainer.tracking.runs import SweepRun

    tracked = SweepRun(store, spec, jobs, settings, dataset.summary()) if store else None
    if engine == "ray":
        engines.prepare_ray_environment(embedded=not options.address)
        try:
            from trainer.sweep.ray_engine import run_ray
        except engines.EngineUnavailable as exc:  # Ray without Tune's extras
            raise SweepUsageError(str(exc)) from None

        outcomes = run_ray(jobs, dataset, settings, log, storage_dir=models_dir / SWEEPS_DIR,
                           address=options.address, resume=options.resume,
                           early_stop=options.early_stop, quiet=options.quiet)
    else:
        outcomes = engines.run_local(jobs, dataset, settings, log)
    if tracked:  # here, in the driver: one writer, whatever the engine
        tracked.record(outcomes)
    trained = sum(versions_on_disk(models_dir, points).values()) - sum(before.values())
    return finish(spec, outcomes, models_dir, options, out, trained)


def versions_on_disk(models_dir: Path, points) -> dict[str, int]:
    """How many complete versions each point has now (to count what a run trained)."""
    return {v.name: len(layout.versions(models_dir / v.name)) for v in points}


def finish(spec: SweepSpec, outcomes: list[engines.PointOutcome], models_dir: Path,
           options: SweepOptions, out: TextIO, trained: int) -> int:
    """Write the sweep report, summarise what went where, and fail when any point failed."""
    exported = [o for o in outcomes if o.metrics]
    failed = [o for o in outcomes if o.error]
    stopped = [o for o in outcomes if o.stopped_early]
    reports = []
    if exported:
        from analysis.sweep.report import build_sweep_report

        manifest = read_manifest(models_dir, spec.name)
        reports = build_sweep_report(models_dir, spec.name, manifest.get("command", ""))
    if not options.quiet:
        what = "points" if len(outcomes) == len(spec.points()) else "trainings"
        out.write(f"\nSweep {spec.name}: {len(exported)} of {len(outcomes)} {what} exported "
                  f"({trained} trained now)"
                  + (f", {len(stopped)} stopped early" if stopped else "")
                  + (f", {len(failed)} failed" if failed else "") + f"; models in {models_dir}\n")
        out.writelines(written_lines(spec, exported, models_dir))
        out.writelines(f"  report: {path}\n" for path in reports if path.suffix == ".md")
        out.writelines(f"  FAILED {o.point}: {o.error.strip().splitlines()[-1]}\n"
                       for o in failed)
        if failed:
            out.write(f"  fix the cause, then: --resume --name {spec.name}\n")
    return 1 if failed else 0


def written_lines(spec: SweepSpec, exported: list[engines.PointOutcome], models_dir: Path
                  ) -> list[str]:
    """One line per point: the version folders this sweep's trainings are in, and their seeds."""
    found: dict[str, list[tuple[int, str]]] = {}
    for outcome in exported:
        metrics = outcome.metrics or {}
        found.setdefault(metrics["point"], []).append(
            (int(metrics["seed"]), Path(metrics["version_dir"]).name))
    lines = []
    for variant in spec.points():
        if variant.name not in found:
            continue
        runs = sorted(found[variant.name])
        role = (" (this sweep's baseline; other variants are untouched)"
                if variant.penalty == "none" else "")
        seeds, versions = ("seeds", "versions") if len(runs) > 1 else ("seed", "version")
        lines.append(f"  {models_dir / variant.name}/ {versions} "
                     f"{', '.join(version for _, version in runs)} ({seeds} "
                     f"{', '.join(str(seed) for seed, _ in runs)}){role}\n")
    return lines
