"""``python -m trainer sweep`` (or ``python -m trainer.sweep``): the sweep's command line."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from trainer.args import Parser, fraction, positive_int
from trainer.sweep import engines
from trainer.sweep.cli import run
from trainer.sweep.plan import DEFAULTS, SweepOptions
from trainer.sweep.spec import SWEEP_PENALTIES, SWEEP_PLACES


def with_command(options: SweepOptions, argv: Sequence[str], prog: str) -> SweepOptions:
    """Remember the command line for the report."""
    return replace(options, command=" ".join([prog, *map(shlex.quote, argv)]))


DESCRIPTION = ("Train one variant per penalty x place x lambda (plus the unpenalized "
               "baseline),\nexport each as MODELS_DIR/<point>/<version>/ and write the sweep "
               "report into MODELS_DIR/reports/.")


def build_parser(prog: str) -> argparse.ArgumentParser:
    """The sweep's own parser (``python -m trainer.sweep``)."""
    parser = Parser(prog=prog, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                     description=DESCRIPTION)
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sweep's flags, on its own parser or on ``python -m trainer sweep``'s; defaults of
    None are filled in by :func:`trainer.sweep.plan.plan`."""
    from trainer.data.sources import SOURCES_HELP

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
    run_group.add_argument("--cpus-per-trial", type=positive_int, metavar="N",
                           help="CPUs (and TensorFlow threads) per point (default: half the "
                                "cores for ray, all for local)")
    run_group.add_argument("--early-stop", choices=("asha",),
                           help="stop hopeless points early with Ray Tune's ASHA scheduler")
    run_group.add_argument("--resume", action="store_true",
                           help="continue sweep --name, training only what is missing")
    train = parser.add_argument_group("training (defaults: the original experiment)")
    train.add_argument("--data", metavar="emnist|synthetic|PATH",
                       help=f"data source: {SOURCES_HELP} (default: emnist)")
    train.add_argument("--epochs", type=positive_int, help=f"default {DEFAULTS['epochs']}")
    train.add_argument("--batch-size", type=positive_int,
                       help=f"default {DEFAULTS['batch_size']}")
    train.add_argument("--validation-split", type=fraction,
                       help=f"default {DEFAULTS['validation_split']}")
    train.add_argument("--seed", type=int, help=f"default {DEFAULTS['seed']}")
    train.add_argument("--seeds", type=positive_int, metavar="N",
                       help="train every point N times, with seeds SEED, SEED+1, ... (default 1); "
                            "the report shows mean +- standard error")
    train.add_argument("--limit", type=positive_int, metavar="N",
                       help="use at most N training images, class-balanced")
    parser.add_argument("--models-dir", type=Path, default=Path("models"), metavar="DIR",
                        help="where the points and reports go (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    from trainer.tracking import add_arguments as add_tracking_arguments

    add_tracking_arguments(parser)


EPILOG = """\
examples:
  python -m trainer sweep --penalty l1 --where kernel_bias --lambdas 1e-6..1e-2:5 \\
      --epochs 2 --limit 6000 --data synthetic --models-dir /tmp/sweep
  python -m trainer sweep --penalty l1,l2,elasticnet --where kernel_bias,activity \\
      --lambdas 1e-6..1e-1:11 --name big --address auto       (on a Ray cluster)
  python -m trainer sweep --resume --name big --address auto  (continue an interrupted one)
  python -m trainer sweep --penalty l2 --where activity --lambdas 1e-5..1e-1:5 --seeds 3
      (every point three times: mean +- standard error, and the one-standard-error pick)
"""


def parse_options(argv: Sequence[str], prog: str) -> SweepOptions:
    """Parse the command line straight into :class:`SweepOptions`."""
    return options_from(build_parser(prog).parse_args(argv), argv, prog)


def options_from(args: argparse.Namespace, argv: Sequence[str], prog: str) -> SweepOptions:
    """The sweep's parsed flags as :class:`SweepOptions`, remembering the command line."""
    from trainer.tracking import requested as tracking_requested

    fields = {name: getattr(args, name) for name in SweepOptions.__dataclass_fields__
              if hasattr(args, name)}
    fields["track"] = tracking_requested(args.track)
    return with_command(SweepOptions(**fields), argv, prog)


def main(argv: Sequence[str], prog: str = "python -m trainer sweep") -> int:
    """``python -m trainer sweep ...``; returns the exit status."""
    return run(parse_options(argv, prog), prog=prog)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], "python -m trainer.sweep"))
