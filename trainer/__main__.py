"""Command line of the trainer: ``python -m trainer --all`` (console script ``regserve-train``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from trainer.args import Parser, fraction, positive_int
from trainer.cli import TrainOptions, run
from trainer.data.sources import SOURCES_HELP
from trainer.tracking import add_arguments as add_tracking_arguments
from trainer.tracking import requested as tracking_requested

EPILOG = """\
examples:
  python -m trainer --all                         the experiment: every variant on EMNIST
  python -m trainer --all --data synthetic --epochs 1 --limit 2000 --models-dir /tmp/m
  python -m trainer --variant none --variant l2_activity --data ~/emnist/matlab.zip
  python -m trainer --custom l1:activity:1e-4 --custom l1:activity:1e-3   (a lambda sweep)
  python -m trainer --report --models-dir /tmp/m  rebuild the reports, no training
  python -m trainer --all --seeds 5 --engine ray  every variant five times, in parallel on Ray
  python -m trainer --evaluate --data PATH        add calibration and robustness to old versions
  python -m trainer --onnx --models-dir /tmp/m    ONNX twins for versions trained before them
  python -m trainer sweep --help                  a lambda sweep, on Ray Tune or locally
"""


def build_parser(prog: str = "python -m trainer") -> argparse.ArgumentParser:
    """The trainer's argument parser; defaults are the original experiment's settings."""
    defaults = TrainOptions()
    parser = Parser(prog=prog, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="Train the original experiment's CNN once per weight penalty, "
                                 "export each as a SavedModel\nunder "
                                 "MODELS_DIR/<variant>/<version>/, and rebuild the reports in "
                                 "MODELS_DIR/reports/.")
    pick = parser.add_argument_group("what to do")
    pick.add_argument("--all", action="store_true", help="train every registered variant")
    pick.add_argument("--variant", action="append", default=[], metavar="NAME",
                      help="train this registered variant (repeatable; --list shows them)")
    pick.add_argument("--custom", action="append", default=[],
                      metavar="PENALTY:WHERE:LAMBDA[:NAME]",
                      help="train a custom variant, e.g. l1:activity:1e-4 (repeatable: one flag "
                           "per point of a lambda sweep); PENALTY l1|l2|elasticnet, "
                           "WHERE kernel_bias|activity")
    pick.add_argument("--list", action="store_true", help="list the variants and their penalties")
    pick.add_argument("--report", action="store_true",
                      help="rebuild the reports from the models on disk, no training")
    pick.add_argument("--evaluate", action="store_true",
                      help="add calibration, train/test gap and corruption robustness to the "
                           "versions on disk that lack them (give the --data they were trained "
                           "on), then rebuild the reports; no training")
    pick.add_argument("--onnx", action="store_true",
                      help="write the checked ONNX twin (model.onnx) of every version on disk "
                           "that lacks one, no training (ONNX Runtime then serves it)")
    train = parser.add_argument_group("training (defaults: the original experiment)")
    train.add_argument("--data", default=defaults.data, metavar="emnist|synthetic|PATH",
                       help=f"data source: {SOURCES_HELP} (default: %(default)s)")
    train.add_argument("--epochs", type=positive_int, default=defaults.epochs,
                       help="epochs (default: %(default)s)")
    train.add_argument("--batch-size", type=positive_int, default=defaults.batch_size,
                       help="batch size (default: %(default)s)")
    train.add_argument("--validation-split", type=fraction, default=defaults.validation_split,
                       help="share of training images held out for validation "
                            "(default: %(default)s)")
    train.add_argument("--seed", type=int, default=defaults.seed,
                       help="random seed for data choice, weights and shuffling "
                            "(default: %(default)s)")
    train.add_argument("--limit", type=positive_int, default=None, metavar="N",
                       help="use at most N training images, class-balanced (quick runs)")
    parser.add_argument("--baseline", default=defaults.baseline, metavar="NAME",
                        help="the variant the comparison report tests every other against "
                             "(default: %(default)s)")
    repeats = parser.add_argument_group("repeats over seeds, and where they run")
    repeats.add_argument("--seeds", type=positive_int, default=defaults.seeds, metavar="N",
                         help="train every variant N times, with seeds SEED, SEED+1, ...; each is "
                              "a new version of the variant (default: %(default)s)")
    repeats.add_argument("--engine", choices=("local", "ray"), default=defaults.engine,
                         help="local (one after another, here) or ray (in parallel on Ray; "
                              "default: %(default)s)")
    repeats.add_argument("--address", metavar="HOST:PORT|auto",
                         help="with --engine ray: join this Ray cluster instead of starting one "
                              "on 127.0.0.1")
    repeats.add_argument("--cpus-per-trial", type=positive_int, metavar="N",
                         help="with --engine ray: CPUs per training (default: half the cores)")
    repeats.add_argument("--name-suffix", default="", metavar="SUFFIX",
                         help="train every variant under NAME+SUFFIX (e.g. _e3), leaving the "
                              "versions served as NAME alone")
    parser.add_argument("--models-dir", type=Path, default=defaults.models_dir, metavar="DIR",
                        help="where models and reports go (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress output, for scripts (errors are still printed)")
    add_tracking_arguments(parser)
    return parser


def parse_options(argv: Sequence[str] | None = None,
                  prog: str = "python -m trainer") -> TrainOptions:
    """Parse the command line straight into :class:`TrainOptions`."""
    args = build_parser(prog).parse_args(argv)
    return TrainOptions(
        all_variants=args.all, variants=tuple(args.variant), custom=tuple(args.custom),
        list_variants=args.list, report_only=args.report, data=args.data, epochs=args.epochs,
        batch_size=args.batch_size, validation_split=args.validation_split, seed=args.seed,
        limit=args.limit, models_dir=args.models_dir, quiet=args.quiet,
        baseline=args.baseline,
        seeds=args.seeds, engine=args.engine, address=args.address,
        cpus_per_trial=args.cpus_per_trial, name_suffix=args.name_suffix,
        evaluate=args.evaluate,
        onnx_backfill=args.onnx,
        track=tracking_requested(args.track), tensorboard=args.tensorboard,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m trainer`` and ``regserve-train``; returns the exit status."""
    # TensorFlow's C++ log (CUDA probing on CPU-only machines, tf.data notices) drowns the
    # progress lines; Python errors still surface. TF_CPP_MIN_LOG_LEVEL=0 brings it back.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    script = Path(sys.argv[0]).name
    prog = script if script == "regserve-train" else "python -m trainer"
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["sweep"]:
        from trainer.sweep.__main__ import main as sweep_main

        return sweep_main(args[1:], prog=f"{prog} sweep")
    try:
        return run(parse_options(argv, prog), prog=prog)
    except ModuleNotFoundError as error:  # `pip install regserve` is the client alone
        print(f"{prog}: {error.name} is not installed; training needs the train extra: "
              "pip install 'regserve[train]'", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
