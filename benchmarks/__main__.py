"""``python -m benchmarks serving|training|accuracy|include|all``: Markdown tables and JSON."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.accuracy import AccuracySettings, render_accuracy, run_accuracy
from benchmarks.include_cost import measure_and_render
from benchmarks.report import RESULTS_DIR, BenchmarkError, log, save_results
from benchmarks.serving import ServingSettings, run_serving
from benchmarks.serving_report import SERVERS, render_serving
from benchmarks.training import TrainingSettings, render_training, run_training
from regserve_contracts.tensorflow_log import quiet_log_level
from regserve_contracts.variants import UnknownVariantError
from server.launcher import PROJECT_ROOT
from trainer.data import DataSourceError

COMMANDS = ("serving", "training", "accuracy", "include", "all")
#: `python -m benchmarks hostile|soak|verdicts ...`: each parses its own options.
HARDENING = ("hostile", "soak", "verdicts")


@dataclass(frozen=True)
class Options:
    """The command line, typed: which benchmark, where, and each benchmark's settings."""

    command: str
    models_dir: Path
    results_dir: Path
    save: bool
    duration: float
    connections: int
    workers: int
    single_variant: str | None
    servers: tuple[str, ...]
    open_loop: tuple[float, ...]
    sweep: bool
    python_load: bool
    rounds: int
    requests: int
    images: int
    epochs: int
    batch_size: int
    repeats: int
    variant: str
    trainer_args: str | None


def _servers(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(set(names) - set(SERVERS))
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"servers are {', '.join(SERVERS)}; got {text!r}")
    return names


def _shares(text: str) -> tuple[float, ...]:
    try:
        shares = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected shares like 0.5,0.8, got {text!r}") from None
    if any(not 0 < share <= 2 for share in shares):
        raise argparse.ArgumentTypeError("open-loop shares of the peak must lie in (0, 2]")
    return shares


def parse_args(argv: list[str] | None = None) -> Options:
    """Read the command line into :class:`Options`."""
    default_models = Path(os.environ.get("MODELS_DIR", PROJECT_ROOT / "models"))
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--models-dir", type=Path, default=default_models,
                        help="trained models (default: $MODELS_DIR or ./models)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--no-save", dest="save", action="store_false",
                        help="print only; write no JSON")
    serving = parser.add_argument_group("serving")
    serving.add_argument("--duration", type=float, default=10.0,
                         help="seconds of load per row (default 10)")
    serving.add_argument("--connections", type=int, default=16,
                         help="requests in flight in the closed loop (default 16)")
    serving.add_argument("--workers", type=int, default=2,
                         help="worker processes for each server (WEB_CONCURRENCY)")
    serving.add_argument("--single-variant", default=None,
                         help="variant for the one-variant requests (default: none)")
    serving.add_argument("--servers", type=_servers, default=SERVERS,
                         help=f"comma-separated, of {','.join(SERVERS)} (default: all)")
    serving.add_argument("--open-loop", type=_shares, default=(0.5, 0.8),
                         help="fixed rates as shares of each row's peak (default 0.5,0.8)")
    serving.add_argument("--sweep", action="store_true",
                         help="also restart RegServe with one setting changed at a time")
    serving.add_argument("--python-load", action="store_true",
                         help="closed loop from Python threads even where wrk is installed")
    serving.add_argument("--rounds", type=int, default=1,
                         help="start every server this many times, in turn, and keep each row's "
                              "median round: a noisy host's drift then hits every server alike "
                              "(default 1)")
    include = parser.add_argument_group("include")
    include.add_argument("--requests", type=int, default=60,
                         help="requests of each kind (plain, +activations, ...) (default 60)")
    training = parser.add_argument_group("training")
    training.add_argument("--images", type=int, default=3000, help="training images")
    training.add_argument("--epochs", type=int, default=3)
    training.add_argument("--batch-size", type=int, default=250)
    training.add_argument("--repeats", type=int, default=3, help="alternating runs of each kind")
    training.add_argument("--variant", default="none")
    accuracy = parser.add_argument_group("accuracy")
    accuracy.add_argument("--trainer-args", default=None, metavar="ARGS",
                          help="run `python -m trainer --all --models-dir DIR ARGS` first, "
                               "e.g. --trainer-args='--data synthetic --epochs 2'")
    args = parser.parse_args(argv)
    for name in ("connections", "workers", "rounds", "requests", "images", "epochs",
                 "batch_size", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.duration <= 0:
        parser.error("--duration must be positive")
    return Options(**vars(args))


def run(options: Options, name: str) -> None:
    """Run one benchmark, print its table, save its JSON and Markdown."""
    quiet_log_level()
    models_dir = options.models_dir.resolve()
    if name == "serving":
        result = run_serving(ServingSettings(
            models_dir, options.duration, options.connections, options.workers,
            single_variant=options.single_variant, open_loop=options.open_loop,
            servers=options.servers, sweep=options.sweep, python_load=options.python_load,
            rounds=options.rounds))
        markdown = render_serving(result)
    elif name == "include":  # what ?include=activations,stability adds per request
        result, markdown = measure_and_render(models_dir, options.requests)
    elif name == "training":
        result = run_training(TrainingSettings(options.images, options.epochs,
                                               options.batch_size, options.repeats,
                                               options.variant))
        markdown = render_training(result)
    else:
        result = run_accuracy(AccuracySettings(models_dir, options.trainer_args))
        markdown = render_accuracy(result)
    print(markdown + "\n", flush=True)
    if options.save:
        log(f"saved {save_results(name, result, markdown, options.results_dir)}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the chosen benchmark(s); one clear line on stderr if one cannot run."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in HARDENING:  # commands with options of their own
        import importlib

        return importlib.import_module(f"benchmarks.{argv[0]}").main(argv[1:])
    options = parse_args(argv)
    names = ("accuracy", "training", "serving") if options.command == "all" else (options.command,)
    try:
        for name in names:
            log(f"== {name} benchmark ==")
            run(options, name)
    except (BenchmarkError, DataSourceError, UnknownVariantError, OSError) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
