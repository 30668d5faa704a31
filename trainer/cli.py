"""What each ``python -m trainer`` subcommand does once parsed: list, train, report, compare,
evaluate, onnx (and sweep, in trainer/sweep/cli.py), all behind one error path."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from typing import TextIO

from analysis.comparison.report import verdict_summary
from analysis.reports import ReportError, build_reports, results_text
from regserve_contracts import layout
from regserve_contracts.tensorflow_log import import_tensorflow
from regserve_contracts.variants import VARIANTS
from trainer.backfill import run_evaluate
from trainer.commands import (
    CompareOptions,
    EvaluateOptions,
    ListOptions,
    OnnxOptions,
    ReportOptions,
    TrainOptions,
)
from trainer.data.sources import load_dataset
from trainer.errors import UsageError, carry_out
from trainer.fanout import EngineError, check_engine, train_on_ray
from trainer.progress import progress_log
from trainer.repeats import SettingsConflict, check_settings, training_settings
from trainer.selection import custom_variants, select_variants, variants_table
from trainer.sweep.plan import SweepOptions
from trainer.tracking import TrackingUnavailable
from trainer.tracking.runs import open_hooks
from trainer.train import TrainConfig, train_variants


def run(options, out: TextIO | None = None, err: TextIO | None = None,
        prog: str = "python -m trainer") -> int:
    """Carry out one subcommand's ``options``; return the exit status. Library errors become
    one line on ``err`` (:func:`trainer.errors.carry_out`)."""
    out, err = out or sys.stdout, err or sys.stderr  # looked up now: tests swap them
    if isinstance(options, SweepOptions):
        from trainer.sweep.cli import run as run_sweep

        return run_sweep(options, out, err, prog=f"{prog} sweep")
    command: Callable[..., int] = COMMANDS[type(options)]
    where = getattr(options, "models_dir", None)
    return carry_out(lambda: command(options, out, err), prog, err,
                     f"interrupted; finished versions stay in {where}" if where else "interrupted")


def list_variants(options: ListOptions, out: TextIO, err: TextIO) -> int:
    """Print every registered variant, and every ``--custom`` one, with its penalty."""
    out.write(variants_table(VARIANTS + custom_variants(options.custom)) + "\n")
    return 0


def train(options: TrainOptions, out: TextIO, err: TextIO) -> int:
    """Load the data, train every selected variant, rebuild the reports and summarise."""
    variants = select_variants(options.all_variants, options.variants, options.custom,
                               options.name_suffix, options.models_dir)
    try:
        config = TrainConfig(epochs=options.epochs, batch_size=options.batch_size,
                             validation_split=options.validation_split, seed=options.seed,
                             limit=options.limit, verbose=keras_verbosity(options.quiet, out))
        check_engine(options.engine, options.address, options.cpus_per_trial)
    except (ValueError, EngineError) as exc:
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
        version_dirs = train_on_ray(variants, dataset, config, options.models_dir,
                                    options.seeds, log, address=options.address,
                                    cpus_per_trial=options.cpus_per_trial,
                                    quiet=options.quiet, hooks=hooks)
    else:
        version_dirs = [result.version_dir for result in train_variants(
            variants, dataset, config, options.models_dir, log=log, seeds=options.seeds,
            hooks=hooks)]
    reports = build_reports(options.models_dir, baseline=options.baseline)
    if not options.quiet:
        out.write(f"\nModels in {options.models_dir}:\n")
        out.writelines(f"  {version_dir}\n" for version_dir in version_dirs)
        out.write(written_line(reports.reports_dir, reports.files) + "\n\n")
        out.write(results_text(list(reports.rows)) + "\n")
        out.write(verdict_summary(reports.reports_dir))
    return 0


def written_line(folder, files) -> str:
    """``Reports in DIR (N files): a, b, ...``, wrapped: every file the reports wrote."""
    names = ", ".join(sorted(path.name for path in files))
    return textwrap.fill(f"Reports in {folder} ({len(files)} files): {names}", width=100,
                         subsequent_indent="  ", break_on_hyphens=False,
                         break_long_words=False)


def report(options: ReportOptions, out: TextIO, err: TextIO) -> int:
    """Rebuild the reports from the newest version of every variant on disk."""
    reports = build_reports(options.models_dir, baseline=options.baseline,
                            margin=options.margin / 100)
    if not options.quiet:
        out.write(f"{written_line(reports.reports_dir, reports.files)}\nfrom "
                  f"{len(reports.rows)} variants:\n\n{results_text(list(reports.rows))}\n")
        out.writelines(f"skipped {why}\n" for why in reports.skipped)
        out.write(verdict_summary(reports.reports_dir))
    return 0


def compare(options: CompareOptions, out: TextIO, err: TextIO) -> int:
    """Print the comparison of the models on disk, as comparison.md words it; write nothing.
    No TensorFlow: the comparison reads only metadata and predictions files."""
    from analysis.comparison.document import build_comparison
    from analysis.comparison.report import comparison_markdown

    if not layout.variant_dirs(options.models_dir):
        raise ReportError(f"no trained models under {options.models_dir}; train some first, "
                          "e.g. python -m trainer --all")
    out.write(comparison_markdown(build_comparison(options.models_dir, options.baseline,
                                                   options.margin / 100)))
    return 0


def evaluate(options: EvaluateOptions, out: TextIO, err: TextIO) -> int:
    """Add calibration, generalization and robustness to the versions that lack them."""
    return run_evaluate(options.models_dir, options.data, options.quiet, out, err)


def onnx_backfill(options: OnnxOptions, out: TextIO, err: TextIO) -> int:
    """Write the ONNX twin of every version on disk that has none."""
    if not layout.variant_dirs(options.models_dir):
        raise UsageError(f"no trained versions in {options.models_dir}; pass --models-dir")
    from trainer.onnx_export import backfill

    import_tensorflow(silent=options.quiet)
    written = backfill(options.models_dir, lambda line: None if options.quiet else out.write(
        line + "\n"))
    if not options.quiet:
        out.write(f"{len(written)} ONNX twin(s) written in {options.models_dir}\n")
    if options.triton:
        from trainer.triton import write_triton_configs

        configs = write_triton_configs(options.models_dir)
        if not options.quiet:
            out.writelines(f"  {path}\n" for path in configs)
            out.write(f"{len(configs)} Triton config(s) written in {options.models_dir}\n")
    return 0


def keras_verbosity(quiet: bool, out: TextIO) -> int:
    """0 when quiet, a live progress bar on a terminal, else one line per epoch (for logs)."""
    if quiet:
        return 0
    return 1 if getattr(out, "isatty", lambda: False)() else 2


#: Each subcommand's settings and what carries them out.
COMMANDS: dict[type, Callable[..., int]] = {
    ListOptions: list_variants, TrainOptions: train, ReportOptions: report,
    CompareOptions: compare, EvaluateOptions: evaluate, OnnxOptions: onnx_backfill,
}
