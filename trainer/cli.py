"""What ``python -m trainer`` does once its arguments are parsed: list, train, report."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from analysis.comparison.report import verdict_summary
from analysis.reports import ReportError, build_reports, results_text
from regserve_contracts import layout
from regserve_contracts.variants import VARIANT_NAMES, VARIANTS, Variant, get_variant, parse_custom
from trainer.backfill import run_evaluate
from trainer.data import DataSourceError
from trainer.data.sources import load_dataset
from trainer.fanout import EngineError, check_engine, train_on_ray
from trainer.onnx_export import OnnxExportError
from trainer.progress import import_tensorflow_silently, progress_log
from trainer.repeats import SettingsConflict, check_settings, training_settings
from trainer.tracking import TrackingUnavailable
from trainer.tracking.runs import open_hooks
from trainer.train import TrainConfig, TrainingError, train_variants


class UsageError(ValueError):
    """The command line asks for something impossible; the message says what to do instead."""


@dataclass(frozen=True)
class TrainOptions:
    """The trainer's command line as typed settings; defaults are the original experiment's."""

    all_variants: bool = False
    variants: tuple[str, ...] = ()
    custom: tuple[str, ...] = ()
    list_variants: bool = False
    report_only: bool = False
    evaluate: bool = False
    data: str = "emnist"
    epochs: int = TrainConfig.epochs
    batch_size: int = TrainConfig.batch_size
    validation_split: float = TrainConfig.validation_split
    seed: int = TrainConfig.seed
    limit: int | None = None
    models_dir: Path = field(default_factory=lambda: Path("models"))
    quiet: bool = False
    baseline: str = "none"  # what the comparison report tests every variant against
    # Repeats over seeds and where they run (trainer/repeats.py, trainer/fanout.py).
    seeds: int = 1
    engine: str = "local"
    address: str | None = None
    cpus_per_trial: int | None = None
    name_suffix: str = ""
    onnx_backfill: bool = False  # --onnx: write ONNX twins for versions already on disk
    track: str | None = None  # None: off; "": the default store; else an MLflow tracking URI
    tensorboard: Path | None = None


def run(options: TrainOptions, out: TextIO | None = None, err: TextIO | None = None,
        prog: str = "python -m trainer") -> int:
    """Carry out ``options``; return the exit status. Library errors become one line on ``err``."""
    out, err = out or sys.stdout, err or sys.stderr  # looked up now: tests swap them
    try:
        if options.list_variants:
            out.write(variants_table(VARIANTS + custom_variants(options.custom)) + "\n")
            return 0
        if options.evaluate:  # add calibration, generalization, robustness (trainer/backfill.py)
            if options.all_variants or options.variants or options.custom or options.report_only:
                raise UsageError("--evaluate trains nothing; drop --all, --variant, --custom "
                                 "and --report")
            return run_evaluate(options.models_dir, options.data, options.quiet, out, err)
        if options.onnx_backfill:
            return onnx_backfill(options, out)
        if options.report_only:
            if options.all_variants or options.variants or options.custom:
                raise UsageError("--report trains nothing; drop --all, --variant and --custom")
            return report(options, out)
        return train(options, out, err)
    except UsageError as exc:
        err.write(f"{prog}: error: {exc}\n")
        return 2
    except (DataSourceError, ReportError, TrainingError, EngineError, OnnxExportError) as exc:
        err.write(f"{prog}: error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        err.write(f"interrupted; finished versions stay in {options.models_dir}\n")
        return 130


def custom_variants(specs: tuple[str, ...]) -> tuple[Variant, ...]:
    """Parse every ``--custom`` spec, turning a bad one into a :class:`UsageError`."""
    variants = []
    for spec in specs:
        try:
            variant = parse_custom(spec)
        except ValueError as exc:
            message = str(exc) if spec in str(exc) else f"--custom {spec!r}: {exc}"
            raise UsageError(message) from None
        if variant.name in VARIANT_NAMES and variant != get_variant(variant.name):
            raise UsageError(f"--custom {spec!r}: {variant.name!r} is a registered variant "
                             f"({get_variant(variant.name).label}); give this one another name")
        variants.append(variant)
    return tuple(variants)


def select_variants(options: TrainOptions) -> tuple[Variant, ...]:
    """The variants to train, in registry order then as given, each name once."""
    try:
        chosen = list(VARIANTS if options.all_variants else ())
        chosen += [get_variant(name) for name in options.variants]
    except ValueError as exc:  # UnknownVariantError lists the valid names
        raise UsageError(str(exc)) from None
    chosen += custom_variants(options.custom)
    chosen = [with_suffix(variant, options.name_suffix) for variant in chosen]
    if not chosen:
        raise UsageError("nothing to train: give --all, --variant NAME or --custom "
                         "PENALTY:WHERE:LAMBDA[:NAME] (--list shows the variants)")
    unique: dict[str, Variant] = {}
    for variant in chosen:
        known = unique.setdefault(variant.name, variant)
        if known != variant:
            raise UsageError(f"the name {variant.name!r} is given to two different penalties "
                             f"({known.label}; {variant.label}); name the custom variant")
        check_on_disk(variant, options.models_dir)
    return tuple(unique.values())


def with_suffix(variant: Variant, suffix: str) -> Variant:
    """``variant`` under ``NAME+SUFFIX`` (``--name-suffix``), or as it is without one."""
    if not suffix:
        return variant
    try:
        return replace(variant, name=variant.name + suffix)
    except ValueError as exc:
        raise UsageError(f"--name-suffix {suffix!r}: {exc}") from None


def check_on_disk(variant: Variant, models_dir: Path) -> None:
    """Refuse to add a version whose penalty differs from the variant's versions on disk."""
    newest = layout.newest_version(Path(models_dir) / variant.name)
    if newest is None:
        return
    try:
        stored = Variant.from_dict(layout.read_metadata(newest)["variant"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # an unreadable version cannot conflict; the reports will flag it
    if (stored.penalty, stored.where, stored.lam) != (variant.penalty, variant.where, variant.lam):
        raise UsageError(f"{newest} already holds {variant.name!r} with another penalty "
                         f"({stored.label}); give this one another name")


def train(options: TrainOptions, out: TextIO, err: TextIO) -> int:
    """Load the data, train every selected variant, rebuild the reports and summarise."""
    variants = select_variants(options)
    try:
        config = TrainConfig(epochs=options.epochs, batch_size=options.batch_size,
                             validation_split=options.validation_split, seed=options.seed,
                             limit=options.limit, verbose=keras_verbosity(options.quiet, out))
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    try:
        check_engine(options.engine, options.address, options.cpus_per_trial)
    except EngineError as exc:
        raise UsageError(str(exc)) from None
    log = progress_log(options.quiet, err)
    try:  # before the data loads: a missing extra should not cost a download
        hooks = open_hooks(options.track, options.tensorboard, options.models_dir,
                           lambda line: (err.write(line + "\n"), err.flush()))
    except TrackingUnavailable as exc:
        raise UsageError(str(exc)) from None
    for stale in layout.remove_stale_staging(options.models_dir):
        log(f"removed {stale}: a staging folder untouched for over an hour (a killed trainer's)")
    dataset = load_dataset(options.data, seed=options.seed, limit=options.limit,
                           progress=not options.quiet)
    summary = dataset.summary()
    log(f"data: {summary['name']}: {summary['train_size']:,} training / "
        f"{summary['test_size']:,} test images")
    try:
        check_settings(variants, dataset, training_settings(
            config.epochs, config.batch_size, config.limit, config.validation_split),
            options.models_dir)
    except SettingsConflict as exc:
        raise UsageError(f"{exc}; train into another --models-dir, or add --name-suffix SUFFIX "
                         "to train it under another name") from None
    if options.engine == "ray":
        version_dirs = train_on_ray(variants, dataset, config, options, log, hooks=hooks)
    else:
        version_dirs = [result.version_dir for result in train_variants(
            variants, dataset, config, options.models_dir, log=log, seeds=options.seeds,
            hooks=hooks)]
    reports = build_reports(options.models_dir, baseline=options.baseline)
    if not options.quiet:
        out.write(f"\nModels in {options.models_dir}:\n")
        out.writelines(f"  {version_dir}\n" for version_dir in version_dirs)
        out.write(f"Reports in {reports.reports_dir}: "
                  f"{', '.join(path.name for path in reports.files[-3:])} and curves_*.png\n\n")
        out.write(results_text(list(reports.rows)) + "\n")
        out.write(verdict_summary(reports.reports_dir))
    return 0


def report(options: TrainOptions, out: TextIO) -> int:
    """Rebuild the reports from the newest version of every variant on disk."""
    reports = build_reports(options.models_dir, baseline=options.baseline)
    if not options.quiet:
        out.write(f"Reports in {reports.reports_dir} ({len(reports.files)} files) from "
                  f"{len(reports.rows)} variants:\n\n{results_text(list(reports.rows))}\n")
        out.writelines(f"skipped {why}\n" for why in reports.skipped)
        out.write(verdict_summary(reports.reports_dir))
    return 0


def onnx_backfill(options: TrainOptions, out: TextIO) -> int:
    """Write the ONNX twin of every version on disk that has none (``--onnx``)."""
    if options.all_variants or options.variants or options.custom or options.report_only:
        raise UsageError("--onnx trains nothing; drop --all, --variant, --custom and --report")
    if not layout.variant_dirs(options.models_dir):
        raise UsageError(f"no trained versions in {options.models_dir}; pass --models-dir")
    from trainer.onnx_export import backfill

    import_tensorflow_silently()
    written = backfill(options.models_dir, lambda line: None if options.quiet else out.write(
        line + "\n"))
    if not options.quiet:
        out.write(f"{len(written)} ONNX twin(s) written in {options.models_dir}\n")
    return 0


def keras_verbosity(quiet: bool, out: TextIO) -> int:
    """0 when quiet, a live progress bar on a terminal, else one line per epoch (for logs)."""
    if quiet:
        return 0
    return 1 if getattr(out, "isatty", lambda: False)() else 2


def variants_table(variants: tuple[Variant, ...]) -> str:
    """Every variant and its penalties as an aligned text table."""
    rows = [("name", "penalty", "where", "lambda", "description")]
    rows += [(v.name, v.penalty, v.where, "-" if v.penalty == "none" else f"{v.lam:g}", v.label)
             for v in variants]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)
