"""Command line of the trainer: ``python -m trainer COMMAND`` (console script ``regserve-train``).

Each subcommand has its own options, parsed straight into its frozen dataclass
(trainer/commands.py). The original spelling keeps working: bare options mean ``train``
(``python -m trainer --all``), and ``--list``, ``--report``, ``--evaluate`` and ``--onnx`` name
their subcommand.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from regserve_contracts.tensorflow_log import quiet_log_level
from trainer import commands as c
from trainer.args import Parser, fraction, positive_int
from trainer.cli import run
from trainer.errors import UsageError, carry_out

EPILOG = """\
examples:
  python -m trainer --all                         the experiment: every variant on EMNIST
  python -m trainer train --all --data synthetic --epochs 1 --limit 2000 --models-dir /tmp/m
  python -m trainer train --variant none --variant l2_activity --data ~/emnist/matlab.zip
  python -m trainer train --custom l1:activity:1e-4 --custom l1:activity:1e-3   (a lambda sweep)
  python -m trainer train --all --seeds 5 --engine ray   every variant five times, on Ray
  python -m trainer compare --models-dir /tmp/m   the verdicts of the models on disk
  python -m trainer sweep --help                  a lambda sweep, on Ray Tune or locally
Without a COMMAND, options mean train; --list, --report, --evaluate and --onnx name theirs.
"""
#: The original mode flags and the subcommand each now names.
MODE_FLAGS = {"--list": "list", "--report": "report", "--evaluate": "evaluate", "--onnx": "onnx"}
#: Options that only choose what to train: a subcommand that trains nothing says so.
TRAINING_ONLY = ("--all", "--variant", "--custom")
RAW = argparse.RawDescriptionHelpFormatter


def build_parser(prog: str = "python -m trainer") -> argparse.ArgumentParser:
    """The trainer's parser: one subparser per subcommand, each with only its own options."""
    from trainer.sweep.__main__ import DESCRIPTION as SWEEP
    from trainer.sweep.__main__ import EPILOG as SWEEP_EPILOG
    from trainer.sweep.__main__ import add_arguments as add_sweep_arguments

    parser = Parser(prog=prog, epilog=EPILOG, formatter_class=RAW,
                    description="Train the original experiment's CNN once per weight penalty, "
                                "export each as a SavedModel\nunder MODELS_DIR/<variant>/"
                                "<version>/, and analyse what was trained in MODELS_DIR/reports/.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=Parser, title="commands")

    def command(name: str, text: str, make, **extra) -> argparse.ArgumentParser:
        found = sub.add_parser(name, help=text, description=extra.pop("description", text),
                               formatter_class=RAW, **extra)
        found.set_defaults(make=make)
        return found

    train = command("train", "train variants (the default: python -m trainer --all)",
                    train_options)
    add_training_arguments(train)
    listing = command("list", "list the variants and their penalties",
                      lambda a: c.ListOptions(tuple(a.custom)))
    add_custom(listing)
    report = command("report", "rebuild the reports from the models on disk, no training",
                     lambda a: c.ReportOptions(a.models_dir, a.baseline, a.quiet, a.margin))
    add_common(report, baseline=True, quiet=True)
    add_margin(report)
    compare = command("compare", "print the verdicts of the models on disk (no TensorFlow)",
                      lambda a: c.CompareOptions(a.models_dir, a.baseline, a.margin))
    add_common(compare, baseline=True)
    add_margin(compare)
    evaluate = command("evaluate", "add calibration, train/test gap and corruption robustness "
                       "to versions that lack them", lambda a: c.EvaluateOptions(
                           a.data, a.models_dir, a.quiet))
    evaluate.add_argument("--data", default=c.EvaluateOptions.data, metavar="emnist|synthetic|PATH",
                          help="the data source the versions were trained on "
                               "(default: %(default)s)")
    add_common(evaluate, quiet=True)
    onnx = command("onnx", "write the checked ONNX twin of every version that lacks one",
                   lambda a: c.OnnxOptions(a.models_dir, a.quiet, a.triton))
    add_common(onnx, quiet=True)
    onnx.add_argument("--triton", action="store_true",
                      help="also write each variant's config.pbtxt (Triton's model repository)")
    sweep = command("sweep", "a lambda sweep, on Ray Tune or locally", None,
                    description=SWEEP, epilog=SWEEP_EPILOG)
    add_sweep_arguments(sweep)
    return parser


def add_common(parser, baseline: bool = False, quiet: bool = False) -> None:
    """``--models-dir``, and ``--baseline`` and ``--quiet`` where the subcommand uses them."""
    parser.add_argument("--models-dir", type=Path, default=Path("models"), metavar="DIR",
                        help="where models and reports are (default: %(default)s)")
    if baseline:
        parser.add_argument("--baseline", default=c.BASELINE, metavar="NAME",
                            help="the variant the comparison tests every other against "
                                 "(default: %(default)s)")
    if quiet:
        parser.add_argument("--quiet", action="store_true",
                            help="no progress output, for scripts (errors are still printed)")


def add_margin(parser) -> None:
    """``--margin``: the band, in accuracy points, within which two recipes count as equivalent."""
    parser.add_argument("--margin", type=float, default=c.MARGIN_POINTS, metavar="POINTS",
                        help="'equivalent' when the difference's 95%% interval lies within "
                             "+-POINTS accuracy points (default: %(default)s)")


def add_custom(parser) -> None:
    parser.add_argument("--custom", action="append", default=[],
                        metavar="PENALTY:WHERE:LAMBDA[:NAME]",
                        help="a custom variant, e.g. l1:activity:1e-4 (repeatable: one flag per "
                             "point of a lambda sweep); PENALTY l1|l2|elasticnet, "
                             "WHERE kernel_bias|activity")


def add_training_arguments(parser) -> None:
    """``train``'s options; defaults are the original experiment's settings."""
    from trainer.data.sources import SOURCES_HELP
    from trainer.tracking import add_arguments as add_tracking_arguments

    defaults = c.TrainOptions()
    pick = parser.add_argument_group("what to train")
    pick.add_argument("--all", action="store_true", help="every registered variant")
    pick.add_argument("--variant", action="append", default=[], metavar="NAME",
                      help="this registered variant (repeatable; the list command shows them)")
    add_custom(pick)
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
    add_common(parser, baseline=True, quiet=True)
    add_tracking_arguments(parser)


def train_options(args: argparse.Namespace) -> c.TrainOptions:
    from trainer.tracking import requested as tracking_requested

    return c.TrainOptions(
        all_variants=args.all, variants=tuple(args.variant), custom=tuple(args.custom),
        data=args.data, epochs=args.epochs, batch_size=args.batch_size,
        validation_split=args.validation_split, seed=args.seed, limit=args.limit,
        models_dir=args.models_dir, quiet=args.quiet, baseline=args.baseline, seeds=args.seeds,
        engine=args.engine, address=args.address, cpus_per_trial=args.cpus_per_trial,
        name_suffix=args.name_suffix, track=tracking_requested(args.track),
        tensorboard=args.tensorboard)


def with_command(argv: Sequence[str]) -> tuple[list[str], str | None]:
    """``argv`` with its subcommand first, and the original mode flag that named it, if any."""
    argv = list(argv)
    if argv[:1] and (argv[0] in MODE_FLAGS.values() or argv[0] in ("train", "compare", "sweep",
                                                                     "-h", "--help")):
        return argv, None
    modes = [arg for arg in argv if arg in MODE_FLAGS]
    if len(modes) > 1:
        raise UsageError(f"{' and '.join(modes)} are two commands; give one")
    if modes:
        argv.remove(modes[0])
        return [MODE_FLAGS[modes[0]], *argv], modes[0]
    return ["train", *argv], None


def parse_options(argv: Sequence[str] | None = None, prog: str = "python -m trainer"):
    """Parse the command line straight into its subcommand's options (trainer/commands.py)."""
    argv, flag = with_command(sys.argv[1:] if argv is None else argv)
    args, extra = build_parser(prog).parse_known_args(argv)
    if extra:
        name = flag or args.command
        if args.command != "train" and any(arg.split("=")[0] in TRAINING_ONLY for arg in extra):
            raise UsageError(f"{name} trains nothing; drop {' '.join(extra)}")
        raise UsageError(f"{name} does not take {' '.join(extra)} "
                         f"(see {prog} {args.command} --help)")
    if args.command == "sweep":
        from trainer.sweep.__main__ import options_from

        return options_from(args, argv[1:], f"{prog} sweep")
    return args.make(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m trainer`` and ``regserve-train``; returns the exit status."""
    quiet_log_level()  # before TensorFlow is imported; TF_CPP_MIN_LOG_LEVEL=0 brings it back
    script = Path(sys.argv[0]).name
    prog = script if script == "regserve-train" else "python -m trainer"
    return carry_out(lambda: run(parse_options(argv, prog), prog=prog), prog, sys.stderr,
                     "interrupted")


if __name__ == "__main__":
    sys.exit(main())
